import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Stripe from 'stripe';
import type { TopUp } from '@diamonds/protocol';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { readTopUp, seedRates, startTopUp } from './testing.js';

const WEBHOOK_SECRET = 'whsec_test_diamonds';

/** What the stand-in recorded of one API call. */
interface RecordedCall {
  path: string;
  form: URLSearchParams;
  idempotencyKey: string | undefined;
  authorization: string | undefined;
}

/** A local stand-in that answers `POST /v1/checkout/sessions` like the Stripe API does. */
async function startStripeStandIn(): Promise<{ url: string; calls: RecordedCall[]; close(): Promise<void> }> {
  const calls: RecordedCall[] = [];
  let sessions = 0;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    req.on('end', () => {
      const form = new URLSearchParams(raw);
      calls.push({
        path: req.url ?? '',
        form,
        idempotencyKey: req.headers['idempotency-key'] as string | undefined,
        authorization: req.headers.authorization,
      });
      res.setHeader('Content-Type', 'application/json');
      if (req.method !== 'POST' || req.url !== '/v1/checkout/sessions') {
        res.statusCode = 404;
        res.end(JSON.stringify({ error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.url}).` } }));
        return;
      }
      const id = `cs_test_${++sessions}`;
      res.end(
        JSON.stringify({
          id,
          object: 'checkout.session',
          mode: 'payment',
          status: 'open',
          payment_status: 'unpaid',
          amount_total: Number(form.get('line_items[0][price_data][unit_amount]')),
          currency: form.get('line_items[0][price_data][currency]'),
          client_reference_id: form.get('client_reference_id'),
          metadata: { topupId: form.get('metadata[topupId]') },
          url: `https://checkout.stripe.test/c/pay/${id}`,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

let events = 0;

/** A Stripe event about a top-up, as Stripe would send it. */
function checkoutCompleted(topUp: TopUp, overrides: { amount?: number; currency?: string; id?: string } = {}): Record<string, unknown> {
  return {
    id: overrides.id ?? `evt_test_${++events}_${Date.now()}`,
    object: 'event',
    type: 'checkout.session.completed',
    created: Math.floor(Date.now() / 1000),
    api_version: Stripe.API_VERSION,
    data: {
      object: {
        id: `cs_test_${events}`,
        object: 'checkout.session',
        payment_status: 'paid',
        status: 'complete',
        amount_total: overrides.amount ?? topUp.price.amountMinor,
        currency: (overrides.currency ?? topUp.price.currency).toLowerCase(),
        client_reference_id: topUp.id,
        metadata: { topupId: topUp.id },
      },
    },
  };
}

function paymentFailed(topUp: TopUp): Record<string, unknown> {
  return {
    id: `evt_test_${++events}_${Date.now()}`,
    object: 'event',
    type: 'payment_intent.payment_failed',
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: `pi_test_${events}`,
        object: 'payment_intent',
        amount: topUp.price.amountMinor,
        currency: topUp.price.currency.toLowerCase(),
        metadata: { topupId: topUp.id },
        last_payment_error: { code: 'card_declined', decline_code: 'generic_decline' },
      },
    },
  };
}

/** Delivers an event to the webhook, signed (by default with the right secret, now). */
function deliver(
  h: MoneyHarness,
  event: Record<string, unknown>,
  options: { secret?: string; timestamp?: number; tamper?: boolean } = {},
): Promise<Response> {
  const payload = JSON.stringify(event);
  const header = Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? WEBHOOK_SECRET,
    ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
  });
  const body = options.tamper ? payload.replace('"paid"', '"paid" ') : payload;
  return fetch(`${h.server.url}/v1/webhooks/stripe`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': header },
    body,
  });
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`top-ups with Stripe on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let stripe: Awaited<ReturnType<typeof startStripeStandIn>>;
    before(async () => {
      stripe = await startStripeStandIn();
      h = await startMoneyHarness(kind, {
        paymentProvider: 'stripe',
        stripeSecretKey: 'sk_test_diamonds',
        stripeWebhookSecret: WEBHOOK_SECRET,
        stripeApiBase: stripe.url,
      });
      await seedRates(h);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
      await stripe?.close();
    });

    async function started(): Promise<{ fan: TestFan; topUp: TopUp }> {
      const fan = await h.fan();
      return { fan, topUp: await startTopUp(h, fan) };
    }

    it('starts a top-up as a Checkout Session for the quote’s price, tagged with the top-up', async () => {
      const calls = stripe.calls.length;
      const { fan, topUp } = await started();
      assert.equal(topUp.provider, 'stripe');
      assert.equal(topUp.status, 'requires_payment');
      assert.match(topUp.paymentUrl ?? '', /^https:\/\/checkout\.stripe\.test\/c\/pay\/cs_test_\d+$/);
      assert.equal(stripe.calls.length, calls + 1);
      const call = stripe.calls.at(-1)!;
      assert.equal(call.path, '/v1/checkout/sessions');
      assert.equal(call.authorization, 'Bearer sk_test_diamonds');
      assert.equal(call.idempotencyKey, `diamonds-${topUp.id}`);
      assert.equal(call.form.get('mode'), 'payment');
      assert.equal(call.form.get('line_items[0][price_data][unit_amount]'), '650');
      assert.equal(call.form.get('line_items[0][price_data][currency]'), 'usd');
      assert.equal(call.form.get('line_items[0][quantity]'), '1');
      assert.equal(call.form.get('metadata[topupId]'), topUp.id);
      assert.equal(call.form.get('payment_intent_data[metadata][topupId]'), topUp.id);
      assert.equal(call.form.get('success_url'), `${h.server.url}/topup/${topUp.id}`);
      assert.equal((await h.balances(fan.id)).wallet, 0);
    });

    it('credits a verified checkout.session.completed once; the same event again moves nothing', async () => {
      const { fan, topUp } = await started();
      const transfers = await h.transferCount();
      const event = checkoutCompleted(topUp);
      const first = await deliver(h, event);
      assert.equal(first.status, 200);
      assert.deepEqual(await first.json(), { received: true, duplicate: false, ignored: false });
      assert.equal(await h.transferCount(), transfers + 1);
      assert.equal((await h.balances(fan.id)).wallet, 500);
      const after = await readTopUp(h, fan, topUp.id);
      assert.equal(after.status, 'succeeded');
      assert.match(after.transferId ?? '', /^txn_/);

      const again = await deliver(h, event);
      assert.equal(again.status, 200);
      assert.deepEqual(await again.json(), { received: true, duplicate: true, ignored: false });
      // Another event about the same payment (Stripe sends payment_intent.succeeded too).
      const other = await deliver(h, checkoutCompleted(topUp));
      assert.equal(other.status, 200);
      assert.equal(((await other.json()) as { ignored: boolean }).ignored, true);
      assert.equal(await h.transferCount(), transfers + 1);
      assert.equal((await h.balances(fan.id)).wallet, 500);
    });

    it('credits once when the same event is delivered 10 times at once', async () => {
      const { fan, topUp } = await started();
      const transfers = await h.transferCount();
      const event = checkoutCompleted(topUp);
      const answers = await Promise.all(Array.from({ length: 10 }, () => deliver(h, event)));
      const bodies = (await Promise.all(answers.map((answer) => answer.json()))) as { duplicate: boolean }[];
      assert.deepEqual(
        answers.map((answer) => answer.status),
        Array.from({ length: 10 }, () => 200),
      );
      assert.equal(bodies.filter((body) => !body.duplicate).length, 1);
      assert.equal(await h.transferCount(), transfers + 1);
      assert.equal((await h.balances(fan.id)).wallet, 500);
    });

    it('refuses a forged signature or a tampered body: 400 webhook_signature_invalid, nothing moves', async () => {
      const { fan, topUp } = await started();
      const transfers = await h.transferCount();
      await h.refused(await deliver(h, checkoutCompleted(topUp), { secret: 'whsec_forged' }), 400, 'webhook_signature_invalid');
      await h.refused(await deliver(h, checkoutCompleted(topUp), { tamper: true }), 400, 'webhook_signature_invalid');
      const unsigned = await fetch(`${h.server.url}/v1/webhooks/stripe`, {
        method: 'POST',
        body: JSON.stringify(checkoutCompleted(topUp)),
      });
      await h.refused(unsigned, 400, 'webhook_signature_invalid');
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await readTopUp(h, fan, topUp.id)).status, 'requires_payment');
    });

    it('refuses a stale (10 minutes old) or a future timestamp, saying which', async () => {
      const { fan, topUp } = await started();
      const transfers = await h.transferCount();
      const now = Math.floor(Date.now() / 1000);
      const stale = await h.refused(await deliver(h, checkoutCompleted(topUp), { timestamp: now - 600 }), 400, 'webhook_signature_invalid');
      assert.match(stale.message, /ago/);
      const future = await h.refused(
        await deliver(h, checkoutCompleted(topUp), { timestamp: now + 600 }),
        400,
        'webhook_signature_invalid',
      );
      assert.match(future.message, /future/);
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await h.balances(fan.id)).wallet, 0);
    });

    it('refuses a payment that does not match the quote: 400, nothing credited', async () => {
      const { fan, topUp } = await started();
      const transfers = await h.transferCount();
      await h.refused(await deliver(h, checkoutCompleted(topUp, { amount: 1 })), 400, 'payment_amount_mismatch');
      await h.refused(await deliver(h, checkoutCompleted(topUp, { currency: 'EUR' })), 400, 'payment_amount_mismatch');
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await readTopUp(h, fan, topUp.id)).status, 'requires_payment');
    });

    it('ignores an event about an unknown top-up with 200', async () => {
      const { topUp } = await started();
      const transfers = await h.transferCount();
      const unknown = { ...topUp, id: 'tu_01JD3S9ZK4W8Q2V7C5XH6RTB0M' } as TopUp;
      const res = await deliver(h, checkoutCompleted(unknown));
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { received: true, duplicate: false, ignored: true });
      assert.equal(await h.transferCount(), transfers);
    });

    it('marks a failed payment failed, and still credits a later successful attempt once', async () => {
      const { fan, topUp } = await started();
      const transfers = await h.transferCount();
      assert.equal((await deliver(h, paymentFailed(topUp))).status, 200);
      const failed = await readTopUp(h, fan, topUp.id);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.failureCode, 'card_declined');
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await deliver(h, checkoutCompleted(topUp))).status, 200);
      assert.equal((await readTopUp(h, fan, topUp.id)).status, 'succeeded');
      assert.equal((await h.balances(fan.id)).wallet, 500);
      // A late failure report of the earlier attempt changes nothing.
      assert.equal((await deliver(h, paymentFailed(topUp))).status, 200);
      assert.equal((await readTopUp(h, fan, topUp.id)).status, 'succeeded');
      assert.equal(await h.transferCount(), transfers + 1);
    });

    it('credits a paid Stripe top-up even when the webhook comes after the quote’s 10 minutes', async () => {
      const { fan, topUp } = await started();
      // Expired now, but not when the top-up started (in the same millisecond, say): a moment later.
      const expiresAt = topUp.createdAt + 1;
      await h.t.db.run('UPDATE quotes SET expires_at = ? WHERE id = ?', [expiresAt, topUp.quoteId]);
      while (Date.now() <= expiresAt) await new Promise((resolve) => setTimeout(resolve, 2));
      assert.equal((await deliver(h, checkoutCompleted(topUp))).status, 200);
      assert.equal((await readTopUp(h, fan, topUp.id)).status, 'succeeded');
      assert.equal((await h.balances(fan.id)).wallet, 500);
    });
  });
}
