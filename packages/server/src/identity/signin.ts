import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isId, newId } from '@diamonds/protocol';
import { ApiError } from '../errors.js';
import type { Database, SqlClient } from '../db/types.js';
import { originAllowed } from '../http/origins.js';
import { connect } from './connections.js';
import type { Site } from './sites.js';
import { issueTokens, newFamilyId, type TokenPair } from './tokens.js';
import { hashSecret } from './users.js';

/** How long a fan has to sign in and consent: 5 minutes. */
export const SIGNIN_REQUEST_TTL_MS = 5 * 60 * 1000;

/**
 * How many wrong one-time codes a request survives: the next wrong one ends it (it then reads
 * as expired), so the code cannot be guessed however much time is left.
 */
export const MAX_SIGNIN_CODE_ATTEMPTS = 3;

/**
 * The `type` of the message the consent page's "done" page posts to the window that opened the
 * popup: `{ type, request, code }`, targeted at the request's origin (never `*`).
 */
export const SIGNIN_MESSAGE_TYPE = 'diamonds:signin';

/** Where a sign-in request stands, as the SDK sees it when it polls. */
export type SignInStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'consumed';

/** A sign-in request: a page on a site's origin asks a fan to sign in and consent. */
export interface SignInRequest {
  /** `sir_…` */
  id: string;
  siteId: string;
  origin: string;
  status: SignInStatus;
  userId: string | null;
  createdAt: number;
  expiresAt: number;
}

/** A request just approved, with the one-time code its popup hands to the page that opened it. */
export interface ApprovedSignInRequest extends SignInRequest {
  /** Shown once, to the consent page's "done" page; only its hash is stored. */
  code?: string | undefined;
}

interface RequestRow {
  id: string;
  site_id: string;
  origin: string;
  code_challenge: string;
  status: 'pending' | 'approved' | 'denied' | 'consumed';
  user_id: string | null;
  created_at: number;
  expires_at: number;
}

const COLUMNS = 'id, site_id, origin, code_challenge, status, user_id, created_at, expires_at';
const SECRET_COLUMNS = `${COLUMNS}, code_hash, code_attempts`;

interface SecretRow extends RequestRow {
  code_hash: string | null;
  code_attempts: number;
}

function toRequest(row: RequestRow, now: number): SignInRequest {
  const expired = row.expires_at <= now && (row.status === 'pending' || row.status === 'approved');
  return {
    id: row.id,
    siteId: row.site_id,
    origin: row.origin,
    status: expired ? 'expired' : row.status,
    userId: row.user_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

/** The S256 PKCE challenge of a verifier: base64url(SHA-256(verifier)), as in RFC 7636. */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Opens a sign-in request for a page on `origin` of `site`.
 *
 * @param input.codeChallenge - `pkceChallenge(verifier)` for a random verifier the SDK keeps;
 * only the S256 method is accepted.
 * @throws {@link ApiError} `origin_not_allowed` when the origin is not the site's;
 * `invalid_request` for a malformed challenge.
 */
export async function createSignInRequest(
  db: SqlClient,
  input: { site: Site; origin: string; codeChallenge: unknown; codeChallengeMethod: unknown },
  now = Date.now(),
): Promise<SignInRequest> {
  if (input.codeChallengeMethod !== 'S256') {
    throw new ApiError('invalid_request', 'codeChallengeMethod must be "S256".', { param: 'codeChallengeMethod' });
  }
  if (typeof input.codeChallenge !== 'string' || !CHALLENGE.test(input.codeChallenge)) {
    throw new ApiError('invalid_request', 'codeChallenge is the base64url SHA-256 of the verifier: 43 characters.', {
      param: 'codeChallenge',
    });
  }
  if (!originAllowed(input.origin, input.site.origins)) {
    throw new ApiError('origin_not_allowed', `Origin ${input.origin} is not one of this site's origins.`);
  }
  const row: RequestRow = {
    id: newId('sir', now),
    site_id: input.site.id,
    origin: input.origin,
    code_challenge: input.codeChallenge,
    status: 'pending',
    user_id: null,
    created_at: now,
    expires_at: now + SIGNIN_REQUEST_TTL_MS,
  };
  await db.run(`INSERT INTO signin_requests (${COLUMNS}, decided_at, consumed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)`, [
    row.id,
    row.site_id,
    row.origin,
    row.code_challenge,
    row.status,
    row.user_id,
    row.created_at,
    row.expires_at,
  ]);
  return toRequest(row, now);
}

async function findRow(db: SqlClient, id: unknown): Promise<RequestRow | undefined> {
  if (!isId('sir', id)) return undefined;
  return (await db.query<RequestRow>(`SELECT ${COLUMNS} FROM signin_requests WHERE id = ?`, [id]))[0];
}

/** A sign-in request by id (for the hosted consent page). @throws {@link ApiError} `signin_request_not_found` */
export async function getSignInRequest(db: SqlClient, id: unknown, now = Date.now()): Promise<SignInRequest> {
  const row = await findRow(db, id);
  if (!row) throw new ApiError('signin_request_not_found', 'No such sign-in request.', { param: 'requestId' });
  return toRequest(row, now);
}

/**
 * Records the fan's answer on the consent screen, once: approve (with the daily allowance the
 * fan chose, which is stored as the fan's consent to the site) or deny.
 *
 * @returns The request; once approved, with the one-time `code` the consent page hands to the
 * window that opened the popup (by `postMessage` to the request's origin), without which the
 * request cannot be exchanged for tokens. Only its hash is kept.
 *
 * @throws {@link ApiError} `signin_request_not_found`, `signin_request_expired`,
 * `signin_request_decided` (a request cannot be approved twice), `invalid_request`
 */
export async function decideSignInRequest(
  db: Database,
  input: { requestId: unknown; userId: string; approve: boolean; allowancePerDay?: unknown },
  now = Date.now(),
): Promise<ApprovedSignInRequest> {
  return db.transaction(async (tx) => {
    const row = await findRow(tx, input.requestId);
    if (!row) throw new ApiError('signin_request_not_found', 'No such sign-in request.', { param: 'requestId' });
    const code = input.approve ? randomBytes(32).toString('base64url') : undefined;
    const changed = await tx.run(
      `UPDATE signin_requests SET status = ?, user_id = ?, decided_at = ?, code_hash = ? WHERE id = ? AND status = 'pending' AND expires_at > ?`,
      [input.approve ? 'approved' : 'denied', input.userId, now, code === undefined ? null : hashSecret(code), row.id, now],
    );
    if (changed === 0) {
      if (row.expires_at <= now) throw new ApiError('signin_request_expired', 'This sign-in request expired; start again from the site.');
      throw new ApiError('signin_request_decided', 'This sign-in request was already answered.');
    }
    if (input.approve) await connect(tx, input.userId, row.site_id, input.allowancePerDay ?? 0, now);
    return { ...toRequest({ ...row, status: input.approve ? 'approved' : 'denied', user_id: input.userId }, now), code };
  });
}

/** What the SDK learns when it polls: where the request stands, never tokens. */
export type SignInPoll = { status: 'pending' | 'approved' | 'denied' | 'expired' };

/** A request presented by a page, with its PKCE verifier, checked; or the error to throw. */
async function presented(
  db: SqlClient,
  input: { requestId: unknown; codeVerifier: unknown; siteId: string; origin: string },
): Promise<SecretRow> {
  const row = isId('sir', input.requestId)
    ? (await db.query<SecretRow>(`SELECT ${SECRET_COLUMNS} FROM signin_requests WHERE id = ?`, [input.requestId]))[0]
    : undefined;
  if (!row || row.site_id !== input.siteId)
    throw new ApiError('signin_request_not_found', 'No such sign-in request for this site.', { param: 'requestId' });
  if (row.origin !== input.origin) throw new ApiError('origin_not_allowed', 'This sign-in request belongs to another origin.');
  const verifier = input.codeVerifier;
  const expected = Buffer.from(row.code_challenge);
  const actual = Buffer.from(typeof verifier === 'string' && VERIFIER.test(verifier) ? pkceChallenge(verifier) : '');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new ApiError('invalid_code_verifier', 'The code verifier does not match this sign-in request.', { param: 'codeVerifier' });
  }
  return row;
}

function used(): ApiError {
  return new ApiError('signin_request_used', 'This sign-in request was already exchanged for tokens.');
}

/**
 * The SDK's side, while the popup is open: with the PKCE verifier, learn where the request
 * stands. `approved` means the fan connected; the tokens then come only from
 * {@link exchangeSignInRequest}, with the one-time code the popup hands to its opener.
 *
 * @remarks The request must be presented by the site and origin that opened it. A wrong
 * verifier fails without revealing the status.
 * @throws {@link ApiError} `signin_request_not_found`, `invalid_code_verifier`, `origin_not_allowed`
 */
export async function pollSignInRequest(
  db: SqlClient,
  input: { requestId: unknown; codeVerifier: unknown; siteId: string; origin: string },
  now = Date.now(),
): Promise<SignInPoll> {
  const row = await presented(db, input);
  const status = toRequest(row, now).status;
  // Exchanged means the fan approved: the poll says so. The SDK's long poll is often still in
  // flight when its own exchange completes, and must not end in an error then; a second
  // exchange is what gets `signin_request_used`.
  return { status: status === 'consumed' ? 'approved' : status };
}

/**
 * Exchanges an approved request for tokens bound to the DPoP key `jkt`, exactly once: with the
 * PKCE verifier (which only the page that opened the request holds) and the one-time code (which
 * the platform's popup handed only to a window on the request's origin, by `postMessage`). A
 * script elsewhere, with a forged `Origin`, may hold the verifier but never the code.
 *
 * @remarks A wrong code fails with `invalid_signin_code` and nothing more; the
 * {@link MAX_SIGNIN_CODE_ATTEMPTS}th wrong code ends the request. The checks and the consumption
 * happen in one transaction, and the consuming update is conditional, so concurrent exchanges
 * (or a wrong code racing a right one) let at most one through.
 * @throws {@link ApiError} `signin_request_not_found`, `invalid_code_verifier`,
 * `signin_request_used`, `signin_request_expired`, `invalid_signin_code`, `invalid_request`
 * (not approved yet, or denied), `origin_not_allowed`
 */
export async function exchangeSignInRequest(
  db: Database,
  input: { requestId: unknown; codeVerifier: unknown; code: unknown; siteId: string; origin: string; jkt: string },
  now = Date.now(),
): Promise<{ userId: string; tokens: TokenPair }> {
  const outcome = await db.transaction(async (tx) => {
    const row = await presented(tx, input);
    const status = toRequest(row, now).status;
    if (status === 'consumed') return { error: used() };
    if (status === 'expired')
      return { error: new ApiError('signin_request_expired', 'This sign-in request expired; start again from the site.') };
    if (status !== 'approved' || !row.user_id || !row.code_hash) {
      return { error: new ApiError('invalid_request', `This sign-in request is ${status}: there is nothing to exchange.`) };
    }
    const expected = Buffer.from(row.code_hash);
    const actual = Buffer.from(typeof input.code === 'string' && input.code.length <= 100 ? hashSecret(input.code) : '');
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
      const attempts = Number(row.code_attempts) + 1;
      // The last allowed wrong code ends the request: it reads as expired from now on.
      const expiresAt = attempts >= MAX_SIGNIN_CODE_ATTEMPTS ? Math.min(now, Number(row.expires_at)) : Number(row.expires_at);
      await tx.run('UPDATE signin_requests SET code_attempts = ?, expires_at = ? WHERE id = ?', [attempts, expiresAt, row.id]);
      return { error: new ApiError('invalid_signin_code', 'The sign-in code does not match this sign-in request.', { param: 'code' }) };
    }
    const consumed = await tx.run(
      `UPDATE signin_requests SET status = 'consumed', consumed_at = ? WHERE id = ? AND status = 'approved' AND expires_at > ?`,
      [now, row.id, now],
    );
    if (consumed === 0) return { error: used() };
    const userId = row.user_id;
    const tokens = await issueTokens(tx, { userId, siteId: row.site_id, origin: row.origin, familyId: newFamilyId(), jkt: input.jkt }, now);
    return { userId, tokens };
  });
  // A wrong code's count must commit, so errors are thrown only after the transaction.
  if ('error' in outcome) throw outcome.error;
  return outcome;
}
