import { randomBytes } from 'node:crypto';
import { ApiError } from '../errors.js';
import { BatchedRead, textArrayLiteral } from '../db/batched-read.js';
import type { Database, SqlClient } from '../db/types.js';
import { hashSecret } from './users.js';

/** How long an access token works: 15 minutes. */
export const ACCESS_TOKEN_TTL_MS = 15 * 60 * 1000;
/**
 * How long a sign-in lasts, at most: 30 days from the fan's consent. Rotation never extends it
 * (each new token's expiry is capped by its family's end); then the fan signs in again.
 */
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/**
 * How long a refresh token waits to be used: 7 days. A sign-in left unused that long ends
 * before its 30 days; a page in use refreshes every quarter of an hour.
 */
export const REFRESH_TOKEN_IDLE_MS = 7 * 24 * 60 * 60 * 1000;

/** A fresh pair of tokens for one fan, site and origin. */
export interface TokenPair {
  /** `dat_…`: sent as `Authorization: Bearer` with the publishable key's site. */
  accessToken: string;
  /** Seconds the access token works. */
  expiresIn: number;
  /** `drt_…`: exchanged once for a new pair; a second use revokes the family (but see {@link REFRESH_RETRY_GRACE_MS}). */
  refreshToken: string;
}

/** Who a valid access token speaks for. */
export interface TokenGrant {
  userId: string;
  siteId: string;
  origin: string;
  familyId: string;
  /** The thumbprint (RFC 7638) of the DPoP key the tokens are bound to (see `dpop.ts`). */
  jkt: string;
  /** When the sign-in ends whatever rotation does; a new family ends {@link REFRESH_TOKEN_TTL_MS} after it starts. */
  familyExpiresAt?: number | undefined;
}

/** Where a token is presented: the site of the publishable key and the page's origin. */
export interface TokenContext {
  siteId: string;
  origin: string;
}

/** Where a token is presented, and the thumbprint of the key whose DPoP proof came with it. */
export interface ProvenContext extends TokenContext {
  /** From a proof already verified (`verifyDpopProof`) for this very request. */
  jkt: string;
}

interface TokenRow {
  token_hash: string;
  kind: 'access' | 'refresh';
  family_id: string;
  user_id: string;
  site_id: string;
  origin: string;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
  jkt: string | null;
  family_expires_at: number | null;
}

function invalid(message = 'The token is not valid here: sign in again.'): ApiError {
  return new ApiError('invalid_token', message);
}

function wrongKey(): ApiError {
  return new ApiError(
    'invalid_dpop_proof',
    'The DPoP proof was made with another key than the one this token is bound to: a token works only in the browser it was issued to.',
  );
}

async function insertToken(
  tx: SqlClient,
  kind: 'access' | 'refresh',
  grant: TokenGrant,
  familyExpiresAt: number,
  now: number,
): Promise<{ token: string; expiresAt: number }> {
  const token = `${kind === 'access' ? 'dat' : 'drt'}_${randomBytes(32).toString('base64url')}`;
  const expiresAt = Math.min(now + (kind === 'access' ? ACCESS_TOKEN_TTL_MS : REFRESH_TOKEN_IDLE_MS), familyExpiresAt);
  await tx.run(
    `INSERT INTO tokens (token_hash, kind, family_id, user_id, site_id, origin, created_at, expires_at, used_at, revoked_at, jkt, family_expires_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?)`,
    [hashSecret(token), kind, grant.familyId, grant.userId, grant.siteId, grant.origin, now, expiresAt, grant.jkt, familyExpiresAt],
  );
  return { token, expiresAt };
}

/**
 * Issues an access and a refresh token in `grant`'s family, bound to its DPoP key. Neither
 * outlives the family; the access token's `expiresIn` says when it ends.
 */
export async function issueTokens(tx: SqlClient, grant: TokenGrant, now = Date.now()): Promise<TokenPair> {
  const familyExpiresAt = grant.familyExpiresAt ?? now + REFRESH_TOKEN_TTL_MS;
  const access = await insertToken(tx, 'access', grant, familyExpiresAt, now);
  const refresh = await insertToken(tx, 'refresh', grant, familyExpiresAt, now);
  return { accessToken: access.token, refreshToken: refresh.token, expiresIn: Math.max(1, Math.floor((access.expiresAt - now) / 1000)) };
}

/** A new family id, one per sign-in. */
export function newFamilyId(): string {
  return `fam_${randomBytes(16).toString('base64url')}`;
}

/** Whether `token` has the shape of our tokens (anything else is not looked up). */
function isTokenShaped(token: unknown): token is string {
  return typeof token === 'string' && token.length <= 100 && /^d(at|rt)_[\w-]{43}$/.test(token);
}

const TOKEN_COLUMNS = 'token_hash, kind, family_id, user_id, site_id, origin, expires_at, used_at, revoked_at, jkt, family_expires_at';

async function findToken(db: SqlClient, token: unknown): Promise<TokenRow | undefined> {
  if (!isTokenShaped(token)) return undefined;
  const rows = await db.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?`, [hashSecret(token)]);
  return rows[0];
}

/** The tokens of every fan request, read together (see {@link BatchedRead}): one reader per database. */
const tokenReaders = new WeakMap<SqlClient, BatchedRead<TokenRow>>();

/** Like `findToken`, outside a transaction, sharing a statement with the other requests of the moment. */
function readToken(db: SqlClient, token: unknown): Promise<TokenRow | undefined> {
  if (!isTokenShaped(token)) return Promise.resolve(undefined);
  let reader = tokenReaders.get(db);
  if (!reader) {
    reader = new BatchedRead<TokenRow>(db, async (client, hashes) => {
      const rows = await client.query<TokenRow>(
        hashes.length === 1
          ? `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?`
          : `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE token_hash = ANY(CAST(? AS TEXT[]))`,
        [hashes.length === 1 ? hashes[0]! : textArrayLiteral(hashes)],
      );
      return new Map(rows.map((row) => [row.token_hash, row]));
    });
    tokenReaders.set(db, reader);
  }
  return reader.read(hashSecret(token));
}

/** Whether a token row may be used by `context` now. */
function usable(row: TokenRow, context: TokenContext, now: number): boolean {
  return row.revoked_at === null && row.expires_at > now && row.site_id === context.siteId && row.origin === context.origin;
}

/** The grant a token row speaks for. */
function grantOf(row: TokenRow): TokenGrant {
  return {
    userId: row.user_id,
    siteId: row.site_id,
    origin: row.origin,
    familyId: row.family_id,
    jkt: row.jkt ?? '',
    familyExpiresAt: row.family_expires_at === null ? undefined : Number(row.family_expires_at),
  };
}

/**
 * Checks an access token presented by `context`, with a DPoP proof by `context.jkt`.
 *
 * @remarks Bound to the site and origin it was issued for: the same token from another origin
 * or with another site's key fails, as do expired and revoked ones, all with `invalid_token`.
 * Bound to the browser too: a proof made with any other key than the token's fails with
 * `invalid_dpop_proof` (and a token from before DPoP, bound to no key, with `invalid_token`).
 * @throws {@link ApiError} `invalid_token`, `invalid_dpop_proof`
 */
export async function authenticateAccessToken(
  db: SqlClient,
  token: unknown,
  context: ProvenContext,
  now = Date.now(),
): Promise<TokenGrant> {
  const row = await readToken(db, token);
  if (!row || row.kind !== 'access' || !usable(row, context, now) || row.jkt === null) throw invalid();
  if (row.jkt !== context.jkt) throw wrongKey();
  return grantOf(row);
}

/** Revokes every token of a family (sign-out, or a reused refresh token). */
export async function revokeFamily(db: SqlClient, familyId: string, now = Date.now()): Promise<void> {
  await db.run('UPDATE tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL', [now, familyId]);
}

/** Revokes every token a site holds for a fan (the fan disconnected the site). */
export async function revokeUserSiteTokens(db: SqlClient, userId: string, siteId: string, now = Date.now()): Promise<void> {
  await db.run('UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND site_id = ? AND revoked_at IS NULL', [now, userId, siteId]);
}

/**
 * How long after a refresh token was exchanged the same browser may present it again and get a
 * fresh pair instead of losing the sign-in: 10 seconds, for an answer lost on the way (a
 * dropped connection, a tab closed mid-request).
 */
export const REFRESH_RETRY_GRACE_MS = 10_000;

/**
 * Exchanges a refresh token for a new pair, once (and again, briefly, when the answer was lost).
 *
 * @remarks Rotation: the presented refresh token is spent. Presenting a spent one again means
 * it leaked (or a client is confused), so the whole family — every token of that sign-in — is
 * revoked, and the fan must sign in again. The new pair is bound to the same DPoP key and
 * ends with the family (30 days from the sign-in at most, {@link REFRESH_TOKEN_TTL_MS}).
 *
 * One exception, for an answer lost on the way: within {@link REFRESH_RETRY_GRACE_MS} of the
 * exchange, the same token with a proof by the same key gets a new pair, and the pair the first
 * exchange made (which nobody may have received) is revoked, so one chain stays alive. That is
 * only when nothing of the first pair was used since: once its refresh token was exchanged in
 * turn, the first answer plainly arrived and a replay revokes the family as before. A stolen
 * refresh token gains nothing from the grace: it works only with the browser's DPoP key.
 *
 * A refresh token presented with a proof by another key is refused without being spent and
 * without revoking anything: whoever holds it without the key can do nothing with it, not even
 * sign the fan out.
 * @throws {@link ApiError} `invalid_token`, `invalid_dpop_proof`
 */
export async function refreshTokens(db: Database, token: unknown, context: ProvenContext, now = Date.now()): Promise<TokenPair> {
  const outcome = await db.transaction(async (tx) => {
    const row = await findToken(tx, token);
    if (!row || row.kind !== 'refresh' || !usable(row, context, now) || row.jkt === null) return { error: invalid() };
    if (row.jkt !== context.jkt) return { error: wrongKey() };
    const tokenHash = hashSecret(String(token));
    const spent = await tx.run('UPDATE tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL', [now, tokenHash]);
    if (spent === 0 || row.used_at !== null) {
      // Re-read under the row's lock (the UPDATE above, or this one, takes it on PostgreSQL), so
      // two retries at once do not both take the grace from a stale read.
      await tx.run('UPDATE tokens SET used_at = used_at WHERE token_hash = ?', [tokenHash]);
      const [locked] = await tx.query<{ used_at: number | string | null }>('SELECT used_at FROM tokens WHERE token_hash = ?', [tokenHash]);
      const usedAt = locked?.used_at === null || locked?.used_at === undefined ? undefined : Number(locked.used_at);
      if (usedAt === undefined || !(await retryWithinGrace(tx, row.family_id, usedAt, now))) {
        await revokeFamily(tx, row.family_id, now);
        return { error: invalid('This refresh token was already used; every token of this sign-in is now revoked. Sign in again.') };
      }
    }
    const connected = await tx.query('SELECT 1 AS one FROM connections WHERE user_id = ? AND site_id = ? AND revoked_at IS NULL', [
      row.user_id,
      row.site_id,
    ]);
    if (connected.length === 0) return { error: invalid('The fan disconnected this site: sign in again.') };
    return { pair: await issueTokens(tx, grantOf(row), now) };
  });
  // The family's revocation must commit, so the error is thrown only after the transaction.
  if ('error' in outcome) throw outcome.error;
  return outcome.pair;
}

/**
 * Whether a spent refresh token presented again counts as the retry of an answer lost: within
 * the grace, and nothing issued since its exchange was used. If so, revokes what was issued
 * since (the pair nobody may have received), so that the retry's pair is the one chain alive.
 */
async function retryWithinGrace(tx: SqlClient, familyId: string, usedAt: number, now: number): Promise<boolean> {
  if (now - usedAt > REFRESH_RETRY_GRACE_MS || now < usedAt) return false;
  const since = await tx.query<{ used_at: number | string | null; revoked_at: number | string | null }>(
    "SELECT used_at, revoked_at FROM tokens WHERE family_id = ? AND kind = 'refresh' AND created_at >= ?",
    [familyId, usedAt],
  );
  if (since.some((child) => child.used_at !== null)) return false;
  await tx.run('UPDATE tokens SET revoked_at = ? WHERE family_id = ? AND created_at >= ? AND revoked_at IS NULL', [now, familyId, usedAt]);
  return true;
}

/**
 * Signs out: revokes the family of the presented token (access or refresh), if it is one of
 * this site's and origin's. Unknown tokens are ignored, so sign-out never fails.
 */
export async function revokeToken(db: SqlClient, token: unknown, context: TokenContext, now = Date.now()): Promise<void> {
  const row = await findToken(db, token);
  if (row && row.site_id === context.siteId && row.origin === context.origin) await revokeFamily(db, row.family_id, now);
}
