import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';

/** A P-256 key pair as JSON Web Keys. */
export interface P256Jwks {
  privateJwk: JsonWebKey;
  publicJwk: JsonWebKey;
}

/**
 * A new P-256 key pair as JWKs.
 *
 * @remarks Never `generateKeyPairSync(…)` and then `key.export({ format: 'jwk' })`: on Node 20 a
 * garbage collection during that export may collect the job that generated the key, whose
 * destructor takes the key's lock, which the export holds: the thread then waits on itself
 * for ever (a loop of them hangs within a few hundred keys). Here the job hands over DER bytes,
 * and the JWKs come from key objects made of those, which share no lock with the job;
 * `createPrivateKey` / `createPublicKey` of the JWKs give key objects where needed.
 */
export function newP256Jwks(): P256Jwks {
  const { privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
    publicKeyEncoding: { type: 'spki', format: 'der' },
  });
  const key = createPrivateKey({ key: privateKey, format: 'der', type: 'pkcs8' });
  return { privateJwk: key.export({ format: 'jwk' }), publicJwk: createPublicKey(key).export({ format: 'jwk' }) };
}
