// diamonds.collaborations against the real platform: invitations and splits through the secret
// key, parsed by the protocol's schemas. The money of splits is tested on both databases in the
// server's collabs/collabs.test.ts; here, that the SDK reaches each route and reads its answer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startMoneyHarness, type MoneyHarness } from '@diamonds/server/testing';
import { createDiamondsServer, isDiamondsApiError, type DiamondsServer } from './index.js';

describe('@diamonds/sdk/server collaborations', () => {
  let h: MoneyHarness;
  let ada: DiamondsServer;

  before(async () => {
    h = await startMoneyHarness('sqlite');
    ada = createDiamondsServer({ secretKey: h.site.secretKey, siteId: h.site.id, apiBase: h.server.url });
  });
  after(async () => {
    await h?.close();
  });

  it('invites, and refuses a split naming a creator who has not accepted, with the code naming the problem', async () => {
    const bo = await h.newCreator('Bo');
    const invited = await ada.collaborations.invite({ creatorId: bo.id });
    assert.equal(invited.status, 'invited');
    const { sent } = await ada.collaborations.list();
    assert.equal(sent[0]?.collaborator.id, bo.id);
    const product = await ada.products.create({ name: 'Duo', priceDiamonds: 10 });
    await assert.rejects(
      ada.collaborations.setSplit('product', product.id, [
        { creatorId: h.creator.id, shareBps: 5000 },
        { creatorId: bo.id, shareBps: 5000 },
      ]),
      (error: unknown) => isDiamondsApiError(error) && error.code === 'collaborator_not_accepted',
    );
    const alone = await ada.collaborations.setSplit('product', product.id, [{ creatorId: h.creator.id, shareBps: 10_000 }]);
    assert.equal(alone.version, 1);
    assert.equal((await ada.collaborations.retrieveSplit('product', product.id)).split?.version, 1);
    assert.equal((await ada.collaborations.clearSplit('product', product.id)).split, null);
    assert.equal((await ada.collaborations.remove(bo.id)).status, 'removed');
  });
});
