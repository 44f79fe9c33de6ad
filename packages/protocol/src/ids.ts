import { z } from 'zod';

/**
 * The type prefix of every id the platform issues, keyed by what it names.
 *
 * @remarks
 * Ids read like `txn_01JD3S9ZK4W8Q2V7C5XH6RTB0M`: a prefix, an underscore, then 26 Crockford
 * base32 characters (48 bits of millisecond time, then 80 random bits). The time part makes
 * ids sort by creation, which cursor pagination relies on; the random part makes a collision
 * practically impossible, and primary keys make any id unique forever.
 */
export const ID_PREFIXES = {
  user: 'usr',
  account: 'acct',
  transfer: 'txn',
  order: 'ord',
  content: 'ct',
  site: 'site',
  request: 'req',
  quote: 'qt',
  confirmation: 'cnf',
  product: 'prod',
  gift: 'gift',
  receipt: 'rcpt',
  event: 'evt',
  key: 'key',
  signInRequest: 'sir',
  topUp: 'tu',
  entitlement: 'ent',
  refund: 're',
  webhookEndpoint: 'we',
  webhookDelivery: 'wd',
} as const;

/** One of the prefixes in {@link ID_PREFIXES}. */
export type IdPrefix = (typeof ID_PREFIXES)[keyof typeof ID_PREFIXES];

/** An id of the given prefix, as a template literal type (`txn_…`). */
export type PrefixedId<P extends IdPrefix> = `${P}_${string}`;

/** The part of Web Crypto we need, typed here so protocol needs neither DOM nor Node types. */
interface RandomSource {
  getRandomValues(array: Uint8Array): Uint8Array;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ID_BODY_LENGTH = 26;
const ID_BODY = /^[0-9A-HJKMNP-TV-Z]{26}$/;

function encodeTime(ms: number): string {
  let out = '';
  let rest = ms;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD.charAt(rest % 32) + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

/** Random bytes drawn at once and handed out 16 at a time: one `getRandomValues` per 256 ids. */
const POOL_BYTES = 4096;
const ID_RANDOM_BYTES = 16;
let pool: Uint8Array | undefined;
let poolOffset = POOL_BYTES;

/**
 * The next 16 random bytes of the pool, refilling it when spent.
 *
 * @remarks A call into the random source costs far more than its bytes (a busy server makes a
 * few ids per request), so they are drawn 4 KB at a time. Each byte is used once, so ids stay
 * as unpredictable as with a call per id.
 */
function randomBytesForId(): Uint8Array {
  if (pool === undefined || poolOffset + ID_RANDOM_BYTES > POOL_BYTES) {
    pool ??= new Uint8Array(POOL_BYTES);
    (globalThis as unknown as { crypto: RandomSource }).crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + ID_RANDOM_BYTES);
  poolOffset += ID_RANDOM_BYTES;
  return bytes;
}

/**
 * Makes a new id with the given prefix.
 *
 * @remarks Uses `crypto.getRandomValues`, present in browsers and in Node 20, drawing from a
 * small pool of random bytes that is refilled every 256 ids.
 * @example
 * ```ts
 * const id = newId('txn'); // 'txn_01JD3S9ZK4W8Q2V7C5XH6RTB0M'
 * ```
 */
export function newId<P extends IdPrefix>(prefix: P, nowMs: number = Date.now()): PrefixedId<P> {
  const random = randomBytesForId();
  let body = encodeTime(nowMs);
  for (let i = 0; i < ID_RANDOM_BYTES; i++) body += CROCKFORD.charAt(random[i]! % 32);
  return `${prefix}_${body}` as PrefixedId<P>;
}

/** Whether `value` is a well-formed id with the given prefix. */
export function isId<P extends IdPrefix>(prefix: P, value: unknown): value is PrefixedId<P> {
  return (
    typeof value === 'string' &&
    value.length === prefix.length + 1 + ID_BODY_LENGTH &&
    value.startsWith(`${prefix}_`) &&
    ID_BODY.test(value.slice(prefix.length + 1))
  );
}

/**
 * A zod schema for ids of one prefix.
 *
 * @example
 * ```ts
 * const TransferId = idSchema('txn');
 * TransferId.parse('txn_01JD3S9ZK4W8Q2V7C5XH6RTB0M');
 * ```
 */
export function idSchema<P extends IdPrefix>(prefix: P) {
  return z.custom<PrefixedId<P>>((value) => isId(prefix, value), {
    message: `Expected an id starting with "${prefix}_" followed by 26 base32 characters.`,
  });
}
