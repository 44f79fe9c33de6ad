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
  payout: 'po',
  payoutQuote: 'pq',
  liveSession: 'ls',
  boost: 'bst',
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

/** The time and random digits (0–31 each) of the last id made here, for ids made in the same millisecond. */
let lastMs = -1;
const lastDigits = new Array<number>(ID_RANDOM_BYTES).fill(0);

/**
 * Makes a new id with the given prefix.
 *
 * @remarks Uses `crypto.getRandomValues`, present in browsers and in Node 20, drawing from a
 * small pool of random bytes that is refilled every 256 ids. Ids made in one thread sort in the
 * order they were made, even within one millisecond (lists newest first by id, such as a
 * wallet's history, keep two quick spends in order): a second id in the same millisecond adds
 * a random step of 1 to 2³⁰ to the previous one's random part, so it stays unpredictable.
 * @example
 * ```ts
 * const id = newId('txn'); // 'txn_01JD3S9ZK4W8Q2V7C5XH6RTB0M'
 * ```
 */
export function newId<P extends IdPrefix>(prefix: P, nowMs: number = Date.now()): PrefixedId<P> {
  const random = randomBytesForId();
  const stepped = nowMs === lastMs && stepDigits(lastDigits, random);
  if (!stepped) {
    for (let i = 0; i < ID_RANDOM_BYTES; i++) lastDigits[i] = random[i]! % 32;
    lastMs = nowMs;
  }
  let body = encodeTime(nowMs);
  for (let i = 0; i < ID_RANDOM_BYTES; i++) body += CROCKFORD.charAt(lastDigits[i]!);
  return `${prefix}_${body}` as PrefixedId<P>;
}

/**
 * Adds a step of 1 to 2³⁰ (from `random`) to the base-32 `digits`, most significant first;
 * false, leaving them unchanged, when the sum would not fit.
 */
function stepDigits(digits: number[], random: Uint8Array): boolean {
  const next = digits.slice();
  // Six low digits of step (30 bits), plus one so the id always grows.
  let carry = 1;
  for (let i = ID_RANDOM_BYTES - 1; i >= 0; i--) {
    const step = i >= ID_RANDOM_BYTES - 6 ? random[i]! % 32 : 0;
    const sum = next[i]! + step + carry;
    next[i] = sum % 32;
    carry = sum >= 32 ? 1 : 0;
  }
  if (carry) return false;
  for (let i = 0; i < ID_RANDOM_BYTES; i++) digits[i] = next[i]!;
  return true;
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
