import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { isApiError } from '../errors.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { inlineLimit, openSqlite } from './sqlite.js';
import { LATEST_SCHEMA_VERSION, migrate, schemaVersion } from './migrations.js';
import { sqliteFile } from '../config.js';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`data layer on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    before(async () => {
      t = await createTestDatabase(kind);
      await t.db.run('CREATE TABLE scratch (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)');
      await t.db.run('INSERT INTO scratch (id, n) VALUES (1, 0), (2, 0)');
    });
    after(async () => {
      if (t) await t.drop();
    });

    it('binds ? placeholders in order, booleans and nulls included', async () => {
      const rows = await t.db.query<{ a: number; b: string; c: unknown }>('SELECT ? AS a, ? AS b, ? AS c', [7, 'x?y', null]);
      assert.deepEqual(rows, [{ a: kind === 'postgres' ? '7' : 7, b: 'x?y', c: null }]);
      const [flag] = await t.db.query<{ yes: unknown }>(`SELECT CASE WHEN ? THEN 1 ELSE 0 END AS yes`, [true]);
      assert.equal(Number(flag?.yes), 1);
    });

    it('limits to a trailing LIMIT ? whatever its value (SQLite writes small ones into the statement)', async () => {
      const ids = async (limit: number) =>
        (await t.db.query<{ id: number }>('SELECT id FROM scratch WHERE id > ? ORDER BY id LIMIT ?', [0, limit])).map((row) =>
          Number(row.id),
        );
      assert.deepEqual(await ids(1), [1]);
      assert.deepEqual(await ids(2), [1, 2]);
      assert.deepEqual(await ids(0), []);
      // Past what is written into the statement, still bound.
      assert.deepEqual(await ids(5000), [1, 2]);
      await t.db.transaction(async (tx) => {
        assert.deepEqual(await tx.query('SELECT id FROM scratch ORDER BY id DESC LIMIT ?', [1]), [{ id: 2 }]);
      });
    });

    it('returns 64-bit integers as exact numbers', async () => {
      const [row] = await t.db.query<{ big: number }>('SELECT CAST(? AS BIGINT) * 1000 AS big', [9_000_000_000]);
      assert.equal(row?.big, 9_000_000_000_000);
    });

    it('commits all of a transaction or none of it', async () => {
      await t.db.transaction(async (tx) => {
        await tx.run('UPDATE scratch SET n = n + 1 WHERE id = 1');
        await tx.run('UPDATE scratch SET n = n + 1 WHERE id = 2');
      });
      await assert.rejects(
        t.db.transaction(async (tx) => {
          await tx.run('UPDATE scratch SET n = n + 100 WHERE id = 1');
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      const rows = await t.db.query<{ n: number }>('SELECT n FROM scratch ORDER BY id');
      assert.deepEqual(
        rows.map((r) => Number(r.n)),
        [1, 1],
      );
    });

    it('keeps concurrent transactions of one process from interleaving', async () => {
      await Promise.all(
        Array.from({ length: 40 }, () =>
          t.db.transaction(async (tx) => {
            const [row] = await tx.query<{ n: number }>(`SELECT n FROM scratch WHERE id = 2${kind === 'postgres' ? ' FOR UPDATE' : ''}`);
            await new Promise((resolve) => setImmediate(resolve));
            await tx.run('UPDATE scratch SET n = ? WHERE id = 2', [Number(row?.n) + 1]);
          }),
        ),
      );
      const [row] = await t.db.query<{ n: number }>('SELECT n FROM scratch WHERE id = 2');
      assert.equal(Number(row?.n), 41, 'a lost update means two transactions interleaved');
    });

    it('knows its schema version, and migrating again changes nothing', async () => {
      assert.equal(await schemaVersion(t.db), LATEST_SCHEMA_VERSION);
      assert.deepEqual(await migrate(t.db), []);
    });

    if (kind === 'sqlite') {
      it('keeps savepoints’ undo log in memory: no temporary file is written per group commit', async () => {
        // 2 is MEMORY: the statement journal of each savepoint no longer spills to a file.
        const [row] = await t.db.query<{ temp_store: number }>('PRAGMA temp_store');
        assert.equal(Number(row?.temp_store), 2);
      });
    }

    if (kind === 'postgres') {
      it('prepares statements with parameters once per connection, and only those', async () => {
        const select = 'SELECT n FROM scratch WHERE id = ? AND n >= ?';
        const prepared = await t.db.transaction(async (tx) => {
          // One connection for the whole transaction: the same session's prepared statements.
          for (let i = 0; i < 3; i++) assert.equal((await tx.query(select, [1, 0])).length, 1);
          await tx.query('SELECT count(*) AS n FROM scratch');
          return tx.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements WHERE NOT from_sql');
        });
        const statements = prepared.map((row) => row.statement);
        assert.equal(
          statements.filter((text) => text === 'SELECT n FROM scratch WHERE id = $1 AND n >= $2').length,
          1,
          statements.join('\n'),
        );
        assert.ok(!statements.includes('SELECT count(*) AS n FROM scratch'), 'a statement without parameters is not prepared');
      });

      it('runs a transaction again after a deadlock, and both finish', async () => {
        let attempts = 0;
        let arrived = 0;
        let release!: () => void;
        const bothLocked = new Promise<void>((resolve) => (release = resolve));
        const crossing = (first: number, second: number) =>
          t.db.transaction(async (tx) => {
            attempts++;
            await tx.run('UPDATE scratch SET n = n + 1 WHERE id = ?', [first]);
            if (++arrived === 2) release();
            await bothLocked;
            await tx.run('UPDATE scratch SET n = n + 1 WHERE id = ?', [second]);
          });
        const before = await t.db.query<{ n: number }>('SELECT n FROM scratch ORDER BY id');
        await Promise.all([crossing(1, 2), crossing(2, 1)]);
        assert.ok(attempts >= 3, `expected a retry after the deadlock, saw ${attempts} attempts`);
        const rows = await t.db.query<{ n: number }>('SELECT n FROM scratch ORDER BY id');
        assert.deepEqual(
          rows.map((r) => Number(r.n)),
          before.map((r) => Number(r.n) + 2),
        );
      });

      it('gives up after a bounded number of serialization failures', async () => {
        let attempts = 0;
        await assert.rejects(
          t.db.transaction(
            async () => {
              attempts++;
              throw Object.assign(new Error('could not serialize access'), { code: '40001' });
            },
            { maxAttempts: 3 },
          ),
          /could not serialize/,
        );
        assert.equal(attempts, 3);
      });
    }
  });
}

describe('inlineLimit', () => {
  it('writes a trailing LIMIT ? of a small whole number into the statement, and leaves anything else bound', () => {
    assert.deepEqual(inlineLimit('SELECT a FROM t WHERE b = ? ORDER BY a LIMIT ?', ['x', 25]), [
      'SELECT a FROM t WHERE b = ? ORDER BY a LIMIT 25',
      ['x'],
    ]);
    assert.deepEqual(inlineLimit('SELECT a FROM t LIMIT ?\n  ', [3]), ['SELECT a FROM t LIMIT 3', []]);
    for (const [sql, params] of [
      ['SELECT a FROM t WHERE b = ?', [25]],
      ['SELECT a FROM t LIMIT ?', [5000]],
      ['SELECT a FROM t LIMIT ?', [2.5]],
      ['SELECT a FROM t LIMIT ?', ['5']],
      ['SELECT a FROM t LIMIT ?', [-1]],
      ["SELECT a FROM t WHERE b = 'LIMIT ?'", []],
    ] as const) {
      assert.deepEqual(inlineLimit(sql, params), [sql, params]);
    }
  });
});

describe('SQLite shared by two processes', () => {
  let t: TestDatabase;
  before(async () => {
    t = await createTestDatabase('sqlite');
  });
  after(async () => {
    if (t) await t.drop();
  });

  it('answers database_busy, not a crash, when another process holds the write lock too long, and recovers', async () => {
    // Another process, as far as SQLite knows: a separate connection holding the write lock.
    const other = new BetterSqlite3(sqliteFile(t.settings.dataDir));
    const impatient = openSqlite({ file: sqliteFile(t.settings.dataDir), busyBudgetMs: 100 });
    try {
      other.exec('BEGIN IMMEDIATE');
      let ran = false;
      await assert.rejects(
        impatient.transaction(
          async () => {
            ran = true;
          },
          { maxAttempts: 3 },
        ),
        (error: unknown) => isApiError(error, 'database_busy'),
      );
      assert.equal(ran, false);
      other.exec('COMMIT');
      assert.equal(await impatient.transaction(async (tx) => (await tx.query('SELECT 1 AS one')).length), 1);
    } finally {
      other.close();
      await impatient.close();
    }
  });
});
