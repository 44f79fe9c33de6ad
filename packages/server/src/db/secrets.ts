import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Secrets the platform must read back (receipt signing keys, webhook signing secrets) are kept
 * in the database encrypted with AES-256-GCM under a key given in the environment, so that a
 * copy of the database (a backup, a stolen disk, a read-only SQL injection) does not give them
 * away.
 *
 * - `DIAMONDS_SECRET_KEY`: 32 random bytes in base64 (`openssl rand -base64 32`); required with
 *   `NODE_ENV=production`. Without it (development) secrets are stored in clear, as before.
 * - `DIAMONDS_SECRET_KEYS_PREVIOUS`: earlier keys, comma-separated, still read while rows are
 *   re-encrypted under the new one (the platform does that when it starts).
 *
 * A stored value is `enc1.<key id>.<iv>.<ciphertext>.<tag>` (base64url parts). The key id is a
 * hash of the key (never the key), so the right key is found for each row after a rotation. The
 * row's identity (such as `signing_keys:<kid>`) is the additional authenticated data: a value
 * copied into another row does not decrypt there. A value without the prefix is a row written
 * in clear before encryption was turned on; it is read as it is.
 */

/** The environment variable of the key that encrypts. */
export const SECRET_KEY_ENV = 'DIAMONDS_SECRET_KEY';
/** The environment variable of earlier keys, comma-separated, that still decrypt. */
export const PREVIOUS_SECRET_KEYS_ENV = 'DIAMONDS_SECRET_KEYS_PREVIOUS';

const PREFIX = 'enc1';

/** A secret could not be read: no key, or the wrong key, for what the database holds. */
export class SecretKeyError extends Error {
  override name = 'SecretKeyError';
}

/** The keys of this process: the one that encrypts, and every one that decrypts, by id. */
export interface SecretKeyring {
  /** The id of the key that encrypts. */
  primaryId: string;
  /** Every key that decrypts (the primary one included), by id. */
  keys: ReadonlyMap<string, Buffer>;
}

/** A key's id: 8 base64url characters of a hash of it, safe to store and to print. */
export function secretKeyId(key: Buffer): string {
  return createHash('sha256').update('diamonds secret key id\0').update(key).digest('base64url').slice(0, 8);
}

/**
 * A 32-byte key from its base64 (or base64url) text.
 *
 * @throws Error naming `variable` when it is not 32 bytes.
 */
export function parseSecretKey(text: string, variable = SECRET_KEY_ENV): Buffer {
  const trimmed = text.trim();
  const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)
    ? Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
    : Buffer.alloc(0);
  if (key.length !== 32) {
    throw new Error(`${variable} must be 32 random bytes in base64 (make one with: openssl rand -base64 32); got ${key.length} bytes.`);
  }
  return key;
}

/**
 * The keyring the environment gives, or `undefined` without `DIAMONDS_SECRET_KEY`.
 *
 * @throws Error when a key is malformed.
 */
export function readSecretKeyring(env: NodeJS.ProcessEnv = process.env): SecretKeyring | undefined {
  const primaryText = env[SECRET_KEY_ENV]?.trim();
  if (!primaryText) return undefined;
  const primary = parseSecretKey(primaryText);
  const keys = new Map<string, Buffer>([[secretKeyId(primary), primary]]);
  for (const text of (env[PREVIOUS_SECRET_KEYS_ENV] ?? '').split(',')) {
    if (text.trim() === '') continue;
    const key = parseSecretKey(text, PREVIOUS_SECRET_KEYS_ENV);
    keys.set(secretKeyId(key), key);
  }
  return { primaryId: secretKeyId(primary), keys };
}

let cached: { text: string; keyring: SecretKeyring | undefined } | undefined;

/**
 * This process's keyring, from its environment (read again when the variables change, so a
 * writer thread, which has a copy of the environment, holds the same one).
 */
export function processKeyring(): SecretKeyring | undefined {
  const text = `${process.env[SECRET_KEY_ENV] ?? ''}|${process.env[PREVIOUS_SECRET_KEYS_ENV] ?? ''}`;
  if (cached?.text !== text) cached = { text, keyring: readSecretKeyring(process.env) };
  return cached.keyring;
}

/**
 * The value to store for `plain`: encrypted under the primary key, or `plain` itself when there
 * is no key (development).
 *
 * @param context - The row's identity, such as `signing_keys:key_…`: bound to the ciphertext.
 */
export function sealSecret(plain: string, context: string, keyring: SecretKeyring | undefined = processKeyring()): string {
  if (!keyring) return plain;
  const key = keyring.keys.get(keyring.primaryId)!;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [
    PREFIX,
    keyring.primaryId,
    iv.toString('base64url'),
    ciphertext.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
  ].join('.');
}

/** Whether a stored value is encrypted (with any key). */
export function isSealed(stored: string): boolean {
  return stored.startsWith(`${PREFIX}.`);
}

/** Whether a stored value should be sealed again: in clear, or under another key than the primary one. */
export function needsResealing(stored: string, keyring: SecretKeyring | undefined = processKeyring()): boolean {
  if (!keyring) return false;
  return !isSealed(stored) || stored.split('.')[1] !== keyring.primaryId;
}

/**
 * The clear value of a stored one (a value stored in clear is returned as it is).
 *
 * @throws {@link SecretKeyError} when there is no key, or not the one it was encrypted with, or
 * the value or its context do not match (tampered, or copied from another row).
 */
export function openSecret(stored: string, context: string, keyring: SecretKeyring | undefined = processKeyring()): string {
  if (!isSealed(stored)) return stored;
  const [, keyId = '', iv = '', ciphertext = '', tag = ''] = stored.split('.');
  if (!keyring) {
    throw new SecretKeyError(
      `A secret in the database (${context}) is encrypted (key id ${keyId}), and ${SECRET_KEY_ENV} is not set: set it to the key it was encrypted with.`,
    );
  }
  const key = keyring.keys.get(keyId);
  if (!key) {
    throw new SecretKeyError(
      `A secret in the database (${context}) is encrypted with key id ${keyId}, which is neither ${SECRET_KEY_ENV} (${keyring.primaryId}) nor one of ${PREVIOUS_SECRET_KEYS_ENV}: set the key it was encrypted with.`,
    );
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretKeyError(
      `A secret in the database (${context}) does not decrypt with key id ${keyId}: it was altered or belongs to another row.`,
    );
  }
}
