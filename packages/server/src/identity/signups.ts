import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Database, SqlClient } from '../db/types.js';
import type { Migration } from '../db/migrations.js';
import type { ScryptCost } from './passwords.js';
import { markEmailVerified } from './email-verification.js';
import { findUserByEmail, hashSecret, insertUser, prepareUser, type NewUser, type Role, type User } from './users.js';

/*
 * Sign-up that does not tell who has an account. Every well-formed sign-up answers the same
 * page ("we sent a code to …") after the same work (a password hash, one email written): a new
 * address gets a code that creates the account, an address that already has one gets an email
 * saying so instead. Whoever types codes for an address they do not own learns nothing from
 * "that code is not right".
 */

/** How long a sign-up waits for its code: 15 minutes. */
export const SIGNUP_TTL_MS = 15 * 60 * 1000;

/** Wrong codes a sign-up survives; the next one ends it (a 6-digit code, so 5 in 1,000,000 at most). */
export const SIGNUP_MAX_CODE_ATTEMPTS = 5;

/** The sign-up waiting for its code (see {@link startSignUp}). */
export interface PendingSignUp {
  /** Opaque id of the waiting sign-up, carried by the code form and the emailed link. */
  id: string;
  email: string;
  /** The 6-digit code to email: only for an address with no account yet. */
  code: string | undefined;
  /** The account the address already has, to tell its owner (no code then). */
  existing: User | undefined;
  expiresAt: number;
}

/**
 * Records a sign-up and decides what to email: a code for a new address, a notice for one that
 * already has an account.
 *
 * @remarks Both branches hash the password and write a row, so they take the same time; the
 * caller sends one email either way and shows the same page.
 * @throws {@link ApiError} `invalid_request` for a bad field (nothing is stored then).
 */
export async function startSignUp(
  db: SqlClient,
  input: NewUser,
  options: { cost?: ScryptCost; now?: number } = {},
): Promise<PendingSignUp> {
  const now = options.now ?? Date.now();
  const prepared = await prepareUser(input, options.cost);
  const existing = await findUserByEmail(db, prepared.email);
  // For a known address the stored code is random and never sent: no code can finish it.
  const code = existing ? undefined : String(randomInt(0, 1_000_000)).padStart(6, '0');
  const id = `su_${randomBytes(24).toString('base64url')}`;
  await db.run(
    `INSERT INTO signups (id, email, password_hash, display_name, roles, code_hash, attempts, created_at, expires_at, used_at)
     VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, NULL)`,
    [
      id,
      prepared.email,
      prepared.passwordHash,
      prepared.displayName,
      prepared.roles.join(','),
      hashSecret(code ?? randomBytes(16).toString('hex')),
      now,
      now + SIGNUP_TTL_MS,
    ],
  );
  return { id, email: prepared.email, code, existing, expiresAt: now + SIGNUP_TTL_MS };
}

interface SignUpRow {
  email: string;
  password_hash: string;
  display_name: string;
  roles: string;
  code_hash: string;
  attempts: number;
  expires_at: number;
  used_at: number | null;
}

/** What {@link finishSignUp} found. */
export type SignUpOutcome =
  | { status: 'created'; user: User }
  /** Wrong code, unknown or expired sign-up, or too many tries: deliberately one answer. */
  | { status: 'refused' }
  /** The code was right but the address got an account meanwhile (another sign-up finished first). */
  | { status: 'taken' };

/**
 * Finishes a sign-up with the emailed code: creates the account, once.
 *
 * @remarks Each wrong code counts; after {@link SIGNUP_MAX_CODE_ATTEMPTS} the sign-up is dead.
 * The code is compared in constant time, and the row is marked used in the same transaction
 * that creates the account, so a code works once however many tabs race.
 */
export async function finishSignUp(db: Database, id: unknown, code: unknown, now = Date.now()): Promise<SignUpOutcome> {
  if (typeof id !== 'string' || !/^su_[\w-]{32}$/.test(id)) return { status: 'refused' };
  const submitted = typeof code === 'string' ? code.replace(/\s+/g, '') : '';
  return db.transaction(async (tx) => {
    const [row] = await tx.query<SignUpRow>(
      'SELECT email, password_hash, display_name, roles, code_hash, attempts, expires_at, used_at FROM signups WHERE id = ?',
      [id],
    );
    if (!row || row.used_at !== null || Number(row.expires_at) <= now || Number(row.attempts) >= SIGNUP_MAX_CODE_ATTEMPTS) {
      return { status: 'refused' };
    }
    const expected = Buffer.from(row.code_hash);
    const actual = Buffer.from(/^\d{6}$/.test(submitted) ? hashSecret(submitted) : '');
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
      await tx.run('UPDATE signups SET attempts = attempts + 1 WHERE id = ?', [id]);
      return { status: 'refused' };
    }
    const used = await tx.run('UPDATE signups SET used_at = ? WHERE id = ? AND used_at IS NULL', [now, id]);
    if (used === 0) return { status: 'refused' };
    const roles = row.roles.split(',').filter((role): role is Role => role === 'fan' || role === 'creator');
    // A second sign-up for the same address may have finished first: the insert says so.
    const taken = await findUserByEmail(tx, row.email);
    if (taken) return { status: 'taken' };
    const user = await insertUser(tx, { email: row.email, passwordHash: row.password_hash, displayName: row.display_name, roles }, now);
    // The code came back from the address: it is the owner's (identity/email-verification.ts).
    await markEmailVerified(tx, user.id, now);
    return { status: 'created', user };
  });
}

/**
 * The address of a sign-up whose code was used (its account created), else `undefined`.
 *
 * @remarks For the code page of a browser that already finished the sign-up elsewhere (the
 * emailed link, in another tab): with a session for that address, it carries on instead of
 * saying the code is wrong. It reveals nothing to anyone else: the caller checks the session.
 */
export async function finishedSignUpEmail(db: SqlClient, id: unknown): Promise<string | undefined> {
  if (typeof id !== 'string' || !/^su_[\w-]{32}$/.test(id)) return undefined;
  const [row] = await db.query<{ email: string }>('SELECT email FROM signups WHERE id = ? AND used_at IS NOT NULL', [id]);
  return row?.email;
}

function signupsTable(kind: 'sqlite' | 'postgres'): string[] {
  const [int, strict] = kind === 'sqlite' ? ['INTEGER', ' STRICT'] : ['BIGINT', ''];
  return [
    `CREATE TABLE signups (
      id TEXT PRIMARY KEY,
      email TEXT NOT NULL,
      password_hash TEXT NOT NULL,
      display_name TEXT NOT NULL,
      roles TEXT NOT NULL,
      code_hash TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      created_at ${int} NOT NULL,
      expires_at ${int} NOT NULL,
      used_at ${int}
    )${strict}`,
  ];
}

/** Sign-ups waiting for their emailed code (issue 11: sign-up that does not reveal accounts). */
export const signupsMigration: Migration = {
  version: 16,
  name: 'sign-ups waiting for their emailed code',
  statements: { sqlite: signupsTable('sqlite'), postgres: signupsTable('postgres') },
};
