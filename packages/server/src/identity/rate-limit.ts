import type { SqlClient } from '../db/types.js';

/** The verdict of {@link hitRateLimit}. */
export interface RateLimitVerdict {
  allowed: boolean;
  /** When refused, how long until the window resets. */
  retryAfterMs: number;
  /** Hits counted in the current window, this one included. */
  hits: number;
}

/**
 * Counts one hit against `bucket` in a fixed window and says whether it is within `limit`.
 *
 * @remarks The counter lives in the database (one atomic upsert), so every server process
 * shares it. Fixed windows allow up to twice the limit across a window boundary, which is
 * acceptable for slowing down password guessing.
 */
export async function hitRateLimit(
  db: SqlClient,
  bucket: string,
  limit: number,
  windowMs: number,
  now = Date.now(),
): Promise<RateLimitVerdict> {
  const windowStart = now - (now % windowMs);
  const rows = await db.query<{ hits: number }>(
    `INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?, ?, 1)
     ON CONFLICT (bucket) DO UPDATE SET
       hits = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.hits + 1 ELSE 1 END,
       window_start = excluded.window_start
     RETURNING hits`,
    [bucket, windowStart],
  );
  const hits = Number(rows[0]?.hits ?? 1);
  return { allowed: hits <= limit, retryAfterMs: windowStart + windowMs - now, hits };
}
