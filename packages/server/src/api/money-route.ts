import type { Context } from 'hono';
import type { AppContext, AppEnv } from '../context.js';
import type { SqlClient } from '../db/types.js';
import { ApiError } from '../errors.js';
import type { SpendCommand } from '../money/commands.js';
import { idempotent, requestFingerprint, requireIdempotencyKey, type StoredResponse } from '../money/idempotency.js';

/** The idempotency scope of a fan's requests on a site: two fans may pick the same key. */
export function fanScope(userId: string, siteId: string): string {
  return `fan:${userId}:${siteId}`;
}

/** The idempotency scope of a site backend's requests (secret key). */
export function siteScope(siteId: string): string {
  return `site:${siteId}`;
}

/**
 * The site behind a secret key: for routes only a site's backend may call.
 *
 * @throws {@link ApiError} `permission_denied` for a publishable key.
 */
export function secretSiteOf(c: Context<AppEnv>): string {
  const caller = c.get('caller');
  if (caller.keyKind !== 'secret') {
    throw new ApiError('permission_denied', 'This route is for your server: call it with the site’s secret key (sk_…), never from a page.');
  }
  return caller.siteId;
}

/**
 * Answers a request that moves Diamonds: requires its `Idempotency-Key`, runs `work` in a
 * group-committed transaction (its own savepoint), stores the answer with it, and replays that
 * answer to a retry (with `Idempotent-Replayed: true`) without running `work` again.
 *
 * @remarks The response is sent only after the transaction committed. `work` must not have
 * effects outside `tx`; it may throw an {@link ApiError}, in which case nothing it wrote stays.
 */
export async function respondIdempotently<Body>(
  c: Context<AppEnv>,
  context: AppContext,
  scope: string,
  work: (tx: SqlClient) => Promise<StoredResponse<Body>>,
): Promise<Response> {
  const key = requireIdempotencyKey(c.req.header('Idempotency-Key'));
  const fingerprint = requestFingerprint(c.req.method, c.req.path, c.get('json') ?? null);
  const result = await context.commits.run((tx) => idempotent(tx, { scope, key, fingerprint }, () => work(tx)));
  c.header('Cache-Control', 'no-store');
  c.header('Idempotency-Key', key);
  if (result.replayed) c.header('Idempotent-Replayed', 'true');
  return c.json(result.body as object, result.status as 200);
}

/**
 * Answers a fan's spend (a gift, an unlock, an order's payment) like {@link respondIdempotently},
 * written by the platform's spend writer: on SQLite a writer thread, so that the statements and
 * the commit's fsync do not hold up the requests arriving meanwhile.
 */
export async function respondWithSpend(c: Context<AppEnv>, context: AppContext, scope: string, command: SpendCommand): Promise<Response> {
  const key = requireIdempotencyKey(c.req.header('Idempotency-Key'));
  const fingerprint = requestFingerprint(c.req.method, c.req.path, c.get('json') ?? null);
  const result = await context.writer.execute({ scope, key, fingerprint, command });
  c.header('Cache-Control', 'no-store');
  c.header('Idempotency-Key', key);
  if (result.replayed) c.header('Idempotent-Replayed', 'true');
  // The body as the writer stored it: already JSON, so it is sent without another round.
  return c.body(result.json, result.status as 200, { 'Content-Type': 'application/json' });
}
