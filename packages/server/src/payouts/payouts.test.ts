import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DiamondsEvent, type Payout } from '@diamonds/protocol';
import { DAY_MS } from '../earnings/aggregates.js';
import { earningsSummary } from '../earnings/summary.js';
import { isApiError } from '../errors.js';
import { sendOk } from '../gifts/testing.js';
import { markEmailVerified } from '../identity/email-verification.js';
import { seedDefaultRates } from '../money/rates.js';
import { makeOrder, makeProduct } from '../orders/testing.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import {
  automaticPayoutsOperation,
  isoWeek,
  listPayouts,
  payoutMinimumDiamonds,
  PAYOUT_QUOTE_TTL_MS,
  quotePayoutOperation,
  requestPayoutOperation,
  retryPayoutOperation,
  setPayoutMethodOperation,
  settlePayoutOperation,
  updatePayoutMethodOperation,
} from './payouts.js';
import type { PayoutProvider, TestPayoutBehaviour } from './provider.js';
import { retryDelayMs } from './service.js';
import { payoutsCommand } from './commands.js';

const HOLD_MS = 7 * DAY_MS;
const MINIMUM = 100;

/** A provider that cannot be reached until `reachable` is set: the outcome of a submission is unknown. */
const flaky = { reachable: false, submissions: 0 };
const flakyProvider: PayoutProvider = {
  name: 'stripe',
  submit(payout) {
    flaky.submissions++;
    if (!flaky.reachable) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9'));
    return Promise.resolve({ kind: 'accepted', providerRef: `po_stripe_${payout.payoutId.slice(3)}` });
  },
};

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`payouts on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let offset = 0;
    const now = () => Date.now() + offset;
    let fans: TestFan[];
    const rules = () => ({ now: now(), holdMs: HOLD_MS, minimumDiamonds: MINIMUM });

    before(async () => {
      h = await startMoneyHarness(kind, {
        clock: now,
        earnings: { holdMs: HOLD_MS, releaseIntervalMs: 0 },
        payouts: { tickMs: 0, minimumDiamonds: MINIMUM, providers: { stripe: flakyProvider } },
      });
      await seedDefaultRates(h.t.db);
      fans = await Promise.all([0, 1, 2].map((i) => h.fan({ allowance: 1_000_000, balance: 100_000, name: `Fan ${i}` })));
    });
    beforeEach(() => {
      offset = 0;
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    /** A creator listed on the site with `gifts` gifts of 200 Diamonds received (160 net), `verified` or not, with a method if `method`. */
    async function creatorWithEarnings(
      options: { gifts?: number; verified?: boolean; method?: TestPayoutBehaviour | 'stripe' | null } = {},
    ) {
      const creator = await h.newCreator('Payee', { listed: true });
      for (let i = 0; i < (options.gifts ?? 3); i++) {
        await sendOk(h, fans[i % fans.length]!, { creatorId: creator.id, giftId: 'cake', quantity: 2 }, 201);
      }
      if (options.verified !== false) await markEmailVerified(h.t.db, creator.id);
      const method = options.method === undefined ? 'pays' : options.method;
      if (method) {
        await h.server.writer.run(setPayoutMethodOperation, {
          creatorId: creator.id,
          provider: method === 'stripe' ? 'stripe' : 'test',
          testBehaviour: method === 'stripe' ? null : method,
          accountRef: method === 'stripe' ? `acct_${creator.id.slice(4, 20)}` : null,
          status: method === 'needs_verification' ? 'pending' : 'ready',
          currency: 'USD',
          now: now(),
        });
      }
      return creator;
    }

    const available = async (creatorId: string) => (await earningsSummary(h.t.db, creatorId, now(), HOLD_MS)).availableDiamonds;
    const quote = (creatorId: string, diamonds: number) => h.server.writer.run(quotePayoutOperation, { creatorId, diamonds, ...rules() });
    const request = (creatorId: string, quoteId: string) => h.server.writer.run(requestPayoutOperation, { creatorId, quoteId, ...rules() });
    const refusal = async (work: Promise<unknown>, code: string) => {
      await assert.rejects(work, (error: unknown) => {
        assert.ok(isApiError(error), String(error));
        assert.equal(error.code, code, error.message);
        return true;
      });
    };
    const accountBalance = async (accountKind: string) => {
      const [row] = await h.t.db.query<{ balance: number | string }>('SELECT balance FROM accounts WHERE kind = ? AND owner_id IS NULL', [
        accountKind,
      ]);
      return Number(row?.balance ?? 0);
    };
    const eventsOf = async (creatorId: string) =>
      (
        await h.t.db.query<{
          id: string;
          type: string;
          site_id: string | null;
          creator_id: string;
          fan_id: string | null;
          created_at: number;
          data: string;
        }>(
          `SELECT id, type, site_id, creator_id, fan_id, created_at, data FROM events WHERE creator_id = ? AND type LIKE 'payout.%' ORDER BY id`,
          [creatorId],
        )
      ).map((row) =>
        DiamondsEvent.parse({
          object: 'event',
          id: row.id,
          type: row.type,
          siteId: row.site_id,
          creatorId: row.creator_id,
          fanId: row.fan_id,
          createdAt: Number(row.created_at),
          data: JSON.parse(row.data) as unknown,
        }),
      );

    it('refuses what a creator may not cash out, with the code that says why, and moves nothing', async () => {
      const unverified = await creatorWithEarnings({ verified: false });
      const noMethod = await creatorWithEarnings({ method: null });
      const unverifiedAccount = await creatorWithEarnings({ method: 'needs_verification' });
      const creator = await creatorWithEarnings();
      const other = await creatorWithEarnings();
      const before = await h.transferCount();
      offset = HOLD_MS + 1000;
      await refusal(quote(unverified.id, 200), 'email_unverified');
      await refusal(quote(noMethod.id, 200), 'payout_method_not_ready');
      await refusal(quote(unverifiedAccount.id, 200), 'payout_method_not_ready');
      // Still within the hold: everything is pending.
      offset = 0;
      await refusal(quote(creator.id, 200), 'insufficient_available_earnings');
      offset = HOLD_MS + 1000;
      const free = await available(creator.id);
      assert.ok(free >= 200, `available ${free}`);
      await refusal(quote(creator.id, MINIMUM - 1), 'payout_below_minimum');
      await refusal(quote(creator.id, free + 1), 'insufficient_available_earnings');

      // A quote held past its 10 minutes; another creator's quote; a made-up one.
      const stale = await quote(creator.id, 200);
      offset += PAYOUT_QUOTE_TTL_MS;
      await refusal(request(creator.id, stale.id), 'quote_expired');
      offset = HOLD_MS + 1000;
      const theirs = await quote(other.id, 200);
      await refusal(request(creator.id, theirs.id), 'quote_not_found');
      await refusal(request(creator.id, 'pq_nonsense'), 'quote_not_found');

      assert.equal(await h.transferCount(), before, 'no refusal moved anything');
      assert.equal((await listPayouts(h.t.db, { creatorId: creator.id })).length, 0);

      // One in flight: the next one waits for it (the processor is not run here).
      const first = await request(creator.id, (await quote(creator.id, 200)).id);
      assert.equal(first.status, 'in_transit');
      await refusal(quote(creator.id, 100), 'payout_in_progress');
      await refusal(
        h.server.writer.run(setPayoutMethodOperation, {
          creatorId: creator.id,
          provider: 'test',
          testBehaviour: 'fails',
          accountRef: null,
          status: 'ready',
          currency: 'USD',
          now: now(),
        }),
        'payout_in_progress',
      );
      await h.server.payouts.runOnce();
    });

    it('pays: earnings → in transit → paid out, at the locked rate, with payout.created and payout.paid', async () => {
      const creator = await creatorWithEarnings();
      offset = HOLD_MS + 1000;
      const earningsBefore = (await h.balances(creator.id)).earnings;
      const paidOutBefore = await accountBalance('payouts');
      const locked = await quote(creator.id, 300);
      // At the demo rate a creator gets US$8.00 per 1,000 Diamonds (payoutOf: floor).
      assert.deepEqual(locked.amount, { amountMinor: 240, currency: 'USD' });
      const payout = await request(creator.id, locked.id);
      assert.equal(payout.status, 'in_transit');
      assert.equal((await h.balances(creator.id)).earnings, earningsBefore - 300);
      assert.equal(await accountBalance('payouts_in_transit'), 300);

      // A double click, a retry after a lost answer: the same payout, nothing more moved.
      const count = await h.transferCount();
      const again = await request(creator.id, locked.id);
      assert.equal(again.id, payout.id);
      assert.equal(await h.transferCount(), count);

      await h.server.payouts.runOnce();
      const [paid] = await listPayouts(h.t.db, { creatorId: creator.id });
      assert.equal(paid?.payout.status, 'paid');
      assert.equal(paid?.providerRef, `test_${payout.id}`);
      assert.ok(paid?.payout.settledAt);
      assert.equal(await accountBalance('payouts_in_transit'), 0);
      assert.equal((await accountBalance('payouts')) - paidOutBefore, 300);
      assert.equal((await h.balances(creator.id)).earnings, earningsBefore - 300);
      const events = await eventsOf(creator.id);
      assert.deepEqual(
        events.map((event) => [event.type, event.siteId, (event.data as { status: string }).status]),
        [
          ['payout.created', null, 'in_transit'],
          ['payout.paid', null, 'paid'],
        ],
      );
      // Settling again (a provider's event delivered twice) changes nothing.
      const moved = await h.transferCount();
      await h.server.writer.run(settlePayoutOperation, { payoutId: payout.id, now: now(), outcome: 'paid' });
      assert.equal(await h.transferCount(), moved);
    });

    it('a payout the bank returns fails with the reason, and its Diamonds are available again at once', async () => {
      const creator = await creatorWithEarnings({ method: 'fails' });
      offset = HOLD_MS + 1000;
      const free = await available(creator.id);
      const payout = await request(creator.id, (await quote(creator.id, free)).id);
      assert.equal(await available(creator.id), 0);
      await h.server.payouts.runOnce();
      const [failed] = await listPayouts(h.t.db, { creatorId: creator.id });
      assert.equal(failed?.payout.status, 'failed');
      assert.equal(failed?.payout.failure?.code, 'account_closed');
      assert.match(failed?.payout.failure?.message ?? '', /returned/);
      // Back, and available without a new hold.
      assert.equal(await available(creator.id), free);
      assert.equal(await accountBalance('payouts_in_transit'), 0);
      assert.deepEqual(
        (await eventsOf(creator.id)).map((event) => event.type),
        ['payout.created', 'payout.failed'],
      );
      // A failed payout cannot be retried or canceled; the creator asks again.
      await refusal(h.server.writer.run(retryPayoutOperation, { payoutId: payout.id, now: now() }), 'payout_not_retryable');
      await refusal(
        h.server.writer.run(settlePayoutOperation, { payoutId: payout.id, now: now(), outcome: 'canceled', code: 'x', message: 'x' }),
        'payout_not_cancelable',
      );
    });

    it('a provider that cannot be reached: the payout stays in transit, is retried, can be canceled before it is accepted', async () => {
      const creator = await creatorWithEarnings({ method: 'stripe' });
      offset = HOLD_MS + 1000;
      const free = await available(creator.id);
      flaky.reachable = false;
      const payout = await request(creator.id, (await quote(creator.id, free)).id);
      const tries = flaky.submissions;
      await h.server.payouts.runOnce();
      assert.equal(flaky.submissions, tries + 1);
      let [record] = await listPayouts(h.t.db, { creatorId: creator.id });
      assert.equal(record?.payout.status, 'in_transit');
      assert.match(record?.lastError ?? '', /ECONNREFUSED/);
      // Not due again before its backoff…
      await h.server.payouts.runOnce();
      assert.equal(flaky.submissions, tries + 1);
      // …unless the operator retries it now.
      await h.server.writer.run(retryPayoutOperation, { payoutId: payout.id, now: now() });
      await h.server.payouts.runOnce();
      assert.equal(flaky.submissions, tries + 2);
      assert.equal(retryDelayMs(1), 10_000);
      assert.equal(retryDelayMs(30), 60 * 60 * 1000);

      // The operator cancels it: the Diamonds go back.
      const canceled = await h.server.writer.run(settlePayoutOperation, {
        payoutId: payout.id,
        now: now(),
        outcome: 'canceled',
        code: 'canceled_by_operator',
        message: 'Canceled by the operator.',
      });
      assert.equal(canceled.status, 'canceled');
      assert.equal(await available(creator.id), free);

      // Reachable again: a new payout is accepted and waits for the provider's event.
      flaky.reachable = true;
      const second = await request(creator.id, (await quote(creator.id, free)).id);
      await h.server.payouts.runOnce();
      [record] = await listPayouts(h.t.db, { creatorId: creator.id });
      assert.equal(record?.payout.id, second.id);
      assert.equal(record?.payout.status, 'in_transit');
      assert.ok(record?.submittedAt);
      await refusal(
        h.server.writer.run(settlePayoutOperation, { payoutId: second.id, now: now(), outcome: 'canceled', code: 'x', message: 'x' }),
        'payout_not_cancelable',
      );
      // Paid, then returned by the bank days later, as banks do: the Diamonds come back from paid out.
      const paidOut = await accountBalance('payouts');
      await h.server.writer.run(settlePayoutOperation, { payoutId: second.id, now: now(), outcome: 'paid' });
      assert.equal((await accountBalance('payouts')) - paidOut, free);
      await h.server.writer.run(settlePayoutOperation, {
        payoutId: second.id,
        now: now(),
        outcome: 'failed',
        code: 'account_closed',
        message: 'The bank account was closed.',
      });
      assert.equal(await accountBalance('payouts'), paidOut);
      assert.equal(await available(creator.id), free);
    });

    it('the operator’s CLI: payouts list, retry and cancel, with refusals that exit 2', async () => {
      const creator = await creatorWithEarnings({ method: 'stripe' });
      offset = HOLD_MS + 1000;
      flaky.reachable = false;
      const payout = await request(creator.id, (await quote(creator.id, 200)).id);
      await h.server.payouts.runOnce();
      const lines: string[] = [];
      const out = { log: (text: string) => lines.push(text), error: (text: string) => lines.push(`ERR ${text}`) };
      assert.equal(await payoutsCommand(h.t.db, 'payouts list', ['--creator', creator.id], out), 0);
      assert.match(
        lines.at(-1) ?? '',
        new RegExp(`${payout.id} .* 200 Diamonds .* in_transit  last error \\(attempt 1\\): connect ECONNREFUSED`),
      );
      assert.equal(await payoutsCommand(h.t.db, 'payouts list', ['--status', 'lost'], out), 2);
      assert.match(lines.at(-1) ?? '', /^ERR payouts list: --status is one of/);
      assert.equal(await payoutsCommand(h.t.db, 'payouts retry', [payout.id], out), 0);
      const tries = flaky.submissions;
      await h.server.payouts.runOnce();
      assert.equal(flaky.submissions, tries + 1);
      assert.equal(await payoutsCommand(h.t.db, 'payouts retry', [], out), 2);
      assert.equal(await payoutsCommand(h.t.db, 'payouts cancel', [payout.id, '--reason', 'wrong bank'], out), 0);
      assert.match(lines.at(-1) ?? '', /canceled; 200 Diamonds are back/);
      const [canceled] = await listPayouts(h.t.db, { creatorId: creator.id });
      assert.equal(canceled?.payout.status, 'canceled');
      assert.equal(canceled?.payout.failure?.message, 'Canceled by the operator: wrong bank');
      // Canceling again is a no-op (the operator's retry of a command whose answer was lost).
      const moved = await h.transferCount();
      assert.equal(await payoutsCommand(h.t.db, 'payouts cancel', [payout.id], out), 0);
      assert.equal(await h.transferCount(), moved);
      await refusal(payoutsCommand(h.t.db, 'payouts retry', ['po_unknown'], out), 'payout_not_found');
    });

    it('20 concurrent requests make one payout (with 20 quotes, or one quote sent 20 times)', async () => {
      const creator = await creatorWithEarnings({ gifts: 6 });
      offset = HOLD_MS + 1000;
      const quotes = await Promise.all(Array.from({ length: 20 }, () => quote(creator.id, 150)));
      const before = await h.transferCount();
      const results = await Promise.allSettled(quotes.map((q) => request(creator.id, q.id)));
      const made = results.filter((r): r is PromiseFulfilledResult<Payout> => r.status === 'fulfilled');
      assert.equal(made.length, 1, JSON.stringify(results.map((r) => (r.status === 'rejected' ? String(r.reason) : r.value.id))));
      for (const result of results) {
        if (result.status === 'rejected') assert.ok(isApiError(result.reason, 'payout_in_progress'), String(result.reason));
      }
      assert.equal(await h.transferCount(), before + 1);
      await h.server.payouts.runOnce();

      const one = await quote(creator.id, 150);
      const same = await Promise.all(Array.from({ length: 20 }, () => request(creator.id, one.id)));
      assert.equal(new Set(same.map((p) => p.id)).size, 1);
      assert.equal(await h.transferCount(), before + 3, 'two payouts made, one paid: three transfers');
      await h.server.payouts.runOnce();
      assert.equal((await listPayouts(h.t.db, { creatorId: creator.id, status: 'paid' })).length, 2);
    });

    it('payouts racing with incoming gifts and a refund: never more than available, the ledger stays whole', async () => {
      const creator = h.creator;
      await markEmailVerified(h.t.db, creator.id);
      await h.server.writer.run(setPayoutMethodOperation, {
        creatorId: creator.id,
        provider: 'test',
        testBehaviour: 'pays',
        accountRef: null,
        status: 'ready',
        currency: 'USD',
        now: now(),
      });
      const product = await makeProduct(h, { name: 'Poster', priceDiamonds: 500 });
      const orders = await Promise.all([0, 1].map(() => makeOrder(h, { lines: [{ productId: product.id, quantity: 1 }] })));
      for (const [i, order] of orders.entries()) {
        const paid = await h.call(`/orders/${order.id}/pay`, { fan: fans[i]!, body: {} });
        assert.equal(paid.status, 200, await paid.text());
      }
      for (let i = 0; i < 4; i++) await sendOk(h, fans[i % 3]!, { creatorId: creator.id, giftId: 'rose', quantity: 10 }, 201);
      offset = HOLD_MS + 1000;
      const free = await available(creator.id);
      const locked = await quote(creator.id, free);
      const work = await Promise.allSettled([
        request(creator.id, locked.id),
        ...Array.from({ length: 10 }, (_, i) => sendOk(h, fans[i % 3]!, { creatorId: creator.id, giftId: 'rose', quantity: 1 }, 201)),
        h.call(`/orders/${orders[0]!.id}/refund`, { key: 'secret', body: {} }).then(async (res) => {
          // Either before the payout (and the payout then fits what is left) or after it with what is left.
          assert.ok([200, 402].includes(res.status), `${res.status} ${await res.text()}`);
          return res.status;
        }),
      ]);
      for (const result of work)
        assert.equal(
          result.status === 'rejected' ? isApiError(result.reason, 'insufficient_available_earnings') || String(result.reason) : true,
          true,
        );
      await h.server.payouts.runOnce();
      const summary = await earningsSummary(h.t.db, creator.id, now(), HOLD_MS);
      assert.ok(summary.totalDiamonds >= 0 && summary.availableDiamonds >= 0, JSON.stringify(summary));
      await h.verifyClean();
    });

    it('weekly automatic payouts: one per creator and week, whatever the runs', async () => {
      const creator = await creatorWithEarnings();
      await h.server.writer.run(updatePayoutMethodOperation, { creatorId: creator.id, automatic: true, now: now() });
      // Nothing available yet: nothing made.
      const none = await h.server.writer.run(automaticPayoutsOperation, rules());
      assert.deepEqual(none.created, []);
      assert.equal((await listPayouts(h.t.db, { creatorId: creator.id })).length, 0);
      offset = HOLD_MS + 1000;
      const free = await available(creator.id);
      const runs = await Promise.all([0, 1, 2].map(() => h.server.writer.run(automaticPayoutsOperation, rules())));
      const mine = await listPayouts(h.t.db, { creatorId: creator.id });
      assert.equal(mine.length, 1, JSON.stringify(runs));
      assert.equal(mine[0]?.payout.automatic, true);
      assert.equal(mine[0]?.payout.diamonds, free);
      await h.server.payouts.runOnce();
      // Another run the same week makes nothing more; the next week pays what came since.
      await sendOk(h, fans[0]!, { creatorId: creator.id, giftId: 'cake', quantity: 2 }, 201);
      await h.server.writer.run(automaticPayoutsOperation, rules());
      assert.equal((await listPayouts(h.t.db, { creatorId: creator.id })).length, 1);
      offset = HOLD_MS + 1000 + 7 * DAY_MS;
      await h.server.writer.run(automaticPayoutsOperation, rules());
      const both = await listPayouts(h.t.db, { creatorId: creator.id });
      assert.equal(both.length, 2);
      assert.equal(both[0]?.payout.diamonds, 160);
      await h.server.payouts.runOnce();
    });
  });
}

describe('payout settings', () => {
  it('the minimum: 1,000 Diamonds by default, a whole number from DIAMONDS_PAYOUT_MINIMUM, anything else refused', () => {
    assert.equal(payoutMinimumDiamonds({}), 1000);
    assert.equal(payoutMinimumDiamonds({ DIAMONDS_PAYOUT_MINIMUM: '2500' }), 2500);
    for (const bad of ['0', '-5', '1.5', 'ten', '1e3']) {
      assert.throws(() => payoutMinimumDiamonds({ DIAMONDS_PAYOUT_MINIMUM: bad }), /whole number/);
    }
  });

  it('ISO weeks: the week belongs to the year of its Thursday', () => {
    assert.equal(isoWeek(Date.UTC(2026, 11, 4)), '2026-W49');
    assert.equal(isoWeek(Date.UTC(2021, 0, 3)), '2020-W53');
    assert.equal(isoWeek(Date.UTC(2024, 11, 30)), '2025-W01');
  });
});
