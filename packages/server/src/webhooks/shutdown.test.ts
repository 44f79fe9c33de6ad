import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness } from '../testing/money.js';
import { createEndpoint, listDeliveries } from './endpoints.js';
import { startReceiver } from './testing.js';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`stopping the platform with a webhook on the wire on ${kind}`, { skip }, () => {
    it('close() lets the attempt in flight finish and records it', async () => {
      const receiver = await startReceiver();
      const h = await startMoneyHarness(kind, { webhooks: { production: false, pollIntervalMs: 50 } });
      try {
        let answer: (() => void) | undefined;
        receiver.on('/held', (_request, _count, res) => void (answer = () => res.writeHead(200).end('ok')));
        const { endpoint } = await createEndpoint(h.t.db, h.site.id, { url: `${receiver.url}/held` }, { production: false });
        const fan = await h.fan({ allowance: 100, balance: 100 });
        const res = await h.call('/gifts', { fan, body: { creatorId: h.creator.id, giftId: 'rose', quantity: 1 } });
        assert.equal(res.status, 201);
        await receiver.waitFor(() => answer !== undefined, 'the attempt on the wire');
        // Stopping (what SIGINT does) waits for it: answered meanwhile, it is recorded before close resolves.
        const closing = h.server.close();
        answer!();
        await closing;
        const [delivery] = await listDeliveries(h.t.db, h.site.id, endpoint.id);
        assert.equal(delivery?.status, 'succeeded');
        assert.equal(delivery?.attempts, 1);
        const leased = await h.t.db.query('SELECT id FROM webhook_deliveries WHERE lease_owner IS NOT NULL');
        assert.deepEqual(leased, [], 'no lease left behind');
      } finally {
        await h.close();
        await receiver.close();
      }
    });
  });
}
