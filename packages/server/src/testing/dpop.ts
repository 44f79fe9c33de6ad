// DPoP proofs (RFC 9449) made in Node, for tests and benches: what the SDK makes in a browser
// with WebCrypto, made here with node:crypto and written independently of the server's verifier
// (identity/dpop.ts), so that each checks the other.
import { createHash, createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { newP256Jwks } from '../ec-keys.js';

/** Claims a test may override or drop (`undefined`) in a proof, to forge a bad one. */
export interface ProofOverrides {
  typ?: string | undefined;
  alg?: string | undefined;
  htm?: string | undefined;
  htu?: string | undefined;
  iat?: number | undefined;
  jti?: string | undefined;
  ath?: string | undefined;
  /** Another public key in the header (the signature stays this key's). */
  jwk?: DpopTestKey['jwk'] | undefined;
}

/** A fan's DPoP key pair, as the SDK would hold it, and how to make proofs with it. */
export interface DpopTestKey {
  /** The JWK SHA-256 thumbprint (RFC 7638) tokens are bound to. */
  jkt: string;
  /** The public key as a JWK (`kty`, `crv`, `x`, `y`). */
  jwk: { kty: string; crv: string; x: string; y: string };
  /**
   * A fresh proof for `method` `url` (query and fragment are dropped, as the SDK does), with
   * `ath` for `accessToken` when given; `overrides` replace header or claim values.
   */
  proof(method: string, url: string, accessToken?: string, overrides?: ProofOverrides): string;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** base64url(SHA-256(accessToken)): the `ath` claim. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

/** A new P-256 key pair for DPoP proofs. */
export function newDpopKey(): DpopTestKey {
  // Made as JWKs (see newP256Jwks: exporting a fresh key object can hang Node 20).
  const { privateJwk, publicJwk } = newP256Jwks();
  const privateKey = createPrivateKey({ key: privateJwk, format: 'jwk' });
  const jwk = { kty: 'EC', crv: 'P-256', x: String(publicJwk.x), y: String(publicJwk.y) };
  // RFC 7638: the required members, in lexicographic order, no white space.
  const jkt = createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
    .digest('base64url');
  return {
    jkt,
    jwk,
    proof: (method, url, accessToken, overrides = {}) => makeProof(privateKey, jwk, method, url, accessToken, overrides),
  };
}

function makeProof(
  privateKey: KeyObject,
  jwk: DpopTestKey['jwk'],
  method: string,
  url: string,
  accessToken: string | undefined,
  overrides: ProofOverrides,
): string {
  const pick = <K extends keyof ProofOverrides>(name: K, value: ProofOverrides[K]) => (name in overrides ? overrides[name] : value);
  const header = { typ: pick('typ', 'dpop+jwt'), alg: pick('alg', 'ES256'), jwk: pick('jwk', jwk) };
  const target = new URL(url);
  const claims = {
    htm: pick('htm', method.toUpperCase()),
    htu: pick('htu', `${target.origin}${target.pathname}`),
    iat: pick('iat', Math.floor(Date.now() / 1000)),
    jti: pick('jti', randomBytes(16).toString('base64url')),
    ath: pick('ath', accessToken === undefined ? undefined : accessTokenHash(accessToken)),
  };
  const input = `${b64(header)}.${b64(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}
