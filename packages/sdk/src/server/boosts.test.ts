// diamonds.boosts against the real platform: create, read, list and stop a boost with the secret
// key, answers parsed by the protocol's schemas, and a refusal as a typed error with its code. The
// money (budget, charges, the return, both databases, two processes) is tested in the server's
// boosts.test.ts; here, that the SDK reaches the routes and reads their answers.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startMoneyHarness, type MoneyHarness } from '@diamonds/server/testing';
import { createDiamondsServer, isDiamondsError, type DiamondsServer } from './index.js';

describe('@diamonds/sdk/server boosts', () => {
  let h: MoneyHarness;
  let diamonds: DiamondsServer;

  before(async () => {
    h = await startMoneyHarness('sqlite');
    diamonds = createDiamondsServer({ secretKey: h.site.secretKey, siteId: h.site.id, apiBase: h.server.url });
    // Earnings available at once (a fund payment is not held): what a boost is paid from.
    await h.t.db.transaction(async (tx) => {
      const earnings = await h.server.ledger.accountId({ ownerId: h.creator.id, kind: 'earnings' }, tx);
      const issuance = await h.server.ledger.accountId({ ownerId: null, kind: 'issuance' }, tx);
      await h.server.ledger.transferIn(tx, {
        idempotencyKey: `sdk-boost:${randomUUID()}`,
        code: 'fund',
        postings: [
          { accountId: issuance, amountDiamonds: -100 },
          { accountId: earnings, amountDiamonds: 100 },
        ],
        metadata: { description: 'Test earnings' },
      });
    });
  });
  after(async () => {
    await h?.verifyClean();
    await h?.close();
  });

  it('creates, retrieves, lists and stops a boost; refuses a budget beyond the earnings with its code', async () => {
    const content = await diamonds.content.create({ title: 'Boost me', body: 'Hello', priceDiamonds: 5 });
    const endsAt = Date.now() + 3_600_000;
    await assert.rejects(
      diamonds.boosts.create({ itemId: content.id, budgetDiamonds: 1_000, endsAt, url: 'http://127.0.0.1:5173/post' }),
      (error: unknown) => isDiamondsError(error) && error.code === 'insufficient_earnings',
    );
    const boost = await diamonds.boosts.create({ itemId: content.id, budgetDiamonds: 40, endsAt, url: 'http://127.0.0.1:5173/post' });
    assert.equal(boost.status, 'active');
    assert.equal(boost.stats.leftDiamonds, 40);
    assert.equal((await diamonds.boosts.retrieve(boost.id)).id, boost.id);
    assert.ok((await diamonds.boosts.list()).data.some((b) => b.id === boost.id));
    const stopped = await diamonds.boosts.stop(boost.id);
    assert.equal(stopped.status, 'ended');
    assert.equal(stopped.endReason, 'stopped');
    assert.equal(stopped.stats.returnedDiamonds, 40);
  });
});
