import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Boost, BoostList, DiamondsEvent, DiscoverList, type BoostEndReason } from '@diamonds/protocol';
import { createContent } from '../content/content.js';
import { signedInBrowser } from '../gifts/testing.js';
import { BOOSTS_PATH, DISCOVER_PATH } from '../pages/boosts.js';
import { csrfOf } from '../pages/testing.js';
import { createSite } from '../identity/sites.js';
import { startServer, type RunningServer } from '../server.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { BOOST_DAY_MS, recordViewsOperation, settleBoostOperation, stopBoostOperation, type BoostView } from './boosts.js';
import { flushImpressions } from './impressions.js';
import { seedDemoBoost } from './demo.js';
import { seedDemo } from '../identity/demo.js';
import { seedDemoMoney } from '../money/demo.js';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  // `skip` (above): only outside CI, loudly, when PostgreSQL is unreachable; under CI=true that fails instead.
  describe(`boosts on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let fan: TestFan;

    before(async () => {
      h = await startMoneyHarness(kind);
      fan = await h.fan({ allowance: 10_000, balance: 10_000, name: 'Boost fan' });
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    /** Earnings available at once (a `fund` payment is not held), as a test's starting point. */
    async function giveEarnings(userId: string, amount: number): Promise<void> {
      await h.t.db.transaction(async (tx) => {
        const earnings = await h.server.ledger.accountId({ ownerId: userId, kind: 'earnings' }, tx);
        const issuance = await h.server.ledger.accountId({ ownerId: null, kind: 'issuance' }, tx);
        await h.server.ledger.transferIn(tx, {
          idempotencyKey: `test-earnings:${randomUUID()}`,
          code: 'fund',
          postings: [
            { accountId: issuance, amountDiamonds: -amount },
            { accountId: earnings, amountDiamonds: amount },
          ],
          metadata: { description: 'Test earnings' },
        });
      });
    }

    async function post(title = `Post ${randomUUID().slice(0, 8)}`, creatorId = h.creator.id, siteId = h.site.id): Promise<string> {
      const content = await h.t.db.transaction((tx) =>
        createContent(tx, { siteId, creatorId }, { title, teaser: 'A teaser.', body: 'The body.', priceDiamonds: 5 }),
      );
      return content.id;
    }

    async function boost(itemId: string, budgetDiamonds: number, extra: Record<string, unknown> = {}): Promise<Boost> {
      const res = await h.call('/boosts', { key: 'secret', body: { itemId, budgetDiamonds, endsAt: Date.now() + 3_600_000, ...extra } });
      assert.equal(res.status, 201, await res.clone().text());
      return Boost.parse(await res.json());
    }

    async function read(id: string): Promise<Boost> {
      const res = await h.call(`/boosts/${id}`, { key: 'secret' });
      assert.equal(res.status, 200, await res.clone().text());
      return Boost.parse(await res.json());
    }

    const viewer = () => randomUUID().replaceAll('-', '');
    const report = (items: { boostId: string; kind: 'impression' | 'click' }[], viewerId = viewer(), extra: { fan?: TestFan } = {}) =>
      h.call('/boosts/impressions', { body: { viewerId, items }, idempotencyKey: null, ...extra });

    async function transfersOf(boostId: string, kind: string): Promise<number> {
      const rows = await h.t.db.query<{ metadata: string }>(`SELECT metadata FROM transfers WHERE code = 'boost'`);
      return rows.filter((row) => {
        const metadata = JSON.parse(row.metadata) as { boostId?: string; kind?: string };
        return metadata.boostId === boostId && metadata.kind === kind;
      }).length;
    }

    it('refuses bad input with a code and moves nothing', async () => {
      await giveEarnings(h.creator.id, 100);
      const mine = await post();
      const other = await h.newCreator('Other');
      const theirSite = await createSite(h.t.db, { ownerId: other.id, name: 'Other’s site', origins: ['https://other.example'] });
      const theirs = await post('Theirs', other.id, theirSite.site.id);
      const byOtherOnMySite = await post('By a listed creator', other.id);
      const before = await h.transferCount();
      const { earnings } = await h.balances(h.creator.id);
      const refused = async (body: Record<string, unknown>, status: number, code: string) => {
        const res = await h.call('/boosts', { key: 'secret', body });
        await h.refused(res, status, code);
        assert.equal(await h.transferCount(), before, `${code}: nothing moved`);
      };
      const endsAt = Date.now() + 60_000;
      await refused({ itemId: mine, endsAt }, 400, 'boost_budget_invalid');
      await refused({ itemId: mine, budgetDiamonds: 0, endsAt }, 400, 'boost_budget_invalid');
      await refused({ itemId: mine, budgetDiamonds: 1.5, endsAt }, 400, 'boost_budget_invalid');
      await refused({ itemId: mine, budgetDiamonds: -3, endsAt }, 400, 'boost_budget_invalid');
      await refused({ itemId: mine, budgetDiamonds: 10_000_000, endsAt }, 400, 'insufficient_earnings');
      await refused({ itemId: mine, budgetDiamonds: 10, startsAt: endsAt, endsAt: endsAt - 1 }, 400, 'boost_dates_invalid');
      await refused({ itemId: mine, budgetDiamonds: 10 }, 400, 'boost_dates_invalid');
      await refused({ itemId: theirs, budgetDiamonds: 10, endsAt }, 404, 'boost_item_not_found');
      await refused({ itemId: 'ct_nope', budgetDiamonds: 10, endsAt }, 404, 'boost_item_not_found');
      await refused({ itemId: byOtherOnMySite, budgetDiamonds: 10, endsAt }, 403, 'permission_denied');
      await refused({ itemId: mine, budgetDiamonds: 10, endsAt, url: 'https://evil.example/x' }, 400, 'boost_url_invalid');
      // A fan's page (publishable key) may not boost.
      const page = await h.call('/boosts', { body: { itemId: mine, budgetDiamonds: 10, endsAt } });
      assert.equal(page.status, 403, await page.clone().text());
      assert.equal((await h.balances(h.creator.id)).earnings, earnings);
    });

    it('takes the budget from earnings, charges counted impressions once per viewer per day, returns the rest exactly once', async () => {
      await giveEarnings(h.creator.id, 1_000);
      const itemId = await post('Boosted post');
      const before = (await h.balances(h.creator.id)).earnings;
      // Two days long, so it still runs on the next day below.
      const created = await boost(itemId, 100, { endsAt: Date.now() + 2 * BOOST_DAY_MS });
      assert.equal(created.status, 'active');
      assert.equal((await h.balances(h.creator.id)).earnings, before - 100);

      // Listed on discover, with public facts only.
      const discover = await h.call('/discover', { method: 'GET' });
      assert.equal(discover.status, 200);
      const listed = DiscoverList.parse(await discover.json()).data.find((item) => item.boostId === created.id);
      assert.equal(listed?.title, 'Boosted post');
      assert.equal(listed?.creator.displayName, h.creator.displayName);

      // 45 viewers, one of them three times and in one report twice: 45 impressions.
      const viewers = Array.from({ length: 45 }, viewer);
      for (const id of viewers) {
        const res = await report([{ boostId: created.id, kind: 'impression' }], id);
        assert.equal(res.status, 202, await res.clone().text());
      }
      await report([{ boostId: created.id, kind: 'impression' }], viewers[0]);
      await report(
        [
          { boostId: created.id, kind: 'impression' },
          { boostId: created.id, kind: 'impression' },
          { boostId: created.id, kind: 'click' },
        ],
        viewers[1],
      );
      await flushImpressions(h.server.writer);
      // The database dedupes too (another process, or a restart, forgets the memory).
      const again: BoostView[] = viewers.slice(0, 5).map((id) => ({ boostId: created.id, kind: 'impression', viewer: `anon:${id}` }));
      await h.server.writer.run(recordViewsOperation, { now: Date.now(), views: again });
      let read1 = await read(created.id);
      assert.equal(read1.stats.impressions, 45);
      assert.equal(read1.stats.clicks, 1);
      // 45 × 50 thousandths = 2.25 Diamonds: 2 charged, the quarter kept exactly.
      assert.equal(read1.stats.spentDiamonds, 2);
      assert.equal(read1.stats.leftDiamonds, 98);

      // The next day the same viewers count again.
      await h.server.writer.run(recordViewsOperation, { now: Date.now() + BOOST_DAY_MS, views: again.slice(0, 3) });
      read1 = await read(created.id);
      assert.equal(read1.stats.impressions, 48);
      assert.equal(read1.stats.spentDiamonds, 2); // 2.4

      // Stopped from three places at once: the rest comes back once.
      const now = Date.now();
      const results = await Promise.all([
        h.server.writer.run(stopBoostOperation, { boostId: created.id, siteId: h.site.id, creatorId: null, now }),
        h.server.writer.run(stopBoostOperation, { boostId: created.id, siteId: h.site.id, creatorId: null, now }),
        h.server.writer.run(settleBoostOperation, { boostId: created.id, now: now + 7_200_000 }),
      ]);
      assert.equal(results.length, 3);
      const ended = await read(created.id);
      assert.equal(ended.status, 'ended');
      assert.equal(ended.stats.returnedDiamonds, 98);
      assert.equal(await transfersOf(created.id, 'boost_return'), 1);
      assert.equal((await h.balances(h.creator.id)).earnings, before - 2);
      const stopAgain = await h.call(`/boosts/${created.id}/stop`, { key: 'secret', body: {} });
      assert.equal(stopAgain.status, 200);
      assert.equal(Boost.parse(await stopAgain.json()).stats.returnedDiamonds, 98);
      assert.equal(await transfersOf(created.id, 'boost_return'), 1);

      // Ended: no longer shown, and no longer counted.
      const after = DiscoverList.parse(await (await h.call('/discover', { method: 'GET' })).json());
      assert.ok(!after.data.some((item) => item.boostId === created.id));
      await h.server.writer.run(recordViewsOperation, {
        now: Date.now(),
        views: [{ boostId: created.id, kind: 'impression', viewer: 'anon:late' }],
      });
      assert.equal((await read(created.id)).stats.impressions, 48);

      // The outbox says what it spent and returned; the site lists it.
      const events = await h.t.db.query<{ type: string; data: string; site_id: string; creator_id: string; fan_id: null }>(
        `SELECT type, data, site_id, creator_id, fan_id FROM events WHERE type IN ('boost.started', 'boost.ended')`,
      );
      const mine = events.filter((event) => (JSON.parse(event.data) as { boostId: string }).boostId === created.id);
      assert.deepEqual(mine.map((event) => event.type).sort(), ['boost.ended', 'boost.started']);
      for (const event of mine) {
        const parsed = DiamondsEvent.parse({
          object: 'event',
          id: 'evt_00000000000000000000000000',
          createdAt: 1,
          type: event.type,
          siteId: event.site_id,
          creatorId: event.creator_id,
          fanId: event.fan_id,
          data: JSON.parse(event.data),
        });
        if (parsed.type === 'boost.ended') {
          assert.equal(parsed.data.spentDiamonds, 2);
          assert.equal(parsed.data.returnedDiamonds, 98);
          assert.equal(parsed.data.reason, 'stopped' satisfies BoostEndReason);
        }
      }
      const list = BoostList.parse(await (await h.call('/boosts', { key: 'secret' })).json());
      assert.ok(list.data.some((b) => b.id === created.id));
    });

    it('stops at its budget: never overspent, ended as exhausted with nothing left to return', async () => {
      await giveEarnings(h.creator.id, 10);
      const created = await boost(await post(), 1);
      const views: BoostView[] = Array.from({ length: 30 }, (_, i) => ({ boostId: created.id, kind: 'impression', viewer: `anon:v${i}` }));
      const counted = await h.server.writer.run(recordViewsOperation, { now: Date.now(), views });
      assert.equal(counted.impressions, 20, '1 Diamond at 50 per 1,000 pays 20 impressions');
      assert.equal(counted.exhausted, 1);
      const ended = await read(created.id);
      assert.equal(ended.status, 'ended');
      assert.equal(ended.endReason, 'exhausted');
      assert.equal(ended.stats.spentDiamonds, 1);
      assert.equal(ended.stats.returnedDiamonds, 0);
    });

    it('a boost whose time passed is settled by the sweeper, once; a new boost of the item may follow', async () => {
      await giveEarnings(h.creator.id, 50);
      const itemId = await post();
      const created = await boost(itemId, 7);
      const again = await h.call('/boosts', { key: 'secret', body: { itemId, budgetDiamonds: 1, endsAt: Date.now() + 60_000 } });
      await h.refused(again, 409, 'boost_already_active');
      const later = Date.now() + 7_200_000;
      const settled = await Promise.all(
        [1, 2, 3].map(() => h.server.writer.run(settleBoostOperation, { boostId: created.id, now: later })),
      );
      assert.deepEqual(settled.filter(Boolean).length, 1);
      assert.equal((await read(created.id)).stats.returnedDiamonds, 7);
      assert.equal(await transfersOf(created.id, 'boost_return'), 1);
      await boost(itemId, 1);
    });

    it('counts a signed-in fan’s click, and their unlock within a day as a conversion', async () => {
      await giveEarnings(h.creator.id, 10);
      const itemId = await post('Convert me');
      const created = await boost(itemId, 5);
      const click = await report([{ boostId: created.id, kind: 'click' }], viewer(), { fan });
      assert.equal(click.status, 202, await click.clone().text());
      await flushImpressions(h.server.writer);
      const unlock = await h.call(`/content/${itemId}/unlock`, { fan, body: {} });
      assert.equal(unlock.status, 201, await unlock.clone().text());
      const stats = (await read(created.id)).stats;
      assert.equal(stats.clicks, 1);
      assert.equal(stats.conversions, 1);
    });

    it('refuses malformed reports and too many from one viewer', async () => {
      const bad = await h.call('/boosts/impressions', { body: { viewerId: 'short', items: [] }, idempotencyKey: null });
      await h.refused(bad, 400, 'invalid_request');
      const created = await boost(await post(), 1).catch(async () => {
        await giveEarnings(h.creator.id, 1);
        return boost(await post(), 1);
      });
      const id = viewer();
      let limited = 0;
      for (let i = 0; i < 14; i++) {
        const items = Array.from({ length: 50 }, () => ({ boostId: created.id, kind: 'impression' as const }));
        const res = await report(items, id);
        if (res.status === 429) limited += 1;
      }
      assert.ok(limited > 0, 'a viewer past 600 views a minute is refused');
      await flushImpressions(h.server.writer);
    });

    it('the creator’s page boosts an item, shows its figures and stops it; the discover page lists it', async () => {
      await giveEarnings(h.creator.id, 30);
      const itemId = await post('Page boost');
      const browser = await signedInBrowser(h, h.creator);
      assert.match(await browser.page('/dashboard'), /href="\/dashboard\/boosts"/);
      let html = await browser.page(BOOSTS_PATH);
      const submit = (path: string, form: Record<string, string>) =>
        browser.request(path, { form: { csrf: csrfOf(html), ...form }, headers: { Origin: h.server.url } });
      // Bad input: the form again with the problem, and nothing moved.
      const before = await h.transferCount();
      let res = await submit(BOOSTS_PATH, { itemId, budgetDiamonds: '', days: '7' });
      assert.equal(res.status, 400);
      assert.match(await res.text(), /needs a budget/);
      res = await submit(BOOSTS_PATH, { itemId, budgetDiamonds: '99999999', days: '7' });
      assert.equal(res.status, 400);
      assert.equal(await h.transferCount(), before);
      res = await submit(BOOSTS_PATH, { itemId, budgetDiamonds: '12', days: '3' });
      assert.equal(res.status, 303, await res.clone().text());
      html = await browser.page(BOOSTS_PATH);
      const id = /data-boost="(bst_\w+)" data-status="active"/.exec(html)?.[1];
      assert.ok(id, 'the boost is listed as running');
      assert.match(html, /data-stat="left">12 Diamonds/);
      const discover = await browser.page(DISCOVER_PATH);
      assert.match(discover, new RegExp(`data-boost="${id}"`));
      assert.match(discover, /Page boost/);
      res = await submit(`${BOOSTS_PATH}/${id}/stop`, {});
      assert.equal(res.status, 303);
      html = await browser.page(BOOSTS_PATH);
      assert.match(html, new RegExp(`data-boost="${id}" data-status="ended"`));
      assert.match(html, /Returned to your earnings/);
      // A fan is not a creator.
      const fanRes = await (await signedInBrowser(h, fan)).request(BOOSTS_PATH);
      assert.equal(fanRes.status, 403);
    });

    it('npm start’s demo boosts the demo creator’s priced post, once', async () => {
      const { demo } = await seedDemo(h.t.db, h.t.settings.dataDir);
      assert.ok(demo);
      await seedDemoMoney(h.t.db, h.server.ledger, demo);
      const line = await seedDemoBoost(h.server, demo, 'http://localhost:8788/');
      assert.match(line ?? '', /boost +bst_\w+ .*200 Diamonds/);
      assert.equal(await seedDemoBoost(h.server, demo, 'http://localhost:8788/'), undefined, 'not twice');
      const [row] = await h.t.db.query<{ n: number }>(`SELECT count(*) AS n FROM boosts WHERE creator_id = ? AND status = 'active'`, [
        demo.creator.userId,
      ]);
      assert.equal(Number(row?.n), 1);
    });

    it('two platform instances on one database consume one boost at once: never overspent, the ledger clean', async () => {
      await giveEarnings(h.creator.id, 20);
      const created = await boost(await post(), 10); // 200 impressions
      const second: RunningServer = await startServer({
        port: 0,
        host: '127.0.0.1',
        db: h.t.reopen(),
        databaseUrl: h.t.settings.databaseUrl,
        webhookDelivery: 'off',
      });
      try {
        const batches = (prefix: string) =>
          Array.from({ length: 15 }, (_, b) =>
            Array.from({ length: 20 }, (_, i): BoostView => ({
              boostId: created.id,
              kind: 'impression',
              viewer: `anon:${prefix}${b}-${i}`,
            })),
          );
        // Overlapping viewers between the two: the same viewer counted once across instances.
        const a = batches('x');
        const b = [...batches('y').slice(0, 10), ...batches('x').slice(0, 5)];
        const results = await Promise.all([
          ...a.map((views) => h.server.writer.run(recordViewsOperation, { now: Date.now(), views })),
          ...b.map((views) => second.writer.run(recordViewsOperation, { now: Date.now(), views })),
        ]);
        const counted = results.reduce((sum, r) => sum + r.impressions, 0);
        assert.equal(counted, 200);
        const ended = await read(created.id);
        assert.equal(ended.stats.impressions, 200);
        assert.equal(ended.stats.spentDiamonds, 10);
        assert.equal(ended.endReason, 'exhausted');
        assert.equal(ended.stats.returnedDiamonds, 0);

        // A stop on one instance, a settlement on the other, while both count: the rest returns once, exactly.
        const raced = await boost(await post(), 5);
        const views = (prefix: string) =>
          Array.from({ length: 10 }, (_, b) =>
            Array.from({ length: 10 }, (_, i): BoostView => ({ boostId: raced.id, kind: 'impression', viewer: `anon:${prefix}${b}-${i}` })),
          );
        const now = Date.now();
        await Promise.all([
          ...views('p').map((batch) => h.server.writer.run(recordViewsOperation, { now: Date.now(), views: batch })),
          ...views('q').map((batch) => second.writer.run(recordViewsOperation, { now: Date.now(), views: batch })),
          h.server.writer.run(stopBoostOperation, { boostId: raced.id, siteId: h.site.id, creatorId: null, now }),
          second.writer.run(stopBoostOperation, { boostId: raced.id, siteId: h.site.id, creatorId: null, now }),
          second.writer.run(settleBoostOperation, { boostId: raced.id, now: now + 7_200_000 }),
        ]);
        const settled = await read(raced.id);
        assert.equal(settled.status, 'ended');
        assert.equal(settled.stats.spentDiamonds + (settled.stats.returnedDiamonds ?? -1), 5, 'spent and returned make the budget');
        assert.equal(settled.stats.spentDiamonds, Math.floor((settled.stats.impressions * 50) / 1000));
        assert.equal(await transfersOf(raced.id, 'boost_return'), settled.stats.returnedDiamonds === 0 ? 0 : 1);
        await h.verifyClean();
      } finally {
        await second.close();
        await second.db.close();
      }
    });
  });
}
