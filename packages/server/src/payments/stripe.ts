import Stripe from 'stripe';
import { isId } from '@diamonds/protocol';
import { ApiError } from '../errors.js';
import type { PaymentProvider, StartedPayment, TopUpCheckout } from './provider.js';

/**
 * How far a webhook's signed timestamp may be from our clock, either way: 5 minutes. Older
 * deliveries may be replays; newer ones come from a clock we cannot trust.
 */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/** How to reach Stripe (see `Settings`). */
export interface StripeProviderOptions {
  secretKey: string;
  /** Another API address (`http://127.0.0.1:12111`): only tests use one, for a local stand-in. */
  apiBase?: string | undefined;
}

/** The Stripe client's connection options for an `apiBase` address. */
function connection(apiBase: string | undefined): Pick<Stripe.StripeConfig, 'host' | 'port' | 'protocol'> {
  if (apiBase === undefined) return {};
  const url = new URL(apiBase);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port || (protocol === 'http' ? 80 : 443), protocol };
}

/**
 * The Stripe adapter: a top-up is a Checkout Session for the quote's total, tagged with the
 * top-up's id; the Diamonds are credited only from Stripe's signed webhook.
 */
export class StripeProvider implements PaymentProvider {
  /** The provider's name, as top-ups record it. */
  readonly name = 'stripe' as const;
  readonly #stripe: Stripe;

  /** A Stripe client for the secret key (and, in tests, another API address). */
  constructor(options: StripeProviderOptions) {
    this.#stripe = new Stripe(options.secretKey, {
      ...connection(options.apiBase),
      maxNetworkRetries: 2,
      timeout: 20_000,
      telemetry: false,
      appInfo: { name: 'Diamonds' },
    });
  }

  /**
   * Creates the Checkout Session. Stripe's idempotency key is the top-up's id, so a retry of
   * this call for the same top-up gets the same session back.
   *
   * @throws {@link ApiError} `service_unavailable` when Stripe cannot be reached or refuses.
   */
  async start(checkout: TopUpCheckout): Promise<StartedPayment> {
    let session: Stripe.Checkout.Session;
    try {
      session = await this.#stripe.checkout.sessions.create(
        {
          mode: 'payment',
          client_reference_id: checkout.topUpId,
          line_items: [
            {
              quantity: 1,
              price_data: {
                currency: checkout.price.currency.toLowerCase(),
                unit_amount: checkout.price.amountMinor,
                product_data: { name: checkout.productName },
              },
            },
          ],
          metadata: { topupId: checkout.topUpId },
          payment_intent_data: { metadata: { topupId: checkout.topUpId } },
          success_url: checkout.pageUrl,
          cancel_url: checkout.pageUrl,
        },
        { idempotencyKey: `diamonds-${checkout.topUpId}` },
      );
    } catch (error) {
      console.error(`Stripe refused the Checkout Session of ${checkout.topUpId}`, error);
      throw new ApiError('service_unavailable', 'The payment provider did not answer. Nothing was charged; try again in a moment.', {
        cause: error,
      });
    }
    if (!session.url) {
      throw new ApiError('service_unavailable', 'The payment provider gave no payment page. Nothing was charged; try again in a moment.');
    }
    return { paymentUrl: session.url, providerRef: session.id };
  }
}

/** The `t=` timestamp of a `Stripe-Signature` header, in seconds, or `undefined`. */
function signedTimestamp(header: string): number | undefined {
  for (const part of header.split(',')) {
    const [name, value] = part.split('=', 2);
    if (name?.trim() === 't' && value !== undefined && /^\d{1,12}$/.test(value.trim())) return Number(value.trim());
  }
  return undefined;
}

/**
 * Verifies a Stripe webhook delivery: the signature over the exact raw body, and a signed
 * timestamp within {@link WEBHOOK_TOLERANCE_SECONDS} of `now` in either direction (Stripe's
 * own check looks only at the past).
 *
 * @throws {@link ApiError} `webhook_signature_invalid`, with a message saying which check failed.
 */
export function verifyStripeWebhook(raw: string, header: string | undefined, secret: string, now = Date.now()): Stripe.Event {
  if (!header) throw new ApiError('webhook_signature_invalid', 'Missing Stripe-Signature header: only Stripe may call this endpoint.');
  const timestamp = signedTimestamp(header);
  if (timestamp === undefined) {
    throw new ApiError('webhook_signature_invalid', 'The Stripe-Signature header has no valid timestamp (t=…).');
  }
  const skew = Math.floor(now / 1000) - timestamp;
  if (skew > WEBHOOK_TOLERANCE_SECONDS) {
    throw new ApiError(
      'webhook_signature_invalid',
      `The webhook was signed ${skew} s ago, more than the ${WEBHOOK_TOLERANCE_SECONDS} s allowed: refused as a possible replay.`,
    );
  }
  if (-skew > WEBHOOK_TOLERANCE_SECONDS) {
    throw new ApiError(
      'webhook_signature_invalid',
      `The webhook is signed ${-skew} s in the future, more than the ${WEBHOOK_TOLERANCE_SECONDS} s allowed: check the clocks.`,
    );
  }
  try {
    // The timestamp was checked above, both ways, against the same `now`.
    return Stripe.webhooks.constructEvent(raw, header, secret, WEBHOOK_TOLERANCE_SECONDS, undefined, now);
  } catch (error) {
    throw new ApiError('webhook_signature_invalid', 'The webhook signature does not match its body and our signing secret.', {
      cause: error,
    });
  }
}

/**
 * What a Stripe event means for a top-up.
 *
 * @remarks `refs` are Stripe's ids of the payment (`pi_…`, `ch_…`): a paid report's are
 * recorded with the top-up, since a dispute (`charge.dispute.created`) names only them. A
 * `reversed` report is a card dispute or a full refund: it names the top-up when the event
 * carries its id, and otherwise only by those refs.
 */
export type PaymentReport =
  | { kind: 'paid'; topUpId: string; amountMinor: number; currency: string; refs?: string[] }
  | { kind: 'failed'; topUpId: string; failureCode: string }
  | { kind: 'reversed'; reason: 'dispute' | 'refund'; topUpId: string | null; refs: string[] }
  | { kind: 'ignored'; reason: string };

/** The id of an expandable Stripe field (a bare id, or the expanded object's). */
function idOf(value: string | { id: string } | null | undefined): string | undefined {
  if (typeof value === 'string') return value;
  return value?.id;
}

/** The payment ids worth recording, without gaps or repeats. */
function refsOf(...ids: Array<string | undefined>): string[] {
  return [...new Set(ids.filter((id): id is string => typeof id === 'string' && /^(pi|ch|py)_[A-Za-z0-9_]{1,200}$/.test(id)))];
}

function topUpIdOf(metadata: Stripe.Metadata | null | undefined, fallback?: string | null): string | undefined {
  const id = metadata?.topupId ?? fallback ?? undefined;
  return isId('tu', id) ? id : undefined;
}

/**
 * Reads what a verified Stripe event says about a top-up: a paid Checkout Session or a
 * succeeded PaymentIntent credits, a failed PaymentIntent or an expired session fails it, a
 * dispute (`charge.dispute.created`) or a full refund (`charge.refunded`) takes its Diamonds
 * back, anything else is ignored.
 */
export function interpretStripeEvent(event: Stripe.Event): PaymentReport {
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded': {
      const session = event.data.object;
      const topUpId = topUpIdOf(session.metadata, session.client_reference_id);
      if (!topUpId) return { kind: 'ignored', reason: 'not a Diamonds top-up' };
      if (session.payment_status !== 'paid') return { kind: 'ignored', reason: `payment_status is ${session.payment_status}` };
      return {
        kind: 'paid',
        topUpId,
        amountMinor: session.amount_total ?? -1,
        currency: (session.currency ?? '').toUpperCase(),
        refs: refsOf(idOf(session.payment_intent)),
      };
    }
    case 'payment_intent.succeeded': {
      const intent = event.data.object;
      const topUpId = topUpIdOf(intent.metadata);
      if (!topUpId) return { kind: 'ignored', reason: 'not a Diamonds top-up' };
      return {
        kind: 'paid',
        topUpId,
        amountMinor: intent.amount_received,
        currency: intent.currency.toUpperCase(),
        refs: refsOf(intent.id, idOf(intent.latest_charge)),
      };
    }
    case 'charge.dispute.created': {
      // A dispute carries no metadata of ours: the top-up is found by its payment's ids.
      const dispute = event.data.object;
      const refs = refsOf(idOf(dispute.payment_intent), idOf(dispute.charge));
      if (refs.length === 0) return { kind: 'ignored', reason: 'the dispute names no payment' };
      return { kind: 'reversed', reason: 'dispute', topUpId: null, refs };
    }
    case 'charge.refunded': {
      const charge = event.data.object;
      // A partial refund is not taken back automatically (see docs/money-flows.md): the
      // operator decides, since Diamonds cannot be split by a fiat amount without a rule.
      if (!charge.refunded || charge.amount_refunded < charge.amount) {
        return { kind: 'ignored', reason: `partial refund (${charge.amount_refunded} of ${charge.amount})` };
      }
      const refs = refsOf(charge.id, idOf(charge.payment_intent));
      return { kind: 'reversed', reason: 'refund', topUpId: topUpIdOf(charge.metadata) ?? null, refs };
    }
    case 'payment_intent.payment_failed': {
      const intent = event.data.object;
      const topUpId = topUpIdOf(intent.metadata);
      if (!topUpId) return { kind: 'ignored', reason: 'not a Diamonds top-up' };
      const code = intent.last_payment_error?.code;
      return { kind: 'failed', topUpId, failureCode: code === 'card_declined' ? 'card_declined' : 'payment_failed' };
    }
    case 'checkout.session.async_payment_failed':
    case 'checkout.session.expired': {
      const session = event.data.object;
      const topUpId = topUpIdOf(session.metadata, session.client_reference_id);
      if (!topUpId) return { kind: 'ignored', reason: 'not a Diamonds top-up' };
      return {
        kind: 'failed',
        topUpId,
        failureCode: event.type === 'checkout.session.expired' ? 'payment_expired' : 'payment_failed',
      };
    }
    default:
      return { kind: 'ignored', reason: `event type ${event.type} is not used` };
  }
}
