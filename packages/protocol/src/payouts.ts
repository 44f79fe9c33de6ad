import { z } from 'zod';
import { DiamondAmount } from './amounts.js';
import { idSchema } from './ids.js';
import { TransferId } from './ledger.js';
import { FiatMoney } from './money.js';
import { pageSchema } from './pagination.js';

/** A payout's id (`po_…`). */
export const PayoutId = idSchema('po');

/** A payout quote's id (`pq_…`). */
export const PayoutQuoteId = idSchema('pq');

/**
 * Where a payout stands.
 *
 * - `in_transit`: the earnings left the creator's balance and the provider is paying them (or
 *   will be asked to: a submission that failed for a network reason is retried).
 * - `paid`: the provider reported the money sent to the creator's bank.
 * - `failed`: the provider refused or the bank returned it; the Diamonds went back to the
 *   creator's earnings and `failure` says why.
 * - `canceled`: the operator canceled it before the provider accepted it; the Diamonds went back.
 */
export const PayoutStatus = z.enum(['in_transit', 'paid', 'failed', 'canceled']);

/** Where a payout stands (see {@link PayoutStatus}). */
export type PayoutStatus = z.infer<typeof PayoutStatus>;

/** The ways the platform can pay a creator: the built-in test provider, or Stripe Connect. */
export const PayoutProviderName = z.enum(['test', 'stripe']);

/** A payout provider's name (see {@link PayoutProviderName}). */
export type PayoutProviderName = z.infer<typeof PayoutProviderName>;

/**
 * A creator's cash-out of available earnings, converted at the payout rate their quote locked.
 *
 * @remarks The Diamonds leave the creator's earnings when the payout is created (to the
 * platform's `payouts_in_transit` account) and reach `payouts` when it is paid; a failure or a
 * cancelation returns them to earnings, where they are available at once.
 */
export const Payout = z.object({
  object: z.literal('payout'),
  id: PayoutId,
  status: PayoutStatus,
  /** Earnings paid out. */
  diamonds: DiamondAmount,
  /** What the creator receives: `floor(diamonds × payout rate ÷ 1000)` minor units. */
  amount: FiatMoney,
  provider: PayoutProviderName,
  /** True when the weekly automatic payout made it, false when the creator asked. */
  automatic: z.boolean(),
  /** Why it failed, for people (`null` unless `failed` or `canceled`). */
  failure: z.object({ code: z.string(), message: z.string() }).nullable(),
  /** The ledger transfer that took the Diamonds out of earnings. */
  transferId: TransferId,
  createdAt: z.number().int(),
  /** When it was paid, failed or canceled; `null` while in transit. */
  settledAt: z.number().int().nullable(),
});

/** A creator's payout (see {@link Payout}). */
export type Payout = z.infer<typeof Payout>;

/** A page of payouts, newest first. */
export const PayoutList = pageSchema(Payout);

/** A page of payouts (see {@link PayoutList}). */
export type PayoutList = z.infer<typeof PayoutList>;

/**
 * What a payout of `diamonds` pays in `amount`, at the payout rate in force when it was made,
 * locked until `expiresAt` while the creator confirms.
 */
export const PayoutQuote = z.object({
  object: z.literal('payout_quote'),
  id: PayoutQuoteId,
  diamonds: DiamondAmount,
  amount: FiatMoney,
  /** When the payout rate used took effect. */
  rateEffectiveAt: z.number().int(),
  expiresAt: z.number().int(),
});

/** A locked payout price (see {@link PayoutQuote}). */
export type PayoutQuote = z.infer<typeof PayoutQuote>;

/** The data of every `payout.*` event. */
export const PayoutEventData = z.object({
  payoutId: PayoutId,
  status: PayoutStatus,
  diamonds: DiamondAmount,
  amount: FiatMoney,
  /** Why it failed; `null` unless the status is `failed` or `canceled`. */
  failure: z.object({ code: z.string(), message: z.string() }).nullable(),
});

/** The data of a `payout.*` event (see {@link PayoutEventData}). */
export type PayoutEventData = z.infer<typeof PayoutEventData>;
