// diamonds.events against the real platform on each database: a gift and an order paid over
// HTTP as a fan's page would, then read back, typed, with the site's secret key.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DATABASE_KINDS,
  skipUnlessPostgres,
  allEventsReadable,
  startMoneyHarness,
  type MoneyHarness,
  type TestFan,
} from '@diamonds/server/testing';
import { createDiamondsServer, DiamondsApiError, DiamondsUsageError, type DiamondsServer, type SiteEvent } from './index.js';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`@diamonds/sdk/server events on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let fan: TestFan;
    let diamonds: DiamondsServer;
    before(async () => {
      h = await startMoneyHarness(kind);
      fan = await h.fan({ allowance: 10_000, balance: 10_000 });
      diamonds = createDiamondsServer({ secretKey: h.site.secretKey, siteId: h.site.id, apiBase: h.server.url });
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    it('lists typed events oldest first, pages through them, resumes after a cursor, and gets one by id', async () => {
      for (let i = 0; i < 3; i++) {
        const res = await h.call('/gifts', { fan, body: { creatorId: h.creator.id, giftId: 'rose', quantity: i + 1 } });
        assert.equal(res.status, 201);
      }
      const order = await diamonds.orders.create({ amountDiamonds: 300, description: 'A portrait', reference: 'cart-9' });
      assert.equal((await h.call(`/orders/${order.id}/pay`, { fan, body: {} })).status, 200);

      await allEventsReadable(h.t.db);
      const all: SiteEvent[] = [];
      for await (const event of diamonds.events.each({ limit: 2 })) all.push(event);
      assert.deepEqual(
        all.map((event) => event.type),
        ['gift.sent', 'gift.sent', 'gift.sent', 'order.paid'],
      );
      const quantities = all.flatMap((event) => (event.type === 'gift.sent' ? [event.data.quantity] : []));
      assert.deepEqual(quantities, [1, 2, 3]);
      const paid = all[3];
      assert.ok(paid?.type === 'order.paid');
      assert.equal(paid.data.orderId, order.id);
      assert.equal(paid.data.reference, 'cart-9');

      // for await over the resource itself walks everything too.
      const walked: string[] = [];
      for await (const event of diamonds.events) walked.push(event.id);
      assert.deepEqual(
        walked,
        all.map((event) => event.id),
      );

      const page = await diamonds.events.list({ after: all[1]?.id, type: 'gift.sent' });
      assert.deepEqual(
        page.data.map((event) => event.id),
        [all[2]?.id],
      );
      assert.equal(page.hasMore, false);
      const empty = await diamonds.events.list({ after: all[3]?.id });
      assert.deepEqual(empty.data, []);
      assert.equal(empty.nextCursor, all[3]?.id);

      assert.deepEqual(await diamonds.events.get(paid.id), paid);
    });

    it('refuses a bad cursor, a bad type and a malformed id with typed errors', async () => {
      await assert.rejects(diamonds.events.list({ after: 'evt_00000000000000000000000000' }), (error: unknown) => {
        assert.ok(error instanceof DiamondsApiError);
        assert.equal(error.code, 'invalid_cursor');
        return true;
      });
      await assert.rejects(diamonds.events.list({ type: 'nope' as 'gift.sent' }), (error: unknown) => {
        assert.ok(error instanceof DiamondsApiError);
        assert.equal(error.code, 'invalid_event_type');
        return true;
      });
      await assert.rejects(diamonds.events.get('evt_00000000000000000000000000'), (error: unknown) => {
        assert.ok(error instanceof DiamondsApiError);
        assert.equal(error.code, 'event_not_found');
        return true;
      });
      assert.throws(() => diamonds.events.get('ord_1'), DiamondsUsageError);
    });
  });
}
