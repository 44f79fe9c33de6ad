import { Hono, type Context } from 'hono';
import { CreateTopUp, TopUp, WebhookReceipt, newId } from '@diamonds/protocol';
import { publicBaseUrl, type AppContext, type AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { exampleId, idParam, routesOn } from '../http/route.js';
import { requireIdempotencyKey } from '../money/idempotency.js';
import { clientIp } from '../pages/auth.js';
import { paymentProviderFor, type StartedPayment } from './provider.js';
import { interpretStripeEvent, verifyStripeWebhook } from './stripe.js';
import {
  TopUpRateLimited,
  applyPaymentReportOperation,
  createTopUpOperation,
  findOwnTopUp,
  limitTopUpStart,
  payableQuote,
  presentTopUp,
  productName,
} from './topups.js';
import { fanScope, respondWithMoney } from '../money/respond.js';

/** The largest webhook body accepted: Stripe's events are a few KiB. */
export const MAX_WEBHOOK_BYTES = 256 * 1024;

const TAG = 'Top-ups';

const EXAMPLE_TOPUP: TopUp = {
  object: 'topup',
  id: exampleId('tu'),
  status: 'requires_payment',
  provider: 'test',
  diamonds: 500,
  price: { amountMinor: 650, currency: 'USD' },
  quoteId: exampleId('qt'),
  paymentUrl: `https://diamonds.example/topup/${exampleId('tu')}`,
  failureCode: null,
  transferId: null,
  createdAt: 1767225600000,
};

/** Sets `Retry-After` for a rate-limit refusal before the error handler renders it. */
function withRetryAfter(c: Context<AppEnv>, error: unknown): never {
  if (error instanceof TopUpRateLimited) c.header('Retry-After', String(error.retryAfterSeconds));
  throw error;
}

/** Whether this fan already sent a request with this `Idempotency-Key` (then it replays: no new payment). */
async function alreadySent(context: AppContext, scope: string, key: string): Promise<boolean> {
  const rows = await context.db.query('SELECT 1 AS one FROM api_requests WHERE scope = ? AND idempotency_key = ?', [scope, key]);
  return rows.length > 0;
}

/**
 * `/v1` routes of top-ups: start one (signed-in fan), read one, and Stripe's webhook (keyless,
 * raw body, verified signature).
 */
export function paymentsApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const route = routesOn(api, context);

  route(
    {
      method: 'post',
      path: '/topups',
      operationId: 'createTopUp',
      summary: 'Starts a top-up: the signed-in fan buys the Diamonds of an unexpired quote.',
      description:
        'Answers the top-up, `requires_payment`, with its `paymentUrl`: open it in a popup from the fan’s click (the test ' +
        'provider’s hosted card page, or Stripe Checkout), then poll `GET /v1/topups/{id}`. The Diamonds are credited once, ' +
        'when the provider confirms the payment. A quote pays for one top-up. Rate limits: 10 top-ups per fan and 30 per IP ' +
        'an hour; a fan with 5 failed card attempts in the hour waits (`rate_limited`, `Retry-After`).',
      tag: TAG,
      auth: 'fan',
      idempotent: true,
      body: CreateTopUp,
      bodyExample: { quoteId: exampleId('qt') },
      responses: { 201: { description: 'The new top-up, waiting for payment.', schema: TopUp, example: EXAMPLE_TOPUP } },
      errors: ['quote_not_found', 'quote_expired', 'quote_used', 'rate_limited', 'service_unavailable', 'idempotency_request_in_progress'],
    },
    async (c, { caller, body }) => {
      const { userId, siteId } = caller;
      const key = requireIdempotencyKey(c.req.header('Idempotency-Key'));
      const scope = fanScope(userId, siteId);
      // The id exists before the payment is started, so a provider (Stripe) can be asked with an
      // idempotency key derived from it, outside the database transaction.
      const id = newId('tu');
      let payment: StartedPayment | undefined;
      const provider = paymentProviderFor(context.settings);
      if (!(await alreadySent(context, scope, key))) {
        await limitTopUpStart(context.db, userId, clientIp(c)).catch((error: unknown) => withRetryAfter(c, error));
        const quote = await payableQuote(context.db, body.quoteId);
        payment = await provider.start({
          topUpId: id,
          diamonds: quote.diamonds,
          price: quote.total,
          productName: productName(quote.diamonds),
          pageUrl: `${publicBaseUrl(c, context.settings)}/topup/${id}`,
        });
      }
      return respondWithMoney(c, context, scope, createTopUpOperation, {
        topUp: payment ? { id, userId, siteId, quoteId: body.quoteId, provider: provider.name, payment } : null,
      });
    },
  );

  route(
    {
      method: 'get',
      path: '/topups/{id}',
      operationId: 'getTopUp',
      summary: 'A top-up of the signed-in fan: poll it until it `succeeded` or `failed`.',
      tag: TAG,
      auth: 'fan',
      params: { id: idParam('tu', 'The top-up’s id, `tu_…`.') },
      responses: {
        200: {
          description: 'The top-up.',
          schema: TopUp,
          example: { ...EXAMPLE_TOPUP, status: 'succeeded', paymentUrl: null, transferId: exampleId('txn') },
        },
      },
      errors: ['payment_not_found'],
    },
    async (c, { caller, params }) => {
      const record = await findOwnTopUp(context.db, params.id, caller.userId);
      c.header('Cache-Control', 'no-store');
      return c.json(presentTopUp(record));
    },
  );

  route(
    {
      method: 'post',
      path: '/webhooks/stripe',
      operationId: 'receiveStripeWebhook',
      summary:
        'Stripe’s webhook: credits paid top-ups, takes back disputed or refunded ones. Called by Stripe only, signed, with no API key.',
      description:
        'The `Stripe-Signature` header is verified over the raw body with the endpoint’s signing secret, and its timestamp must ' +
        'be within 300 s of the platform’s clock either way. Handled events: `checkout.session.completed` (paid), ' +
        '`checkout.session.async_payment_succeeded` and `payment_intent.succeeded` credit; `payment_intent.payment_failed`, ' +
        '`checkout.session.async_payment_failed` and `checkout.session.expired` mark the top-up failed; ' +
        '`charge.dispute.created` and a full `charge.refunded` take a credited top-up’s Diamonds back (what the wallet no ' +
        'longer holds becomes the fan’s debt, see docs/money-flows.md), matched by the PaymentIntent or Charge recorded ' +
        'when it was paid. A dispute or refund of an unknown, uncredited or already reversed top-up, and a partial refund, ' +
        'answer 200 with `ignored: true` and move nothing. Each event id is processed once: a redelivery answers 200 with ' +
        '`duplicate: true` and moves nothing.',
      tag: TAG,
      auth: 'public',
      responses: {
        200: {
          description: 'Received (credited, recorded, or a duplicate).',
          schema: WebhookReceipt,
          example: { received: true, duplicate: false, ignored: false },
        },
      },
      errors: ['webhook_signature_invalid', 'payment_amount_mismatch', 'payment_provider_disabled', 'payload_too_large'],
    },
    async (c) => {
      const secret = context.settings.stripeWebhookSecret;
      if (!secret) {
        throw new ApiError('payment_provider_disabled', 'Stripe webhooks are not configured here: set STRIPE_WEBHOOK_SECRET.');
      }
      const declared = Number(c.req.header('Content-Length') ?? '0');
      if (declared > MAX_WEBHOOK_BYTES)
        throw new ApiError('payload_too_large', `Webhook bodies are limited to ${MAX_WEBHOOK_BYTES} bytes.`);
      // The signature covers the exact bytes Stripe sent: read them raw, never re-serialised JSON.
      const raw = await c.req.text();
      if (Buffer.byteLength(raw) > MAX_WEBHOOK_BYTES) {
        throw new ApiError('payload_too_large', `Webhook bodies are limited to ${MAX_WEBHOOK_BYTES} bytes.`);
      }
      const event = verifyStripeWebhook(raw, c.req.header('Stripe-Signature'), secret);
      const report = interpretStripeEvent(event);
      const outcome = await context.writer.run(applyPaymentReportOperation, {
        event: { provider: 'stripe', id: event.id, type: event.type },
        report,
        holdMs: context.earnings.holdMs,
      });
      const body: WebhookReceipt = { received: true, duplicate: outcome === 'duplicate', ignored: outcome === 'ignored' };
      return c.json(body);
    },
  );

  return api;
}
