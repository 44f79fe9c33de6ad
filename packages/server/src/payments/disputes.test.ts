import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Stripe from 'stripe';
import type { TopUp } from '@diamonds/protocol';
import { DAY_MS, type EarningsAggregator } from '../earnings/aggregates.js';
import { earningsSummary } from '../earnings/summary.js';
import { isApiError } from '../errors.js';
import { latestPosition } from '../events/outbox.js';
import { verifyLedger } from '../ledger/verify.js';
import { feesBalance, postGift, sendOk } from '../gifts/testing.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { decideConfirmationOperation } from '../money/spends.js';
import { reverseTopUpOperation, type ReversalResult } from './disputes.js';
import { newQuote, readTopUp, seedRates, signedIn, startTopUp } from './testing.js';
import { payWithTestCardOperation } from './topups.js';
import { makeOrder, makeProduct } from '../orders/testing.js';

const HOLD_MS = 7 * DAY_MS;
const WEBHOOK_SECRET = 'whsec_test_disputes';

/** Waits until the aggregator has folded every event committed so far (as earnings.test.ts does). */
async function caughtUp(h: MoneyHarness, aggregator: EarningsAggregator): Promise<void> {
  const target =
    h.t.db.kind === 'postgres'
      ? await h.t.db
          .query<{ tx_id: number; seq: number }>('SELECT tx_id, seq FROM events ORDER BY tx_id DESC, seq DESC LIMIT 1')
          .then(([row]) => ({ txId: Number(row?.tx_id ?? -1), seq: Number(row?.seq ?? 0) }))
      : await latestPosition(h.t.db);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    aggregator.caughtUp(target),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('the aggregates did not catch up')), 15_000))),
  ]);
  clearTimeout(timer);
}

/** What a fan owes: minus their debt account's balance. */
async function owed(h: MoneyHarness, userId: string): Promise<number> {
  const [row] = await h.t.db.query<{ balance: number | string }>(`SELECT balance FROM accounts WHERE owner_id = ? AND kind = 'debt'`, [
    userId,
  ]);
  return 0 - Number(row?.balance ?? 0);
}

/** A test-provider top-up of `diamonds`, paid with 4242: credited. */
async function paidTopUp(h: MoneyHarness, fan: TestFan, diamonds = 500): Promise<TopUp> {
  const topUp = await startTopUp(h, fan, (await newQuote(h, diamonds)).id);
  const result = await h.server.writer.run(payWithTestCardOperation, { id: topUp.id, outcome: 'succeeds' });
  assert.equal(result, 'succeeded');
  return topUp;
}

function reverse(h: MoneyHarness, topUpId: string, options: { reason?: 'dispute' | 'refund'; now?: number } = {}): Promise<ReversalResult> {
  return h.server.writer.run(reverseTopUpOperation, {
    topUpId,
    reason: options.reason ?? 'dispute',
    source: 'operator',
    holdMs: HOLD_MS,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
}

/** The transfer's creation time (ms): what the hold is measured from. */
async function createdAt(h: MoneyHarness, transferId: string): Promise<number> {
  const [row] = await h.t.db.query<{ created_at: number | string }>('SELECT created_at FROM transfers WHERE id = ?', [transferId]);
  return Number(row?.created_at);
}

/** One creator's aggregate totals, all days and sources together. */
async function aggregateTotals(h: MoneyHarness, creatorId: string): Promise<{ count: number; gross: number; fee: number; net: number }> {
  const [row] = await h.t.db.query<{ count: number | null; gross: number | null; fee: number | null; net: number | null }>(
    'SELECT sum(count) AS count, sum(gross) AS gross, sum(fee) AS fee, sum(net) AS net FROM earnings_daily WHERE creator_id = ?',
    [creatorId],
  );
  return { count: Number(row?.count ?? 0), gross: Number(row?.gross ?? 0), fee: Number(row?.fee ?? 0), net: Number(row?.net ?? 0) };
}

async function eventsOf(h: MoneyHarness, type: string): Promise<Array<{ creator_id: string | null; fan_id: string | null; data: string }>> {
  return h.t.db.query('SELECT creator_id, fan_id, data FROM events WHERE type = ? ORDER BY seq', [type]);
}

// The shipped command, built by `npm run build`.
const bin = fileURLToPath(new URL('../../bin/diamonds.js', import.meta.url));

/**
 * Runs the CLI, asynchronously: the platform under test runs in this process, and a CLI that
 * waits for one of its batches (the money-batch lock on PostgreSQL) must not find its event loop
 * blocked, as `spawnSync` would.
 */
function diamonds(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`disputes and refunds of top-ups on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let aggregator: EarningsAggregator;
    before(async () => {
      h = await startMoneyHarness(kind, { earnings: { holdMs: HOLD_MS, releaseIntervalMs: 0 } });
      aggregator = h.server.earnings.aggregator;
      await seedRates(h);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    it('takes an unspent top-up back from the wallet alone: no debt, the fan may still spend', async () => {
      const fan = await h.fan({ allowance: 10_000, balance: 30 });
      const topUp = await paidTopUp(h, fan);
      assert.equal((await h.balances(fan.id)).wallet, 530);
      const result = await reverse(h, topUp.id);
      assert.equal(result.amountDiamonds, 500);
      assert.equal(result.fromWalletDiamonds, 500);
      assert.equal(result.shortfallDiamonds, 0);
      assert.equal(result.debtDiamonds, 0);
      assert.deepEqual(result.spends, []);
      assert.equal((await h.balances(fan.id)).wallet, 30);
      assert.equal(await owed(h, fan.id), 0);
      await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'rose', quantity: 2 }, 201);
      await h.verifyClean();
    });

    it('after spending: wallet emptied, the rest owed, pending earnings of the newest spends reversed pro rata, released ones kept', async () => {
      const fan = await h.fan({ allowance: 100_000 });
      const ada = h.creator.id;
      const grace = await h.newCreator('Grace', { listed: true });
      const adaBefore = (await h.balances(ada)).earnings;
      const fees = await feesBalance(h);
      const topUp = await paidTopUp(h, fan, 500);
      // Oldest first: 300 to Ada (released by the time of the dispute), 100 to Grace, 50 to Ada.
      const first = await sendOk(h, fan, { creatorId: ada, giftId: 'rose', quantity: 60 }, 201);
      await sleep(5);
      const second = await sendOk(h, fan, { creatorId: grace.id, giftId: 'rose', quantity: 20 }, 201);
      await sleep(5);
      const third = await sendOk(h, fan, { creatorId: ada, giftId: 'rose', quantity: 10 }, 201);
      assert.equal((await h.balances(fan.id)).wallet, 50);
      // The dispute comes exactly when the first gift passed the hold: it is released, the others pending.
      const now = (await createdAt(h, first.transferId!)) + HOLD_MS;
      assert.ok((await createdAt(h, second.transferId!)) > now - HOLD_MS);
      const before = await earningsSummary(h.t.db, ada, now, HOLD_MS);
      assert.equal(before.pendingDiamonds, 40);

      const result = await reverse(h, topUp.id, { now });
      assert.equal(result.fromWalletDiamonds, 50);
      assert.equal(result.shortfallDiamonds, 450);
      assert.equal(result.reversedDiamonds, 150, 'the 50 and the 100 were pending; the 300 was released');
      assert.equal(result.debtDiamonds, 300);
      assert.deepEqual(
        result.spends.map((s) => [s.spendTransferId, s.coveredDiamonds, s.reversedDiamonds]),
        [
          [third.transferId, 50, 50],
          [second.transferId, 100, 100],
          [first.transferId, 300, 0],
        ],
      );
      assert.deepEqual(await h.balances(fan.id), { wallet: 0, held: 0, earnings: 0 });
      assert.equal(await owed(h, fan.id), 300);
      // Each reversed spend gave back its creator's share and the fee in the spend's proportions (80% / 20%).
      assert.equal((await h.balances(ada)).earnings, adaBefore + 240);
      assert.equal((await h.balances(grace.id)).earnings, 0);
      assert.equal(await feesBalance(h), fees + 60);

      // Pending lowered, available untouched (the platform bears the released 300's loss).
      const adaAfter = await earningsSummary(h.t.db, ada, now, HOLD_MS);
      assert.equal(adaAfter.pendingDiamonds, 0);
      assert.equal(adaAfter.availableDiamonds, before.availableDiamonds);
      const graceAfter = await earningsSummary(h.t.db, grace.id, now, HOLD_MS);
      assert.deepEqual([graceAfter.pendingDiamonds, graceAfter.availableDiamonds], [0, 0]);

      // The dashboard's aggregates agree with the ledger.
      await caughtUp(h, aggregator);
      const graceTotals = await aggregateTotals(h, grace.id);
      assert.deepEqual(graceTotals, { count: 0, gross: 0, fee: 0, net: 0 });
      const [graceSupporter] = await h.t.db.query<{ count: number; gross: number; net: number }>(
        'SELECT count, gross, net FROM earnings_supporters WHERE creator_id = ? AND fan_id = ?',
        [grace.id, fan.id],
      );
      assert.deepEqual([Number(graceSupporter?.count), Number(graceSupporter?.gross), Number(graceSupporter?.net)], [0, 0, 0]);
      const adaTotals = await aggregateTotals(h, ada);
      assert.equal(adaTotals.net, (await h.balances(ada)).earnings, 'Ada’s aggregates sum to her earnings account');

      const [reversed] = (await eventsOf(h, 'topup.reversed')).filter((e) => e.fan_id === fan.id);
      assert.ok(reversed);
      assert.deepEqual((JSON.parse(reversed?.data ?? '{}') as { debtDiamonds: number; fromWalletDiamonds: number }).debtDiamonds, 300);
      const earnings = (await eventsOf(h, 'earnings.reversed'))
        .filter((e) => e.fan_id === fan.id)
        .map((e) => [e.creator_id, (JSON.parse(e.data) as { netDiamonds: number }).netDiamonds]);
      assert.deepEqual(earnings, [
        [ada, 40],
        [grace.id, 80],
      ]);

      // In debt: no spend, no approval; the refusal moves nothing.
      const transfers = await h.transferCount();
      const refused = await postGift(h, fan, { creatorId: ada, giftId: 'heart' });
      const error = await h.refused(refused, 402, 'wallet_in_debt');
      assert.match(error.message, /owes 300 Diamonds.*Top up/);
      assert.equal(await h.transferCount(), transfers);
      // The platform's wallet page says so.
      const page = await (await signedIn(h, fan)).get('/wallet');
      assert.equal(page.status, 200);
      assert.match(await page.text(), /You owe 300 Diamonds after a card dispute/);

      // A later top-up repays the debt first; the rest reaches the wallet, and spending works again.
      const repay = await paidTopUp(h, fan, 500);
      assert.equal((await readTopUp(h, fan, repay.id)).status, 'succeeded');
      assert.equal(await owed(h, fan.id), 0);
      assert.equal((await h.balances(fan.id)).wallet, 200);
      await sendOk(h, fan, { creatorId: ada, giftId: 'rose' }, 201);
      await h.verifyClean();
    });

    it('a shop refunds an order a dispute already reversed in part: only what is left goes back, nothing twice', async () => {
      const fan = await h.fan({ allowance: 100_000 });
      const topUp = await paidTopUp(h, fan, 500);
      const poster = await makeProduct(h, { name: 'Poster', priceDiamonds: 400 });
      const order = await makeOrder(h, { lines: [{ productId: poster.id, quantity: 1 }] });
      const paid = await h.call(`/orders/${order.id}/pay`, { fan, body: {} });
      assert.equal(paid.status, 200, await paid.clone().text());
      const creatorBefore = (await h.balances(h.creator.id)).earnings;
      const feesBefore = await feesBalance(h);
      // 100 left in the wallet, 400 spent on the order (320 to the shop's owner, 80 of fee), still pending.
      const result = await reverse(h, topUp.id);
      assert.equal(result.fromWalletDiamonds, 100);
      assert.equal(result.reversedDiamonds, 400);
      assert.equal((await h.balances(h.creator.id)).earnings, creatorBefore - 320);
      // The whole order was reversed: the shop's refund has nothing left to give back.
      await h.refused(await h.call(`/orders/${order.id}/refund`, { key: 'secret', body: {} }), 409, 'order_already_refunded');
      assert.equal((await h.balances(h.creator.id)).earnings, creatorBefore - 320);
      assert.equal(await feesBalance(h), feesBefore - 80);
      assert.equal((await h.balances(fan.id)).wallet, 0);

      // In part: 300 Diamonds from before, a 500 top-up, a 400 order, then a 200 gift: 200 left.
      // The dispute takes the 200 and its 300 shortfall covers the gift (200, newest first) and
      // 100 of the order; the shop's refund returns the other 300 of the order.
      const second = await h.fan({ allowance: 100_000, balance: 300 });
      const top2 = await paidTopUp(h, second, 500);
      const order2 = await makeOrder(h, { lines: [{ productId: poster.id, quantity: 1 }] });
      assert.equal((await h.call(`/orders/${order2.id}/pay`, { fan: second, body: {} })).status, 200);
      await sendOk(h, second, { creatorId: h.creator.id, giftId: 'cake', quantity: 2 }, 201);
      const earningsBefore = (await h.balances(h.creator.id)).earnings;
      const result2 = await reverse(h, top2.id);
      assert.equal(result2.shortfallDiamonds, 300);
      const afterDispute = (await h.balances(h.creator.id)).earnings;
      const refund = await h.call(`/orders/${order2.id}/refund`, { key: 'secret', body: {} });
      assert.equal(refund.status, 200, await refund.clone().text());
      const afterRefund = await h.balances(h.creator.id);
      assert.equal((await h.balances(second.id)).wallet, 300, 'the part of the order the dispute did not take');
      // Net of the order: 320; the dispute took its covered part back; the refund the rest, once.
      assert.equal(earningsBefore - afterRefund.earnings, 320 + 160, 'the order and the gift, each taken back once');
      assert.ok(afterDispute > afterRefund.earnings);
      await h.verifyClean();
    });

    it('a top-up smaller than the debt repays part of it: still in debt, nothing in the wallet', async () => {
      const fan = await h.fan({ allowance: 100_000 });
      const topUp = await paidTopUp(h, fan, 500);
      await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'rose', quantity: 100 }, 201);
      // Long after the hold: nothing is reversed, the whole 500 is owed.
      const result = await reverse(h, topUp.id, { now: Date.now() + 2 * HOLD_MS });
      assert.equal(result.debtDiamonds, 500);
      await paidTopUp(h, fan, 100);
      assert.equal(await owed(h, fan.id), 400);
      assert.equal((await h.balances(fan.id)).wallet, 0);
      await h.refused(await postGift(h, fan, { creatorId: h.creator.id, giftId: 'heart' }), 402, 'wallet_in_debt');
      await h.verifyClean();
    });

    it('the dispute test card 4000 0000 0000 0259 on the hosted page: paid, then disputed at once', async () => {
      const fan = await h.fan({ allowance: 1_000, balance: 20 });
      const topUp = await startTopUp(h, fan);
      const browser = await signedIn(h, fan);
      const res = await browser.post(`/topup/${topUp.id}`, { cardNumber: '4000 0000 0000 0259' });
      assert.ok(res.status < 500, `the card page answered ${res.status}`);
      assert.equal((await readTopUp(h, fan, topUp.id)).status, 'succeeded');
      assert.equal((await h.balances(fan.id)).wallet, 20);
      const [row] = await h.t.db.query<{ reason: string; source: string; amount: number | string }>(
        'SELECT reason, source, amount FROM topup_reversals WHERE topup_id = ?',
        [topUp.id],
      );
      assert.deepEqual([row?.reason, row?.source, Number(row?.amount)], ['dispute', 'test', 500]);
      await h.verifyClean();
    });

    it('refuses to approve a held spend while in debt; declining it still works', async () => {
      const fan = await h.fan({ allowance: 0, balance: 100 });
      const topUp = await paidTopUp(h, fan, 500);
      const held = await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'rose', quantity: 20 }, 202);
      const spent = await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'star', quantity: 10 }, 202);
      await h.server.writer.run(decideConfirmationOperation, { id: spent.confirmation!.id, userId: fan.id, approve: true });
      // 600 bought, 500 spent, 100 held: nothing available.
      assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 100, earnings: 0 });
      // Long after the hold (nothing reversed): the 500 are owed.
      const result = await reverse(h, topUp.id, { now: Date.now() + 2 * HOLD_MS });
      assert.deepEqual([result.fromWalletDiamonds, result.debtDiamonds], [0, 500]);
      const transfers = await h.transferCount();
      await assert.rejects(
        h.server.writer.run(decideConfirmationOperation, { id: held.confirmation!.id, userId: fan.id, approve: true }),
        (error: unknown) => isApiError(error, 'wallet_in_debt'),
      );
      assert.equal(await h.transferCount(), transfers);
      const declined = await h.server.writer.run(decideConfirmationOperation, {
        id: held.confirmation!.id,
        userId: fan.id,
        approve: false,
      });
      assert.equal(declined.status, 'declined');
      assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 0, earnings: 0 });
      await h.verifyClean();
    });

    it('refuses bad input with a stable code, nothing moved: unknown, uncredited, already reversed (dispute twice, refund after)', async () => {
      const fan = await h.fan({ allowance: 1_000 });
      const unpaid = await startTopUp(h, fan);
      const paid = await paidTopUp(h, fan);
      await reverse(h, paid.id, { reason: 'refund' });
      const transfers = await h.transferCount();
      const wallet = await h.balances(fan.id);
      const cases: Array<[string, 'dispute' | 'refund', string]> = [
        ['tu_0000000000000000000000000000', 'dispute', 'payment_not_found'],
        ['not an id', 'refund', 'payment_not_found'],
        [unpaid.id, 'dispute', 'topup_not_credited'],
        [paid.id, 'dispute', 'topup_already_reversed'],
        [paid.id, 'refund', 'topup_already_reversed'],
      ];
      for (const [id, reason, code] of cases) {
        await assert.rejects(reverse(h, id, { reason }), (error: unknown) => isApiError(error, code as never), `${id} ${reason}`);
      }
      assert.equal(await h.transferCount(), transfers);
      assert.deepEqual(await h.balances(fan.id), wallet);
      const [row] = await h.t.db.query<{ n: number }>('SELECT count(*) AS n FROM topup_reversals WHERE topup_id = ?', [paid.id]);
      assert.equal(Number(row?.n), 1);
    });

    it('a dispute racing with the fan’s spends: each gift lands before it or is refused; debt and ledger consistent', async () => {
      const fan = await h.fan({ allowance: 100_000 });
      const topUp = await paidTopUp(h, fan, 500);
      const gifts = Array.from({ length: 16 }, () => postGift(h, fan, { creatorId: h.creator.id, giftId: 'star' }));
      // The dispute starts once the first gift landed, while the others are in flight.
      const dispute = (async () => {
        await Promise.race(gifts);
        // As if long after the hold: what was spent stays owed, so later gifts meet the debt.
        return reverse(h, topUp.id, { now: Date.now() + 2 * HOLD_MS });
      })();
      const [responses, result] = await Promise.all([Promise.all(gifts), dispute]);
      let spent = 0;
      for (const res of responses) {
        const body = (await res.json()) as { amountDiamonds?: number; error?: { code: string } };
        if (res.status === 201) spent += body.amountDiamonds ?? 0;
        else {
          assert.equal(res.status, 402, JSON.stringify(body));
          assert.ok(['insufficient_funds', 'wallet_in_debt'].includes(body.error?.code ?? ''), JSON.stringify(body));
        }
      }
      assert.ok(spent <= 500);
      const wallet = (await h.balances(fan.id)).wallet;
      assert.equal(result.fromWalletDiamonds + result.shortfallDiamonds, 500);
      assert.equal(wallet, 500 - spent - result.fromWalletDiamonds);
      assert.equal(await owed(h, fan.id), result.shortfallDiamonds - result.reversedDiamonds);
      if (result.shortfallDiamonds > 0) assert.equal(wallet, 0);
      await h.verifyClean();
    });

    it('a dispute racing with a top-up that repays the debt: every Diamond accounted for, whichever commits first', async () => {
      const fan = await h.fan({ allowance: 100_000 });
      const first = await paidTopUp(h, fan, 500);
      const second = await paidTopUp(h, fan, 500);
      await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'star', quantity: 20 }, 201);
      // Put the fan in debt: the first top-up is disputed long after the spend was released.
      const later = Date.now() + 2 * HOLD_MS;
      const firstResult = await reverse(h, first.id, { now: later });
      assert.equal(firstResult.debtDiamonds, 500);
      // Now the second top-up's dispute races with a third top-up's credit.
      const third = await startTopUp(h, fan, (await newQuote(h, 500)).id);
      const [result, paid] = await Promise.all([
        reverse(h, second.id, { now: later }),
        h.server.writer.run(payWithTestCardOperation, { id: third.id, outcome: 'succeeds' }),
      ]);
      assert.equal(paid, 'succeeded');
      // Bought 1,500, spent 1,000, taken back 1,000: 500 left, as wallet less debt.
      const wallet = (await h.balances(fan.id)).wallet;
      const debt = await owed(h, fan.id);
      assert.equal(wallet - debt, 1500 - 1000 - 1000 + result.reversedDiamonds + firstResult.reversedDiamonds);
      assert.ok(wallet === 0 || debt === 0, `never both money in the wallet and debt (${wallet}, ${debt})`);
      await h.verifyClean();
    });

    it('the operator’s CLI disputes or refunds a test top-up once; a second time, or an unknown id, exits 2 moving nothing', async () => {
      const fan = await h.fan({ allowance: 100_000 });
      const topUp = await paidTopUp(h, fan, 500);
      await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'star', quantity: 4 }, 201);
      const env = { DIAMONDS_DATA_DIR: h.t.settings.dataDir, DATABASE_URL: h.t.settings.databaseUrl ?? '' };
      const first = await diamonds(['topups', 'dispute', topUp.id], env);
      assert.equal(first.code, 0, first.stderr);
      assert.match(
        first.stdout,
        /500 Diamonds of tu_\w+ taken back: 300 from the wallet, 200 already spent \(200 reversed from pending earnings\); the fan owes 0/,
      );
      assert.equal((await h.balances(fan.id)).wallet, 0);
      const transfers = await h.transferCount();
      const again = await diamonds(['topups', 'refund', topUp.id], env);
      assert.equal(again.code, 2);
      assert.match(again.stderr, /already taken back \(dispute\).*\(topup_already_reversed\)/);
      const unknown = await diamonds(['topups', 'dispute', 'tu_nope'], env);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /payment_not_found/);
      assert.equal((await diamonds(['topups', 'dispute'], env)).code, 2);
      assert.equal(await h.transferCount(), transfers);
      await h.verifyClean();
    });

    it('ledger verify flags a debt above zero (a fan owed Diamonds by the platform is a bug)', async () => {
      const fan = await h.fan();
      const ledger = h.server.ledger;
      const debt = await ledger.openAccount({ ownerId: fan.id, kind: 'debt' });
      const issuance = await ledger.platformAccount('issuance');
      const move = (amount: number, key: string) =>
        ledger.transfer({
          idempotencyKey: key,
          code: 'adjustment',
          postings: [
            { accountId: issuance.id, amountDiamonds: -amount },
            { accountId: debt.id, amountDiamonds: amount },
          ],
          metadata: { reason: 'test' },
        });
      await move(5, `debt-up-${fan.id}`);
      const report = await verifyLedger(h.t.db);
      assert.equal(report.ok, false);
      assert.ok(
        report.problems.some((line) => line.includes(`account ${debt.id} (debt)`)),
        report.problems.join('\n'),
      );
      await move(-5, `debt-down-${fan.id}`);
      await h.verifyClean();
    });

    it('20 concurrent reversals of one top-up move it once', async () => {
      const fan = await h.fan({ allowance: 100_000 });
      const topUp = await paidTopUp(h, fan, 500);
      const transfers = await h.transferCount();
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => reverse(h, topUp.id, { reason: i % 2 ? 'dispute' : 'refund' })),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(isApiError(r.reason, 'topup_already_reversed'), String(r.reason));
      }
      assert.equal(await h.transferCount(), transfers + 1);
      await h.verifyClean();
    });
  });

  // The same skip as above: only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  describe(`Stripe disputes and refunds on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let stripe: { url: string; close(): Promise<void> };
    let events = 0;
    before(async () => {
      stripe = await startStripeStandIn();
      h = await startMoneyHarness(kind, {
        paymentProvider: 'stripe',
        stripeSecretKey: 'sk_test_diamonds',
        stripeWebhookSecret: WEBHOOK_SECRET,
        stripeApiBase: stripe.url,
        earnings: { holdMs: HOLD_MS, releaseIntervalMs: 0 },
      });
      await seedRates(h);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
      await stripe?.close();
    });

    function event(type: string, object: Record<string, unknown>, id = `evt_test_${++events}_${Date.now()}`): Record<string, unknown> {
      return { id, object: 'event', type, created: Math.floor(Date.now() / 1000), api_version: Stripe.API_VERSION, data: { object } };
    }

    function deliver(payload: Record<string, unknown>): Promise<Response> {
      const body = JSON.stringify(payload);
      const header = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: WEBHOOK_SECRET });
      return fetch(`${h.server.url}/v1/webhooks/stripe`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Stripe-Signature': header },
        body,
      });
    }

    async function receipt(payload: Record<string, unknown>): Promise<{ duplicate: boolean; ignored: boolean }> {
      const res = await deliver(payload);
      const body = (await res.json()) as { duplicate: boolean; ignored: boolean };
      assert.equal(res.status, 200, JSON.stringify(body));
      return body;
    }

    /** A Stripe top-up paid through Checkout, with its PaymentIntent `pi`. */
    async function paid(fan: TestFan, pi: string): Promise<TopUp> {
      const topUp = await startTopUp(h, fan);
      const completed = event('checkout.session.completed', {
        id: `cs_test_${events}`,
        object: 'checkout.session',
        payment_status: 'paid',
        status: 'complete',
        amount_total: topUp.price.amountMinor,
        currency: topUp.price.currency.toLowerCase(),
        client_reference_id: topUp.id,
        metadata: { topupId: topUp.id },
        payment_intent: pi,
      });
      assert.deepEqual(await receipt(completed), { received: true, duplicate: false, ignored: false });
      return topUp;
    }

    it('charge.dispute.created takes a top-up back by its PaymentIntent; the same event again, or another dispute, moves nothing', async () => {
      const fan = await h.fan({ allowance: 10_000 });
      const topUp = await paid(fan, 'pi_test_dispute_1');
      await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'rose', quantity: 20 }, 201);
      const dispute = event('charge.dispute.created', {
        id: 'dp_test_1',
        object: 'dispute',
        amount: topUp.price.amountMinor,
        currency: 'usd',
        charge: 'ch_test_unknown_1',
        payment_intent: 'pi_test_dispute_1',
        reason: 'fraudulent',
        status: 'needs_response',
      });
      assert.deepEqual(await receipt(dispute), { received: true, duplicate: false, ignored: false });
      assert.equal((await h.balances(fan.id)).wallet, 0);
      assert.equal(await owed(h, fan.id), 0, 'the 100 spent were pending: their reversal covers the debt');
      const transfers = await h.transferCount();
      assert.deepEqual(await receipt(dispute), { received: true, duplicate: true, ignored: false });
      const again = event('charge.dispute.created', { ...((dispute.data as { object: object }).object as object), id: 'dp_test_2' });
      assert.deepEqual(await receipt(again), { received: true, duplicate: false, ignored: true });
      const refunded = event('charge.refunded', {
        id: 'ch_test_unknown_1',
        object: 'charge',
        amount: 650,
        amount_refunded: 650,
        refunded: true,
        payment_intent: 'pi_test_dispute_1',
        metadata: {},
      });
      assert.deepEqual(await receipt(refunded), { received: true, duplicate: false, ignored: true });
      assert.equal(await h.transferCount(), transfers);
    });

    it('charge.refunded in full takes a top-up back; partial refunds and unknown payments are ignored, nothing moved', async () => {
      const fan = await h.fan({ allowance: 10_000 });
      const topUp = await paid(fan, 'pi_test_refund_1');
      const transfers = await h.transferCount();
      const charge = (amountRefunded: number, pi: string, metadata: Record<string, string> = {}) =>
        event('charge.refunded', {
          id: `ch_test_${pi}`,
          object: 'charge',
          amount: topUp.price.amountMinor,
          amount_refunded: amountRefunded,
          refunded: amountRefunded === topUp.price.amountMinor,
          payment_intent: pi,
          metadata,
        });
      assert.deepEqual(await receipt(charge(100, 'pi_test_refund_1')), { received: true, duplicate: false, ignored: true });
      assert.deepEqual(await receipt(charge(topUp.price.amountMinor, 'pi_test_nobody')), {
        received: true,
        duplicate: false,
        ignored: true,
      });
      const unknownDispute = event('charge.dispute.created', { id: 'dp_x', object: 'dispute', charge: 'ch_nobody', payment_intent: null });
      assert.deepEqual(await receipt(unknownDispute), { received: true, duplicate: false, ignored: true });
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await h.balances(fan.id)).wallet, 500);
      // By the charge's metadata alone (no recorded PaymentIntent needed).
      assert.deepEqual(await receipt(charge(topUp.price.amountMinor, 'pi_test_other', { topupId: topUp.id })), {
        received: true,
        duplicate: false,
        ignored: false,
      });
      assert.equal((await h.balances(fan.id)).wallet, 0);
      assert.equal(await h.transferCount(), transfers + 1);
    });
  });
}

/** A local stand-in that answers `POST /v1/checkout/sessions` like the Stripe API does. */
async function startStripeStandIn(): Promise<{ url: string; close(): Promise<void> }> {
  let sessions = 0;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    req.on('end', () => {
      const form = new URLSearchParams(raw);
      res.setHeader('Content-Type', 'application/json');
      const id = `cs_test_standin_${++sessions}`;
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
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
