import type { SqlClient } from '../db/types.js';

/** The verdict of {@link hitRateLimit}. */
export interface RateLimitVerdict {
  allowed: boolean;
  /** When refused, how long until the window resets. */
  retryAfterMs: number;
  /** Hits counted in the current window, this one included. */
  hits: number;
  /** The bucket counted (see {@link forgiveRateLimitHit}). */
  bucket?: string;
  /** The start of the window the hit fell in. */
  windowStart?: number;
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
  return { allowed: hits <= limit, retryAfterMs: windowStart + windowMs - now, hits, bucket, windowStart };
}

/**
 * Takes back the hit a verdict counted, when what it guarded turned out honest (a sign-in with
 * the right password), so that only failures use up the limit.
 *
 * @remarks The hit is counted before the attempt and forgiven after it, rather than counted
 * after a failure, so that guesses made at the same moment are all counted while they run.
 * Only that one hit is taken back, never the window: interleaving honest sign-ins with guesses
 * does not reset the count of guesses. A window that has turned since changes nothing.
 */
export async function forgiveRateLimitHit(db: SqlClient, verdict: RateLimitVerdict): Promise<void> {
  if (verdict.bucket === undefined || verdict.windowStart === undefined) return;
  await db.run('UPDATE rate_limits SET hits = hits - 1 WHERE bucket = ? AND window_start = ? AND hits > 0', [
    verdict.bucket,
    verdict.windowStart,
  ]);
}

/**
 * How long a count is kept after its window started: a day, far past the longest window a limit
 * counts in (an hour).
 */
export const RATE_LIMIT_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * Deletes the counts of windows long past, at most `limit` rows a call: every bucket ever hit
 * (each IP address, each email address tried) would otherwise stay in the table for good. The
 * sweeper calls it once an hour.
 *
 * @returns How many counts went.
 */
export async function forgetOldRateLimits(db: SqlClient, now = Date.now(), limit = 1_000): Promise<number> {
  if (!Number.isSafeInteger(limit) || limit <= 0) throw new RangeError(`limit must be a positive whole number, got ${limit}`);
  return db.run(`DELETE FROM rate_limits WHERE bucket IN (SELECT bucket FROM rate_limits WHERE window_start < ? LIMIT ${limit})`, [
    now - RATE_LIMIT_RETENTION_MS,
  ]);
}
