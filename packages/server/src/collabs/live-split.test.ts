import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LiveSplit } from '@diamonds/protocol';
import { sendOk } from '../gifts/testing.js';
import { createSite } from '../identity/sites.js';
import { endLiveOperation, startLiveOperation } from '../live/live.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, TEST_PAGE_ORIGIN, type MoneyHarness, type TestFan } from '../testing/money.js';

// `GET /v1/live/{creatorId}/split`: what <diamond-gift-button> shows a fan before a gift to a
// creator who is live with collaborators (issue 16).
for (const kind of DATABASE_KINDS) {
  const skip = await skipUnlessPostgres(kind);
  // `skip` (above): only outside CI, loudly, when PostgreSQL is unreachable; under CI=true that fails instead.
  describe(`the split of a creator's live session on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let bo: { id: string; secretKey: string };
    let fan: TestFan;

    const read = async (creatorId: string, options: Parameters<MoneyHarness['call']>[1] = {}): Promise<LiveSplit> => {
      const response = await h.call(`/live/${creatorId}/split`, options);
      const body: unknown = await response.json();
      assert.equal(response.status, 200, JSON.stringify(body));
      // Two seconds at most in the browser's cache: the gift buttons of one page share one answer.
      assert.equal(response.headers.get('cache-control'), 'private, max-age=2');
      return LiveSplit.parse(body);
    };
    const setSplit = (sessionId: string, boBps: number) =>
      h.call(`/splits/live/${sessionId}`, {
        key: 'secret',
        method: 'PUT',
        body: {
          shares: [
            { creatorId: h.creator.id, shareBps: 10_000 - boBps },
            { creatorId: bo.id, shareBps: boBps },
          ],
        },
      });

    before(async () => {
      h = await startMoneyHarness(kind);
      const user = await h.newCreator('Bo');
      const site = await createSite(h.t.db, { ownerId: user.id, name: 'Bo’s page', origins: ['http://127.0.0.1:5999'] });
      bo = { id: user.id, secretKey: site.secretKey };
      assert.equal((await h.call('/collaborations', { key: 'secret', body: { creatorId: bo.id } })).status, 200);
      const accepted = await h.call(`/collaborations/${h.creator.id}/accept`, { key: bo.secretKey, origin: null, body: {} });
      assert.equal(accepted.status, 200);
      fan = await h.fan({ allowance: 1_000_000, balance: 1_000_000 });
    });

    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    it('is none while the creator is not live, and none for a live session without a split', async () => {
      assert.deepEqual(await read(h.creator.id), { object: 'live_split', creatorId: h.creator.id, sessionId: null });
      const session = await h.server.writer.run(startLiveOperation, { creatorId: h.creator.id, title: 'Jam', now: Date.now() });
      assert.deepEqual(await read(h.creator.id), { object: 'live_split', creatorId: h.creator.id, sessionId: session.sessionId });
      await h.server.writer.run(endLiveOperation, { creatorId: h.creator.id, now: Date.now() });
    });

    it('names the live session’s split, as the paywall’s line, and each gift meanwhile is split so', async () => {
      const session = await h.server.writer.run(startLiveOperation, { creatorId: h.creator.id, title: 'Duet', now: Date.now() });
      assert.equal((await setSplit(session.sessionId, 4000)).status, 200);
      const expected: LiveSplit = {
        object: 'live_split',
        creatorId: h.creator.id as LiveSplit['creatorId'],
        sessionId: session.sessionId,
        split: [
          { creatorId: h.creator.id as LiveSplit['creatorId'], displayName: 'Ada', shareBps: 6000 },
          { creatorId: bo.id as LiveSplit['creatorId'], displayName: 'Bo', shareBps: 4000 },
        ],
        splitLine: 'Shared: Ada 60% · Bo 40%',
      };
      assert.deepEqual(await read(h.creator.id), expected);
      // Any key reads it: the secret key, and the publishable key in the query, as the SDK sends
      // it (no Authorization header, so a page's read needs no CORS preflight).
      assert.deepEqual(await read(h.creator.id, { key: 'secret' }), expected);
      const byQuery = await fetch(`${h.server.url}/v1/live/${h.creator.id}/split?key=${h.site.publishableKey}`, {
        headers: { Origin: TEST_PAGE_ORIGIN },
      });
      assert.equal(byQuery.status, 200);
      assert.deepEqual(LiveSplit.parse(await byQuery.json()), expected);

      // What the fan was shown is what a gift does: Bo gets 40% of the creator share.
      const gift = await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'rose', quantity: 10 }, 201);
      const [row] = await h.t.db.query<{ parts: string }>('SELECT parts FROM collab_spends WHERE transfer_id = ?', [gift.transferId]);
      assert.ok(row, 'the gift was split');
      const parts = JSON.parse(row.parts) as Array<{ creatorId: string; netDiamonds: number }>;
      const net = parts.reduce((sum, part) => sum + part.netDiamonds, 0);
      assert.deepEqual(
        parts.map((part) => part.creatorId),
        [h.creator.id, bo.id],
      );
      assert.equal(parts[1]!.netDiamonds * 10, net * 4);

      // A new split shows at once; an ended split or session shows none.
      assert.equal((await setSplit(session.sessionId, 2500)).status, 200);
      assert.equal((await read(h.creator.id)).splitLine, 'Shared: Ada 75% · Bo 25%');
      assert.equal((await h.call(`/splits/live/${session.sessionId}`, { key: 'secret', method: 'DELETE' })).status, 200);
      assert.deepEqual(await read(h.creator.id), { object: 'live_split', creatorId: h.creator.id, sessionId: session.sessionId });
      assert.equal((await setSplit(session.sessionId, 5000)).status, 200);
      assert.equal((await read(h.creator.id)).splitLine, 'Shared: Ada 50% · Bo 50%');
      await h.server.writer.run(endLiveOperation, { creatorId: h.creator.id, now: Date.now() });
      assert.deepEqual(await read(h.creator.id), { object: 'live_split', creatorId: h.creator.id, sessionId: null });
    });

    it('refuses a malformed id (400) and anyone who is not a creator (404), with stable codes', async () => {
      await h.refused(await h.call('/live/usr_nope/split'), 400, 'invalid_id');
      await h.refused(await h.call('/live/usr_01JD3S9ZK4W8Q2V7C5XH6RTB0M/split'), 404, 'creator_not_found');
      await h.refused(await h.call(`/live/${fan.id}/split`), 404, 'creator_not_found');
      // Without a key, as any read of the API.
      await h.refused(await h.call(`/live/${h.creator.id}/split`, { key: 'none' }), 401, 'invalid_api_key');
    });
  });
}
