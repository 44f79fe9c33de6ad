import type { Database, SqlClient } from '../db/types.js';
import { hashPassword, type ScryptCost } from './passwords.js';
import { issueEmailToken, spendAllEmailTokens, spendEmailToken } from './email-tokens.js';
import { checkPassword, findUser, findUserByEmail, normalizeEmail, type User } from './users.js';

/*
 * Password reset by an emailed one-time link. Asking never tells whether an address has an
 * account: the caller sends one email either way (a link, or a note that there is no account)
 * and shows the same page. Setting the new password spends the link, replaces the hash, spends
 * every other reset link of the account and ends every platform session, in one transaction.
 */

/** How long a password reset link works: 1 hour. */
export const PASSWORD_RESET_TTL_MS = 60 * 60 * 1000;

/** What {@link requestPasswordReset} found: the token to mail when the address has an account. */
export type PasswordResetRequest =
  | { email: string; user: User; token: string; expiresAt: number }
  | { email: string; user: undefined; token: undefined; expiresAt: undefined };

/**
 * Starts a reset for an address: a link token when it has an account, nothing otherwise.
 *
 * @remarks Earlier links of the account keep working until they expire or one is used (the
 * person may open the first email they got); a completed reset spends them all.
 * @throws {@link ApiError} `invalid_request` (param `email`) for a malformed address, whoever owns it.
 */
export async function requestPasswordReset(db: SqlClient, email: unknown, now = Date.now()): Promise<PasswordResetRequest> {
  const normalized = normalizeEmail(email);
  const user = await findUserByEmail(db, normalized);
  if (!user) return { email: normalized, user: undefined, token: undefined, expiresAt: undefined };
  const token = await issueEmailToken(db, {
    purpose: 'reset_password',
    userId: user.id,
    email: user.email,
    ttlMs: PASSWORD_RESET_TTL_MS,
    now,
  });
  return { email: normalized, user, token, expiresAt: now + PASSWORD_RESET_TTL_MS };
}

/** What {@link resetPassword} did. */
export type PasswordResetOutcome =
  | { status: 'reset'; user: User; sessionsEnded: number }
  /** The link was used before (or replaced by a completed reset): nothing changed. */
  | { status: 'used' }
  | { status: 'expired' }
  /** Not a link we issued (or mailed to an address the account no longer has). */
  | { status: 'unknown' };

/**
 * Sets a new password with a reset link's token, once.
 *
 * @remarks The password is checked and hashed before the transaction (a refused password leaves
 * the link usable; scrypt's tens of milliseconds hold no lock). Then, atomically: the token is
 * spent, the hash replaced, the address marked verified (the emailed link proves it), every other
 * reset link spent and every platform session of the account ended.
 * @throws {@link ApiError} `invalid_request` (param `password`) for a password sign-up would refuse.
 */
export async function resetPassword(
  db: Database,
  token: unknown,
  password: unknown,
  options: { cost?: ScryptCost; now?: number } = {},
): Promise<PasswordResetOutcome> {
  const passwordHash = await hashPassword(checkPassword(password), options.cost);
  const now = options.now ?? Date.now();
  return db.transaction(async (tx) => {
    const state = await spendEmailToken(tx, 'reset_password', token, now);
    if (state.status !== 'valid') return { status: state.status };
    const changed = await tx.run(
      'UPDATE users SET password_hash = ?, email_verified_at = COALESCE(email_verified_at, ?) WHERE id = ? AND email = ?',
      [passwordHash, now, state.userId, state.email],
    );
    // The address changed since the link was mailed: the link no longer speaks for the account.
    if (changed === 0) return { status: 'unknown' };
    await spendAllEmailTokens(tx, 'reset_password', state.userId, now);
    const sessionsEnded = await tx.run('UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL', [now, state.userId]);
    const user = await findUser(tx, state.userId);
    if (!user) return { status: 'unknown' };
    return { status: 'reset', user, sessionsEnded };
  });
}
