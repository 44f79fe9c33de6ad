import { randomBytes, timingSafeEqual } from 'node:crypto';
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
  return { token, session: { user, csrfToken, expiresAt } };
}

/** The live session for a cookie value, or `undefined` when it is unknown, expired or revoked. */
export async function findSession(db: SqlClient, token: string | undefined, now = Date.now()): Promise<Session | undefined> {
  if (!token || token.length > 100) return undefined;
  const rows = await db.query<{ user_id: string; csrf_token: string; expires_at: number }>(
    'SELECT user_id, csrf_token, expires_at FROM sessions WHERE token_hash = ? AND revoked_at IS NULL AND expires_at > ?',
    [hashSecret(token), now],
  );
  const row = rows[0];
  if (!row) return undefined;
  const user = await findUser(db, row.user_id);
  return user ? { user, csrfToken: row.csrf_token, expiresAt: row.expires_at } : undefined;
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
