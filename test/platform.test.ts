import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Health } from '@diamonds/protocol';
import { startServer, verifyLedger } from '@diamonds/server';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '@diamonds/server/testing';

// The platform as a whole, started the way `npm start` starts it, on each database.
for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`platform on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    before(async () => {
      t = await createTestDatabase(kind);
      await t.db.close(); // the servers below open their own connections, as in production
    });
    after(async () => {
      if (t) await t.drop();
    });

    it('voids a reservation that expired while the server was down, once, when it starts again', async () => {
      const first = await startServer({ port: 0, host: '127.0.0.1', ...t.settings });
      let pendingId: string;
      try {
        const health = Health.parse(await (await fetch(`${first.url}/healthz`)).json());
        assert.equal(health.database, kind);
        const wallet = await first.ledger.openAccount({ ownerId: 'usr_restart', kind: 'wallet' });
        const earnings = await first.ledger.openAccount({ ownerId: 'usr_creator', kind: 'earnings' });
        const issuance = await first.ledger.platformAccount('issuance');
        await first.ledger.transfer({
          idempotencyKey: 'restart-buy',
          code: 'purchase',
          postings: [
            { accountId: issuance.id, amountDiamonds: -100 },
            { accountId: wallet.id, amountDiamonds: 100 },
          ],
        });
        const { transfer } = await first.ledger.transfer({
          idempotencyKey: 'restart-hold',
          code: 'gift',
          reserveForMs: 50,
          postings: [
            { accountId: wallet.id, amountDiamonds: -60 },
            { accountId: earnings.id, amountDiamonds: 60 },
          ],
        });
        pendingId = transfer.id;
        assert.equal((await first.ledger.getAccount(wallet.id)).availableDiamonds, 40);
      } finally {
        await first.close();
      }
      await sleep(80);

      // Two processes' worth of servers start on the same database at once.
      const [second, third] = await Promise.all([
        startServer({ port: 0, host: '127.0.0.1', ...t.settings }),
        startServer({ port: 0, host: '127.0.0.1', ...t.settings }),
      ]);
      try {
        const transfer = await second.ledger.getTransfer(pendingId);
        assert.equal(transfer.state, 'voided');
        const resolutions = await second.db.query<{ n: number }>('SELECT count(*) AS n FROM transfers WHERE pending_id = ?', [pendingId]);
        assert.equal(Number(resolutions[0]?.n), 1);
        const wallet = await second.ledger.openAccount({ ownerId: 'usr_restart', kind: 'wallet' });
        assert.deepEqual([wallet.balanceDiamonds, wallet.heldDiamonds, wallet.availableDiamonds], [100, 0, 100]);
        const report = await verifyLedger(third.db);
        assert.deepEqual(report.problems, []);
      } finally {
        await Promise.all([second.close(), third.close()]);
      }
    });
  });
}
