import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TopUp } from '@diamonds/protocol';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness } from '../testing/money.js';
import { newQuote, readTopUp, seedRates, signedIn, startTopUp, topUpCount } from './testing.js';

/** Makes a quote lapse without waiting 10 minutes. */
async function expireQuote(h: MoneyHarness, quoteId: string): Promise<void> {
  await h.t.db.run('UPDATE quotes SET expires_at = ? WHERE id = ?', [Date.now() - 1, quoteId]);
}

async function quoteUsed(h: MoneyHarness, quoteId: string): Promise<boolean> {
  const [row] = await h.t.db.query<{ used_at: number | null }>('SELECT used_at FROM quotes WHERE id = ?', [quoteId]);
  return row?.used_at !== null && row?.used_at !== undefined;
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`top-ups with the test provider on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    before(async () => {
      h = await startMoneyHarness(kind);
      await seedRates(h);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    it('starts a top-up that requires payment on the hosted page, and credits nothing yet', async () => {
      const fan = await h.fan();
      const quote = await newQuote(h, 500, 'USD');
      const transfers = await h.transferCount();
      const topUp = await startTopUp(h, fan, quote.id);
      assert.equal(topUp.object, 'topup');
      assert.match(topUp.id, /^tu_/);
      assert.equal(topUp.status, 'requires_payment');
      assert.equal(topUp.provider, 'test');
      assert.equal(topUp.diamonds, 500);
      assert.deepEqual(topUp.price, { amountMinor: 650, currency: 'USD' });
      assert.equal(topUp.quoteId, quote.id);
      assert.equal(topUp.paymentUrl, `${h.server.url}/topup/${topUp.id}`);
      assert.equal(topUp.failureCode, null);
      assert.equal(topUp.transferId, null);
      assert.deepEqual(await readTopUp(h, fan, topUp.id), topUp);
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await h.balances(fan.id)).wallet, 0);
    });

    it('replays a retry with the same Idempotency-Key and refuses the key for another quote', async () => {
      const fan = await h.fan();
      const quote = await newQuote(h);
      const first = await h.call('/topups', { body: { quoteId: quote.id }, fan, idempotencyKey: 'topup-key-1' });
      assert.equal(first.status, 201);
      const again = await h.call('/topups', { body: { quoteId: quote.id }, fan, idempotencyKey: 'topup-key-1' });
      assert.equal(again.status, 201);
      assert.equal(again.headers.get('Idempotent-Replayed'), 'true');
      assert.deepEqual(await again.json(), await first.json());
      const other = await newQuote(h);
      await h.refused(
        await h.call('/topups', { body: { quoteId: other.id }, fan, idempotencyKey: 'topup-key-1' }),
        422,
        'idempotency_key_reused',
      );
    });

    it('pays with 4242 4242 4242 4242: credits the wallet once, redeems the quote, and says so', async () => {
      const fan = await h.fan();
      const topUp = await startTopUp(h, fan);
      const browser = await signedIn(h, fan);
      const form = await browser.get(`/topup/${topUp.id}`);
      const body = await form.text();
      assert.equal(form.status, 200, body);
      assert.match(body, /<h1>Buy 500 Diamonds<\/h1>/);
      assert.match(body, /US\$6\.50/);
      assert.match(body, /<code>4242 4242 4242 4242<\/code> pays/);
      assert.match(body, /<label for="card-number">Card number<\/label>/);
      assert.match(form.headers.get('Content-Security-Policy') ?? '', /frame-ancestors 'none'/);
      assert.equal(form.headers.get('X-Frame-Options'), 'DENY');

      const transfers = await h.transferCount();
      const paid = await browser.post(`/topup/${topUp.id}`, { cardNumber: '4242 4242 4242 4242' });
      const done = await paid.text();
      assert.equal(paid.status, 200, done);
      assert.match(done, /Payment complete/);
      assert.match(done, /\/hosted\/close\.js/);
      assert.equal(await h.transferCount(), transfers + 1);
      assert.equal((await h.balances(fan.id)).wallet, 500);

      const after = await readTopUp(h, fan, topUp.id);
      assert.equal(after.status, 'succeeded');
      assert.equal(after.paymentUrl, null);
      assert.match(after.transferId ?? '', /^txn_/);
      const [transfer] = await h.t.db.query<{ code: string; metadata: string }>('SELECT code, metadata FROM transfers WHERE id = ?', [
        after.transferId,
      ]);
      assert.equal(transfer?.code, 'purchase');
      assert.equal(JSON.parse(transfer?.metadata ?? '{}').description, 'Top-up: 500 Diamonds (US$6.50)');
      assert.ok(await quoteUsed(h, topUp.quoteId));

      // Submitting the form again (a double click, the back button) charges nothing more.
      const twice = await browser.post(`/topup/${topUp.id}`, { cardNumber: '4242424242424242' });
      assert.equal(twice.status, 200);
      assert.match(await twice.text(), /Payment complete/);
      assert.equal(await h.transferCount(), transfers + 1);
      assert.equal((await h.balances(fan.id)).wallet, 500);

      // The quote paid once: a new top-up cannot name it.
      await h.refused(await h.call('/topups', { body: { quoteId: topUp.quoteId }, fan }), 409, 'quote_used');
    });

    it('credits once when the card form is sent 10 times at once', async () => {
      const fan = await h.fan();
      const topUp = await startTopUp(h, fan);
      const browser = await signedIn(h, fan);
      const transfers = await h.transferCount();
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => browser.post(`/topup/${topUp.id}`, { cardNumber: '4242 4242 4242 4242' })),
      );
      for (const answer of answers) {
        assert.equal(answer.status, 200);
        assert.match(await answer.text(), /Payment complete/);
      }
      assert.equal(await h.transferCount(), transfers + 1);
      assert.equal((await h.balances(fan.id)).wallet, 500);
    });

    it('declines 4000 0000 0000 0002: card_declined, the top-up failed, nothing credited', async () => {
      const fan = await h.fan();
      const topUp = await startTopUp(h, fan);
      const browser = await signedIn(h, fan);
      const transfers = await h.transferCount();
      const res = await browser.post(`/topup/${topUp.id}`, { cardNumber: '4000 0000 0000 0002' });
      const body = await res.text();
      assert.equal(res.status, 402, body);
      assert.match(body, /Your card was declined/);
      const after = await readTopUp(h, fan, topUp.id);
      assert.equal(after.status, 'failed');
      assert.equal(after.failureCode, 'card_declined');
      assert.equal(after.transferId, null);
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await h.balances(fan.id)).wallet, 0);
      assert.equal(await quoteUsed(h, topUp.quoteId), false);
      // A failed top-up stays failed: a good card afterwards charges nothing.
      const retry = await browser.post(`/topup/${topUp.id}`, { cardNumber: '4242 4242 4242 4242' });
      assert.match(await retry.text(), /Payment failed/);
      assert.equal(await h.transferCount(), transfers);
    });

    it('asks 4000 0000 0000 3220 for an extra step; Complete credits it', async () => {
      const fan = await h.fan();
      const topUp = await startTopUp(h, fan);
      const browser = await signedIn(h, fan);
      const transfers = await h.transferCount();
      const res = await browser.post(`/topup/${topUp.id}`, { cardNumber: '4000000000003220' });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('Location'), `/topup/${topUp.id}`);
      const step = await browser.get(`/topup/${topUp.id}`);
      assert.match(await step.text(), /<h1>Authenticate this payment<\/h1>/);
      assert.equal((await readTopUp(h, fan, topUp.id)).status, 'requires_action');
      assert.equal(await h.transferCount(), transfers);

      const done = await browser.post(`/topup/${topUp.id}/authenticate`, { decision: 'complete' });
      assert.equal(done.status, 200);
      assert.match(await done.text(), /Payment complete/);
      assert.equal((await readTopUp(h, fan, topUp.id)).status, 'succeeded');
      assert.equal(await h.transferCount(), transfers + 1);
      assert.equal((await h.balances(fan.id)).wallet, 500);
    });

    it('asks 3220 for an extra step; Fail credits nothing', async () => {
      const fan = await h.fan();
      const topUp = await startTopUp(h, fan);
      const browser = await signedIn(h, fan);
      const transfers = await h.transferCount();
      assert.equal((await browser.post(`/topup/${topUp.id}`, { cardNumber: '4000 0000 0000 3220' })).status, 303);
      const failed = await browser.post(`/topup/${topUp.id}/authenticate`, { decision: 'fail' });
      assert.equal(failed.status, 402);
      assert.match(await failed.text(), /not authenticated/);
      const after = await readTopUp(h, fan, topUp.id);
      assert.equal(after.status, 'failed');
      assert.equal(after.failureCode, 'authentication_failed');
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await h.balances(fan.id)).wallet, 0);
    });

    it('refuses any other card number as invalid_card and changes nothing', async () => {
      const fan = await h.fan();
      const topUp = await startTopUp(h, fan);
      const browser = await signedIn(h, fan);
      const transfers = await h.transferCount();
      for (const cardNumber of ['4111 1111 1111 1111', '4242', '']) {
        const res = await browser.post(`/topup/${topUp.id}`, { cardNumber });
        const body = await res.text();
        assert.equal(res.status, 400, body);
        assert.match(body, /role="alert"/);
        assert.match(body, /aria-invalid="true"/);
      }
      assert.equal((await readTopUp(h, fan, topUp.id)).status, 'requires_payment');
      assert.equal(await h.transferCount(), transfers);
    });

    it('lets only the fan who started the top-up see or pay it', async () => {
      const owner = await h.fan();
      const other = await h.fan();
      const topUp = await startTopUp(h, owner);
      const browser = await signedIn(h, other);
      const transfers = await h.transferCount();
      const seen = await browser.get(`/topup/${topUp.id}`);
      assert.equal(seen.status, 403);
      const paid = await browser.post(`/topup/${topUp.id}`, { cardNumber: '4242 4242 4242 4242' });
      assert.equal(paid.status, 403);
      assert.match(await paid.text(), /Not your top-up/);
      await h.refused(await h.call(`/topups/${topUp.id}`, { fan: other }), 404, 'payment_not_found');
      assert.equal((await readTopUp(h, owner, topUp.id)).status, 'requires_payment');
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await h.balances(other.id)).wallet, 0);
    });

    it('sends a signed-out visitor to sign in first, then back', async () => {
      const fan = await h.fan();
      const topUp = await startTopUp(h, fan);
      const res = await fetch(`${h.server.url}/topup/${topUp.id}`, { redirect: 'manual' });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('Location'), `/signin?next=${encodeURIComponent(`/topup/${topUp.id}`)}`);
    });

    it('refuses a forged card form (wrong CSRF token, other origin) and moves nothing', async () => {
      const fan = await h.fan();
      const topUp = await startTopUp(h, fan);
      const browser = await signedIn(h, fan);
      const transfers = await h.transferCount();
      assert.equal((await browser.post(`/topup/${topUp.id}`, { csrf: 'x'.repeat(32), cardNumber: '4242424242424242' })).status, 403);
      assert.equal(await h.transferCount(), transfers);
    });

    it('refuses an expired quote: quote_expired, nothing created or credited', async () => {
      const fan = await h.fan();
      const quote = await newQuote(h);
      await expireQuote(h, quote.id);
      const topUps = await topUpCount(h);
      await h.refused(await h.call('/topups', { body: { quoteId: quote.id }, fan }), 409, 'quote_expired');
      assert.equal(await topUpCount(h), topUps);
    });

    it('fails a top-up whose quote lapsed before payment: quote_expired, nothing credited', async () => {
      const fan = await h.fan();
      const topUp = await startTopUp(h, fan);
      await expireQuote(h, topUp.quoteId);
      const shown = await readTopUp(h, fan, topUp.id);
      assert.equal(shown.status, 'failed');
      assert.equal(shown.failureCode, 'quote_expired');
      const browser = await signedIn(h, fan);
      const transfers = await h.transferCount();
      const res = await browser.post(`/topup/${topUp.id}`, { cardNumber: '4242 4242 4242 4242' });
      assert.match(await res.text(), /price we held for you expired/);
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await h.balances(fan.id)).wallet, 0);
      assert.equal(await quoteUsed(h, topUp.quoteId), false);
    });

    it('refuses a quote that another top-up or purchase used: quote_used', async () => {
      const fan = await h.fan();
      const quote = await newQuote(h);
      await startTopUp(h, fan, quote.id);
      await h.refused(await h.call('/topups', { body: { quoteId: quote.id }, fan }), 409, 'quote_used');
      const redeemed = await newQuote(h);
      await h.t.db.run('UPDATE quotes SET used_at = ? WHERE id = ?', [Date.now(), redeemed.id]);
      await h.refused(await h.call('/topups', { body: { quoteId: redeemed.id }, fan }), 409, 'quote_used');
    });

    it('lets one of 10 concurrent top-ups of one quote through; the others get quote_used', async () => {
      const fan = await h.fan();
      const quote = await newQuote(h);
      const topUps = await topUpCount(h);
      const answers = await Promise.all(Array.from({ length: 10 }, () => h.call('/topups', { body: { quoteId: quote.id }, fan })));
      const statuses = answers.map((answer) => answer.status).sort();
      assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
      for (const answer of answers.filter((a) => a.status === 409)) await h.refused(answer, 409, 'quote_used');
      assert.equal(await topUpCount(h), topUps + 1);
    });

    it('refuses bad input with a stable code, and creates nothing', async () => {
      const fan = await h.fan();
      const quote = await newQuote(h);
      const topUps = await topUpCount(h);
      const transfers = await h.transferCount();
      for (const body of [{}, { quoteId: 5 }, { quoteId: 'qt_nope' }, { quoteId: quote.id, diamonds: 10 }, { quoteId: [quote.id] }]) {
        await h.refused(await h.call('/topups', { body, fan }), 400, 'invalid_request');
      }
      await h.refused(await h.call('/topups', { body: { quoteId: 'qt_01JD3S9ZK4W8Q2V7C5XH6RTB0M' }, fan }), 404, 'quote_not_found');
      await h.refused(await h.call('/topups', { body: { quoteId: quote.id }, fan, idempotencyKey: null }), 400, 'idempotency_key_required');
      await h.refused(await h.call('/topups', { body: { quoteId: quote.id } }), 401, 'authentication_required');
      await h.refused(await h.call('/topups', { body: { quoteId: quote.id }, key: 'secret' }), 403, 'permission_denied');
      await h.refused(await h.call('/topups', { body: { quoteId: quote.id }, fan, key: 'secret' }), 403, 'permission_denied');
      await h.refused(await h.call('/topups/tu_01JD3S9ZK4W8Q2V7C5XH6RTB0M', { fan }), 404, 'payment_not_found');
      await h.refused(await h.call('/topups/tu_00000000000000000000000000', { fan }), 404, 'payment_not_found');
      assert.equal(await topUpCount(h), topUps);
      assert.equal(await h.transferCount(), transfers);
    });

    it('refuses Stripe webhooks when Stripe is not configured', async () => {
      const res = await fetch(`${h.server.url}/v1/webhooks/stripe`, { method: 'POST', body: '{}' });
      await h.refused(res, 409, 'payment_provider_disabled');
    });

    it('documents its routes in the OpenAPI document', async () => {
      const res = await h.call('/openapi.json');
      const document = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
      assert.ok(document.paths['/v1/topups']?.post);
      assert.ok(document.paths['/v1/topups/{id}']?.get);
      assert.ok(document.paths['/v1/webhooks/stripe']?.post);
    });
  });

  // The same skip as the suite above: loudly, only outside CI, when PostgreSQL is unreachable.
  describe(`top-up rate limits on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    before(async () => {
      h = await startMoneyHarness(kind);
      await seedRates(h);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    it('allows 10 top-ups per fan an hour, then 429 rate_limited with Retry-After', async () => {
      const fan = await h.fan();
      for (let i = 0; i < 10; i++) await startTopUp(h, fan);
      const topUps = await topUpCount(h);
      const res = await h.call('/topups', { body: { quoteId: (await newQuote(h)).id }, fan });
      const retryAfter = Number(res.headers.get('Retry-After'));
      await h.refused(res, 429, 'rate_limited');
      assert.ok(retryAfter >= 1 && retryAfter <= 3600, `Retry-After ${retryAfter}`);
      assert.equal(await topUpCount(h), topUps);
    });

    it('stops a fan after 5 failed card attempts an hour, on the page and the API', async () => {
      const fan = await h.fan();
      const [first, second, third]: TopUp[] = [await startTopUp(h, fan), await startTopUp(h, fan), await startTopUp(h, fan)];
      assert.ok(first && second && third);
      const browser = await signedIn(h, fan);
      for (let i = 0; i < 4; i++) assert.equal((await browser.post(`/topup/${first.id}`, { cardNumber: '1234' })).status, 400);
      assert.equal((await browser.post(`/topup/${second.id}`, { cardNumber: '4000 0000 0000 0002' })).status, 402);
      const transfers = await h.transferCount();
      const limited = await browser.post(`/topup/${third.id}`, { cardNumber: '4242 4242 4242 4242' });
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get('Retry-After')) >= 1);
      assert.match(await limited.text(), /Too many failed card attempts/);
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await readTopUp(h, fan, third.id)).status, 'requires_payment');
      await h.refused(await h.call('/topups', { body: { quoteId: (await newQuote(h)).id }, fan }), 429, 'rate_limited');
    });

    it('allows 30 top-ups per IP an hour, whichever fans start them', async () => {
      let refused: Response | undefined;
      for (let fans = 0; fans < 10 && !refused; fans++) {
        const fan = await h.fan();
        for (let i = 0; i < 5 && !refused; i++) {
          const res = await h.call('/topups', { body: { quoteId: (await newQuote(h)).id }, fan });
          if (res.status !== 201) refused = res;
        }
      }
      assert.ok(refused, 'the IP limit was reached');
      await h.refused(refused, 429, 'rate_limited');
      const [bucket] = await h.t.db.query<{ hits: number }>("SELECT hits FROM rate_limits WHERE bucket LIKE 'topup:start:ip:%'");
      assert.equal(Number(bucket?.hits), 31);
    });
  });
}
