import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../testing/databases.js';
import { WAL_SAFETY_PAGES, startCheckpointer } from './checkpointer.js';
import { openSqlite } from './sqlite.js';
import type { Database } from './types.js';

describe('the WAL checkpointer', () => {
  let t: TestDatabase;
  let writer: Database;
  let file: string;

  before(async () => {
    t = await createTestDatabase('sqlite');
    file = t.db.file!;
    await t.db.close();
    // As the writer thread opens it: its commits never checkpoint below the safety threshold.
    writer = openSqlite({ file, autoCheckpointPages: WAL_SAFETY_PAGES });
    await writer.run('CREATE TABLE filler (id INTEGER PRIMARY KEY, text TEXT NOT NULL)');
  });
  after(async () => {
    await writer?.close();
    await t?.drop();
  });

  const fill = async (commits: number) => {
    for (let i = 0; i < commits; i++) {
      await writer.transaction(async (tx) => {
        for (let j = 0; j < 20; j++) await tx.run('INSERT INTO filler (text) VALUES (?)', ['x'.repeat(1000)]);
      });
    }
  };

  it('copies committed pages into the database file, which commits alone no longer do', async () => {
    const sizeBefore = statSync(file).size;
    await fill(50); // about a megabyte: far below the safety threshold
    assert.equal(statSync(file).size, sizeBefore, 'the commits left their pages in the WAL');
    const checkpointer = startCheckpointer(file, 10);
    try {
      const deadline = Date.now() + 10_000;
      while (statSync(file).size < sizeBefore + 900_000 && Date.now() < deadline) await sleep(20);
      assert.ok(statSync(file).size >= sizeBefore + 900_000, `the database file grew only to ${statSync(file).size} bytes`);
      // And it goes on doing so as commits come.
      const copied = statSync(file).size;
      await fill(20);
      while (statSync(file).size < copied + 350_000 && Date.now() < deadline) await sleep(20);
      assert.ok(statSync(file).size >= copied + 350_000, 'later commits are copied too');
    } finally {
      await checkpointer.close();
    }
    const [row] = await writer.query<{ n: number }>('SELECT count(*) AS n FROM filler');
    assert.equal(Number(row?.n), 70 * 20);
  });

  it('stops when closed, and closing twice is harmless', async () => {
    const checkpointer = startCheckpointer(file, 10);
    await Promise.all([checkpointer.close(), checkpointer.close()]);
    const size = statSync(file).size;
    await fill(20);
    await sleep(100);
    assert.equal(statSync(file).size, size, 'nothing copied once it stopped');
  });
});
