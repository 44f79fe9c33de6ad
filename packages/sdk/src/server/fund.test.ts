// diamonds.fund against the real platform: the site owner's view of the creator fund, parsed by
// the protocol's schema. The periods' arithmetic is tested on both databases in the server's
// fund.test.ts; here, that the SDK reaches the route with the secret key and reads its answer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startMoneyHarness, type MoneyHarness } from '@diamonds/server/testing';
import { createDiamondsServer, type DiamondsServer } from './index.js';

describe('@diamonds/sdk/server fund', () => {
  let h: MoneyHarness;
  let diamonds: DiamondsServer;

  before(async () => {
    h = await startMoneyHarness('sqlite');
    diamonds = createDiamondsServer({ secretKey: h.site.secretKey, siteId: h.site.id, apiBase: h.server.url });
  });
  after(async () => {
    await h?.close();
  });

  it('retrieves the published rules and the owner’s periods', async () => {
    const fund = await diamonds.fund.retrieve();
    assert.equal(fund.object, 'fund');
    assert.match(fund.creatorId, /^usr_/);
    assert.ok(fund.rules.capPerSupporter > 0 && fund.rules.minimumSupporters > 0);
    assert.deepEqual(fund.periods, [], 'no period was opened on this platform');
  });
});
