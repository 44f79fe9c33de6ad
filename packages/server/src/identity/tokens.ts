import { randomBytes } from 'node:crypto';
import { ApiError } from '../errors.js';
import type { Database, SqlClient } from '../db/types.js';
import { hashSecret } from './users.js';

/** How long an access token works: 15 minutes. */
export const ACCESS_TOKEN_TTL_MS = 15 * 60 * 1000;
/** How long a refresh token can be exchanged: 30 days. */
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/** A fresh pair of tokens for one fan, site and origin. */
export interface TokenPair {
  /** `dat_…`: sent as `Authorization: Bearer` with the publishable key's site. */
  accessToken: string;
  /** Seconds the access token works. */
  expiresIn: number;
  /** `drt_…`: exchanged once for a new pair; a second use revokes the family. */
  refreshToken: string;
}

/** Who a valid access token speaks for. */
export interface TokenGrant {
  userId: string;
  siteId: string;
  origin: string;
  familyId: string;
}

/** Where a token is presented: the site of the publishable key and the page's origin. */
export interface TokenContext {
  siteId: string;
  origin: string;
}

interface TokenRow {
  kind: 'access' | 'refresh';
  family_id: string;
  user_id: string;
  site_id: string;
  origin: string;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
}

function invalid(message = 'The token is not valid here: sign in again.'): ApiError {
  return new ApiError('invalid_token', message);
}

async function insertToken(tx: SqlClient, kind: 'access' | 'refresh', grant: TokenGrant, now: number): Promise<string> {
  const token = `${kind === 'access' ? 'dat' : 'drt'}_${randomBytes(32).toString('base64url')}`;
  const ttl = kind === 'access' ? ACCESS_TOKEN_TTL_MS : REFRESH_TOKEN_TTL_MS;
  await tx.run(
    `INSERT INTO tokens (token_hash, kind, family_id, user_id, site_id, origin, created_at, expires_at, used_at, revoked_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)`,
    [hashSecret(token), kind, grant.familyId, grant.userId, grant.siteId, grant.origin, now, now + ttl],
  );
  return token;
}

/** Issues an access and a refresh token in `grant`'s family. */
export async function issueTokens(tx: SqlClient, grant: TokenGrant, now = Date.now()): Promise<TokenPair> {
  const accessToken = await insertToken(tx, 'access', grant, now);
  const refreshToken = await insertToken(tx, 'refresh', grant, now);
  return { accessToken, refreshToken, expiresIn: ACCESS_TOKEN_TTL_MS / 1000 };
}

/** A new family id, one per sign-in. */
export function newFamilyId(): string {
  return `fam_${randomBytes(16).toString('base64url')}`;
}

async function findToken(db: SqlClient, token: unknown): Promise<TokenRow | undefined> {
  if (typeof token !== 'string' || token.length > 100 || !/^d(at|rt)_[\w-]{43}$/.test(token)) return undefined;
  const rows = await db.query<TokenRow>(
    'SELECT kind, family_id, user_id, site_id, origin, expires_at, used_at, revoked_at FROM tokens WHERE token_hash = ?',
    [hashSecret(token)],
  );
  return rows[0];
}

/** Whether a token row may be used by `context` now. */
function usable(row: TokenRow, context: TokenContext, now: number): boolean {
  return row.revoked_at === null && row.expires_at > now && row.site_id === context.siteId && row.origin === context.origin;
}

/**
 * Checks an access token presented by `context`.
 *
 * @remarks Bound to the site and origin it was issued for: the same token from another origin
 * or with another site's key fails, as do expired and revoked ones, all with `invalid_token`.
 * @throws {@link ApiError} `invalid_token`
 */
export async function authenticateAccessToken(db: SqlClient, token: unknown, context: TokenContext, now = Date.now()): Promise<TokenGrant> {
  const row = await findToken(db, token);
  if (!row || row.kind !== 'access' || !usable(row, context, now)) throw invalid();
  return { userId: row.user_id, siteId: row.site_id, origin: row.origin, familyId: row.family_id };
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
 * Exchanges a refresh token for a new pair, once.
 *
 * @remarks Rotation: the presented refresh token is spent. Presenting a spent one again means
 * it leaked (or a client is confused), so the whole family — every token of that sign-in — is
 * revoked, and the fan must sign in again.
 * @throws {@link ApiError} `invalid_token`
 */
export async function refreshTokens(db: Database, token: unknown, context: TokenContext, now = Date.now()): Promise<TokenPair> {
  const outcome = await db.transaction(async (tx) => {
    const row = await findToken(tx, token);
    if (!row || row.kind !== 'refresh' || !usable(row, context, now)) return { error: invalid() };
    const spent = await tx.run('UPDATE tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL', [now, hashSecret(String(token))]);
    if (spent === 0 || row.used_at !== null) {
      await revokeFamily(tx, row.family_id, now);
      return { error: invalid('This refresh token was already used; every token of this sign-in is now revoked. Sign in again.') };
    }
    const connected = await tx.query('SELECT 1 AS one FROM connections WHERE user_id = ? AND site_id = ? AND revoked_at IS NULL', [
      row.user_id,
      row.site_id,
    ]);
    if (connected.length === 0) return { error: invalid('The fan disconnected this site: sign in again.') };
    return { pair: await issueTokens(tx, { userId: row.user_id, siteId: row.site_id, origin: row.origin, familyId: row.family_id }, now) };
  });
  // The family's revocation must commit, so the error is thrown only after the transaction.
  if ('error' in outcome) throw outcome.error;
  return outcome.pair;
}

/**
 * Signs out: revokes the family of the presented token (access or refresh), if it is one of
 * this site's and origin's. Unknown tokens are ignored, so sign-out never fails.
 */
export async function revokeToken(db: SqlClient, token: unknown, context: TokenContext, now = Date.now()): Promise<void> {
  const row = await findToken(db, token);
  if (row && row.site_id === context.siteId && row.origin === context.origin) await revokeFamily(db, row.family_id, now);
}
