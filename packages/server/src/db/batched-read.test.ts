import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { BatchedRead, textArrayLiteral } from './batched-read.js';
import type { SqlClient, SqlValue } from './types.js';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`reads by key, batched, on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    /** The statements sent, as sent: the database itself, counted. */
    const sent: string[] = [];
    let counted: SqlClient;
    before(async () => {
      t = await createTestDatabase(kind);
      await t.db.run('CREATE TABLE probe_rows (name TEXT PRIMARY KEY, state TEXT NOT NULL)');
      for (const name of ['a', 'b', 'c']) await t.db.run('INSERT INTO probe_rows (name, state) VALUES (?, ?)', [name, 'live']);
      counted = {
        kind: t.db.kind,
        query: <Row>(sql: string, params?: readonly SqlValue[]) => (sent.push(sql), t.db.query<Row>(sql, params)),
        run: (sql: string, params?: readonly SqlValue[]) => (sent.push(sql), t.db.run(sql, params)),
      };
    });
    after(() => t?.drop());

    /** A reader of probe_rows; `hold`, when given, keeps each statement's answer until it resolves. */
    const reader = (hold?: () => Promise<void>) =>
      new BatchedRead<{ name: string; state: string }>(counted, async (db, names) => {
        const rows = await db.query<{ name: string; state: string }>(
          names.length === 1
            ? 'SELECT name, state FROM probe_rows WHERE name = ?'
            : 'SELECT name, state FROM probe_rows WHERE name = ANY(CAST(? AS TEXT[]))',
          [names.length === 1 ? names[0]! : textArrayLiteral(names)],
        );
        await hold?.();
        return new Map(rows.map((row) => [row.name, row]));
      });

    it('answers each read with its row, or undefined; reads asked together share one statement on PostgreSQL', async () => {
      const probe = reader();
      sent.length = 0;
      const rows = await Promise.all(['a', 'b', 'nope', 'a', 'c'].map((name) => probe.read(name)));
      assert.deepEqual(
        rows.map((row) => row?.name),
        ['a', 'b', undefined, 'a', 'c'],
      );
      // SQLite reads in this process: one call each, nothing to share.
      assert.equal(sent.length, kind === 'postgres' ? 1 : 5);
    });

    it('never answers from a statement sent before the read was asked: a row changed in between is read as changed', async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let answered = 0;
      const probe = reader(async () => {
        if (answered++ === 0) await held;
      });
      const first = probe.read('a');
      // The first statement has read "live" and is held; then the row changes, then a read is asked.
      while (answered === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      await t.db.run('UPDATE probe_rows SET state = ? WHERE name = ?', ['revoked', 'a']);
      const second = probe.read('a');
      release();
      assert.equal((await first)?.state, 'live');
      assert.equal((await second)?.state, 'revoked', 'answered by the statement already on its way');
      await t.db.run('UPDATE probe_rows SET state = ? WHERE name = ?', ['live', 'a']);
    });

    if (kind === 'postgres')
      it('passes any text through an array literal unchanged: quotes, backslashes, commas, braces, spaces, NULL', async () => {
        const values = ['pk_test_abc', 'a,b', '{a}', '"quoted"', 'back\\slash\\', 'two words', 'NULL', '', 'é ✓'];
        const rows = await t.db.query<{ value: string }>('SELECT unnest(CAST(? AS TEXT[])) AS value', [textArrayLiteral(values)]);
        assert.deepEqual(
          rows.map((row) => row.value),
          values,
        );
      });

    it('a statement that fails fails each read it answers, and the next reads go on', async () => {
      let fail = true;
      const probe = new BatchedRead<{ name: string }>(counted, async (db, names) => {
        if (fail) throw new Error('the database is away');
        const rows = await db.query<{ name: string }>('SELECT name FROM probe_rows WHERE name = ?', [names[0]!]);
        return new Map(rows.map((row) => [row.name, row]));
      });
      const failed = await Promise.allSettled([probe.read('a'), probe.read('b')]);
      assert.deepEqual(
        failed.map((result) => result.status),
        ['rejected', 'rejected'],
      );
      fail = false;
      assert.equal((await probe.read('b'))?.name, 'b');
    });
  });
}
