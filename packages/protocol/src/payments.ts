// The payments wire schemas (issue 4): top-ups and the providers that take the money.
// Exported from index.ts with export *.
import { z } from 'zod';
import { DiamondAmount } from './amounts.js';
import { idSchema } from './ids.js';
import { TransferId } from './ledger.js';
import { FiatMoney } from './money.js';
import { QuoteId } from './rates.js';

/** A top-up's id: `tu_…`. */
export const TopUpId = idSchema('tu');

/**
 * Who takes the fan's money for a top-up.
 *
 * - `test`: the built-in test provider, a hosted card page that accepts only test cards (the
 *   default in development).
 * - `stripe`: a Stripe Checkout Session; Diamonds are credited from Stripe's signed webhook.
 */
export const PaymentProviderName = z.enum(['test', 'stripe']);

/** Who takes the fan's money (see {@link PaymentProviderName}). */
export type PaymentProviderName = z.infer<typeof PaymentProviderName>;

/**
 * Where a top-up stands.
 *
 * - `requires_payment`: waiting for the fan to pay on `paymentUrl`.
 * - `requires_action`: the card needs an extra step (authentication) before it is charged.
 * - `succeeded`: paid; the Diamonds are in the fan's wallet (exactly once).
 * - `failed`: nothing was credited; `failureCode` says why. Start a new top-up with a new quote.
 */
export const TopUpStatus = z.enum(['requires_payment', 'requires_action', 'succeeded', 'failed']);

/** Where a top-up stands (see {@link TopUpStatus}). */
export type TopUpStatus = z.infer<typeof TopUpStatus>;

/** The body of `POST /v1/topups`: the unexpired, unused quote the fan accepted. */
export const CreateTopUp = z.strictObject({
  quoteId: QuoteId,
});

/** The body of `POST /v1/topups` (see {@link CreateTopUp}). */
export type CreateTopUp = z.infer<typeof CreateTopUp>;

/**
 * A fan's purchase of Diamonds with real money, at the price of one quote.
 *
 * @remarks
 * Open `paymentUrl` in a popup from the fan's click, then poll `GET /v1/topups/{id}` until the
 * status is `succeeded` or `failed`. A top-up credits the wallet at most once, whatever the
 * provider repeats. `failureCode` is a string so that an older client still parses a code added
 * later; today it is one of `card_declined`, `authentication_failed`, `payment_failed`,
 * `quote_expired`, `payment_expired`.
 */
export const TopUp = z.object({
  object: z.literal('topup'),
  id: TopUpId,
  status: TopUpStatus,
  provider: PaymentProviderName,
  /** The Diamonds the fan gets. */
  diamonds: DiamondAmount,
  /** What the fan pays: the quote's total. */
  price: FiatMoney,
  quoteId: QuoteId,
  /** Where the fan pays (the hosted page, or Stripe Checkout); `null` once there is nothing left to pay. */
  paymentUrl: z.string().nullable(),
  /** Why the top-up failed (see the remarks); `null` unless `status` is `failed`. */
  failureCode: z.string().nullable(),
  /** The ledger transfer that credited the wallet; `null` until `succeeded`. */
  transferId: TransferId.nullable(),
  /** Milliseconds since the epoch. */
  createdAt: z.int(),
});

/** A purchase of Diamonds (see {@link TopUp}). */
export type TopUp = z.infer<typeof TopUp>;

/**
 * The answer to a Stripe webhook delivery that was verified: `duplicate` when the event had
 * been processed before (nothing moved again), `ignored` when it needed nothing from us.
 */
export const WebhookReceipt = z.object({
  received: z.literal(true),
  duplicate: z.boolean(),
  ignored: z.boolean(),
});

/** The answer to a verified webhook delivery (see {@link WebhookReceipt}). */
export type WebhookReceipt = z.infer<typeof WebhookReceipt>;
