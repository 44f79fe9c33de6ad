import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Database, SqlClient } from '../db/types.js';
import { createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { rememberSharedProof } from './dpop-replays.js';

// Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
const skip = await skipUnlessPostgres('postgres');

describe('DPoP proofs seen by every process (PostgreSQL)', { skip }, () => {
  let t: TestDatabase;
  let statements = 0;
  let db: SqlClient;

  before(async () => {
    t = await createTestDatabase('postgres');
    const counted: Database = t.db;
    db = {
      kind: counted.kind,
      query: (sql, params) => (statements++, counted.query(sql, params)),
      run: (sql, params) => (statements++, counted.run(sql, params)),
    };
  });
  after(async () => {
    await t?.drop();
  });

  it('records the proofs of one turn in one statement, each once: a copy in the same turn or later is a replay', async () => {
    const now = Date.now();
    const ids = Array.from({ length: 40 }, (_, i) => `jkt.proof-${i}`);
    statements = 0;
    const first = await Promise.all([...ids, 'jkt.proof-7', 'jkt.proof-7'].map((id) => rememberSharedProof(db, id, now + 60_000, now)));
    assert.equal(statements, 1, 'one statement for the whole turn');
    assert.deepEqual(first.slice(0, 40), Array<boolean>(40).fill(true));
    assert.deepEqual(first.slice(40), [false, false], 'a copy in the same turn is a replay');
    assert.deepEqual(await Promise.all(ids.slice(0, 3).map((id) => rememberSharedProof(db, id, now + 60_000, now))), [false, false, false]);
  });

  it('takes over an id whose time is up (a leftover: its proof can no longer pass the iat check)', async () => {
    const now = Date.now();
    assert.equal(await rememberSharedProof(db, 'jkt.old', now - 1, now - 60_000), true);
    assert.equal(await rememberSharedProof(db, 'jkt.old', now + 60_000, now), true);
    assert.equal(await rememberSharedProof(db, 'jkt.old', now + 60_000, now), false);
  });
});
