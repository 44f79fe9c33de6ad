import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Content } from '@diamonds/protocol';
import { latestPosition } from '../events/outbox.js';
import { localEvents } from '../events/bus.js';
import { signedInBrowser, sendOk } from '../gifts/testing.js';
import { decideConfirmationOperation } from '../money/spends.js';
import { makeOrder, makeProduct } from '../orders/testing.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { DAY_MS, EarningsAggregator, foldOperation } from './aggregates.js';
import { csvField, parseDateRange } from './csv.js';
import { releaseOperation } from './release.js';
import { earningsHoldMs, earningsSummary } from './summary.js';

const HOLD_MS = 7 * DAY_MS;

/**
 * Waits until `aggregator` has folded every event committed so far (at most 15 s). On
 * PostgreSQL the last event stored, not the last readable (`latestPosition`): a transaction
 * still running elsewhere on the server may keep the newest ones unreadable for a moment.
 */
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

interface Totals {
  count: number;
  gross: number;
  fee: number;
  net: number;
}

async function aggregateTotals(h: MoneyHarness, creatorId: string): Promise<Record<string, Totals>> {
  const rows = await h.t.db.query<{ source: string; count: number; gross: number; fee: number; net: number }>(
    'SELECT source, sum(count) AS count, sum(gross) AS gross, sum(fee) AS fee, sum(net) AS net FROM earnings_daily WHERE creator_id = ? GROUP BY source ORDER BY source',
    [creatorId],
  );
  return Object.fromEntries(
    rows.map((row) => [row.source, { count: Number(row.count), gross: Number(row.gross), fee: Number(row.fee), net: Number(row.net) }]),
  );
}

/**
 * The same totals recomputed from the ledger alone: the postings to the creator's earnings
 * account by code (refunds count against orders), and each transfer's gross.
 */
async function ledgerTotals(h: MoneyHarness, creatorId: string): Promise<Record<string, Totals>> {
  const rows = await h.t.db.query<{ code: string; amount: number; gross: number }>(
    `SELECT t.code, p.amount, t.amount AS gross FROM postings p JOIN accounts a ON a.id = p.account_id JOIN transfers t ON t.id = p.transfer_id
     WHERE a.owner_id = ? AND a.kind = 'earnings' AND p.pending = ?`,
    [creatorId, h.t.db.kind === 'postgres' ? false : 0],
  );
  const totals: Record<string, Totals> = {};
  for (const row of rows) {
    const source = row.code === 'refund' ? 'order' : row.code;
    const sign = Number(row.amount) < 0 ? -1 : 1;
    const t = (totals[source] ??= { count: 0, gross: 0, fee: 0, net: 0 });
    t.count += sign;
    t.gross += sign * Number(row.gross);
    t.net += Number(row.amount);
    t.fee += sign * Number(row.gross) - Number(row.amount);
  }
  return totals;
}

async function eventCount(h: MoneyHarness, type: string, creatorId: string): Promise<number> {
  const [row] = await h.t.db.query<{ n: number }>('SELECT count(*) AS n FROM events WHERE type = ? AND creator_id = ?', [type, creatorId]);
  return Number(row?.n ?? 0);
}

/** When the creator's latest earnings posting was made (the hold counts from it). */
async function lastCreditAt(h: MoneyHarness, creatorId: string): Promise<number> {
  const [row] = await h.t.db.query<{ at: number }>(
    `SELECT max(t.created_at) AS at FROM postings p JOIN accounts a ON a.id = p.account_id JOIN transfers t ON t.id = p.transfer_id
     WHERE a.owner_id = ? AND a.kind = 'earnings'`,
    [creatorId],
  );
  return Number(row?.at);
}

function sumCsv(csv: string): { lines: string[][]; net: number } {
  const lines = csv
    .trim()
    .split('\r\n')
    .slice(1)
    .map((line) => line.split(','));
  return { lines, net: lines.reduce((sum, cells) => sum + Number(cells.at(-1)), 0) };
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`earnings on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let fans: TestFan[];
    /** The aggregator running: the server's, until a test stops it and starts another. */
    let aggregator: EarningsAggregator;
    before(async () => {
      h = await startMoneyHarness(kind, { earnings: { holdMs: HOLD_MS, releaseIntervalMs: 0 } });
      aggregator = h.server.earnings.aggregator;
      fans = await Promise.all([0, 1, 2, 3].map((i) => h.fan({ allowance: 100_000, balance: 10_000, name: `Fan ${i}` })));
    });
    after(async () => {
      await aggregator?.close();
      await h?.verifyClean();
      await h?.close();
    });

    it('aggregates match the ledger after gifts (20 at once), an unlock, orders, a refund and held spends approved and declined', async () => {
      const creator = h.creator.id;
      const [a, b, c] = fans as [TestFan, TestFan, TestFan];
      // 20 concurrent gifts from three fans, one with a message to escape.
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          sendOk(
            h,
            [a, b, c][i % 3]!,
            {
              creatorId: creator,
              giftId: i % 2 ? 'rose' : 'heart',
              quantity: 1 + (i % 4),
              message: i === 0 ? '<b>Bravo</b> & "thanks"' : undefined,
            },
            201,
          ),
        ),
      );
      const content = (await (
        await h.call('/content', { key: 'secret', body: { title: 'Making of', teaser: 't', body: 'b', priceDiamonds: 123 } })
      ).json()) as Content;
      assert.equal((await h.call(`/content/${content.id}/unlock`, { fan: a, body: {} })).status, 201);
      const tee = await makeProduct(h, { name: 'Tee', priceDiamonds: 250 });
      const mug = await makeProduct(h, { name: 'Mug', priceDiamonds: 99 });
      const kept = await makeOrder(h, {
        lines: [
          { productId: tee.id, quantity: 2 },
          { productId: mug.id, quantity: 1 },
        ],
      });
      const refunded = await makeOrder(h, { lines: [{ productId: tee.id, quantity: 1 }] });
      assert.equal((await h.call(`/orders/${kept.id}/pay`, { fan: b, body: {} })).status, 200);
      assert.equal((await h.call(`/orders/${refunded.id}/pay`, { fan: c, body: {} })).status, 200);
      assert.equal((await h.call(`/orders/${refunded.id}/refund`, { key: 'secret', body: {} })).status, 200);
      // A fan with no allowance: each gift waits for them; one approved (counted), one declined (never counted).
      const stranger = await h.fan({ allowance: 0, balance: 1_000, name: 'Dee' });
      const approved = await sendOk(h, stranger, { creatorId: creator, giftId: 'rose', quantity: 2 }, 202);
      const declined = await sendOk(h, stranger, { creatorId: creator, giftId: 'rose', quantity: 3 }, 202);
      await h.server.writer.run(decideConfirmationOperation, { id: approved.confirmation!.id, userId: stranger.id, approve: true });
      await h.server.writer.run(decideConfirmationOperation, { id: declined.confirmation!.id, userId: stranger.id, approve: false });

      await caughtUp(h, aggregator);
      const aggregates = await aggregateTotals(h, creator);
      assert.deepEqual(aggregates, await ledgerTotals(h, creator));
      const net = Object.values(aggregates).reduce((sum, t) => sum + t.net, 0);
      assert.equal(net, (await h.balances(creator)).earnings, 'the aggregates sum to the earnings balance');
      assert.equal(aggregates.order?.count, 1, 'the refund took its order back');

      const supporters = await h.t.db.query<{ fan_id: string; count: number; gross: number }>(
        'SELECT fan_id, count, gross FROM earnings_supporters WHERE creator_id = ? ORDER BY fan_id',
        [creator],
      );
      assert.equal(supporters.find((s) => s.fan_id === c.id)?.count !== undefined, true);
      assert.equal(Number(supporters.find((s) => s.fan_id === stranger.id)?.gross), 10, 'only the approved held gift');
      const items = await h.t.db.query<{ kind: string; item_id: string; count: number; gross: number; net: number }>(
        'SELECT kind, item_id, count, gross, net FROM earnings_items WHERE creator_id = ? ORDER BY kind, item_id',
        [creator],
      );
      const tees = items.find((item) => item.item_id === tee.id);
      assert.deepEqual([Number(tees?.count), Number(tees?.gross)], [2, 500], 'two tees sold, one refunded');
      assert.deepEqual(
        [
          Number(items.find((item) => item.item_id === content.id)?.count),
          Number(items.find((item) => item.item_id === content.id)?.gross),
        ],
        [1, 123],
      );
      const orderNet = items.filter((item) => item.kind === 'product').reduce((sum, item) => sum + Number(item.net), 0);
      assert.equal(orderNet, aggregates.order?.net, 'the products share the orders’ net exactly');
      const [message] = await h.t.db.query<{ message: string }>('SELECT message FROM earnings_messages WHERE creator_id = ?', [creator]);
      assert.equal(message?.message, '<b>Bravo</b> & "thanks"');
    });

    it('applies a batch once: a fold whose cursor moved applies nothing, and aggregators started again (two at once) count nothing twice', async () => {
      const creator = h.creator.id;
      await caughtUp(h, aggregator);
      const [row] = await h.t.db.query<{ tx_id: number; seq: number }>(`SELECT tx_id, seq FROM earnings_cursor WHERE name = 'aggregates'`);
      const stored = { txId: Number(row?.tx_id), seq: Number(row?.seq) };
      assert.ok(stored.seq > 0, 'the cursor moved with the aggregates');
      // A second process folding the same events again finds the cursor moved.
      const replay = await h.server.writer.run(foldOperation, {
        from: { txId: -1, seq: 0 },
        to: stored,
        fold: {
          daily: [{ creatorId: creator, day: 1, source: 'gift', count: 1, gross: 1, fee: 0, net: 1 }],
          supporters: [],
          items: [],
          messages: [],
        },
      });
      assert.equal(replay.applied, false);
      assert.deepEqual(replay.cursor, stored);

      // The process's aggregator stops (as if it died); gifts go on; two fresh ones start from the stored cursor.
      await h.server.earnings.aggregator.close();
      await Promise.all(fans.slice(0, 3).map((fan) => sendOk(h, fan, { creatorId: creator, giftId: 'rose', quantity: 1 }, 201)));
      const one = new EarningsAggregator(h.t.db, h.server.writer, { wake: [localEvents], batchSize: 2 });
      const two = new EarningsAggregator(h.t.db, h.server.writer, { wake: [localEvents], batchSize: 2 });
      await Promise.all([one.start(), two.start()]);
      try {
        await Promise.all([caughtUp(h, one), caughtUp(h, two)]);
        assert.deepEqual(await aggregateTotals(h, creator), await ledgerTotals(h, creator));
      } finally {
        // The first goes on for the next tests, as the process's own did.
        aggregator = one;
        await two.close();
      }
    });

    it('pending turns available at the hold boundary; earnings.available is appended once', async () => {
      const creator = (await h.newCreator('Bo', { listed: true })).id;
      const fan = fans[3]!;
      await sendOk(h, fan, { creatorId: creator, giftId: 'rose', quantity: 10 }, 201); // 50 → 40 net
      const at = await lastCreditAt(h, creator);
      const before = await earningsSummary(h.t.db, creator, at + HOLD_MS - 1, HOLD_MS);
      assert.deepEqual([before.totalDiamonds, before.pendingDiamonds, before.availableDiamonds], [40, 40, 0]);
      const released = await earningsSummary(h.t.db, creator, at + HOLD_MS, HOLD_MS);
      assert.deepEqual([released.totalDiamonds, released.pendingDiamonds, released.availableDiamonds], [40, 0, 40]);

      assert.equal(await eventCount(h, 'earnings.available', creator), 0);
      await h.server.writer.run(releaseOperation, { now: at + HOLD_MS - 1, holdMs: HOLD_MS });
      assert.equal(await eventCount(h, 'earnings.available', creator), 0, 'not yet');
      await h.server.writer.run(releaseOperation, { now: at + HOLD_MS, holdMs: HOLD_MS });
      await h.server.writer.run(releaseOperation, { now: at + HOLD_MS, holdMs: HOLD_MS });
      await h.server.writer.run(releaseOperation, { now: at + HOLD_MS + DAY_MS, holdMs: HOLD_MS });
      assert.equal(await eventCount(h, 'earnings.available', creator), 1, 'once');
      const [event] = await h.t.db.query<{ data: string; site_id: string | null }>(
        `SELECT data, site_id FROM events WHERE type = 'earnings.available' AND creator_id = ?`,
        [creator],
      );
      assert.deepEqual(JSON.parse(event!.data), { amountDiamonds: 40, availableDiamonds: 40, releasedThrough: at });
      assert.equal(event!.site_id, null, 'private to the creator');
    });

    it('a refund within the hold lowers pending, never available', async () => {
      const creator = h.creator.id;
      const fan = fans[3]!;
      const order = await makeOrder(h, { amountDiamonds: 500, description: 'Print' });
      assert.equal((await h.call(`/orders/${order.id}/pay`, { fan, body: {} })).status, 200);
      const now = Date.now();
      const withOrder = await earningsSummary(h.t.db, creator, now, HOLD_MS);
      assert.equal((await h.call(`/orders/${order.id}/refund`, { key: 'secret', body: {} })).status, 200);
      const afterRefund = await earningsSummary(h.t.db, creator, now + 1, HOLD_MS);
      assert.equal(withOrder.pendingDiamonds - afterRefund.pendingDiamonds, 400);
      assert.equal(afterRefund.availableDiamonds, withOrder.availableDiamonds);
      assert.equal(afterRefund.pendingDiamonds + afterRefund.availableDiamonds, (await h.balances(creator)).earnings);
    });

    it('the CSV of a range sums exactly to the movement of the earnings account in it; bad ranges are invalid_date_range', async () => {
      const creator = h.creator.id;
      const browser = await signedInBrowser(h, { id: creator });
      const today = new Date().toISOString().slice(0, 10);
      const res = await browser.request(`/dashboard/earnings.csv?from=${today}&to=${today}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
      const csv = await res.text();
      assert.ok(csv.startsWith('date,transfer_id,type,description,gross_diamonds,fee_diamonds,net_diamonds\r\n'));
      const { lines, net } = sumCsv(csv);
      // Everything this suite moved happened today: the day's lines are the whole balance.
      assert.equal(net, (await h.balances(creator)).earnings);
      assert.ok(lines.some((cells) => cells[2] === 'refund' && Number(cells.at(-1)) < 0));
      // The description may hold commas (quoted): the three amounts are the last cells.
      for (const cells of lines)
        assert.equal(Number(cells.at(-3)) - Number(cells.at(-2)), Number(cells.at(-1)), 'gross − fee = net on every line');
      // A range before any of it: nothing.
      assert.equal(sumCsv(await (await browser.request('/dashboard/earnings.csv?from=2020-01-01&to=2020-01-31')).text()).lines.length, 0);

      const transfers = await h.transferCount();
      for (const query of [
        'from=2026-02-01&to=2026-01-01',
        'from=2025-01-01&to=2026-01-02',
        'from=2026-02-30&to=2026-03-01',
        'from=today&to=2026-01-01',
        'to=2026-01-01',
      ]) {
        const refused = await browser.request(`/dashboard/earnings.csv?${query}`);
        assert.equal(refused.status, 400, query);
        assert.match(await refused.text(), /range|YYYY-MM-DD/);
      }
      assert.throws(() => parseDateRange('2026-01-01', '2025-12-31'), { code: 'invalid_date_range' });
      assert.doesNotThrow(() => parseDateRange('2024-01-01', '2024-12-31'), 'a leap year is at most a year');
      assert.equal(await h.transferCount(), transfers, 'nothing moved');
    });

    it('/dashboard: the creator sees their earnings, escaped; a fan is refused; a visitor is sent to sign in; another creator sees none of it', async () => {
      await caughtUp(h, aggregator);
      const creator = await signedInBrowser(h, { id: h.creator.id });
      const body = await creator.page('/dashboard');
      assert.match(body, /Diamonds keeps 20% of what fans pay/);
      assert.match(body, /<svg\s+class="chart"[^>]*role="img"/);
      assert.match(body, /&lt;b&gt;Bravo&lt;\/b&gt; &amp; &quot;thanks&quot;/);
      assert.doesNotMatch(body, /<b>Bravo<\/b>/);
      assert.match(body, /Fan 0/);
      assert.match(body, /Making of/);
      assert.match(body, /Tee/);
      assert.match(await creator.page('/account/earnings'), /<h1>Earnings<\/h1>/);
      assert.match(await creator.page('/dashboard?days=90'), /last 90 days/);

      const fan = await signedInBrowser(h, { id: fans[0]!.id });
      assert.equal((await fan.request('/dashboard')).status, 403);
      assert.equal((await fan.request('/dashboard/earnings.csv?from=2026-01-01&to=2026-01-02')).status, 403);
      const visitor = await signedInBrowser(h, { id: fans[0]!.id });
      visitor.jar.clear();
      const redirect = await visitor.request('/dashboard');
      assert.equal(redirect.status, 303);
      assert.match(redirect.headers.get('location') ?? '', /^\/signin\?next=/);

      const other = await h.newCreator('Cy');
      const theirs = await (await signedInBrowser(h, { id: other.id })).page('/dashboard');
      assert.doesNotMatch(theirs, /Bravo|Fan 0|Making of|Tee/);
      const today = new Date().toISOString().slice(0, 10);
      const csv = await (await signedInBrowser(h, { id: other.id })).request(`/dashboard/earnings.csv?from=${today}&to=${today}`);
      assert.equal(sumCsv(await csv.text()).lines.length, 0);
    });
  });
}

describe('earnings settings and CSV fields', () => {
  it('the hold: 7 days by default, whole days from DIAMONDS_EARNINGS_HOLD_DAYS, anything else refused', () => {
    assert.equal(earningsHoldMs({}), 7 * DAY_MS);
    assert.equal(earningsHoldMs({ DIAMONDS_EARNINGS_HOLD_DAYS: '14' }), 14 * DAY_MS);
    assert.equal(earningsHoldMs({ DIAMONDS_EARNINGS_HOLD_DAYS: '0' }), 0);
    for (const bad of ['-1', '1.5', '7d', '181'])
      assert.throws(() => earningsHoldMs({ DIAMONDS_EARNINGS_HOLD_DAYS: bad }), /whole number of days/);
  });

  it('a CSV field is quoted when it must be, and never starts a spreadsheet formula', () => {
    assert.equal(csvField('Gift: 3 × Rose for Ada'), 'Gift: 3 × Rose for Ada');
    assert.equal(csvField('Tee, large'), '"Tee, large"');
    assert.equal(csvField('say "hi"\nbye'), '"say ""hi""\nbye"');
    assert.equal(csvField('=HYPERLINK("http://evil.example")'), `"'=HYPERLINK(""http://evil.example"")"`);
    for (const lead of ['+', '-', '@', '\t']) assert.ok(csvField(`${lead}1`).startsWith(`'`), JSON.stringify(lead));
  });
});
