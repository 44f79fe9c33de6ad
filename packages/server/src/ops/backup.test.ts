import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../cli.js';
import { sqliteFile } from '../config.js';
import { openSqlite } from '../db/sqlite.js';
import { verifyLedger } from '../ledger/verify.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';

/** Runs the CLI in this process with `env` set, collecting what it prints. */
async function cli(argv: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...args: unknown[]) => void out.push(args.join(' '));
  console.error = (...args: unknown[]) => void err.push(args.join(' '));
  try {
    return { code: await main(argv), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

describe('diamonds backup and restore (SQLite)', () => {
  let h: MoneyHarness;
  let fans: TestFan[];
  let work: string;
  before(async () => {
    h = await startMoneyHarness('sqlite');
    fans = await Promise.all([1, 2, 3, 4].map(() => h.fan({ allowance: 100_000, balance: 10_000 })));
    work = mkdtempSync(join(tmpdir(), 'diamonds-backup-'));
  });
  after(async () => {
    await h?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('backs up a running platform under writes; the restore verifies clean with the balances of that moment', async () => {
    const backup = join(work, 'snapshot.sqlite');
    const env = { DIAMONDS_DATA_DIR: h.t.settings.dataDir, DATABASE_URL: '' };
    // Four fans giving all along, before, during and after the backup (a bounded number each).
    let backedUp = false;
    let giftsAfter = 0;
    const giving = fans.map(async (fan) => {
      for (let i = 0; i < 60 && (!backedUp || giftsAfter < 20); i++) {
        const res = await h.call('/gifts', { fan, body: { creatorId: h.creator.id, giftId: 'rose', quantity: 1 } });
        assert.equal(res.status, 201, await res.text());
        if (backedUp) giftsAfter++;
      }
    });
    // Some spends before the copy starts.
    while ((await h.transferCount()) < 4 + 20) await new Promise((resolve) => setTimeout(resolve, 5));
    const result = await cli(['backup', backup], env);
    backedUp = true;
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /backup: wrote .*snapshot\.sqlite/);
    await Promise.all(giving);
    assert.ok(giftsAfter > 0, 'writes went on after the backup');

    // A backup never overwrites.
    const again = await cli(['backup', backup], env);
    assert.equal(again.code, 2);
    assert.match(again.err, /already exists/);

    const restoredDir = join(work, 'restored');
    const restored = await cli(['restore', backup], { DIAMONDS_DATA_DIR: restoredDir, DATABASE_URL: '' });
    assert.equal(restored.code, 0, restored.err);
    const verify = await cli(['ledger', 'verify'], { DIAMONDS_DATA_DIR: restoredDir, DATABASE_URL: '' });
    assert.equal(verify.code, 0, verify.out + verify.err);

    const db = openSqlite({ file: sqliteFile(restoredDir) });
    try {
      const report = await verifyLedger(db);
      assert.ok(report.ok, report.problems.join('\n'));
      const ids = (await db.query<{ id: string }>('SELECT id FROM transfers')).map((row) => row.id);
      const live = await h.transferCount();
      assert.ok(ids.length > 4 && ids.length < live, `a snapshot taken mid-way: ${ids.length} of ${live} transfers`);
      // Every balance is what the live ledger's postings of exactly those transfers add up to.
      const placeholders = ids.map(() => '?').join(', ');
      const expected = await h.t.db.query<{ account_id: string; balance: number }>(
        `SELECT account_id, sum(amount) AS balance FROM postings WHERE pending = 0 AND transfer_id IN (${placeholders}) GROUP BY account_id`,
        ids,
      );
      const balances = new Map(
        (await db.query<{ id: string; balance: number }>('SELECT id, balance FROM accounts')).map((row) => [row.id, Number(row.balance)]),
      );
      assert.ok(expected.length > 0);
      for (const row of expected) assert.equal(balances.get(row.account_id), Number(row.balance), `account ${row.account_id}`);
      for (const fan of fans) {
        const [wallet] = await db.query<{ balance: number }>(`SELECT balance FROM accounts WHERE owner_id = ? AND kind = 'wallet'`, [
          fan.id,
        ]);
        const now = await h.balances(fan.id);
        assert.ok(Number(wallet?.balance) >= now.wallet, 'the backup holds the balance of its moment, not later');
      }
    } finally {
      await db.close();
    }
  });

  it('restore refuses an existing database (without --force), a file that is no backup, and PostgreSQL', async () => {
    const backup = join(work, 'second.sqlite');
    const env = { DIAMONDS_DATA_DIR: h.t.settings.dataDir, DATABASE_URL: '' };
    assert.equal((await cli(['backup', backup], env)).code, 0);
    const existing = await cli(['restore', backup], env);
    assert.equal(existing.code, 2);
    assert.match(existing.err, /already exists/);

    const junk = join(work, 'junk.sqlite');
    writeFileSync(junk, 'not a database');
    const target = join(work, 'never');
    const bad = await cli(['restore', junk], { DIAMONDS_DATA_DIR: target, DATABASE_URL: '' });
    assert.equal(bad.code, 2);
    assert.ok(!existsSync(sqliteFile(target)), 'nothing half-restored');

    const pg = await cli(['backup', join(work, 'pg.dump')], { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres' });
    assert.equal(pg.code, 2);
    assert.match(pg.err, /pg_dump/);
  });
});
