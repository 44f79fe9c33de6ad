import { createPrivateKey, createPublicKey, sign, verify, type JsonWebKey } from 'node:crypto';
import { isLowS, newId, toLowS, type ReceiptClaims } from '@diamonds/protocol';
import type { Database, SqlClient } from '../db/types.js';
import { ApiError } from '../errors.js';
import { needsResealing, openSecret, processKeyring, sealSecret, type SecretKeyring } from '../db/secrets.js';
import { newP256Jwks } from '../ec-keys.js';

/** The signature algorithm of receipts: ECDSA on P-256 with SHA-256 (JOSE `ES256`). */
export const RECEIPT_ALGORITHM = 'ES256';

/** A public key as published at `/.well-known/jwks.json`. */
export interface PublicJwk extends JsonWebKey {
  kid: string;
  alg: string;
  use: string;
}

interface KeyRow {
  kid: string;
  private_jwk: string;
  public_jwk: string;
  created_at: number;
  retired_at: number | null;
}

/** What a private key's ciphertext is bound to: its row. */
function secretContext(kid: string): string {
  return `signing_keys:${kid}`;
}

/**
 * Encrypts the private keys still stored in clear (or under a previous `DIAMONDS_SECRET_KEY`)
 * under the current key; nothing to do without one. Run when the platform starts.
 *
 * @throws {@link SecretKeyError} when a key was encrypted with a key this process does not have.
 * @returns How many keys were sealed again.
 */
export async function resealSigningKeys(db: Database, keyring: SecretKeyring | undefined = processKeyring()): Promise<number> {
  if (!keyring) return 0;
  const rows = await db.query<{ kid: string; private_jwk: string }>('SELECT kid, private_jwk FROM signing_keys');
  let sealed = 0;
  for (const row of rows) {
    if (!needsResealing(row.private_jwk, keyring)) continue;
    const plain = openSecret(row.private_jwk, secretContext(row.kid), keyring);
    // Conditional on the value read: a process doing the same at once changes nothing twice.
    sealed += await db.run('UPDATE signing_keys SET private_jwk = ? WHERE kid = ? AND private_jwk = ?', [
      sealSecret(plain, secretContext(row.kid), keyring),
      row.kid,
      row.private_jwk,
    ]);
  }
  return sealed;
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

async function createKey(db: SqlClient, now: number): Promise<KeyRow> {
  const { privateJwk, publicJwk } = newP256Jwks();
  const kid = newId('key', now);
  const row: KeyRow = {
    kid,
    // Encrypted at rest under DIAMONDS_SECRET_KEY (see db/secrets.ts).
    private_jwk: sealSecret(JSON.stringify(privateJwk), secretContext(kid)),
    public_jwk: JSON.stringify({ ...publicJwk, kid, alg: RECEIPT_ALGORITHM, use: 'sig' }),
    created_at: now,
    retired_at: null,
  };
  await db.run('INSERT INTO signing_keys (kid, algorithm, private_jwk, public_jwk, created_at, retired_at) VALUES (?, ?, ?, ?, ?, NULL)', [
    row.kid,
    RECEIPT_ALGORITHM,
    row.private_jwk,
    row.public_jwk,
    row.created_at,
  ]);
  return row;
}

/**
 * Makes the first signing key when there is none in use, so that `/.well-known/jwks.json`
 * publishes the key before the first receipt is signed (a site's backend can fetch and pin the
 * key set from the start). Called when the platform starts; harmless to call again.
 *
 * @remarks The insert is conditional (`WHERE NOT EXISTS`), so starting twice makes one key; two
 * PostgreSQL processes starting at the very same moment may each make one, and then both are
 * published and the newer one signs, which is as valid.
 *
 * @returns The `kid` of the key that signs new receipts.
 */
export async function ensureSigningKey(db: SqlClient, now = Date.now()): Promise<string> {
  const { privateJwk, publicJwk } = newP256Jwks();
  const kid = newId('key', now);
  await db.run(
    `INSERT INTO signing_keys (kid, algorithm, private_jwk, public_jwk, created_at, retired_at)
     SELECT ?, ?, ?, ?, ?, NULL WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)`,
    [
      kid,
      RECEIPT_ALGORITHM,
      sealSecret(JSON.stringify(privateJwk), secretContext(kid)),
      JSON.stringify({ ...publicJwk, kid, alg: RECEIPT_ALGORITHM, use: 'sig' }),
      now,
    ],
  );
  return (await currentKey(db, now)).kid;
}

/** The key that signs new receipts: the newest one not retired, created the first time. */
async function currentKey(db: SqlClient, now: number): Promise<KeyRow> {
  const [row] = await db.query<KeyRow>(
    'SELECT kid, private_jwk, public_jwk, created_at, retired_at FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC LIMIT 1',
  );
  return row ?? createKey(db, now);
}

/**
 * Signs a receipt as a compact JWT (`ES256`, with the key's `kid` in the header).
 *
 * @remarks Call it in the transaction that records the payment, so the receipt is stored with
 * it; the first receipt ever creates the signing key.
 */
export async function issueReceipt(
  tx: SqlClient,
  claims: Omit<ReceiptClaims, 'jti' | 'iat'>,
  now = Date.now(),
): Promise<{ jwt: string; claims: ReceiptClaims }> {
  const key = await currentKey(tx, now);
  const full: ReceiptClaims = { ...claims, jti: newId('rcpt', now), iat: Math.floor(now / 1000) };
  const header = { alg: RECEIPT_ALGORITHM, typ: 'JWT', kid: key.kid };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(full))}`;
  const privateKey = createPrivateKey({
    key: JSON.parse(openSecret(key.private_jwk, secretContext(key.kid))) as JsonWebKey,
    format: 'jwk',
  });
  // Always the low-S twin: verifiers refuse the other one (see isLowS).
  const signature = toLowS(sign('sha256', Buffer.from(signingInput), { key: privateKey, dsaEncoding: 'ieee-p1363' }));
  return { jwt: `${signingInput}.${base64url(Buffer.from(signature))}`, claims: full };
}

/**
 * Retires the signing key in use and makes a new one: new receipts carry the new `kid`, and
 * the retired key stays in the JWKS so receipts already issued still verify.
 *
 * @returns The new key's `kid`.
 */
export async function rotateSigningKey(db: Database, now = Date.now()): Promise<string> {
  return db.transaction(async (tx) => {
    await tx.run('UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL', [now]);
    return (await createKey(tx, now)).kid;
  });
}

/**
 * Every public key, newest first, as the body of `GET /.well-known/jwks.json`: never empty, the
 * signing key is made here if the platform was started without {@link ensureSigningKey}.
 */
export async function jwks(db: SqlClient): Promise<{ keys: PublicJwk[] }> {
  const read = () => db.query<{ public_jwk: string }>('SELECT public_jwk FROM signing_keys ORDER BY created_at DESC, kid DESC');
  let rows = await read();
  if (rows.length === 0) {
    await ensureSigningKey(db);
    rows = await read();
  }
  return { keys: rows.map((row) => JSON.parse(row.public_jwk) as PublicJwk) };
}

/**
 * Checks a receipt against a key set and returns its claims: what the platform's tests and a
 * site's backend (through the SDK) do with a receipt.
 *
 * @throws {@link ApiError} `invalid_request` when malformed, signed by an unknown key or forged.
 */
export function verifyReceiptWith(jwt: string, keys: readonly PublicJwk[]): ReceiptClaims {
  const parts = typeof jwt === 'string' ? jwt.split('.') : [];
  const [encodedHeader, encodedClaims, encodedSignature] = parts;
  if (parts.length !== 3 || !encodedHeader || !encodedClaims || !encodedSignature) {
    throw new ApiError('invalid_request', 'A receipt is a compact JWT: three base64url parts.');
  }
  let header: { alg?: unknown; kid?: unknown };
  try {
    header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString('utf8')) as { alg?: unknown; kid?: unknown };
  } catch {
    throw new ApiError('invalid_request', 'The receipt header is not JSON.');
  }
  if (header.alg !== RECEIPT_ALGORITHM) throw new ApiError('invalid_request', `Receipts are signed with ${RECEIPT_ALGORITHM}.`);
  const jwk = keys.find((key) => key.kid === header.kid);
  if (!jwk) throw new ApiError('invalid_request', `No published key ${JSON.stringify(header.kid)}.`);
  const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
  const signature = Buffer.from(encodedSignature, 'base64url');
  const valid =
    isLowS(signature) &&
    verify('sha256', Buffer.from(`${encodedHeader}.${encodedClaims}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  if (!valid) throw new ApiError('invalid_request', 'The receipt signature does not verify.');
  return JSON.parse(Buffer.from(encodedClaims, 'base64url').toString('utf8')) as ReceiptClaims;
}
