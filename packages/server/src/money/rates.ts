import { z } from 'zod';
import { CurrencyCode, MAX_FIAT_MINOR, type FiatMoney, type Page, type PageQuery, type Rate, type TopUpPack } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { Keyset } from '../db/keyset.js';
import { ApiError } from '../errors.js';
import { validate } from '../http/body.js';

/*
 * Exchange rates: what 1,000 Diamonds cost in each currency, and what a creator is paid for
 * 1,000 Diamonds of earnings, versioned by the time each takes effect. Stating rates per 1,000
 * Diamonds in whole minor units keeps every figure an integer; prices are computed in BigInt.
 */

/** The top-up packs offered in every currency, in Diamonds. */
export const TOP_UP_PACKS: readonly number[] = [100, 500, 1_000, 5_000];

/** What {@link setRate} takes. */
export interface SetRateInput {
  currency: string;
  /** What 1,000 Diamonds cost a fan, in whole minor units (at least 1). */
  priceMinorPer1000Diamonds: number;
  /** What a creator is paid for 1,000 Diamonds of earnings, in whole minor units (0 or more). */
  payoutMinorPer1000Diamonds: number;
  /** When the rate takes effect (ms since the epoch); defaults to `now`, never before it. */
  effectiveAt?: number;
}

const RateFigures = z.strictObject({
  priceMinorPer1000Diamonds: z
    .int({ error: 'priceMinorPer1000Diamonds is a whole number of minor units.' })
    .min(1, { error: 'priceMinorPer1000Diamonds must be at least 1: Diamonds are never free.' })
    .max(MAX_FIAT_MINOR),
  payoutMinorPer1000Diamonds: z
    .int({ error: 'payoutMinorPer1000Diamonds is a whole number of minor units.' })
    .min(0, { error: 'payoutMinorPer1000Diamonds may not be negative.' })
    .max(MAX_FIAT_MINOR),
  effectiveAt: z.int({ error: 'effectiveAt is a whole number of milliseconds since the epoch.' }).nonnegative().optional(),
});

/**
 * Checks that `value` is a supported currency code, in capitals.
 *
 * @throws {@link ApiError} `invalid_currency` (with `param`).
 */
export function parseCurrency(value: unknown, param = 'currency'): CurrencyCode {
  const parsed = CurrencyCode.safeParse(value);
  if (parsed.success) return parsed.data;
  const shown = typeof value === 'string' ? `"${value.slice(0, 8)}"` : value === undefined ? 'nothing' : typeof value;
  throw new ApiError(
    'invalid_currency',
    `Unsupported currency ${shown}: use an ISO 4217 code in capitals, one of ${CurrencyCode.options.join(', ')}.`,
    { param },
  );
}

interface RateRow {
  currency: string;
  price_minor_per_1000: number | string;
  payout_minor_per_1000: number | string;
  effective_at: number | string;
}

function toRate(row: RateRow): Rate {
  return {
    object: 'rate',
    currency: row.currency as CurrencyCode,
    priceMinorPer1000Diamonds: Number(row.price_minor_per_1000),
    payoutMinorPer1000Diamonds: Number(row.payout_minor_per_1000),
    effectiveAt: Number(row.effective_at),
  };
}

const RATE_COLUMNS = 'currency, price_minor_per_1000, payout_minor_per_1000, effective_at';

/**
 * Records a new rate for a currency, taking effect at `effectiveAt` (default: now).
 *
 * @remarks History is never rewritten: a rate cannot take effect before `now`, and a second
 * rate for the same currency and instant is refused. To correct a rate, set a new one.
 * @throws {@link ApiError} `invalid_currency`, `invalid_request` (with `param`).
 */
export async function setRate(db: SqlClient, input: SetRateInput, now: number = Date.now()): Promise<Rate> {
  const currency = parseCurrency(input.currency);
  const figures = validate(RateFigures, {
    priceMinorPer1000Diamonds: input.priceMinorPer1000Diamonds,
    payoutMinorPer1000Diamonds: input.payoutMinorPer1000Diamonds,
    effectiveAt: input.effectiveAt,
  });
  const effectiveAt = figures.effectiveAt ?? now;
  if (effectiveAt < now) {
    throw new ApiError('invalid_request', 'effectiveAt is in the past: rates are never backdated. Set a rate effective now or later.', {
      param: 'effectiveAt',
    });
  }
  const changed = await db.run(
    `INSERT INTO rates (${RATE_COLUMNS}, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (currency, effective_at) DO NOTHING`,
    [currency, figures.priceMinorPer1000Diamonds, figures.payoutMinorPer1000Diamonds, effectiveAt, now],
  );
  if (changed === 0) {
    throw new ApiError('invalid_request', `A ${currency} rate already takes effect at ${new Date(effectiveAt).toISOString()}.`, {
      param: 'effectiveAt',
    });
  }
  return {
    object: 'rate',
    currency,
    priceMinorPer1000Diamonds: figures.priceMinorPer1000Diamonds,
    payoutMinorPer1000Diamonds: figures.payoutMinorPer1000Diamonds,
    effectiveAt,
  };
}

/**
 * The rate of `currency` in force at `now`: the one with the latest `effectiveAt` not after it.
 *
 * @throws {@link ApiError} `rate_unavailable` when the currency has no rate in force.
 */
export async function currentRate(db: SqlClient, currency: CurrencyCode, now: number = Date.now()): Promise<Rate> {
  const rows = await db.query<RateRow>(
    `SELECT ${RATE_COLUMNS} FROM rates WHERE currency = ? AND effective_at <= ? ORDER BY effective_at DESC LIMIT 1`,
    [currency, now],
  );
  const row = rows[0];
  if (!row)
    throw new ApiError('rate_unavailable', `Diamonds are not sold in ${currency} yet: there is no rate for it.`, { param: 'currency' });
  return toRate(row);
}

/** The rate in force at `now` of every currency that has one, ordered by currency. */
export async function currentRates(db: SqlClient, now: number = Date.now()): Promise<Rate[]> {
  const rows = await db.query<RateRow>(
    `SELECT ${RATE_COLUMNS} FROM rates r WHERE effective_at = (
       SELECT max(effective_at) FROM rates l WHERE l.currency = r.currency AND l.effective_at <= ?)
     ORDER BY currency`,
    [now],
  );
  return rows.map(toRate);
}

/** Whether any rate has ever been set. */
export async function hasRates(db: SqlClient): Promise<boolean> {
  return (await db.query('SELECT 1 AS one FROM rates LIMIT 1')).length > 0;
}

/** A currency's rate history pages newest first, by when each rate takes effect (unique per currency). */
const RATE_HISTORY = new Keyset<[number]>('rates', [{ column: 'effective_at', kind: 'int' }], 'desc');

/**
 * One page of a currency's rate history, newest `effectiveAt` first, scheduled rates included.
 *
 * @throws {@link ApiError} `invalid_cursor`.
 */
export async function rateHistory(db: SqlClient, currency: CurrencyCode, page: PageQuery): Promise<Page<Rate>> {
  const after = RATE_HISTORY.after(page.cursor);
  const rows = await db.query<RateRow>(
    `SELECT ${RATE_COLUMNS} FROM rates WHERE currency = ?${after ? ` AND ${after.sql}` : ''} ORDER BY ${RATE_HISTORY.orderBy} LIMIT ?`,
    [currency, ...(after?.params ?? []), page.limit + 1],
  );
  return RATE_HISTORY.page(rows, page.limit, toRate, (row) => [Number(row.effective_at)]);
}

function checkDiamonds(diamonds: number): bigint {
  if (!Number.isSafeInteger(diamonds) || diamonds < 0)
    throw new RangeError(`diamonds must be a non-negative safe integer, got ${diamonds}`);
  return BigInt(diamonds);
}

/**
 * What a fan pays for `diamonds` at `rate`, in minor units: `ceil(diamonds × price ÷ 1000)`.
 *
 * @remarks Rounds up, so the fan never pays less than the exact price and at most one minor
 * unit more. Computed in BigInt; the result is a bigint because at the largest rates and
 * amounts it can pass 2^53 (callers refuse prices above `MAX_FIAT_MINOR`).
 * @throws RangeError when `diamonds` is not a non-negative safe integer.
 * @example
 * ```ts
 * priceOf(1, { priceMinorPer1000Diamonds: 1299 }); // 2n (exactly 1.299 cents)
 * priceOf(1000, { priceMinorPer1000Diamonds: 1299 }); // 1299n
 * ```
 */
export function priceOf(diamonds: number, rate: Pick<Rate, 'priceMinorPer1000Diamonds'>): bigint {
  const product = checkDiamonds(diamonds) * BigInt(rate.priceMinorPer1000Diamonds);
  return (product + 999n) / 1000n;
}

/**
 * What a creator is paid for `diamonds` of earnings at `rate`, in minor units:
 * `floor(diamonds × payout ÷ 1000)`.
 *
 * @remarks Rounds down, so the platform never pays out more than the exact amount, and at most
 * one minor unit less. Computed in BigInt.
 * @throws RangeError when `diamonds` is not a non-negative safe integer.
 * @example
 * ```ts
 * payoutOf(1999, { payoutMinorPer1000Diamonds: 800 }); // 1599n (exactly 1599.2 cents)
 * ```
 */
export function payoutOf(diamonds: number, rate: Pick<Rate, 'payoutMinorPer1000Diamonds'>): bigint {
  return (checkDiamonds(diamonds) * BigInt(rate.payoutMinorPer1000Diamonds)) / 1000n;
}

/**
 * `priceOf` as money, refusing a price above what one fiat amount may hold.
 *
 * @throws {@link ApiError} `amount_too_large` (with `param: 'diamonds'`).
 */
export function priceMoney(diamonds: number, rate: Rate): FiatMoney {
  const price = priceOf(diamonds, rate);
  if (price > BigInt(MAX_FIAT_MINOR)) {
    throw new ApiError('amount_too_large', `${diamonds} Diamonds cost more than one payment may hold; buy fewer at a time.`, {
      param: 'diamonds',
    });
  }
  return { amountMinor: Number(price), currency: rate.currency };
}

/**
 * The {@link TOP_UP_PACKS} priced at the rate of `currency` in force at `now`.
 *
 * @throws {@link ApiError} `rate_unavailable`.
 */
export async function topUpPacks(db: SqlClient, currency: CurrencyCode, now: number = Date.now()): Promise<TopUpPack[]> {
  const rate = await currentRate(db, currency, now);
  return TOP_UP_PACKS.map((diamonds) => ({ object: 'topup_pack', diamonds, price: priceMoney(diamonds, rate) }));
}

/**
 * The demo's rates: 1,000 Diamonds for $12.99, €11.99, £10.49 or ¥1,980, with creators paid
 * about 62% of that.
 */
export const DEFAULT_RATES: readonly Omit<SetRateInput, 'effectiveAt'>[] = [
  { currency: 'USD', priceMinorPer1000Diamonds: 1_299, payoutMinorPer1000Diamonds: 800 },
  { currency: 'EUR', priceMinorPer1000Diamonds: 1_199, payoutMinorPer1000Diamonds: 740 },
  { currency: 'GBP', priceMinorPer1000Diamonds: 1_049, payoutMinorPer1000Diamonds: 650 },
  { currency: 'JPY', priceMinorPer1000Diamonds: 1_980, payoutMinorPer1000Diamonds: 1_220 },
];

/**
 * Sets the {@link DEFAULT_RATES}, effective now, when no rate has ever been set (for the demo).
 *
 * @returns Whether it set them.
 */
export async function seedDefaultRates(db: SqlClient, now: number = Date.now()): Promise<boolean> {
  if (await hasRates(db)) return false;
  for (const rate of DEFAULT_RATES) await setRate(db, { ...rate, effectiveAt: now }, now);
  return true;
}
