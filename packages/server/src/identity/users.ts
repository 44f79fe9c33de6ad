import { createHash, randomBytes } from 'node:crypto';
import { newId } from '@diamonds/protocol';
import { ApiError } from '../errors.js';
import type { SqlClient } from '../db/types.js';
import { cleanText } from '../text.js';
import { hashPassword, verifyAgainstNothing, verifyPassword, type ScryptCost } from './passwords.js';

/** The roles a person has: a fan spends, a creator earns. One person can be both. */
export type Role = 'fan' | 'creator';

/** A person with an account on the platform. */
export interface User {
  /** `usr_…` */
  id: string;
  /** Lowercased. */
  email: string;
  displayName: string;
  roles: Role[];
  createdAt: number;
}

/** Fewest characters of a password. */
export const MIN_PASSWORD_LENGTH = 10;
/** Most characters of a password (scrypt takes any length; this bounds the work per request). */
export const MAX_PASSWORD_LENGTH = 200;

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  display_name: string;
  is_fan: number | boolean;
  is_creator: number | boolean;
  created_at: number;
}

const USER_COLUMNS = 'id, email, password_hash, display_name, is_fan, is_creator, created_at';

function toUser(row: UserRow): User {
  const roles: Role[] = [];
  if (Number(row.is_fan)) roles.push('fan');
  if (Number(row.is_creator)) roles.push('creator');
  return { id: row.id, email: row.email, displayName: row.display_name, roles, createdAt: row.created_at };
}

/**
 * Checks and normalises an email address: trimmed, lowercased, at most 254 characters, one
 * `@` with something on each side and a dot in the domain. Deliberately permissive beyond that.
 */
export function normalizeEmail(value: unknown): string {
  if (typeof value !== 'string') throw new ApiError('invalid_request', 'email must be a string.', { param: 'email' });
  const email = value.trim().toLowerCase();
  if (email.length === 0) throw new ApiError('invalid_request', 'email must not be empty.', { param: 'email' });
  if (email.length > 254 || !/^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u.test(email)) {
    throw new ApiError('invalid_request', 'email must be an address like fan@example.com.', { param: 'email' });
  }
  return email;
}

/**
 * Checks a new password against the rules of sign-up (also those of a password reset).
 *
 * @throws {@link ApiError} `invalid_request` (param `password`) when too short, too long or holding a NUL.
 */
export function checkPassword(value: unknown): string {
  if (typeof value !== 'string') throw new ApiError('invalid_request', 'password must be a string.', { param: 'password' });
  const length = [...value].length;
  if (length < MIN_PASSWORD_LENGTH) {
    throw new ApiError('invalid_request', `password needs at least ${MIN_PASSWORD_LENGTH} characters.`, { param: 'password' });
  }
  if (length > MAX_PASSWORD_LENGTH) {
    throw new ApiError('invalid_request', `password may have at most ${MAX_PASSWORD_LENGTH} characters.`, { param: 'password' });
  }
  if (value.includes('\u0000')) throw new ApiError('invalid_request', 'password contains a NUL character.', { param: 'password' });
  return value;
}

/** What {@link createUser} needs. */
export interface NewUser {
  email: unknown;
  password: unknown;
  displayName: unknown;
  roles: readonly Role[];
}

/**
 * Signs a person up.
 *
 * @throws {@link ApiError} `invalid_request` for a bad field, `email_taken` when the address
 * already has an account.
 */
export async function createUser(db: SqlClient, input: NewUser, options: { cost?: ScryptCost; now?: number } = {}): Promise<User> {
  return insertUser(db, await prepareUser(input, options.cost), options.now);
}

/** A sign-up checked and its password hashed, not yet stored (see {@link prepareUser}). */
export interface PreparedUser {
  email: string;
  passwordHash: string;
  displayName: string;
  roles: Role[];
}

/**
 * Checks a sign-up's fields and hashes its password, without storing anything: what a sign-up
 * waiting for its emailed code keeps until the code comes back.
 *
 * @throws {@link ApiError} `invalid_request` for a bad field.
 */
export async function prepareUser(input: NewUser, cost?: ScryptCost): Promise<PreparedUser> {
  const email = normalizeEmail(input.email);
  const password = checkPassword(input.password);
  const displayName = cleanText(input.displayName, { param: 'displayName', max: 60 });
  const roles = new Set(input.roles);
  if (roles.size === 0 || [...roles].some((r) => r !== 'fan' && r !== 'creator')) {
    throw new ApiError('invalid_request', 'roles is one or both of "fan" and "creator".', { param: 'roles' });
  }
  return { email, passwordHash: await hashPassword(password, cost), displayName, roles: [...roles] };
}

/**
 * Stores a prepared sign-up as an account.
 *
 * @throws {@link ApiError} `email_taken` when the address already has an account.
 */
export async function insertUser(db: SqlClient, prepared: PreparedUser, now = Date.now()): Promise<User> {
  const { email, passwordHash, displayName } = prepared;
  const roles = new Set(prepared.roles);
  const row: UserRow = {
    id: newId('usr'),
    email,
    password_hash: passwordHash,
    display_name: displayName,
    is_fan: roles.has('fan') ? 1 : 0,
    is_creator: roles.has('creator') ? 1 : 0,
    created_at: now,
  };
  const inserted = await db.run(`INSERT INTO users (${USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING`, [
    row.id,
    row.email,
    row.password_hash,
    row.display_name,
    row.is_fan,
    row.is_creator,
    row.created_at,
  ]);
  if (inserted === 0) throw new ApiError('email_taken', 'An account with this email already exists; sign in instead.', { param: 'email' });
  return toUser(row);
}

/**
 * Checks an email and password.
 *
 * @remarks A wrong password and an unknown email take the same time and fail the same way, so
 * the answer does not tell who has an account.
 * @throws {@link ApiError} `invalid_credentials`
 */
export async function authenticate(db: SqlClient, email: unknown, password: unknown): Promise<User> {
  const refused = () => new ApiError('invalid_credentials', 'That email and password do not match an account.');
  if (typeof email !== 'string' || typeof password !== 'string' || password.length > MAX_PASSWORD_LENGTH * 4) throw refused();
  const rows = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE email = ?`, [email.trim().toLowerCase()]);
  const row = rows[0];
  const ok = row ? await verifyPassword(password, row.password_hash) : await verifyAgainstNothing(password);
  if (!row || !ok) throw refused();
  return toUser(row);
}

/** A user by id, or `undefined`. */
export async function findUser(db: SqlClient, id: string): Promise<User | undefined> {
  const rows = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`, [id]);
  return rows[0] ? toUser(rows[0]) : undefined;
}

/** A user by email (any case), or `undefined`. */
export async function findUserByEmail(db: SqlClient, email: string): Promise<User | undefined> {
  const rows = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE email = ?`, [email.trim().toLowerCase()]);
  return rows[0] ? toUser(rows[0]) : undefined;
}

/** A random token for a credential, and the SHA-256 hash under which it is stored. */
export function newSecret(bytes = 32): { token: string; hash: string } {
  const token = randomBytes(bytes).toString('base64url');
  return { token, hash: hashSecret(token) };
}

/** The stored form of a high-entropy secret: SHA-256, base64url. (Passwords use scrypt.) */
export function hashSecret(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
