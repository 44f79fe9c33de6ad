import { z } from 'zod';
import { DiamondAmount } from './amounts.js';
import { idSchema } from './ids.js';
import { CurrencyCode, FiatMoney, MAX_FIAT_MINOR } from './money.js';
import { pageSchema } from './pagination.js';

/**
 * An exchange rate between Diamonds and one currency, from the moment it takes effect until the
 * next rate for that currency does.
 *
 * @remarks
 * Rates are stated per 1,000 Diamonds in whole minor units, so no price ever needs a fraction:
 * `{ currency: 'USD', priceMinorPer1000Diamonds: 1299 }` means 1,000 Diamonds cost $12.99.
 * What a fan pays for `n` Diamonds is `ceil(n × price ÷ 1000)` minor units (never less than the
 * exact price, at most one minor unit more); what a creator gets for `n` Diamonds of earnings
 * is `floor(n × payout ÷ 1000)`. Every price a fan is charged comes from a {@link Quote}.
 */
export const Rate = z.object({
  object: z.literal('rate'),
  currency: CurrencyCode,
  /** What 1,000 Diamonds cost a fan, in whole minor units of `currency` (cents; yen for JPY). */
  priceMinorPer1000Diamonds: z.int().min(1).max(MAX_FIAT_MINOR),
  /** What a creator is paid for 1,000 Diamonds of earnings, in whole minor units of `currency`. */
  payoutMinorPer1000Diamonds: z.int().min(0).max(MAX_FIAT_MINOR),
  /** When the rate takes effect, in milliseconds since the epoch. */
  effectiveAt: z.int().nonnegative(),
});

/** An exchange rate for one currency (see {@link Rate}). */
export type Rate = z.infer<typeof Rate>;

/** A page of a currency's rates, newest `effectiveAt` first (scheduled future rates included). */
export const RateHistory = pageSchema(Rate);

/** A page of a currency's rates (see {@link RateHistory}). */
export type RateHistory = z.infer<typeof RateHistory>;

/** The current rate of every currency that has one: the body of `GET /v1/rates`. */
export const RateList = pageSchema(Rate);

/** The current rate of every currency that has one (see {@link RateList}). */
export type RateList = z.infer<typeof RateList>;

/**
 * A top-up pack: a number of Diamonds and its price at the current rate.
 *
 * @remarks The price is for display; a purchase is charged what its {@link Quote} says.
 */
export const TopUpPack = z.object({
  object: z.literal('topup_pack'),
  diamonds: DiamondAmount,
  price: FiatMoney,
});

/** A top-up pack (see {@link TopUpPack}). */
export type TopUpPack = z.infer<typeof TopUpPack>;

/** The body of `GET /v1/topup-packs?currency=…`: every pack priced in one currency. */
export const TopUpPackList = pageSchema(TopUpPack);

/** The body of `GET /v1/topup-packs` (see {@link TopUpPackList}). */
export type TopUpPackList = z.infer<typeof TopUpPackList>;

/** A quote's id (`qt_…`). */
export const QuoteId = idSchema('qt');

/** The body of `POST /v1/quotes`: how many Diamonds, paid in which currency. */
export const CreateQuote = z.strictObject({
  diamonds: DiamondAmount,
  currency: CurrencyCode,
});

/** The body of `POST /v1/quotes` (see {@link CreateQuote}). */
export type CreateQuote = z.infer<typeof CreateQuote>;

/**
 * A price for a number of Diamonds, locked until `expiresAt` (10 minutes after it was made).
 *
 * @remarks A purchase must name an unexpired, unused quote (`quote_expired`, `quote_used`
 * otherwise); it is charged `total`, whatever the rate has become meanwhile.
 */
export const Quote = z.object({
  object: z.literal('quote'),
  id: QuoteId,
  diamonds: DiamondAmount,
  /** The Diamonds' price at the locked rate: `ceil(diamonds × price ÷ 1000)` minor units. */
  price: FiatMoney,
  /** Fees on top of the price. Always 0 for now; the field is here so a client shows it. */
  fee: FiatMoney,
  /** What the fan pays: `price + fee`. */
  total: FiatMoney,
  /** The `effectiveAt` of the rate the quote locked. */
  rateEffectiveAt: z.int().nonnegative(),
  /** Milliseconds since the epoch; from then on the quote is refused with `quote_expired`. */
  expiresAt: z.int(),
});

/** A locked price for a number of Diamonds (see {@link Quote}). */
export type Quote = z.infer<typeof Quote>;
