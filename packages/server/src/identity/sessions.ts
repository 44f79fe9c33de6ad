import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SqlClient } from '../db/types.js';
import { findUser, hashSecret, newSecret, type User } from './users.js';

/** How long a hosted-page session lasts: 7 days. */
export const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** A signed-in session on the platform's own origin. */
export interface Session {
  user: User;
  /** The synchronizer token every form of this session must carry. */
  csrfToken: string;
  expiresAt: number;
  /**
   * When the fan last proved who they are with their password: the session starts at sign-in,
   * and the step-up page (pages/step-up.ts) starts a new one, so this is the session's start.
   */
  authenticatedAt: number;
  /**
   * A secret of this session that never leaves the server (derived from the cookie's stored hash,
   * so every server process has it): keys the signed stamps of the session's forms (pages/guard.ts).
   */
  formKey: Buffer;
}

/** The session's form key, from the hash under which its cookie value is stored. */
function formKeyOf(tokenHash: string): Buffer {
  return createHash('sha256').update('diamonds form key\0').update(tokenHash).digest();
}

/**
 * Starts a session for `userId`.
 *
 * @returns The cookie value (shown once; only its hash is stored) and the session.
 */
export async function createSession(db: SqlClient, user: User, now = Date.now()): Promise<{ token: string; session: Session }> {
  const { token, hash } = newSecret();
  const csrfToken = randomBytes(24).toString('base64url');
  const expiresAt = now + SESSION_TTL_MS;
  await db.run('INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, NULL)', [
    hash,
    user.id,
    csrfToken,
    now,
    expiresAt,
  ]);
  return { token, session: { user, csrfToken, expiresAt, authenticatedAt: now, formKey: formKeyOf(hash) } };
}

/** The live session for a cookie value, or `undefined` when it is unknown, expired or revoked. */
export async function findSession(db: SqlClient, token: string | undefined, now = Date.now()): Promise<Session | undefined> {
  if (!token || token.length > 100) return undefined;
  const hash = hashSecret(token);
  const rows = await db.query<{ user_id: string; csrf_token: string; created_at: number; expires_at: number }>(
    'SELECT user_id, csrf_token, created_at, expires_at FROM sessions WHERE token_hash = ? AND revoked_at IS NULL AND expires_at > ?',
    [hash, now],
  );
  const row = rows[0];
  if (!row) return undefined;
  const user = await findUser(db, row.user_id);
  return user
    ? {
        user,
        csrfToken: row.csrf_token,
        expiresAt: Number(row.expires_at),
        authenticatedAt: Number(row.created_at),
        formKey: formKeyOf(hash),
      }
    : undefined;
}

/** Ends a session (signing out). */
export async function revokeSession(db: SqlClient, token: string, now = Date.now()): Promise<void> {
  await db.run('UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL', [now, hashSecret(token)]);
}

/** Whether a submitted CSRF token matches the session's, in constant time. */
export function csrfMatches(session: Session, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  const a = Buffer.from(session.csrfToken);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}
