import type { Context } from 'hono';
import type { AppContext, AppEnv } from '../context.js';
import type { SqlClient } from '../db/types.js';
import type { MoneyOperation } from './operations.js';
import { idempotent, requestFingerprint, requireIdempotencyKey, type StoredResponse } from './idempotency.js';

/** The idempotency scope of a fan's requests on a site: two fans may pick the same key. */
export function fanScope(userId: string, siteId: string): string {
  return `fan:${userId}:${siteId}`;
}

/** The idempotency scope of a site backend's requests (secret key). */
export function siteScope(siteId: string): string {
  return `site:${siteId}`;
}

/**
 * Answers a request that moves Diamonds or changes a spend: requires its `Idempotency-Key`,
 * runs `operation` through the money writer under that key, and replays the stored answer to
 * a retry (with `Idempotent-Replayed: true`) without running it again.
 *
 * @remarks The response is sent only after the transaction committed. On SQLite the writer is
 * a thread, so the statements and the commit's fsync do not hold up the requests arriving
 * meanwhile.
 */
export async function respondWithMoney<Input>(
  c: Context<AppEnv>,
  context: AppContext,
  scope: string,
  operation: MoneyOperation<Input, StoredResponse>,
  input: Input,
): Promise<Response> {
  const key = requireIdempotencyKey(c.req.header('Idempotency-Key'));
  const fingerprint = requestFingerprint(c.req.method, c.req.path, c.get('json') ?? null);
  const result = await context.writer.runIdempotent(operation, input, { scope, key, fingerprint });
  c.header('Cache-Control', 'no-store');
  c.header('Idempotency-Key', key);
  if (result.replayed) c.header('Idempotent-Replayed', 'true');
  // The body as the writer stored it: already JSON, so it is sent without another round.
  return c.body(result.json, result.status as 200, { 'Content-Type': 'application/json' });
}

/**
 * Answers a site's request that moves no Diamonds (publishing content) like
 * {@link respondWithMoney}, but written on this thread's connection: idempotent when the
 * caller sends a key.
 */
export async function respondIdempotently<Body>(
  c: Context<AppEnv>,
  context: AppContext,
  scope: string,
  work: (tx: SqlClient) => Promise<StoredResponse<Body>>,
): Promise<Response> {
  const key = requireIdempotencyKey(c.req.header('Idempotency-Key'));
  const fingerprint = requestFingerprint(c.req.method, c.req.path, c.get('json') ?? null);
  const result = await context.db.transaction((tx) => idempotent(tx, { scope, key, fingerprint }, () => work(tx)));
  c.header('Cache-Control', 'no-store');
  c.header('Idempotency-Key', key);
  if (result.replayed) c.header('Idempotent-Replayed', 'true');
  return c.body(result.json, result.status as 200, { 'Content-Type': 'application/json' });
}
