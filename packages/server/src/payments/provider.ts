import type { FiatMoney, PaymentProviderName } from '@diamonds/protocol';
import type { MoneySettings } from '../context.js';
import { StripeProvider } from './stripe.js';

/** What a provider needs to take the money for one top-up. */
export interface TopUpCheckout {
  topUpId: string;
  diamonds: number;
  /** What the fan pays: the quote's total. */
  price: FiatMoney;
  /** What is bought, in the fan's words ("500 Diamonds"): shown on the provider's page. */
  productName: string;
  /** The top-up's hosted page on the platform: where the fan lands after paying elsewhere. */
  pageUrl: string;
}

/** Where the fan pays, and the provider's own id for the payment (if it has one). */
export interface StartedPayment {
  paymentUrl: string;
  /** The provider's id (a Stripe Checkout Session `cs_…`); `null` for the test provider. */
  providerRef: string | null;
}

/**
 * A way to take a fan's money for Diamonds.
 *
 * @remarks
 * `start` is called before the top-up is written, outside any database transaction (a network
 * call must never hold the ledger's transaction open). It must be safe to call again for the
 * same top-up id: the Stripe adapter sends Stripe an idempotency key derived from it. A
 * provider never credits Diamonds itself: the test provider's hosted page and the Stripe
 * webhook report the outcome, and `payments/topups.ts` credits exactly once.
 */
export interface PaymentProvider {
  readonly name: PaymentProviderName;
  start(checkout: TopUpCheckout): Promise<StartedPayment>;
}

/**
 * The built-in test provider: the fan pays on the platform's own hosted page (`/topup/{id}`)
 * with a test card number; no money moves anywhere.
 */
export const testProvider: PaymentProvider = {
  name: 'test',
  start(checkout) {
    return Promise.resolve({ paymentUrl: checkout.pageUrl, providerRef: null });
  },
};

/** What a test card does when the fan pays with it on the hosted page. */
export type TestCardOutcome = 'succeeds' | 'declines' | 'requires_action';

/** The test card numbers the test provider knows; any other number is refused as `invalid_card`. */
export const TEST_CARDS: Readonly<Record<string, TestCardOutcome>> = {
  '4242424242424242': 'succeeds',
  '4000000000000002': 'declines',
  '4000000000003220': 'requires_action',
};

/**
 * Stripe's dispute test card, `4000 0000 0000 0259`: the payment succeeds, then the card's owner
 * disputes it at once and the Diamonds are taken back (see `payments/disputes.ts`). Apart from
 * {@link TEST_CARDS}, whose outcomes the hosted page explains one by one.
 */
export const DISPUTE_TEST_CARD = '4000000000000259';

/**
 * What a card number does with the test provider, or `undefined` when it is not a test card.
 * Spaces (as printed on a card) and hyphens are allowed between the digits.
 */
export function testCardOutcome(cardNumber: string): TestCardOutcome | 'disputes' | undefined {
  const digits = cardNumber.replace(/[\s-]/g, '');
  if (!/^\d{16}$/.test(digits)) return undefined;
  if (digits === DISPUTE_TEST_CARD) return 'disputes';
  return Object.hasOwn(TEST_CARDS, digits) ? TEST_CARDS[digits] : undefined;
}

const stripeProviders = new WeakMap<MoneySettings, StripeProvider>();

/**
 * The provider new top-ups use, from `settings.paymentProvider` (`test` by default).
 *
 * @remarks One Stripe client per settings object, so its connection pool is reused.
 * @throws Error when Stripe is chosen without a secret key (configuration refuses that earlier).
 */
export function paymentProviderFor(settings: MoneySettings): PaymentProvider {
  if (settings.paymentProvider !== 'stripe') return testProvider;
  let provider = stripeProviders.get(settings);
  if (!provider) {
    if (!settings.stripeSecretKey) throw new Error('DIAMONDS_PAYMENTS=stripe needs STRIPE_SECRET_KEY.');
    provider = new StripeProvider({ secretKey: settings.stripeSecretKey, apiBase: settings.stripeApiBase });
    stripeProviders.set(settings, provider);
  }
  return provider;
}
