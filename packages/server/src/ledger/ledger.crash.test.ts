import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { streamAmount, streamRequest, streamTotal, type StreamJob } from '../testing/ledger-child-protocol.js';
import { killLedgerChildren, startLedgerChild, stopLedgerChildren } from '../testing/ledger-child-runner.js';
import type { Database } from '../db/types.js';
import { Ledger } from './ledger.js';
import { verifyLedger } from './verify.js';

/** Keys in the stream; the first child is killed long before the end. */
const KEYS = 1_500;
/** Each block of 25 keys: 5 single transfers, then one batch of 20. */
const BLOCK_SIZE = 25;
const SINGLES_PER_BLOCK = 5;

async function count(db: Database, sql: string): Promise<number> {
  const rows = await db.query<{ n: number }>(sql);
  return Number(rows[0]?.n);
}

/**
 * On PostgreSQL, waits until no other session of this database is inside a transaction: a
 * COMMIT that reached the server just before the kill may still land after the process is gone.
 */
async function untilOtherSessionsAreIdle(db: Database): Promise<void> {
  if (db.kind !== 'postgres') return;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const busy = await count(
      db,
      `SELECT count(*) AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND state IS NOT NULL AND state <> 'idle'`,
    );
    if (busy === 0) return;
    if (Date.now() > deadline) throw new Error(`${busy} session(s) still busy 10 s after the kill`);
    await sleep(10);
  }
}

for (const kind of DATABASE_KINDS) {
  // Skipped only outside CI when PostgreSQL is unreachable (skipUnlessPostgres warns loudly; under
  // CI=true it throws instead), so a machine without PostgreSQL still runs the SQLite half.
  const skip = await skipUnlessPostgres(kind);
  describe(kind, { skip }, () => {
    let testDb: TestDatabase;
    let ledger: Ledger;

    before(async () => {
      testDb = await createTestDatabase(kind);
      ledger = new Ledger(testDb.db);
    });

    after(async () => {
      killLedgerChildren();
      if (testDb) await testDb.drop();
    });

    it(
      'a process SIGKILLed in a stream of transfers leaves no partial transfer, and a replay of every key applies each once',
      { timeout: 120_000 },
      async (t) => {
        const wallet = await ledger.openAccount({ ownerId: 'crash-fan', kind: 'wallet' });
        const creator = await ledger.openAccount({ ownerId: 'crash-creator', kind: 'earnings' });
        const issuance = await ledger.platformAccount('issuance');
        // Exactly enough for every key once: a key applied twice would also run out of funds.
        const total = streamTotal(KEYS);
        await ledger.transfer({
          idempotencyKey: 'topup-for-crash',
          code: 'purchase',
          postings: [
            { accountId: issuance.id, amountDiamonds: -total },
            { accountId: wallet.id, amountDiamonds: total },
          ],
        });
        const keyPrefix = 'crash-';
        const job: StreamJob = {
          mode: 'stream',
          fromAccountId: wallet.id,
          toAccountId: creator.id,
          keyPrefix,
          count: KEYS,
          blockSize: BLOCK_SIZE,
          singlesPerBlock: SINGLES_PER_BLOCK,
          timeLimitMs: 25_000,
        };
        const streamed = `SELECT count(*) AS n FROM transfers WHERE idempotency_key LIKE '${keyPrefix}%'`;

        // 1. Kill the child at an unforeseeable point after it has committed 50 to 300 keys.
        const killAfter = 50 + Math.floor(Math.random() * 250);
        const first = await startLedgerChild(testDb);
        first.send(job);
        await first.waitFor('progress', (m) => m.done >= killAfter, 60_000);
        // The child commits without pause; a few milliseconds more land it anywhere in a commit.
        await sleep(Math.random() * 10);
        first.kill('SIGKILL');
        const exit = await first.exited;
        assert.equal(exit.signal, 'SIGKILL', `the child ended by itself (code ${exit.code}) before it was killed; stderr:\n${exit.stderr}`);
        const reported = Math.max(...first.messages.map((m) => (m.type === 'progress' ? m.done : 0)));

        // 2. After the crash, from a new connection: the journal holds whole commits only.
        const reopened = testDb.reopen();
        let committed: number;
        try {
          await untilOtherSessionsAreIdle(reopened);
          const report = await verifyLedger(reopened);
          assert.deepEqual(report.problems, []);
          const keys = await reopened.query<{ idempotency_key: string }>(
            `SELECT idempotency_key FROM transfers WHERE idempotency_key LIKE '${keyPrefix}%'`,
          );
          committed = keys.length;
          t.diagnostic(`killed after ${killAfter}+ keys: ${reported} reported, ${committed} committed`);
          // Everything the child reported is there (it reports after the commit returns)…
          assert.ok(committed >= reported, `${committed} keys committed but ${reported} reported`);
          assert.ok(committed < KEYS);
          // …the keys are exactly 0 … committed-1 (one process commits them in order)…
          const indexes = keys.map((row) => Number(row.idempotency_key.slice(keyPrefix.length))).sort((a, b) => a - b);
          assert.deepEqual(
            indexes,
            Array.from({ length: committed }, (_, i) => i),
          );
          // …a batch is all there or not at all…
          assert.ok(committed % BLOCK_SIZE <= SINGLES_PER_BLOCK, `${committed} keys: a batch was cut in the middle`);
          // …and every transfer has both its postings, with the balances to match.
          const postings = await count(
            reopened,
            `SELECT count(*) AS n FROM postings p JOIN transfers t ON t.id = p.transfer_id
           WHERE t.idempotency_key LIKE '${keyPrefix}%'`,
          );
          assert.equal(postings, 2 * committed);
          const moved = streamTotal(committed);
          const creatorAfterCrash = await new Ledger(reopened).getAccount(creator.id);
          assert.equal(creatorAfterCrash.balanceDiamonds, moved);
          assert.equal((await new Ledger(reopened).getAccount(wallet.id)).balanceDiamonds, total - moved);
        } finally {
          await reopened.close();
        }

        // 3. A restarted process sends every key again, the same requests: the committed ones are
        // replays, the rest apply once.
        const second = await startLedgerChild(testDb);
        second.send(job);
        const done = await second.waitFor('stream_done', undefined, 60_000);
        await stopLedgerChildren([second]);
        t.diagnostic(`replay of ${done.done} keys took ${done.elapsedMs} ms`);
        assert.deepEqual(done.failures, []);
        assert.equal(done.done, KEYS, 'the replay stopped at its time limit');
        assert.equal(done.replayed, committed);
        assert.equal(done.applied, KEYS - committed);
        assert.equal(done.maxReplayedIndex, committed - 1);
        assert.equal(done.minAppliedIndex, committed);

        // 4. One transfer per key, every Diamond moved once, and the books are clean.
        assert.equal(await count(testDb.db, streamed), KEYS);
        assert.equal(
          await count(testDb.db, `SELECT count(DISTINCT idempotency_key) AS n FROM transfers WHERE idempotency_key LIKE '${keyPrefix}%'`),
          KEYS,
        );
        const amounts = await testDb.db.query<{ idempotency_key: string; amount: number }>(
          `SELECT idempotency_key, amount FROM transfers WHERE idempotency_key LIKE '${keyPrefix}%'`,
        );
        for (const row of amounts)
          assert.equal(Number(row.amount), streamAmount(Number(row.idempotency_key.slice(keyPrefix.length))), row.idempotency_key);
        const walletAfter = await ledger.getAccount(wallet.id);
        assert.equal(walletAfter.balanceDiamonds, 0);
        assert.equal(walletAfter.heldDiamonds, 0);
        assert.equal((await ledger.getAccount(creator.id)).balanceDiamonds, total);
        const report = await verifyLedger(testDb.db);
        assert.deepEqual(report.problems, []);
        assert.equal(report.ok, true);

        // 5. And once more in this process, around the point of the crash: nothing applies twice.
        const boundary = Array.from({ length: 2 * BLOCK_SIZE }, (_, i) => committed - BLOCK_SIZE + i).filter((i) => i >= 0 && i < KEYS);
        const again = await ledger.transferBatch(boundary.map((index) => streamRequest(job, index)));
        assert.ok(
          again.every((result) => result.ok && result.replayed),
          'a retry after the restart applied again',
        );
        assert.equal(await count(testDb.db, streamed), KEYS);
      },
    );
  });
}
