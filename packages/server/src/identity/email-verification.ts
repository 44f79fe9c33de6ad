import type { Database, SqlClient } from '../db/types.js';
import { issueEmailToken, spendEmailToken } from './email-tokens.js';
import type { User } from './users.js';

/*
 * Whether a person owns the address of their account. An account made by sign-up is verified
 * when it is created (the emailed code came back: identity/signups.ts). Older accounts, and those
 * made another way, verify with an emailed link; money leaving the platform (a first payout)
 * needs a verified address, so that it is the owner who gets the payout notices.
 */

/** How long an email verification link works: 24 hours. */
export const EMAIL_VERIFICATION_TTL_MS = 24 * 60 * 60 * 1000;

/** Whether the user's email address is verified (false for an unknown user). */
export async function isEmailVerified(db: SqlClient, userId: string): Promise<boolean> {
  const [row] = await db.query<{ email_verified_at: number | null }>('SELECT email_verified_at FROM users WHERE id = ?', [userId]);
  return row !== undefined && row.email_verified_at !== null;
}

/**
 * Marks the user's address verified, keeping the first time it was.
 *
 * @remarks For sign-up (whose emailed code proves the address), a completed password reset (its
 * emailed link does too), the demo data and tests.
 */
export async function markEmailVerified(db: SqlClient, userId: string, now = Date.now()): Promise<void> {
  await db.run('UPDATE users SET email_verified_at = ? WHERE id = ? AND email_verified_at IS NULL', [now, userId]);
}

/**
 * Issues a verification link's token for the user's current address.
 *
 * @returns The token for the link `/verify-email?token=…` (only its hash is stored).
 */
export function startEmailVerification(db: SqlClient, user: Pick<User, 'id' | 'email'>, now = Date.now()): Promise<string> {
  return issueEmailToken(db, { purpose: 'verify_email', userId: user.id, email: user.email, ttlMs: EMAIL_VERIFICATION_TTL_MS, now });
}

/** What a verification link did (see {@link verifyEmail}). */
export type EmailVerificationOutcome =
  | { status: 'verified'; email: string }
  /** The link was used before; `verified` says whether the address is verified now. */
  | { status: 'used'; email: string; verified: boolean }
  | { status: 'expired'; email: string; verified: boolean }
  | { status: 'unknown' };

/**
 * Follows a verification link: spends its token and marks the address verified, in one
 * transaction.
 *
 * @remarks The address must still be the account's (a link mailed to an old address verifies
 * nothing), and a verified address stays verified from its first time.
 */
export async function verifyEmail(db: Database, token: unknown, now = Date.now()): Promise<EmailVerificationOutcome> {
  return db.transaction(async (tx) => {
    const state = await spendEmailToken(tx, 'verify_email', token, now);
    if (state.status === 'unknown') return state;
    if (state.status === 'valid') {
      await tx.run('UPDATE users SET email_verified_at = ? WHERE id = ? AND email = ? AND email_verified_at IS NULL', [
        now,
        state.userId,
        state.email,
      ]);
      const [row] = await tx.query<{ email_verified_at: number | null }>('SELECT email_verified_at FROM users WHERE id = ? AND email = ?', [
        state.userId,
        state.email,
      ]);
      if (row?.email_verified_at === null || row === undefined) return { status: 'unknown' };
      return { status: 'verified', email: state.email };
    }
    return { status: state.status, email: state.email, verified: await isEmailVerified(tx, state.userId) };
  });
}
