import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CheckoutOrder,
  Collaboration,
  CollaborationList,
  Content,
  Split,
  SplitView,
  type SplitPaidData,
  type SplitRefundedData,
} from '@diamonds/protocol';
import { createContent } from '../content/content.js';
import type { EarningsAggregator } from '../earnings/aggregates.js';
import { latestPosition } from '../events/outbox.js';
import { allEventsReadable } from '../testing/events.js';
import { sendOk, signedInBrowser } from '../gifts/testing.js';
import { createSite } from '../identity/sites.js';
import { startLiveOperation } from '../live/live.js';
import { decideConfirmationOperation } from '../money/spends.js';
import { reverseTopUpOperation } from '../payments/disputes.js';
import { newQuote, seedRates, startTopUp } from '../payments/testing.js';
import { payWithTestCardOperation } from '../payments/topups.js';
import { makeOrder, makeProduct } from '../orders/testing.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { apportionRefund, splitNet, splitOrder, type Share } from './split.js';

describe('the split arithmetic (pure)', () => {
  const sharesArb = fc
    .array(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 20 })
    .map((weights): Share[] => weights.map((shareBps, i) => ({ creatorId: `usr_${i}`, shareBps })));

  it('splits exactly: the parts sum to the whole, each within one Diamond of its exact share, deterministic', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000_000 }), sharesArb, (net, shares) => {
        const parts = splitNet(net, shares);
        assert.equal(
          parts.reduce((sum, part) => sum + part.netDiamonds, 0),
          net,
        );
        const total = shares.reduce((sum, share) => sum + share.shareBps, 0);
        parts.forEach((part, i) => {
          const exact = (net * shares[i]!.shareBps) / total;
          assert.ok(Number.isSafeInteger(part.netDiamonds) && part.netDiamonds >= 0);
          assert.ok(Math.abs(part.netDiamonds - exact) < 1, `${part.netDiamonds} vs ${exact}`);
          assert.equal(part.creatorId, shares[i]!.creatorId);
        });
        assert.deepEqual(splitNet(net, shares), parts);
      }),
      { numRuns: 500 },
    );
  });

  it('breaks ties by split order, the same way every time', () => {
    const even = [
      { creatorId: 'usr_b', shareBps: 5000 },
      { creatorId: 'usr_a', shareBps: 5000 },
    ];
    assert.deepEqual(splitNet(1, even), [
      { creatorId: 'usr_b', netDiamonds: 1 },
      { creatorId: 'usr_a', netDiamonds: 0 },
    ]);
    assert.deepEqual(
      splitNet(100, [
        { creatorId: 'usr_a', shareBps: 3334 },
        { creatorId: 'usr_b', shareBps: 3333 },
        { creatorId: 'usr_c', shareBps: 3333 },
      ]).map((part) => part.netDiamonds),
      [34, 33, 33],
    );
  });

  it('an order: split lines and the owner’s lines sum to the whole, the owner first', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.array(fc.record({ amount: fc.integer({ min: 1, max: 100_000 }), split: fc.option(sharesArb, { nil: null }) }), {
          minLength: 1,
          maxLength: 8,
        }),
        (net, lines) => {
          const parts = splitOrder(
            net,
            'usr_owner',
            lines.map((line) => ({ amountDiamonds: line.amount, shares: line.split })),
          );
          assert.equal(parts[0]?.creatorId, 'usr_owner');
          assert.equal(
            parts.reduce((sum, part) => sum + part.netDiamonds, 0),
            net,
          );
          assert.equal(new Set(parts.map((part) => part.creatorId)).size, parts.length);
        },
      ),
    );
  });

  it('refunds claw back pro rata, exactly, and repeated partial refunds never take back more than a part', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.integer({ min: 0, max: 1_000 }), { maxLength: 12 }),
        (parts, asks) => {
          const remaining = [...parts];
          for (const ask of asks) {
            const left = remaining.reduce((sum, part) => sum + part, 0);
            const amount = Math.min(ask, left);
            const taken = apportionRefund(amount, remaining);
            assert.equal(
              taken.reduce((sum, part) => sum + part, 0),
              amount,
            );
            taken.forEach((part, i) => {
              assert.ok(part >= 0 && part <= remaining[i]!, `took ${part} of ${remaining[i]}`);
              remaining[i]! -= part;
            });
          }
          // What is left can always be refunded in full: exactly every remaining part.
          assert.deepEqual(
            apportionRefund(
              remaining.reduce((sum, part) => sum + part, 0),
              remaining,
            ),
            remaining,
          );
          assert.throws(() => apportionRefund(remaining.reduce((sum, part) => sum + part, 0) + 1, remaining), RangeError);
        },
      ),
      { numRuns: 500 },
    );
  });
});

/** Waits until the aggregator has folded every event stored so far (at most 15 s). */
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

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  // `skip` (above): only outside CI, loudly, when PostgreSQL is unreachable; under CI=true that fails instead.
  describe(`collaboration splits on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    /** Two collaborators, each with a site of their own (their backend's secret key). */
    let bo: { id: string; secretKey: string; siteId: string };
    let cy: { id: string; secretKey: string; siteId: string };
    let fans: TestFan[];

    const asA = (path: string, options: Parameters<MoneyHarness['call']>[1] = {}) => h.call(path, { key: 'secret', ...options });
    const as = (who: { secretKey: string }, path: string, options: Parameters<MoneyHarness['call']>[1] = {}) =>
      h.call(path, { key: who.secretKey, origin: null, ...options });
    const json = async <T>(response: Response, status = 200): Promise<T> => {
      const body = (await response.json()) as T;
      assert.equal(response.status, status, JSON.stringify(body));
      return body;
    };
    const earnings = async (userId: string) => (await h.balances(userId)).earnings;
    const splitPaid = async (transferId: string) =>
      (
        await h.t.db.query<{ creator_id: string; site_id: string | null; data: string }>(
          `SELECT creator_id, site_id, data FROM events WHERE type = 'split.paid' ORDER BY created_at, id`,
        )
      )
        .map((row) => ({ creatorId: row.creator_id, siteId: row.site_id, data: JSON.parse(row.data) as SplitPaidData }))
        .filter((event) => event.data.transferId === transferId);

    async function collaborator(name: string): Promise<{ id: string; secretKey: string; siteId: string }> {
      const user = await h.newCreator(name);
      const site = await createSite(h.t.db, { ownerId: user.id, name: `${name}’s page`, origins: ['http://127.0.0.1:5999'] });
      return { id: user.id, secretKey: site.secretKey, siteId: site.site.id };
    }

    async function accepted(who: { id: string; secretKey: string }): Promise<void> {
      await json(await asA('/collaborations', { body: { creatorId: who.id } }));
      await json(await as(who, `/collaborations/${h.creator.id}/accept`, { body: {} }));
    }

    async function content(price: number) {
      return h.t.db.transaction((tx) =>
        createContent(
          tx,
          { siteId: h.site.id, creatorId: h.creator.id },
          { title: 'Duet', teaser: 'Two of us', body: 'x', priceDiamonds: price },
        ),
      );
    }

    before(async () => {
      h = await startMoneyHarness(kind);
      bo = await collaborator('Bo');
      cy = await collaborator('Cy');
      fans = await Promise.all([0, 1, 2, 3, 4].map((i) => h.fan({ allowance: 10_000_000, balance: 1_000_000, name: `Fan ${i}` })));
    });

    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    it('invitations: invite by email, accept, decline, leave, remove, invite again', async () => {
      const [boUser] = await h.t.db.query<{ email: string }>('SELECT email FROM users WHERE id = ?', [bo.id]);
      const invited = Collaboration.parse(await json(await asA('/collaborations', { body: { email: boUser!.email } })));
      assert.equal(invited.status, 'invited');
      assert.equal(invited.collaborator.id, bo.id);
      // Inviting again while invited answers the same.
      assert.equal(
        Collaboration.parse(await json(await asA('/collaborations', { body: { creatorId: bo.id } }))).invitedAt,
        invited.invitedAt,
      );
      const boList = CollaborationList.parse(await json(await as(bo, '/collaborations')));
      assert.equal(boList.received[0]?.owner.id, h.creator.id);
      const yes = Collaboration.parse(await json(await as(bo, `/collaborations/${h.creator.id}/accept`, { body: {} })));
      assert.equal(yes.status, 'accepted');
      // Answering again the same way answers the same; the other way is refused.
      assert.equal(
        Collaboration.parse(await json(await as(bo, `/collaborations/${h.creator.id}/accept`, { body: {} }))).status,
        'accepted',
      );
      await h.refused(await as(bo, `/collaborations/${h.creator.id}/decline`, { body: {} }), 404, 'collaboration_not_found');

      await json(await asA('/collaborations', { body: { creatorId: cy.id } }));
      assert.equal(
        Collaboration.parse(await json(await as(cy, `/collaborations/${h.creator.id}/decline`, { body: {} }))).status,
        'declined',
      );
      await h.refused(await as(cy, `/collaborations/${h.creator.id}/accept`, { body: {} }), 404, 'collaboration_not_found');
      // Invited again after the decline: a new invitation, accepted this time, then left.
      assert.equal(Collaboration.parse(await json(await asA('/collaborations', { body: { creatorId: cy.id } }))).status, 'invited');
      await json(await as(cy, `/collaborations/${h.creator.id}/accept`, { body: {} }));
      assert.equal(Collaboration.parse(await json(await as(cy, `/collaborations/${h.creator.id}/leave`, { body: {} }))).status, 'left');
      await accepted(cy);
      assert.equal(Collaboration.parse(await json(await asA(`/collaborations/${cy.id}`, { method: 'DELETE' }))).status, 'removed');
      await accepted(cy);

      await h.refused(await asA('/collaborations', { body: { creatorId: h.creator.id } }), 400, 'cannot_collaborate_with_self');
      await h.refused(await asA('/collaborations', { body: { email: 'nobody@example.com' } }), 404, 'creator_not_found');
      await h.refused(await asA('/collaborations', { body: {} }), 400, 'invalid_request');
      const aList = CollaborationList.parse(await json(await asA('/collaborations')));
      assert.deepEqual(aList.sent.map((c) => c.status).sort(), ['accepted', 'accepted']);
    });

    it('refuses bad shares with a code naming the problem, and nothing changes', async () => {
      const item = await content(100);
      const outsider = await collaborator('Dee');
      await json(await asA('/collaborations', { body: { creatorId: outsider.id } })); // invited, not accepted
      const put = (shares: unknown) => asA(`/splits/content/${item.id}`, { method: 'PUT', body: { shares } });
      const A = h.creator.id;
      const transfers = await h.transferCount();
      await h.refused(
        await put([
          { creatorId: A, shareBps: 6000 },
          { creatorId: bo.id, shareBps: 3000 },
        ]),
        400,
        'shares_must_total_10000',
      );
      await h.refused(
        await put([
          { creatorId: A, shareBps: 10_000 },
          { creatorId: bo.id, shareBps: 0 },
        ]),
        400,
        'share_must_be_positive',
      );
      await h.refused(
        await put([
          { creatorId: A, shareBps: 5000 },
          { creatorId: outsider.id, shareBps: 5000 },
        ]),
        400,
        'collaborator_not_accepted',
      );
      await h.refused(
        await put([
          { creatorId: A, shareBps: 5000 },
          { creatorId: bo.id, shareBps: 2500 },
          { creatorId: bo.id, shareBps: 2500 },
        ]),
        400,
        'duplicate_collaborator',
      );
      await h.refused(
        await put([
          { creatorId: bo.id, shareBps: 5000 },
          { creatorId: cy.id, shareBps: 5000 },
        ]),
        400,
        'split_owner_missing',
      );
      await h.refused(await put([{ creatorId: A, shareBps: -1 }]), 400, 'share_must_be_positive');
      // Only the item's owner may split it.
      await h.refused(
        await as(bo, `/splits/content/${item.id}`, { method: 'PUT', body: { shares: [{ creatorId: bo.id, shareBps: 10_000 }] } }),
        404,
        'split_item_not_found',
      );
      const view = SplitView.parse(await json(await h.call(`/splits/content/${item.id}`)));
      assert.equal(view.split, null);
      // Another site's key reads no split of this site's content (its secret key included).
      await h.refused(await as(bo, `/splits/content/${item.id}`), 404, 'split_item_not_found');
      await h.refused(await h.call('/splits/product/prod_01JD3S9ZK4W8Q2V7C5XH6RTB0M'), 404, 'split_item_not_found');
      assert.equal(await h.transferCount(), transfers);
      const [stored] = await h.t.db.query<{ n: number }>('SELECT count(*) AS n FROM collab_splits WHERE item_id = ?', [item.id]);
      assert.equal(Number(stored?.n), 0);
    });

    it('an unlock of split content pays each party their exact part; the fan sees the split; events tell each party', async () => {
      const item = await content(101);
      const split = Split.parse(
        await json(
          await asA(`/splits/content/${item.id}`, {
            method: 'PUT',
            body: {
              shares: [
                { creatorId: h.creator.id, shareBps: 5000 },
                { creatorId: bo.id, shareBps: 3000 },
                { creatorId: cy.id, shareBps: 2000 },
              ],
            },
          }),
        ),
      );
      assert.equal(split.version, 1);
      assert.deepEqual(
        split.shares.map((share) => share.displayName),
        ['Ada', 'Bo', 'Cy'],
      );
      // The public view (publishable key) shows the same names and shares.
      const seen = SplitView.parse(await json(await h.call(`/splits/content/${item.id}`)));
      assert.deepEqual(seen.split?.shares, split.shares);
      // And the content's own public read, which the paywall shows, carries it.
      const read = Content.parse(await json(await h.call(`/content/${item.id}`)));
      assert.deepEqual(read.split, split.shares);
      assert.equal(read.splitLine, 'Shared: Ada 50% · Bo 30% · Cy 20%');
      assert.equal(Content.parse(await json(await h.call(`/content/${(await content(5)).id}`))).split, undefined);

      const before = await Promise.all([h.creator.id, bo.id, cy.id].map(earnings));
      const res = await h.call(`/content/${item.id}/unlock`, { fan: fans[0], body: {} });
      assert.equal(res.status, 201, await res.clone().text());
      const after = await Promise.all([h.creator.id, bo.id, cy.id].map(earnings));
      // 101 at a 20% fee: 81 net (80.8, the rest wins ties), then 40.5 / 24.3 / 16.2 → 41, 24, 16.
      assert.deepEqual(
        after.map((n, i) => n - before[i]!),
        [41, 24, 16],
      );
      const [row] = await h.t.db.query<{ transfer_id: string; parts: string; splits: string }>(
        'SELECT transfer_id, parts, splits FROM collab_spends WHERE subject_id = ?',
        [item.id],
      );
      assert.ok(row);
      assert.deepEqual(JSON.parse(row.splits), [{ itemKind: 'content', itemId: item.id, version: 1 }]);
      const events = await splitPaid(row.transfer_id);
      assert.deepEqual(
        events.map((event) => [event.creatorId, event.data.partDiamonds, event.siteId]),
        [
          [h.creator.id, 41, h.site.id],
          [bo.id, 24, bo.siteId],
          [cy.id, 16, cy.siteId],
        ],
      );
      assert.equal(events[0]?.data.netDiamonds, 81);
      // Each collaborator's backend reads its own event with its own key, once every event is
      // readable (a transaction of a test file beside this one may hold them back a moment).
      await allEventsReadable(h.t.db);
      const boEvents = (await json<{ data: Array<{ type: string; data: SplitPaidData }> }>(await as(bo, '/events?type=split.paid'))).data;
      assert.ok(boEvents.some((event) => event.data.transferId === row.transfer_id && event.data.partDiamonds === 24));
    });

    it('a held spend settles the same parts when the fan approves; the aggregates attribute each part to its creator', async () => {
      const item = await content(500);
      await json(
        await asA(`/splits/content/${item.id}`, {
          method: 'PUT',
          body: {
            shares: [
              { creatorId: h.creator.id, shareBps: 7000 },
              { creatorId: bo.id, shareBps: 3000 },
            ],
          },
        }),
      );
      const careful = await h.fan({ allowance: 0, balance: 1000, name: 'Careful fan' });
      const res = await h.call(`/content/${item.id}/unlock`, { fan: careful, body: {} });
      assert.equal(res.status, 202, await res.clone().text());
      const { confirmation } = (await res.json()) as { confirmation: { id: string } };
      const boBefore = await earnings(bo.id);
      const [pending] = await h.t.db.query<{ transfer_id: string }>('SELECT transfer_id FROM collab_spends WHERE subject_id = ?', [
        item.id,
      ]);
      assert.ok(pending);
      assert.deepEqual(await splitPaid(pending.transfer_id), [], 'nothing is announced while the fan decides');
      await h.server.writer.run(decideConfirmationOperation, { id: confirmation.id, userId: careful.id, approve: true });
      // 500 → 400 net → 280 / 120.
      assert.equal((await earnings(bo.id)) - boBefore, 120);
      assert.deepEqual(
        (await splitPaid(pending.transfer_id)).map((event) => event.data.partDiamonds),
        [280, 120],
      );
      await caughtUp(h, h.server.earnings.aggregator);
      const [daily] = await h.t.db.query<{ net: number; gross: number }>(
        `SELECT sum(net) AS net, sum(gross) AS gross FROM earnings_daily WHERE creator_id = ? AND source = 'unlock'`,
        [bo.id],
      );
      const ledger = await earnings(bo.id);
      // Bo earned only from unlocks so far: the aggregates agree with the ledger to the Diamond.
      assert.equal(Number(daily?.net), ledger);
      const [supporter] = await h.t.db.query<{ net: number }>('SELECT net FROM earnings_supporters WHERE creator_id = ? AND fan_id = ?', [
        bo.id,
        careful.id,
      ]);
      assert.equal(Number(supporter?.net), 120);
    });

    it('changing the shares affects only later spends; each spend records the version it used', async () => {
      const session = await h.server.writer.run(startLiveOperation, { creatorId: h.creator.id, title: 'Jam', now: Date.now() });
      const put = (boBps: number) =>
        asA(`/splits/live/${session.sessionId}`, {
          method: 'PUT',
          body: {
            shares: [
              { creatorId: h.creator.id, shareBps: 10_000 - boBps },
              { creatorId: bo.id, shareBps: boBps },
            ],
          },
        });
      assert.equal(Split.parse(await json(await put(5000))).version, 1);
      const first = await sendOk(h, fans[1]!, { creatorId: h.creator.id, giftId: 'rose', quantity: 10 }, 201);
      assert.equal(Split.parse(await json(await put(2500))).version, 2);
      // Setting the same split again is no new version.
      assert.equal(Split.parse(await json(await put(2500))).version, 2);
      const second = await sendOk(h, fans[1]!, { creatorId: h.creator.id, giftId: 'rose', quantity: 10 }, 201);
      const recorded = async (transferId: string | null) => {
        const [row] = await h.t.db.query<{ parts: string; splits: string }>(
          'SELECT parts, splits FROM collab_spends WHERE transfer_id = ?',
          [transferId],
        );
        assert.ok(row);
        return {
          parts: JSON.parse(row.parts) as Array<{ netDiamonds: number }>,
          version: (JSON.parse(row.splits) as [{ version: number }])[0].version,
        };
      };
      const one = await recorded(first.transferId);
      const two = await recorded(second.transferId);
      assert.equal(one.version, 1);
      assert.equal(two.version, 2);
      const net = one.parts[0]!.netDiamonds + one.parts[1]!.netDiamonds;
      assert.equal(one.parts[1]!.netDiamonds * 2, net, 'the first gift split 50/50');
      assert.equal(two.parts[1]!.netDiamonds * 4, net, 'the second 75/25');
      // Ending the split: the next gift is the owner's alone.
      await json(await asA(`/splits/live/${session.sessionId}`, { method: 'DELETE' }));
      const third = await sendOk(h, fans[1]!, { creatorId: h.creator.id, giftId: 'rose', quantity: 10 }, 201);
      const [none] = await h.t.db.query('SELECT 1 FROM collab_spends WHERE transfer_id = ?', [third.transferId]);
      assert.equal(none, undefined);
    });

    it('concurrent changes of one split each make their own version; exactly one is current', async () => {
      const item = await content(10);
      const results = await Promise.all(
        [1000, 2000, 3000, 4000, 5000].map((boBps) =>
          asA(`/splits/content/${item.id}`, {
            method: 'PUT',
            body: {
              shares: [
                { creatorId: h.creator.id, shareBps: 10_000 - boBps },
                { creatorId: bo.id, shareBps: boBps },
              ],
            },
          }),
        ),
      );
      const versions = await Promise.all(results.map(async (res) => Split.parse(await json(res)).version));
      assert.deepEqual(
        versions.sort((a, b) => a - b),
        [1, 2, 3, 4, 5],
      );
      const rows = await h.t.db.query<{ version: number; ended_at: number | null }>(
        'SELECT version, ended_at FROM collab_splits WHERE item_id = ? ORDER BY version',
        [item.id],
      );
      assert.deepEqual(
        rows.map((row) => row.ended_at === null),
        [false, false, false, false, true],
      );
    });

    it('50 concurrent payments of split products with a refund in the middle: exact parts, exact claw-back, ledger clean', async () => {
      const tee = await makeProduct(h, { name: 'Duo tee', priceDiamonds: 333, stock: null });
      const mug = await makeProduct(h, { name: 'Solo mug', priceDiamonds: 50, stock: null });
      await json(
        await asA(`/splits/product/${tee.id}`, {
          method: 'PUT',
          body: {
            shares: [
              { creatorId: h.creator.id, shareBps: 3334 },
              { creatorId: bo.id, shareBps: 3333 },
              { creatorId: cy.id, shareBps: 3333 },
            ],
          },
        }),
      );
      const orders = [];
      for (let i = 0; i < 50; i++)
        orders.push(
          await makeOrder(h, {
            lines: [
              { productId: tee.id, quantity: 1 },
              { productId: mug.id, quantity: 1 },
            ],
          }),
        );
      // The checkout's read of an open order shows each creator's effective share of the whole.
      const shown = CheckoutOrder.parse(await json(await h.call(`/orders/${orders[1]!.id}`)));
      assert.deepEqual(
        shown.split?.map((share) => [share.displayName, share.shareBps]),
        [
          ['Ada', 4204],
          ['Bo', 2898],
          ['Cy', 2898],
        ],
      );
      assert.equal(shown.splitLine, 'Shared: Ada 42.04% · Bo 28.98% · Cy 28.98%');
      const parties = [h.creator.id, bo.id, cy.id];
      const before = await Promise.all(parties.map(earnings));
      const first = await h.call(`/orders/${orders[0]!.id}/pay`, { fan: fans[0], body: {} });
      assert.equal(first.status, 200, await first.clone().text());
      const payments = orders.slice(1).map((order, i) => h.call(`/orders/${order.id}/pay`, { fan: fans[i % fans.length], body: {} }));
      const refund = h.call(`/orders/${orders[0]!.id}/refund`, { key: 'secret', body: {} });
      const results = await Promise.all([...payments, refund]);
      for (const result of results) assert.equal(result.status, 200, await result.clone().text());
      const after = await Promise.all(parties.map(earnings));
      // Each order: 383 → 306 net (306.4), over the lines 333 : 50 → 266 (266.06) and 40; the tee's 266 → 89 / 89 / 88.
      assert.deepEqual(
        after.map((n, i) => n - before[i]!),
        [49 * (89 + 40), 49 * 89, 49 * 88],
      );
      const [refundRow] = await h.t.db.query<{ transfer_id: string }>('SELECT refund_transfer_id AS transfer_id FROM orders WHERE id = ?', [
        orders[0]!.id,
      ]);
      const refunded = (
        await h.t.db.query<{ creator_id: string; data: string }>(`SELECT creator_id, data FROM events WHERE type = 'split.refunded'`)
      )
        .map((row) => ({ creatorId: row.creator_id, data: JSON.parse(row.data) as SplitRefundedData }))
        .filter((event) => event.data.refundTransferId === refundRow?.transfer_id);
      assert.deepEqual(
        refunded.map((event) => [event.creatorId, event.data.partDiamonds]),
        [
          [h.creator.id, 129],
          [bo.id, 89],
          [cy.id, 88],
        ],
      );
      await h.verifyClean();
    });

    it('card disputes of the fan’s top-ups take a split spend back pro rata, in two parts, never more than a part', async () => {
      await seedRates(h);
      const item = await content(100);
      await json(
        await asA(`/splits/content/${item.id}`, {
          method: 'PUT',
          body: {
            shares: [
              { creatorId: h.creator.id, shareBps: 3334 },
              { creatorId: bo.id, shareBps: 3333 },
              { creatorId: cy.id, shareBps: 3333 },
            ],
          },
        }),
      );
      const fan = await h.fan({ allowance: 10_000, name: 'Disputing fan' });
      const topUps = [];
      for (let i = 0; i < 2; i++) {
        const topUp = await startTopUp(h, fan, (await newQuote(h, 60)).id);
        assert.equal(await h.server.writer.run(payWithTestCardOperation, { id: topUp.id, outcome: 'succeeds' }), 'succeeded');
        topUps.push(topUp);
      }
      const parties = [h.creator.id, bo.id, cy.id];
      const before = await Promise.all(parties.map(earnings));
      const res = await h.call(`/content/${item.id}/unlock`, { fan, body: {} });
      assert.equal(res.status, 201, await res.clone().text());
      const paid = await Promise.all(parties.map(earnings));
      // 100 → 80 net: 26.672 / 26.664 / 26.664 → 27 / 27 / 26.
      assert.deepEqual(
        paid.map((n, i) => n - before[i]!),
        [27, 27, 26],
      );
      const reverse = (topUpId: string) =>
        h.server.writer.run(reverseTopUpOperation, { topUpId, reason: 'dispute', source: 'operator', holdMs: 7 * 86_400_000 });
      // The newer top-up: the wallet holds 20, so 40 of the spend were paid with it.
      const second = await reverse(topUps[1]!.id);
      assert.equal(second.reversedDiamonds, 40);
      const middle = await Promise.all(parties.map(earnings));
      // 40 of 100, pro rata to 27 / 27 / 26 / 20 (fee): 10.8 / 10.8 / 10.4 / 8 → 11 / 11 / 10 / 8.
      assert.deepEqual(
        middle.map((n, i) => paid[i]! - n),
        [11, 11, 10],
      );
      // The older one covers the other 60: exactly what each part still held.
      const first = await reverse(topUps[0]!.id);
      assert.equal(first.reversedDiamonds, 60);
      assert.deepEqual(await Promise.all(parties.map(earnings)), before);
      const [spendRow] = await h.t.db.query<{ transfer_id: string }>('SELECT transfer_id FROM collab_spends WHERE subject_id = ?', [
        item.id,
      ]);
      const refunded = (
        await h.t.db.query<{ creator_id: string; data: string }>(`SELECT creator_id, data FROM events WHERE type = 'split.refunded'`)
      )
        .map((row) => ({ creatorId: row.creator_id, data: JSON.parse(row.data) as SplitRefundedData }))
        .filter((event) => event.data.transferId === spendRow?.transfer_id);
      const back = new Map<string, number>();
      for (const event of refunded) back.set(event.creatorId, (back.get(event.creatorId) ?? 0) + event.data.partDiamonds);
      assert.deepEqual(
        parties.map((id) => back.get(id)),
        [27, 27, 26],
      );
      await h.verifyClean();
    });

    it('the creator’s page: invite, accept and set a split by form; a fan’s confirmation page shows the split', async () => {
      const signedOut = await fetch(`${h.server.url}/account/collaborations`, { redirect: 'manual' });
      assert.equal(signedOut.status, 303, 'signed out: to the sign-in page');
      const eve = await collaborator('Eve');
      const ada = await signedInBrowser(h, h.creator);
      const post = async (browser: Awaited<ReturnType<typeof signedInBrowser>>, path: string, form: Record<string, string> = {}) => {
        const csrf = await browser.csrf('/account/collaborations');
        return browser.request(path, { form: { csrf, ...form }, headers: { Origin: h.server.url } });
      };
      let res = await post(ada, '/account/collaborations/invite', { creator: eve.id });
      assert.equal(res.status, 200);
      assert.match(await res.text(), /Eve: invited/);
      const eveBrowser = await signedInBrowser(h, eve);
      assert.match(await eveBrowser.page('/account/collaborations'), /Ada<\/strong>: invited/);
      res = await post(eveBrowser, `/account/collaborations/${h.creator.id}/accept`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /Ada: collaborating/);
      const item = await content(200);
      // A bad split: the page says what is wrong, and nothing is set.
      res = await post(ada, '/account/collaborations/splits', {
        itemKind: 'content',
        itemId: item.id,
        shares: `${h.creator.id} 50\n${eve.id} 40`,
      });
      assert.equal(res.status, 400);
      assert.match(await res.text(), /sum to 9000 basis points/);
      res = await post(ada, '/account/collaborations/splits', {
        itemKind: 'content',
        itemId: item.id,
        shares: `${h.creator.id} 50\n${eve.id} 50`,
      });
      assert.equal(res.status, 200, await res.clone().text());
      assert.match(await res.text(), /Eve 50%/);

      // A fan beyond their allowance sees who gets what before approving.
      const careful = await h.fan({ allowance: 0, balance: 1000, name: 'Careful' });
      const unlock = await h.call(`/content/${item.id}/unlock`, { fan: careful, body: {} });
      assert.equal(unlock.status, 202);
      const { confirmation } = (await unlock.json()) as { confirmation: { id: string } };
      const fanBrowser = await signedInBrowser(h, careful);
      const confirmPage = await fanBrowser.page(`/confirm/${confirmation.id}`);
      assert.match(confirmPage, /<dt>Split<\/dt>/);
      assert.match(confirmPage, /<strong>Ada<\/strong>: 80 Diamonds/);
      assert.match(confirmPage, /<strong>Eve<\/strong>: 80 Diamonds/);
      assert.match(confirmPage, /40 Diamonds platform fee/);
    });
  });
}
