import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isApiError } from '../errors.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import type { Database, SqlClient, SqlValue } from '../db/types.js';
import { GroupCommit, afterCommit, selfContained } from './group-commit.js';
import { openPostgres } from '../db/postgres.js';
import { MONEY_BATCH_LOCK_ID } from '../db/locks.js';
import { Ledger, type Account, type TransferRequest } from './ledger.js';
import { verifyLedger } from './verify.js';

/** `db` whose transactions tell `note` each statement they send, with its parameters. */
function noting(db: Database, note: (sql: string, params: readonly SqlValue[] | undefined) => void): Database {
  return {
    ...db,
    transaction: (work, options) =>
      db.transaction(
        (tx) =>
          work({
            kind: tx.kind,
            query: (sql, params) => (note(sql, params), tx.query(sql, params)),
            run: (sql, params) => (note(sql, params), tx.run(sql, params)),
          }),
        options,
      ),
  };
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`group commit on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let ledger: Ledger;
    let wallet: Account;
    let earnings: Account;
    const gift = (key: string, amount: number): TransferRequest => ({
      idempotencyKey: key,
      code: 'gift',
      postings: [
        { accountId: wallet.id, amountDiamonds: -amount },
        { accountId: earnings.id, amountDiamonds: amount },
      ],
    });

    before(async () => {
      t = await createTestDatabase(kind);
      ledger = new Ledger(t.db);
      wallet = await ledger.openAccount({ ownerId: 'usr_fan', kind: 'wallet' });
      earnings = await ledger.openAccount({ ownerId: 'usr_creator', kind: 'earnings' });
      const issuance = await ledger.platformAccount('issuance');
      await ledger.transfer({
        idempotencyKey: 'fund',
        code: 'purchase',
        postings: [
          { accountId: issuance.id, amountDiamonds: -1_000 },
          { accountId: wallet.id, amountDiamonds: 1_000 },
        ],
      });
    });
    after(async () => {
      if (t) {
        assert.deepEqual((await verifyLedger(t.db)).problems, []);
        await t.drop();
      }
    });

    it('shares commits among concurrent callers, each with its own result', async () => {
      const commits = new GroupCommit(ledger, { maxBatch: 50 });
      const outcomes = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          commits.transfer(gift(`gc-${i}`, 5)).then(
            (r) => (r.replayed ? 'replayed' : 'ok'),
            (error: unknown) => (isApiError(error) ? error.code : 'crash'),
          ),
        ),
      );
      assert.equal(outcomes.filter((o) => o === 'ok').length, 200, 'the wallet holds 1,000: exactly 200 gifts of 5');
      assert.equal(outcomes.filter((o) => o === 'insufficient_funds').length, 100);
      assert.ok(commits.batches <= 7, `300 requests took ${commits.batches} transactions; expected at most 7`);
      assert.equal((await ledger.getAccount(wallet.id)).balanceDiamonds, 0);
      assert.equal((await ledger.getAccount(earnings.id)).balanceDiamonds, 1_000);
    });

    it('with a least interval between batches, writes a lone request at once and gathers a trickle into one batch', async () => {
      const commits = new GroupCommit(ledger, { minBatchIntervalMs: 500 }); // wide enough for a loaded machine's timers
      const ran: number[] = [];
      const work = (label: number) =>
        commits.run(async (tx) => {
          ran.push(label);
          await tx.query('SELECT 1');
          return label;
        });
      const started = performance.now();
      assert.equal(await work(1), 1);
      // Well under the 500 ms interval it would have waited (a loaded machine's commit can take 100 ms).
      assert.ok(performance.now() - started < 400, 'a lone request after a quiet spell does not wait');
      assert.equal(commits.batches, 1);
      // A trickle right after: the next batch waits for the interval, gathering all three.
      const trickle = [work(2)];
      await new Promise((resolve) => setTimeout(resolve, 20));
      trickle.push(work(3));
      await new Promise((resolve) => setTimeout(resolve, 20));
      trickle.push(work(4));
      assert.deepEqual(await Promise.all(trickle), [2, 3, 4]);
      assert.equal(commits.batches, 2, 'one batch for the trickle');
      assert.ok(performance.now() - started >= 495, 'the second batch started no sooner than the interval');
      assert.deepEqual(ran, [1, 2, 3, 4]);
    });

    it('keeps exactly the writes of the works that succeeded, whatever the order of failures in the batch', async () => {
      // Failures first, in a row, after a success (whose savepoint PostgreSQL already reopened
      // for the next work), and last (whose savepoint the COMMIT would otherwise release).
      const pattern = ['fail', 'ok', 'ok', 'fail', 'fail', 'ok', 'ok', 'fail'] as const;
      const issuance = await ledger.platformAccount('issuance');
      await ledger.transfer({
        idempotencyKey: 'fund-pattern',
        code: 'purchase',
        postings: [
          { accountId: issuance.id, amountDiamonds: -pattern.length },
          { accountId: wallet.id, amountDiamonds: pattern.length },
        ],
      });
      const commits = new GroupCommit(ledger);
      const before = await ledger.getAccount(earnings.id);
      const callbacks: number[] = [];
      const outcomes = await Promise.allSettled(
        pattern.map((kind, i) =>
          commits.run(async (tx) => {
            await ledger.transferIn(tx, gift(`gc-pattern-${i}`, 1));
            afterCommit(tx, () => callbacks.push(i));
            if (kind === 'fail') throw new Error(`work ${i} fails after writing`);
            return i;
          }),
        ),
      );
      assert.equal(commits.batches, 1, 'one transaction for the whole batch');
      assert.deepEqual(
        outcomes.map((outcome) => outcome.status),
        pattern.map((kind) => (kind === 'ok' ? 'fulfilled' : 'rejected')),
      );
      const kept = pattern.flatMap((kind, i) => (kind === 'ok' ? [i] : []));
      assert.deepEqual(callbacks, kept, 'after-commit callbacks of the kept works only');
      const rows = await t.db.query<{ idempotency_key: string }>(
        `SELECT idempotency_key FROM transfers WHERE idempotency_key LIKE 'gc-pattern-%' ORDER BY idempotency_key`,
      );
      assert.deepEqual(
        rows.map((row) => row.idempotency_key),
        kept.map((i) => `gc-pattern-${i}`),
      );
      assert.equal((await ledger.getAccount(earnings.id)).balanceDiamonds - before.balanceDiamonds, kept.length);
    });

    it('runs self-contained statements without savepoints, and undoes a work that fails after one wrote by running the batch again', async () => {
      await t.db.run('CREATE TABLE gc_scratch (id TEXT PRIMARY KEY)');
      // The statements the batch sends, to see where savepoints go.
      const sent: string[] = [];
      const counted = noting(t.db, (sql) => sent.push(sql));
      const commits = new GroupCommit(new Ledger(counted));
      const insert = (tx: SqlClient, id: string) => tx.run('INSERT INTO gc_scratch (id) VALUES (?)', [id]);
      const callbacks: string[] = [];
      const selfContainedWork = (id: string, then: 'ok' | 'throw', write = true) =>
        commits.run(async (tx) => {
          afterCommit(tx, () => callbacks.push(id));
          // A refusal is a statement that writes nothing (and says so).
          const written = await selfContained(
            tx,
            (raw) => (write ? insert(raw, id) : raw.run('DELETE FROM gc_scratch WHERE id = ?', [id])),
            (n) => n > 0,
          );
          if (then === 'throw') throw new Error(`work ${id} failed after its statement`);
          return written;
        });

      // Only self-contained works that succeed: no savepoint at all.
      await Promise.all([selfContainedWork('s1', 'ok'), selfContainedWork('s2', 'ok')]);
      assert.equal(sent.filter((sql) => sql.includes('SAVEPOINT')).length, 0, sent.join('\n'));

      sent.length = 0;
      callbacks.length = 0;
      const outcomes = await Promise.allSettled([
        commits.run(async (tx) => (afterCommit(tx, () => callbacks.push('a')), insert(tx, 'a'))),
        selfContainedWork('b', 'ok'),
        selfContainedWork('c', 'throw'),
        selfContainedWork('d', 'throw', false),
        selfContainedWork('e', 'ok'),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled'],
      );
      const rows = await t.db.query<{ id: string }>('SELECT id FROM gc_scratch ORDER BY id');
      assert.deepEqual(
        rows.map((row) => row.id),
        ['a', 'b', 'e', 's1', 's2'],
        'c wrote before failing: the batch ran again and c was undone alone',
      );
      assert.deepEqual(callbacks.sort(), ['a', 'b', 'e'], 'after-commit callbacks of the kept works only, once');
      assert.ok(
        sent.some((sql) => sql.includes('ROLLBACK TO SAVEPOINT')),
        'the rerun put every work under a savepoint',
      );
    });

    // SQLite's batches start with no savepoint at all (PostgreSQL's works have theirs, or a self-contained statement).
    if (kind === 'sqlite')
      it('runs a batch without savepoints until a work fails after writing; that batch runs again under savepoints, and so do the next 20', async () => {
        await t.db.run('CREATE TABLE gc_bare (id TEXT PRIMARY KEY)');
        const sent: string[] = [];
        const counted = noting(t.db, (sql, params) => sent.push(`${sql} ${String(params?.[0] ?? '')}`));
        const commits = new GroupCommit(new Ledger(counted));
        const insert = (tx: SqlClient, id: string) => tx.run('INSERT INTO gc_bare (id) VALUES (?)', [id]);
        const callbacks: string[] = [];
        const ok = (id: string) => commits.run(async (tx) => (afterCommit(tx, () => callbacks.push(id)), insert(tx, id)));
        const savepoints = () => sent.filter((sql) => sql.includes('SAVEPOINT')).length;
        const ids = async () => (await t.db.query<{ id: string }>('SELECT id FROM gc_bare ORDER BY id')).map((row) => row.id);

        // A refusal that changed nothing (a conditional write that matched no row) fails alone.
        const refused = commits.run(async (tx) => {
          const changed = await tx.run('DELETE FROM gc_bare WHERE id = ?', ['absent']);
          throw new Error(`refused after a statement that changed ${changed} rows`);
        });
        const first = await Promise.allSettled([ok('a1'), refused, ok('a2')]);
        assert.deepEqual(
          first.map((o) => o.status),
          ['fulfilled', 'rejected', 'fulfilled'],
        );
        assert.equal(savepoints(), 0, sent.join('\n'));
        assert.deepEqual(await ids(), ['a1', 'a2']);

        sent.length = 0;
        const second = await Promise.allSettled([
          ok('b1'),
          commits.run(async (tx) => {
            await insert(tx, 'b2');
            throw new Error('b2 failed after its write');
          }),
          ok('b3'),
        ]);
        assert.deepEqual(
          second.map((o) => o.status),
          ['fulfilled', 'rejected', 'fulfilled'],
        );
        assert.deepEqual(await ids(), ['a1', 'a2', 'b1', 'b3'], 'b2 wrote before failing: the batch ran again and b2 was undone alone');
        assert.equal(sent.filter((sql) => sql.endsWith(' b1')).length, 2, 'the batch ran twice');
        assert.ok(sent.includes('ROLLBACK TO SAVEPOINT group_item '), sent.join('\n'));
        assert.deepEqual(callbacks.sort(), ['a1', 'a2', 'b1', 'b3'], 'after-commit callbacks of the kept works only, once');

        // The next 20 batches start under savepoints; the one after them without.
        for (let i = 0; i < 20; i++) {
          sent.length = 0;
          await ok(`c${String(i).padStart(2, '0')}`);
          assert.equal(
            savepoints(),
            1,
            `batch ${i} after the rerun: its work under a savepoint (the commit releases it)\n${sent.join('\n')}`,
          );
        }
        sent.length = 0;
        await ok('d1');
        assert.equal(savepoints(), 0, sent.join('\n'));
        assert.equal((await ids()).length, 25);
      });

    it('sends the self-contained statements of a batch together, and still lets each work that goes on take its turn', async () => {
      await t.db.run('CREATE TABLE gc_ahead (id TEXT PRIMARY KEY)');
      // When each statement was sent and answered, by the id it writes (`?` is its first value).
      const log: Array<{ id: string; sent: number; answered: number }> = [];
      let clock = 0;
      const logged: Database = {
        ...t.db,
        transaction: (work, options) =>
          t.db.transaction((tx) => {
            const track =
              <T>(send: (sql: string, params?: readonly SqlValue[]) => Promise<T>) =>
              (sql: string, params?: readonly SqlValue[]) => {
                const entry = { id: String(params?.[0] ?? sql), sent: ++clock, answered: 0 };
                log.push(entry);
                return send(sql, params).finally(() => (entry.answered = ++clock));
              };
            return work({
              kind: tx.kind,
              query: track((sql, params) => tx.query(sql, params)),
              run: track((sql, params) => tx.run(sql, params)),
            });
          }, options),
      };
      const commits = new GroupCommit(new Ledger(logged));
      const insert = (tx: SqlClient, id: string) => tx.run('INSERT INTO gc_ahead (id) VALUES (?)', [id]);
      const ahead = (id: string, then?: () => (tx: SqlClient) => Promise<unknown>) =>
        commits.run(async (tx) => {
          // A refusal (writes nothing) when the work goes on, so that it may fail alone.
          const written = await selfContained(
            tx,
            (raw) => (then ? raw.run('DELETE FROM gc_ahead WHERE id = ?', [id]) : insert(raw, id)),
            (n) => n > 0,
          );
          if (then) await then()(tx);
          return written;
        });
      const outcomes = await Promise.allSettled([
        ahead('a1'),
        // Refused by its first statement, then on the general path: a write of its own, after a1 and a2 were sent.
        ahead('b1', () => (tx) => insert(tx, 'b1-general')),
        ahead('a2'),
        // Its first statement waits for its turn; it writes, then fails: only its own write is undone.
        commits.run(async (tx) => {
          await insert(tx, 'c1');
          throw new Error('c1 failed after its write');
        }),
        ahead('a3'),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
      );
      const rows = await t.db.query<{ id: string }>('SELECT id FROM gc_ahead ORDER BY id');
      assert.deepEqual(
        rows.map((row) => row.id),
        ['a1', 'a2', 'a3', 'b1-general'],
      );
      const first = (id: string) => log.find((entry) => entry.id === id)!;
      // On PostgreSQL, whose connections pipeline, a1, b1 and a2 were all sent before the first of
      // them was answered: one round trip (SQLite answers each as it is sent). b1's own write went
      // after all three, c1 after it.
      if (kind === 'postgres') {
        assert.ok(first('b1').sent < first('a1').answered && first('a2').sent < first('a1').answered, JSON.stringify(log));
      }
      assert.ok(first('b1-general').sent > first('a2').sent, JSON.stringify(log));
      assert.ok(first('c1').sent > first('b1-general').answered, JSON.stringify(log));
      assert.ok(first('a3').sent > first('c1').answered, 'no statement is sent while a work has its turn');
    });

    // The advisory lock is PostgreSQL's.
    if (kind === 'postgres')
      it('fails a batch whose advisory lock timed out with that error, not a missing savepoint', async () => {
        // Another process's batch holds the money-batch lock (as one blocked mid-batch would).
        const holder = t.reopen();
        const impatient = openPostgres({ connectionString: t.settings.databaseUrl!, lockTimeoutMs: 200 });
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        let locked!: () => void;
        const isLocked = new Promise<void>((resolve) => (locked = resolve));
        const holding = holder.transaction(async (tx) => {
          await tx.run(`SELECT pg_advisory_xact_lock(${MONEY_BATCH_LOCK_ID})`);
          locked();
          await held;
        });
        try {
          await isLocked;
          const commits = new GroupCommit(new Ledger(impatient));
          await assert.rejects(
            commits.run((tx) => tx.query('SELECT 1 AS one')),
            (error: unknown) => (error as { code?: string }).code === '55P03',
            'the lock timeout (55P03), as the database said it',
          );
        } finally {
          release();
          await holding;
          await impatient.close();
          await holder.close();
        }
      });

    it('replays a key within and across batches, and writes a lone request at once', async () => {
      const commits = new GroupCommit(ledger);
      const [a, b] = await Promise.all([commits.transfer(gift('gc-0', 5)), commits.transfer(gift('gc-0', 5))]);
      assert.equal(a.replayed && b.replayed, true);
      await assert.rejects(commits.transfer(gift('gc-1', 6)), (e: unknown) => isApiError(e, 'idempotency_key_reused'));
      await assert.rejects(commits.transfer(gift('gc-new', 0)), (e: unknown) => isApiError(e, 'invalid_amount'));
      assert.equal(commits.batches, 3);
    });
  });
}
