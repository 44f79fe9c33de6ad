import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { SWEEPER_LOCK_ID, asLeader } from './locks.js';
import type { Database } from './types.js';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`one process at a time (asLeader) on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let other: Database;
    before(async () => {
      t = await createTestDatabase(kind);
      other = t.reopen();
    });
    after(async () => {
      await other?.close();
      await t?.drop();
    });

    it(
      kind === 'postgres'
        ? 'runs the work in one of two processes at once, then in either'
        : 'always runs the work (one process serves SQLite)',
      async () => {
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        let started!: () => void;
        const running = new Promise<void>((resolve) => (started = resolve));
        const first = asLeader(t.db, SWEEPER_LOCK_ID, async () => {
          started();
          await held;
          return 'first';
        });
        await running;
        const second = await asLeader(other, SWEEPER_LOCK_ID, () => Promise.resolve('second'));
        assert.equal(second, kind === 'postgres' ? undefined : 'second');
        release();
        assert.equal(await first, 'first');
        // Released with the first one's transaction: the other process's next turn runs.
        assert.equal(await asLeader(other, SWEEPER_LOCK_ID, () => Promise.resolve('again')), 'again');
      },
    );

    it('passes the work’s error on, and the lock is free after it', async () => {
      await assert.rejects(
        asLeader(t.db, SWEEPER_LOCK_ID, () => Promise.reject(new Error('sweep failed'))),
        /sweep failed/,
      );
      assert.equal(await asLeader(other, SWEEPER_LOCK_ID, () => Promise.resolve(1)), 1);
    });
  });
}
