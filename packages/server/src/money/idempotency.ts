import { hash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import type { SqlClient } from '../db/types.js';
import { ApiError } from '../errors.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../ledger/ledger.js';

/** An API response as stored for replay: the status and the JSON body. */
export interface StoredResponse<Body = unknown> {
  status: number;
  body: Body;
}

/** What {@link idempotent} answered, and whether it was a replay of an earlier answer. */
export interface IdempotentResult<Body = unknown> extends StoredResponse<Body> {
  replayed: boolean;
  /** The body as stored (JSON text): what to send, without serialising it again. */
  json: string;
}

/**
 * Checks an `Idempotency-Key` header.
 *
 * @throws {@link ApiError} `idempotency_key_required` when missing, `idempotency_key_invalid`
 * when malformed.
 */
export function requireIdempotencyKey(value: string | undefined): string {
  if (value === undefined || value === '') {
    throw new ApiError(
      'idempotency_key_required',
      'Requests that move Diamonds need an Idempotency-Key header (a UUID per user action), so a retry never charges twice.',
    );
  }
  if (value.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(value)) {
    throw new ApiError(
      'idempotency_key_invalid',
      `An Idempotency-Key is 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters without spaces, such as a UUID.`,
    );
  }
  return value;
}

/** A fingerprint of a request (method, path, body), to tell a retry from a different request. */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  // JSON has no text for `undefined` (a value JSON.parse never gives): it counts as null.
  return hash('sha256', `${method} ${path}\n${canonicalJson(body, 'null')}`, 'base64url');
}

interface StoredRequestRow {
  request_hash: string;
  status: number;
  body: string;
}

function inProgress(): ApiError {
  return new ApiError('idempotency_request_in_progress', 'A request with this Idempotency-Key is still in progress; retry shortly.');
}

/** The stored answer to `request`'s key, replayed, or the refusal of a key reused for another request. */
function replay<Body>(row: StoredRequestRow | undefined, request: { fingerprint: string }): IdempotentResult<Body> {
  if (!row || row.status === 0) throw inProgress();
  if (row.request_hash !== request.fingerprint) {
    throw new ApiError(
      'idempotency_key_reused',
      'This Idempotency-Key was used for a different request. Use a new key for each user action.',
    );
  }
  return { status: Number(row.status), body: JSON.parse(row.body) as Body, replayed: true, json: row.body };
}

/** Stores `status` and `body` under the request's key unless the key is taken: whether it stored them. */
async function storeAnswer(
  tx: SqlClient,
  request: { scope: string; key: string; fingerprint: string },
  status: number,
  body: string,
  now: number,
): Promise<boolean> {
  const stored = await tx.run(
    `INSERT INTO api_requests (scope, idempotency_key, request_hash, status, body, created_at)
     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, idempotency_key) DO NOTHING`,
    [request.scope, request.key, request.fingerprint, status, body, now],
  );
  return stored > 0;
}

/** Writes the answer of a key this request claimed (status 0) before its work. */
async function answerClaim(tx: SqlClient, request: { scope: string; key: string }, status: number, body: string): Promise<void> {
  await tx.run('UPDATE api_requests SET status = ?, body = ? WHERE scope = ? AND idempotency_key = ?', [
    status,
    body,
    request.scope,
    request.key,
  ]);
}

const FIND_REQUEST = 'SELECT request_hash, status, body FROM api_requests WHERE scope = ? AND idempotency_key = ?';

/**
 * Runs `work` once per `(scope, key)`: the first call stores its response in the same
 * transaction; later calls with the same request get that response back without running
 * `work`, and with a different request fail with `idempotency_key_reused`.
 *
 * @remarks
 * Call it inside a transaction (`GroupCommit.run` or `db.transaction`). On PostgreSQL the key is
 * claimed before the work runs, so a concurrent request with the same key waits on the claim
 * and then replays the winner's answer. On SQLite a write transaction holds the database to
 * itself (`BEGIN IMMEDIATE`), so nothing can come between the look-up and the work: the key is
 * looked up, and the answer stored once with it, one row written once instead of a claim
 * written and then rewritten with the answer (every spend's hot path). When `work` throws, the
 * transaction (or its savepoint) rolls back and any claim with it: a failed request may be
 * retried with its key. `scope` keeps keys of different callers apart (`fan:usr_…:site_…`,
 * `site:site_…`).
 *
 * With `claimInSpend` (an operation whose work spends before it writes anything, as a gift), on
 * PostgreSQL the key is claimed by the spend itself: the fast spend claims it and stores the
 * answer in its own round trip (money/pg-spend.ts), the general path claims it before anything
 * else (see {@link openAnswerClaim}).
 */
export async function idempotent<Body>(
  tx: SqlClient,
  request: { scope: string; key: string; fingerprint: string },
  work: () => Promise<StoredResponse<Body>>,
  now = Date.now(),
  options: { claimInSpend?: boolean } = {},
): Promise<IdempotentResult<Body>> {
  if (tx.kind === 'postgres' && options.claimInSpend === true) return idempotentClaimedInSpend(tx, { ...request, now }, work);
  if (tx.kind === 'sqlite') {
    const [row] = await tx.query<StoredRequestRow>(FIND_REQUEST, [request.scope, request.key]);
    if (row) return replay(row, request);
    const response = await work();
    const json = JSON.stringify(response.body);
    const stored = await storeAnswer(tx, request, response.status, json, now);
    // Only if the work itself stored this key: refuse, and its writes roll back with it.
    if (!stored) throw inProgress();
    return { ...response, replayed: false, json };
  }
  // Status 0: claimed, the answer follows.
  const claimed = await storeAnswer(tx, request, 0, '', now);
  if (!claimed) {
    const [row] = await tx.query<StoredRequestRow>(FIND_REQUEST, [request.scope, request.key]);
    return replay(row, request);
  }
  const response = await work();
  const json = JSON.stringify(response.body);
  await answerClaim(tx, request, response.status, json);
  return { ...response, replayed: false, json };
}

/**
 * An `Idempotency-Key` whose answer the work's spend stores (PostgreSQL, see {@link idempotent}'s
 * `claimInSpend`): `open` until the spend claims it (`claimed`, answer stored after the work)
 * or stores its answer with the spend (`answered`).
 */
export interface AnswerClaim {
  scope: string;
  key: string;
  fingerprint: string;
  now: number;
  state: 'open' | 'claimed' | 'answered';
  /** The answer as stored, once `answered`. */
  json?: string;
}

/** Thrown by a spend whose key another request holds: {@link idempotent} replays that one's answer. */
export class AnswerTaken extends Error {
  constructor() {
    super('The Idempotency-Key was claimed by another request.');
  }
}

const answerClaims = new WeakMap<SqlClient, AnswerClaim>();

/** The claim a spend in `tx` must make or answer, if its operation claims in its spend and no one has yet. */
export function openAnswerClaim(tx: SqlClient): AnswerClaim | undefined {
  const claim = answerClaims.get(tx);
  return claim?.state === 'open' ? claim : undefined;
}

/**
 * Claims `claim`'s key before a spend's general path does anything: a second request with the
 * key (at once, or retried) then replays this one's answer rather than spending again.
 *
 * @throws {@link AnswerTaken} when another request holds the key.
 */
export async function claimAnswer(tx: SqlClient, claim: AnswerClaim): Promise<void> {
  const claimed = await storeAnswer(tx, claim, 0, '', claim.now);
  if (!claimed) throw new AnswerTaken();
  claim.state = 'claimed';
}

async function idempotentClaimedInSpend<Body>(
  tx: SqlClient,
  request: { scope: string; key: string; fingerprint: string; now: number },
  work: () => Promise<StoredResponse<Body>>,
): Promise<IdempotentResult<Body>> {
  const claim: AnswerClaim = { ...request, state: 'open' };
  answerClaims.set(tx, claim);
  let response: StoredResponse<Body>;
  try {
    response = await work();
  } catch (error) {
    if (!(error instanceof AnswerTaken)) throw error;
    const [row] = await tx.query<StoredRequestRow>(FIND_REQUEST, [request.scope, request.key]);
    return replay(row, request);
  } finally {
    answerClaims.delete(tx);
  }
  if (claim.state === 'answered' && claim.json !== undefined) return { ...response, replayed: false, json: claim.json };
  const json = JSON.stringify(response.body);
  if (claim.state === 'claimed') {
    await answerClaim(tx, request, response.status, json);
    return { ...response, replayed: false, json };
  }
  // The work answered without spending: store its answer now, unless another request did.
  const stored = await storeAnswer(tx, request, response.status, json, request.now);
  if (!stored) throw inProgress();
  return { ...response, replayed: false, json };
}
