import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { ApiError } from '../errors.js';
import type { SqlClient } from '../db/types.js';
import { rememberSharedProof } from './dpop-replays.js';

/*
 * DPoP (RFC 9449): fans' tokens are bound to a key pair the SDK made in the fan's browser with
 * WebCrypto, `extractable: false`, so the private key never exists outside that browser. Every
 * request that uses a token (and the exchange and refresh that issue tokens) carries a `DPoP`
 * header: a compact JWS signed with that key over the method, the URL, the time, a one-time id
 * and (with an access token) the token's hash. A token copied out of the page is then useless
 * from curl or another machine: the thief can make no proof for its key.
 *
 * Only what the SDK sends is accepted: ES256 (ECDSA P-256 with SHA-256), `typ: dpop+jwt`, the
 * public key as a JWK in the header. No `DPoP-Nonce`: the freshness window and the replay cache
 * stand in for it (see {@link DPOP_WINDOW_SECONDS}).
 */

/**
 * How far a proof's `iat` may be from the server's clock, either way: 5 minutes. Fans' clocks
 * drift; a window this wide keeps a device a few minutes off working, and the replay cache keeps
 * each proof id for the whole window, so a proof still works only once.
 */
export const DPOP_WINDOW_SECONDS = 300;

/** The most proof ids the replay cache holds (per process) before it drops the oldest. */
export const DPOP_REPLAY_CACHE_MAX = 200_000;

/**
 * The longest `DPoP` header accepted: a P-256 proof is about 450 characters plus its URL (so a
 * hostile over-long path still reaches the route's own id check and its 400).
 */
const MAX_PROOF_LENGTH = 12_000;

const B64URL = /^[A-Za-z0-9_-]+$/;

/** What a valid proof proves: the thumbprint of the key that signed it. */
export interface DpopProof {
  /** The JWK SHA-256 thumbprint (RFC 7638) of the proof's public key: what tokens are bound to. */
  jkt: string;
}

/** Where a proof must point: the request's method and URL, and the access token it goes with. */
export interface DpopTarget {
  /** `GET`, `POST`…, as the request was made. */
  method: string;
  /** The request's public URL; its query and fragment are ignored, as RFC 9449 says. */
  url: string;
  /** The access token sent with the request, whose hash the proof must carry (`ath`); none at exchange and refresh. */
  accessToken?: string | undefined;
}

function refused(message: string): ApiError {
  return new ApiError('invalid_dpop_proof', message);
}

/** The JWK SHA-256 thumbprint of a P-256 public key (RFC 7638: required members, in order). */
export function jwkThumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  return createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
    .digest('base64url');
}

/** base64url(SHA-256(accessToken)): the `ath` a proof sent with `accessToken` carries. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The URL without query and fragment, normalised by the URL parser; `undefined` if it is none. */
function withoutQuery(url: unknown): string | undefined {
  if (typeof url !== 'string' || url.length > 10_000) return undefined;
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return undefined;
  }
}

/**
 * Proof ids seen within the freshness window, per key: a proof is accepted once. In memory and
 * per process: on PostgreSQL, where several processes may serve one platform, the proof is also
 * recorded in the database for all of them (`dpop-replays.ts`); this cache then only refuses a
 * replay to the same process without a round trip.
 */
export class ReplayCache {
  readonly #seen = new Map<string, number>();
  readonly #max: number;

  constructor(max = DPOP_REPLAY_CACHE_MAX) {
    this.#max = max;
  }

  /**
   * Records `id` until `expiresAtMs`. @returns `false` when it was already there (a replay).
   * Expired ids are swept in insertion order, which is nearly expiry order; past `max` the
   * oldest go first, so the bound holds even under a flood of proofs.
   */
  remember(id: string, expiresAtMs: number, nowMs: number): boolean {
    const known = this.#seen.get(id);
    if (known !== undefined && known > nowMs) return false;
    this.#seen.delete(id);
    this.#seen.set(id, expiresAtMs);
    for (const [oldest, until] of this.#seen) {
      if (until > nowMs && this.#seen.size <= this.#max) break;
      this.#seen.delete(oldest);
    }
    return true;
  }

  /** How many ids it holds. */
  get size(): number {
    return this.#seen.size;
  }
}

/** The process's replay cache. */
const replays = new ReplayCache();

/** A proof header that passed every check of its own: its public key, imported, and thumbprint. */
interface CheckedHeader {
  key: KeyObject;
  jkt: string;
}

/**
 * Headers already checked, by their exact base64url text. A fan's browser signs every proof
 * with one key, so its proofs share one header (`typ`, `alg`, `jwk`): decoding it, checking it,
 * importing the key and hashing its thumbprint once saves about a tenth of a proof's cost.
 * The signature and the claims are still checked on every proof; only a header that passed is
 * kept, and the same text always decodes to the same header, so nothing is skipped.
 */
const checkedHeaders = new Map<string, CheckedHeader>();
const MAX_CHECKED_HEADERS = 10_000;

/** Checks a proof's header and imports its key, or returns why it is refused. */
function checkHeader(headerPart: string): CheckedHeader | ApiError {
  const known = checkedHeaders.get(headerPart);
  if (known) return known;
  const header = decodeJson(headerPart);
  if (!header) return refused('The DPoP proof’s header or claims are not JSON objects.');
  if (header.typ !== 'dpop+jwt') return refused('The DPoP proof’s typ must be "dpop+jwt".');
  if (header.alg !== 'ES256') return refused('The DPoP proof’s alg must be "ES256".');
  const jwk = header.jwk as Record<string, unknown> | undefined;
  if (
    typeof jwk !== 'object' ||
    jwk === null ||
    jwk.kty !== 'EC' ||
    jwk.crv !== 'P-256' ||
    typeof jwk.x !== 'string' ||
    typeof jwk.y !== 'string' ||
    'd' in jwk
  ) {
    return refused('The DPoP proof’s jwk must be a public P-256 key.');
  }
  const publicJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
  let key: KeyObject;
  try {
    // Throws on a point that is not on the curve.
    key = createPublicKey({ key: publicJwk, format: 'jwk' });
  } catch {
    return refused('The DPoP proof’s signature does not verify with its key.');
  }
  const checked = { key, jkt: jwkThumbprint(publicJwk) };
  if (checkedHeaders.size >= MAX_CHECKED_HEADERS) checkedHeaders.delete(checkedHeaders.keys().next().value!);
  checkedHeaders.set(headerPart, checked);
  return checked;
}

/**
 * Whether `signature` (ES256, r‖s) signs `data` with `key`, checked in libuv's thread pool.
 *
 * @remarks An ECDSA verification is about 80 µs of CPU, a quarter of the event loop's work for a
 * gift; with a callback, Node runs it on a pool thread, so the event loop serves other requests
 * meanwhile (measured by `npm run bench:api`).
 */
function verifyInThreadPool(data: Buffer, key: KeyObject, signature: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature, (error, valid) => resolve(!error && valid));
    } catch {
      resolve(false);
    }
  });
}

/**
 * Checks the `DPoP` header of a request and returns its key's thumbprint.
 *
 * @remarks Checks, in order: one compact JWS; header `typ: dpop+jwt`, `alg: ES256`, a public
 * P-256 `jwk` (no private part); the signature; `htm` and `htu` equal to the request's method
 * and URL (without query); `iat` within {@link DPOP_WINDOW_SECONDS}; `ath` equal to the access
 * token's hash when there is one (and absent otherwise is not required); a `jti` not seen before
 * for this key. Whether the key is the one the token is bound to is the caller's check.
 * With `shared` on PostgreSQL, the `jti` must also be new to every process on that database.
 * @throws {@link ApiError} `invalid_dpop_proof`, with what was wrong.
 */
export async function verifyDpopProof(
  proof: string | undefined,
  target: DpopTarget,
  nowMs = Date.now(),
  shared?: SqlClient,
): Promise<DpopProof> {
  if (proof === undefined || proof === '') {
    throw refused(
      'This call needs a DPoP proof (the DPoP header) made with the key the fan’s tokens are bound to; the Diamonds SDK sends one with every call.',
    );
  }
  const parts = proof.length <= MAX_PROOF_LENGTH ? proof.split('.') : [];
  if (parts.length !== 3 || !parts.every((part) => B64URL.test(part))) throw refused('The DPoP header is not a compact JWS.');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const claims = decodeJson(payloadPart);
  if (!claims) throw refused('The DPoP proof’s header or claims are not JSON objects.');
  const header = checkHeader(headerPart);
  if (header instanceof ApiError) throw header;
  const signature = Buffer.from(signaturePart, 'base64url');
  // What was signed: the header and the claims as sent, up to the second dot.
  const signed = Buffer.from(proof.slice(0, headerPart.length + 1 + payloadPart.length), 'latin1');
  const valid = signature.length === 64 && (await verifyInThreadPool(signed, header.key, signature));
  if (!valid) throw refused('The DPoP proof’s signature does not verify with its key.');
  if (claims.htm !== target.method.toUpperCase())
    throw refused(`The DPoP proof is for ${String(claims.htm)}, not ${target.method.toUpperCase()}.`);
  const expected = withoutQuery(target.url);
  if (withoutQuery(claims.htu) !== expected) throw refused(`The DPoP proof’s htu must be ${expected}.`);
  const iat = claims.iat;
  const nowSeconds = nowMs / 1000;
  if (typeof iat !== 'number' || !Number.isFinite(iat) || Math.abs(iat - nowSeconds) > DPOP_WINDOW_SECONDS) {
    throw refused('The DPoP proof is too old or from the future: check the device’s clock.');
  }
  if (target.accessToken !== undefined) {
    if (claims.ath !== accessTokenHash(target.accessToken)) throw refused('The DPoP proof’s ath does not match the access token.');
  }
  const jti = claims.jti;
  if (typeof jti !== 'string' || jti.length < 8 || jti.length > 100) throw refused('The DPoP proof needs a jti of 8 to 100 characters.');
  const { jkt } = header;
  // Kept until the proof could no longer pass the iat check anyway.
  const expiresAtMs = (iat + DPOP_WINDOW_SECONDS) * 1000 + 1000;
  if (!replays.remember(`${jkt}.${jti}`, expiresAtMs, nowMs)) {
    throw refused('This DPoP proof was already used: make a new proof for every request.');
  }
  // On PostgreSQL other processes may serve the same fans: a proof seen by any of them is used.
  if (shared?.kind === 'postgres' && !(await rememberSharedProof(shared, `${jkt}.${jti}`, expiresAtMs, nowMs))) {
    throw refused('This DPoP proof was already used: make a new proof for every request.');
  }
  return { jkt };
}
