import type { DatabaseKind, SqlClient } from '../db/types.js';
import type { Migration } from '../db/migrations.js';
import { hashSecret, newSecret } from './users.js';

/*
 * One-time links sent by email: verifying an address, resetting a password. The link carries a
 * 256-bit random token; only its SHA-256 hash is stored, so a copy of the database (a backup, a
 * leaked dump) holds no working link. A token works once: it is spent by a conditional update
 * (`used_at IS NULL AND expires_at > now`), so two tabs (or two attackers) racing with one link
 * get one success between them, on either engine.
 */

/** What a one-time email link is for. */
export type EmailTokenPurpose = 'verify_email' | 'reset_password';

/** What became of a one-time link (see {@link spendEmailToken} and {@link peekEmailToken}). */
export type EmailTokenState =
  | { status: 'valid'; userId: string; email: string; expiresAt: number }
  /** Spent already: by this person in another tab, or replaced by a completed reset. */
  | { status: 'used'; userId: string; email: string }
  | { status: 'expired'; userId: string; email: string }
  /** Malformed, never issued, or issued for the other purpose. */
  | { status: 'unknown' };

/** The shape of a token from {@link issueEmailToken}: 32 random bytes, base64url. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Issues a one-time link token for `userId` and the address it is mailed to.
 *
 * @returns The token, to put in the emailed link; it is never stored, only its hash.
 */
export async function issueEmailToken(
  db: SqlClient,
  input: { purpose: EmailTokenPurpose; userId: string; email: string; ttlMs: number; now?: number },
): Promise<string> {
  const now = input.now ?? Date.now();
  const { token, hash } = newSecret(32);
  await db.run(
    `INSERT INTO email_tokens (token_hash, purpose, user_id, email, created_at, expires_at, used_at)
     VALUES (?, ?, ?, ?, ?, ?, NULL)`,
    [hash, input.purpose, input.userId, input.email, now, now + input.ttlMs],
  );
  return token;
}

interface TokenRow {
  user_id: string;
  email: string;
  expires_at: number;
  used_at: number | null;
}

/** What a token is, without spending it: for the page that asks for a new password. */
export async function peekEmailToken(
  db: SqlClient,
  purpose: EmailTokenPurpose,
  token: unknown,
  now = Date.now(),
): Promise<EmailTokenState> {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) return { status: 'unknown' };
  const [row] = await db.query<TokenRow>(
    'SELECT user_id, email, expires_at, used_at FROM email_tokens WHERE token_hash = ? AND purpose = ?',
    [hashSecret(token), purpose],
  );
  if (!row) return { status: 'unknown' };
  const found = { userId: row.user_id, email: row.email };
  if (row.used_at !== null) return { status: 'used', ...found };
  if (Number(row.expires_at) <= now) return { status: 'expired', ...found };
  return { status: 'valid', ...found, expiresAt: Number(row.expires_at) };
}

/**
 * Spends a token: `valid` once, then `used` for ever after.
 *
 * @remarks Call it inside the transaction that does what the link is for, so that the token is
 * spent exactly when that work commits. The update is conditional, so of two transactions
 * racing with one token only one changes the row (on PostgreSQL the second waits for the
 * first's row lock, then finds `used_at` set).
 */
export async function spendEmailToken(
  tx: SqlClient,
  purpose: EmailTokenPurpose,
  token: unknown,
  now = Date.now(),
): Promise<EmailTokenState> {
  const state = await peekEmailToken(tx, purpose, token, now);
  if (state.status !== 'valid') return state;
  const spent = await tx.run(
    'UPDATE email_tokens SET used_at = ? WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?',
    [now, hashSecret(token as string), purpose, now],
  );
  return spent === 1 ? state : { status: 'used', userId: state.userId, email: state.email };
}

/** Marks every unspent token of `purpose` for `userId` used: after a reset, older links stop working. */
export async function spendAllEmailTokens(tx: SqlClient, purpose: EmailTokenPurpose, userId: string, now = Date.now()): Promise<void> {
  await tx.run('UPDATE email_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL', [now, userId, purpose]);
}

function emailTokensStatements(kind: DatabaseKind): string[] {
  const [int, strict] = kind === 'sqlite' ? ['INTEGER', ' STRICT'] : ['BIGINT', ''];
  return [
    `CREATE TABLE email_tokens (
      token_hash TEXT PRIMARY KEY,
      purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
      user_id TEXT NOT NULL REFERENCES users (id),
      email TEXT NOT NULL,
      created_at ${int} NOT NULL,
      expires_at ${int} NOT NULL,
      used_at ${int}
    )${strict}`,
    `CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose)`,
    `ALTER TABLE users ADD COLUMN email_verified_at ${int}`,
    // Since migration 16 an account exists only once the code emailed to its address came back:
    // those addresses are verified already, when their sign-up finished. Older accounts are not.
    `UPDATE users SET email_verified_at = (
      SELECT min(signups.used_at) FROM signups WHERE signups.email = users.email AND signups.used_at IS NOT NULL
    )`,
  ];
}

/** One-time email links (verification, password reset) and when each address was verified (issue 14). */
export const emailTokensMigration: Migration = {
  version: 19,
  name: 'one-time email links and verified addresses',
  statements: { sqlite: emailTokensStatements('sqlite'), postgres: emailTokensStatements('postgres') },
};
