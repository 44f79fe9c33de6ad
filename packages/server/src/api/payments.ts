import { Hono, type Context } from 'hono';
import { CreateTopUp, TopUp, WebhookReceipt, newId } from '@diamonds/protocol';
import { publicBaseUrl, type AppContext, type AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { validate } from '../http/body.js';
import { requireIdempotencyKey } from '../money/idempotency.js';
import { clientIp } from '../pages/auth.js';
import { paymentProviderFor, type StartedPayment } from '../payments/provider.js';
import { interpretStripeEvent, verifyStripeWebhook } from '../payments/stripe.js';
import {
  TopUpRateLimited,
  applyPaymentReport,
  createTopUp,
  findOwnTopUp,
  limitTopUpStart,
  payableQuote,
  presentTopUp,
  productName,
} from '../payments/topups.js';
import { fanOf } from './identity.js';
import { fanScope, respondIdempotently } from './money-route.js';
import { documentRoute } from './openapi.js';
import { pathId } from '../http/ids.js';

/** The largest webhook body accepted: Stripe's events are a few KiB. */
export const MAX_WEBHOOK_BYTES = 256 * 1024;

const FAN_ERRORS = ['authentication_required', 'invalid_token', 'permission_denied', 'origin_not_allowed'] as const;

documentRoute({
  method: 'post',
  path: '/v1/topups',
  summary: 'Starts a top-up: the signed-in fan buys the Diamonds of an unexpired quote.',
  description:
    'Answers the top-up, `requires_payment`, with its `paymentUrl`: open it in a popup from the fan’s click (the test ' +
    'provider’s hosted card page, or Stripe Checkout), then poll `GET /v1/topups/{id}`. The Diamonds are credited once, ' +
    'when the provider confirms the payment. A quote pays for one top-up. Rate limits: 10 top-ups per fan and 30 per IP ' +
    'an hour; a fan with 5 failed card attempts in the hour waits (`rate_limited`, `Retry-After`).',
  tag: 'Top-ups',
  auth: 'fan',
  idempotent: true,
  body: CreateTopUp,
  responses: { 201: { description: 'The new top-up, waiting for payment.', schema: TopUp } },
  errors: [
    'invalid_request',
    'quote_not_found',
    'quote_expired',
    'quote_used',
    'rate_limited',
    'service_unavailable',
    'idempotency_key_required',
    'idempotency_key_reused',
    'idempotency_request_in_progress',
    ...FAN_ERRORS,
  ],
});

documentRoute({
  method: 'get',
  path: '/v1/topups/{id}',
  summary: 'A top-up of the signed-in fan: poll it until it `succeeded` or `failed`.',
  tag: 'Top-ups',
  auth: 'fan',
  params: { id: 'The top-up’s id, tu_…' },
  responses: { 200: { description: 'The top-up.', schema: TopUp } },
  errors: ['payment_not_found', ...FAN_ERRORS],
});

documentRoute({
  method: 'post',
  path: '/v1/webhooks/stripe',
  summary: 'Stripe’s webhook: credits paid top-ups. Called by Stripe only, signed, with no API key.',
  description:
    'The `Stripe-Signature` header is verified over the raw body with the endpoint’s signing secret, and its timestamp must ' +
    'be within 300 s of the platform’s clock either way. Handled events: `checkout.session.completed` (paid), ' +
    '`checkout.session.async_payment_succeeded` and `payment_intent.succeeded` credit; `payment_intent.payment_failed`, ' +
    '`checkout.session.async_payment_failed` and `checkout.session.expired` mark the top-up failed. Each event id is ' +
    'processed once: a redelivery answers 200 with `duplicate: true` and moves nothing.',
  tag: 'Top-ups',
  auth: 'public',
  responses: { 200: { description: 'Received (credited, recorded, or a duplicate).', schema: WebhookReceipt } },
  errors: ['webhook_signature_invalid', 'payment_amount_mismatch', 'payment_provider_disabled', 'payload_too_large'],
});

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

  api.post('/topups', async (c) => {
    const { userId, context: fan } = await fanOf(c, context.db);
    const key = requireIdempotencyKey(c.req.header('Idempotency-Key'));
    const input = validate(CreateTopUp, c.get('json'));
    const scope = fanScope(userId, fan.siteId);
    // The id exists before the payment is started, so a provider (Stripe) can be asked with an
    // idempotency key derived from it, outside the database transaction.
    const id = newId('tu');
    let payment: StartedPayment | undefined;
    const provider = paymentProviderFor(context.settings);
    if (!(await alreadySent(context, scope, key))) {
      await limitTopUpStart(context.db, userId, clientIp(c)).catch((error: unknown) => withRetryAfter(c, error));
      const quote = await payableQuote(context.db, input.quoteId);
      payment = await provider.start({
        topUpId: id,
        diamonds: quote.diamonds,
        price: quote.total,
        productName: productName(quote.diamonds),
        pageUrl: `${publicBaseUrl(c, context.settings)}/topup/${id}`,
      });
    }
    return respondIdempotently(c, context, scope, async (tx) => {
      if (!payment) {
        // The earlier request with this key was rolled back after we looked: the caller retries.
        throw new ApiError('idempotency_request_in_progress', 'A request with this Idempotency-Key was still in progress; retry shortly.');
      }
      const record = await createTopUp(tx, { id, userId, siteId: fan.siteId, quoteId: input.quoteId, provider: provider.name, payment });
      return { status: 201, body: presentTopUp(record) };
    });
  });

  api.get('/topups/:id', async (c) => {
    const { userId } = await fanOf(c, context.db);
    const record = await findOwnTopUp(context.db, pathId(c, 'tu'), userId);
    c.header('Cache-Control', 'no-store');
    return c.json(presentTopUp(record));
  });

  api.post('/webhooks/stripe', async (c) => {
    const secret = context.settings.stripeWebhookSecret;
    if (!secret) {
      throw new ApiError('payment_provider_disabled', 'Stripe webhooks are not configured here: set STRIPE_WEBHOOK_SECRET.');
    }
    const declared = Number(c.req.header('Content-Length') ?? '0');
    if (declared > MAX_WEBHOOK_BYTES) throw new ApiError('payload_too_large', `Webhook bodies are limited to ${MAX_WEBHOOK_BYTES} bytes.`);
    // The signature covers the exact bytes Stripe sent: read them raw, never re-serialised JSON.
    const raw = await c.req.text();
    if (Buffer.byteLength(raw) > MAX_WEBHOOK_BYTES) {
      throw new ApiError('payload_too_large', `Webhook bodies are limited to ${MAX_WEBHOOK_BYTES} bytes.`);
    }
    const event = verifyStripeWebhook(raw, c.req.header('Stripe-Signature'), secret);
    const report = interpretStripeEvent(event);
    const outcome = await context.commits.run((tx) =>
      applyPaymentReport(tx, context.ledger, { provider: 'stripe', id: event.id, type: event.type }, report),
    );
    const body: WebhookReceipt = { received: true, duplicate: outcome === 'duplicate', ignored: outcome === 'ignored' };
    return c.json(body);
  });

  return api;
}
