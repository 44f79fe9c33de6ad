// Receipt verification with WebCrypto (crypto.subtle), which Node has as a global: ES256 there
// takes the JOSE signature form (r‖s, 64 bytes) as is, and the SDK package builds without Node's
// types (its tsconfig has `types: []`), so `node:crypto` would not compile in the package build.
import { z } from 'zod';
import { isLowS, ReceiptClaims } from '@diamonds/protocol';
import type { Http } from '../internal/http.js';
import { DiamondsUsageError, ReceiptVerificationError } from './errors.js';

/** The only signature algorithm receipts use: ECDSA on P-256 with SHA-256 (JOSE `ES256`). */
export const RECEIPT_ALGORITHM = 'ES256';

/** How long an unknown `kid` waits before it may trigger another key-set fetch, when not configured. */
export const DEFAULT_JWKS_REFETCH_INTERVAL_MS = 30_000;

/** A receipt longer than this is refused unread: real ones are well under 1 KB. */
const MAX_RECEIPT_LENGTH = 8 * 1024;

/** Unknown kids remembered for the refetch limit; beyond this the oldest is forgotten. */
const MAX_REMEMBERED_UNKNOWN_KIDS = 1000;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Options of {@link DiamondsServer.verifyReceipt}.
 *
 * @example
 * ```ts
 * await diamonds.verifyReceipt(jwt, { maxAgeMs: 15 * 60_000 });
 * ```
 */
export interface VerifyReceiptOptions {
  /**
   * The site the receipt must be for (its `aud`), when the client was made without `siteId`
   * or this receipt is for another of your sites.
   *
   * @defaultValue the client's `siteId`, else the site of the orders and content this client has read
   */
  siteId?: string | undefined;
  /**
   * The oldest receipt to accept, in milliseconds since it was issued; older ones are refused
   * with reason `expired`. Receipts do not expire by themselves: set this where a stale receipt
   * should not count (a "thank you" page that should be reached right after paying).
   *
   * @defaultValue no limit
   */
  maxAgeMs?: number | undefined;
}

const Jwks = z.object({ keys: z.array(z.looseObject({ kid: z.unknown() })) });

/** What is known about a `kid` the key set did not have. */
interface UnknownKid {
  checkedAtMs: number;
}

/**
 * The platform's receipt keys, fetched from `/.well-known/jwks.json` and cached in memory.
 *
 * @remarks
 * The key set is fetched on the first verification, and again only when a receipt names a `kid`
 * the cache lacks (the platform rotated its key): at most once per `refetchIntervalMs` for the
 * same unknown `kid`, and one fetch at a time however many receipts ask, so receipts with made-up
 * kids cannot make the backend hammer the platform.
 *
 * @internal
 */
export class ReceiptKeys {
  readonly #http: Http;
  readonly #refetchIntervalMs: number;
  readonly #now: () => number;
  #keys = new Map<string, CryptoKey>();
  #loaded = false;
  #inFlight: Promise<void> | undefined;
  readonly #unknown = new Map<string, UnknownKid>();

  constructor(http: Http, refetchIntervalMs: number, now: () => number = Date.now) {
    this.#http = http;
    this.#refetchIntervalMs = refetchIntervalMs;
    this.#now = now;
  }

  /** The key named `kid`, fetching the key set if allowed; `undefined` when the platform has none. */
  async keyFor(kid: string): Promise<CryptoKey | undefined> {
    const cached = this.#keys.get(kid);
    if (cached) return cached;
    const nowMs = this.#now();
    const seen = this.#unknown.get(kid);
    if (this.#loaded && seen !== undefined && nowMs - seen.checkedAtMs < this.#refetchIntervalMs) return undefined;
    await this.#refresh();
    const key = this.#keys.get(kid);
    if (key) {
      this.#unknown.delete(kid);
      return key;
    }
    this.#unknown.delete(kid); // re-inserted last, so the map's order is the age order
    this.#unknown.set(kid, { checkedAtMs: this.#now() });
    if (this.#unknown.size > MAX_REMEMBERED_UNKNOWN_KIDS) this.#unknown.delete(this.#unknown.keys().next().value!);
    return undefined;
  }

  /** Fetches the key set, sharing a fetch already under way. */
  #refresh(): Promise<void> {
    this.#inFlight ??= this.#load().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #load(): Promise<void> {
    const { keys } = await this.#http.request('get', '.well-known/jwks.json', Jwks);
    const next = new Map<string, CryptoKey>();
    for (const jwk of keys) {
      const key = await importReceiptKey(jwk);
      if (key && typeof jwk.kid === 'string') next.set(jwk.kid, key);
    }
    // Replaced, not merged: a key the platform stopped publishing no longer verifies anything.
    this.#keys = next;
    this.#loaded = true;
  }
}

/** Imports one published key for ES256 verification; `undefined` for a key of another kind. */
async function importReceiptKey(jwk: Record<string, unknown>): Promise<CryptoKey | undefined> {
  const { kty, crv, x, y, alg, use } = jwk;
  if (kty !== 'EC' || crv !== 'P-256' || typeof x !== 'string' || typeof y !== 'string') return undefined;
  if ((alg !== undefined && alg !== RECEIPT_ALGORITHM) || (use !== undefined && use !== 'sig')) return undefined;
  try {
    // Only the curve point: `alg`, `use` and `key_ops` are checked above, not handed to WebCrypto.
    return await globalThis.crypto.subtle.importKey('jwk', { kty, crv, x, y }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  } catch {
    return undefined; // a broken key in the set must not stop the others from working
  }
}

/** What {@link verifyReceiptJwt} checks besides the signature. */
export interface ReceiptExpectations {
  siteId: string | undefined;
  maxAgeMs: number | undefined;
  nowMs: number;
}

/**
 * Verifies a receipt JWT: its form, its ES256 signature against the platform's keys, its claims,
 * its audience and (if asked) its age.
 *
 * @internal
 */
export async function verifyReceiptJwt(jwt: unknown, keys: ReceiptKeys, expected: ReceiptExpectations): Promise<ReceiptClaims> {
  const { siteId, maxAgeMs, nowMs } = expected;
  if (siteId === undefined) {
    throw new DiamondsUsageError(
      'Which site is this receipt for? Pass siteId to createDiamondsServer (or to verifyReceipt): without it, a receipt paid on another site would pass.',
      { code: 'site_id_required' },
    );
  }
  if (maxAgeMs !== undefined && (!Number.isSafeInteger(maxAgeMs) || maxAgeMs < 0)) {
    throw new DiamondsUsageError(`maxAgeMs must be a whole number of milliseconds from 0, not ${String(maxAgeMs)}.`, {
      code: 'invalid_option',
    });
  }
  if (typeof jwt !== 'string') throw new ReceiptVerificationError('malformed', `A receipt is a string (a compact JWT), not ${typeof jwt}.`);
  if (jwt.length > MAX_RECEIPT_LENGTH)
    throw new ReceiptVerificationError('malformed', `A receipt is at most ${MAX_RECEIPT_LENGTH} characters.`);
  const parts = jwt.trim().split('.');
  const [encodedHeader = '', encodedClaims = '', encodedSignature = ''] = parts;
  if (parts.length !== 3 || !BASE64URL.test(encodedHeader) || !BASE64URL.test(encodedClaims)) {
    throw new ReceiptVerificationError('malformed', 'A receipt is a compact JWT: three base64url parts separated by dots.');
  }
  const header = decodeJsonObject(encodedHeader, 'header');
  // Before anything else that could pass: a token that names another algorithm, `none` above
  // all, is not signed the way receipts are, whatever its signature part holds.
  if (header.alg !== RECEIPT_ALGORITHM) {
    throw new ReceiptVerificationError(
      'bad_signature',
      `Receipts are signed with ${RECEIPT_ALGORITHM}, not ${JSON.stringify(header.alg)}.`,
    );
  }
  if (header.crit !== undefined) {
    throw new ReceiptVerificationError('malformed', 'The receipt header has critical extensions this SDK does not understand.');
  }
  const { kid } = header;
  if (typeof kid !== 'string' || kid === '' || kid.length > 200) {
    throw new ReceiptVerificationError('malformed', 'The receipt header names no key (kid).');
  }
  const rawClaims = decodeJsonObject(encodedClaims, 'claims');
  const signature = BASE64URL.test(encodedSignature) ? tryBase64urlBytes(encodedSignature) : undefined;
  // P-256 signatures in JOSE form are exactly r‖s, 32 bytes each.
  if (signature?.length !== 64) throw new ReceiptVerificationError('bad_signature', 'The receipt signature is not an ES256 signature.');

  const key = await keys.keyFor(kid);
  if (!key) {
    throw new ReceiptVerificationError(
      'unknown_key',
      `The platform publishes no key ${JSON.stringify(kid)}: the receipt was not signed by it.`,
    );
  }
  // Of the two signatures that verify (s and n − s), the platform issues only the low-S one:
  // the twin is a second token string for the same receipt, so it is refused (see isLowS).
  if (!isLowS(signature)) {
    throw new ReceiptVerificationError(
      'bad_signature',
      'The receipt signature is not in canonical (low-S) form: it was not issued by the platform.',
    );
  }
  const valid = await globalThis.crypto.subtle.verify(
    { name: 'ECDSA', hash: 'SHA-256' },
    key,
    signature,
    new TextEncoder().encode(`${encodedHeader}.${encodedClaims}`),
  );
  if (!valid) throw new ReceiptVerificationError('bad_signature', 'The receipt signature does not verify: it was forged or changed.');

  const parsed = ReceiptClaims.safeParse(rawClaims);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ReceiptVerificationError(
      'malformed',
      `The receipt claims are not a Diamonds receipt (${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}).`,
      {
        cause: parsed.error,
      },
    );
  }
  const claims = parsed.data;
  if (claims.aud !== siteId) {
    throw new ReceiptVerificationError('wrong_audience', `The receipt is for site ${claims.aud}, not ${siteId}.`);
  }
  if (maxAgeMs !== undefined && nowMs - claims.iat * 1000 > maxAgeMs) {
    throw new ReceiptVerificationError(
      'expired',
      `The receipt was issued ${Math.round(nowMs / 1000 - claims.iat)} s ago; at most ${Math.floor(maxAgeMs / 1000)} s is accepted.`,
    );
  }
  return {
    iss: claims.iss,
    sub: claims.sub,
    aud: claims.aud,
    jti: claims.jti,
    iat: claims.iat,
    kind: claims.kind,
    subjectId: claims.subjectId,
    amountDiamonds: claims.amountDiamonds,
    transferId: claims.transferId,
  };
}

/** Decodes a base64url JWT part holding a JSON object, or refuses the receipt as malformed. */
function decodeJsonObject(part: string, what: 'header' | 'claims'): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64urlBytes(part)));
  } catch (cause) {
    throw new ReceiptVerificationError('malformed', `The receipt ${what} is not JSON.`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ReceiptVerificationError('malformed', `The receipt ${what} is not a JSON object.`);
  }
  return value as Record<string, unknown>;
}

/** The bytes of base64url text, or `undefined` when it cannot be base64url (a length of 4n + 1). */
function tryBase64urlBytes(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    return base64urlBytes(text);
  } catch {
    return undefined;
  }
}

/** The bytes of base64url text (already checked against {@link BASE64URL}); throws when `atob` cannot read it. */
function base64urlBytes(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
