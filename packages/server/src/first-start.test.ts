// The first start of a platform: the demo seed is one transaction under a lock, finishes a seed
// an earlier version left half done, and several processes starting together seed it once.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DATABASE_KINDS, TEST_POSTGRES_URL, createTestDatabase, skipUnlessPostgres, type TestDatabase } from './testing/databases.js';
import { DEMO_CREATOR_EMAIL, DEMO_FAN_EMAIL, demoFile, seedDemo, type DemoData } from './identity/demo.js';
import { addDemoMoney, DEMO_FAN_DIAMONDS } from './money/demo.js';
import { authenticate, createUser } from './identity/users.js';
import { findSiteByKey } from './identity/sites.js';
import { Ledger } from './ledger/ledger.js';
import { verifyLedger } from './ledger/verify.js';
import { openPostgres } from './db/postgres.js';
import { startServer, type RunningServer } from './server.js';
import type { Database } from './db/types.js';

const cost = { N: 2 ** 10, r: 8, p: 1 };
/** A process that seeds the demo and is SIGKILLed in the middle of it (see identity/demo-kill-child.ts). */
const KILL_CHILD = fileURLToPath(new URL('./identity/demo-kill-child.ts', import.meta.url));

/** Seeds the demo as `diamonds start` does: accounts, site, money, content and products, at once. */
function seed(db: Database, dataDir: string): ReturnType<typeof seedDemo> {
  const ledger = new Ledger(db);
  return seedDemo(db, dataDir, (tx, demo) => addDemoMoney(tx, ledger, demo));
}

/** Checks that the demo is whole: both accounts (with the password of demo.json), the site, its keys, the fan's Diamonds. */
async function assertWholeDemo(db: Database, dataDir: string): Promise<DemoData> {
  const file = demoFile(dataDir);
  assert.ok(existsSync(file), 'demo.json is written');
  const demo = JSON.parse(readFileSync(file, 'utf8')) as DemoData;
  assert.equal((await authenticate(db, DEMO_CREATOR_EMAIL, demo.creator.password)).id, demo.creator.userId);
  assert.equal((await authenticate(db, DEMO_FAN_EMAIL, demo.fan.password)).id, demo.fan.userId);
  assert.equal((await findSiteByKey(db, demo.site.secretKey))?.site.id, demo.site.id, 'the secret key works');
  assert.equal((await findSiteByKey(db, demo.site.publishableKey))?.kind, 'publishable');
  const [wallet] = await db.query<{ balance: number }>("SELECT balance FROM accounts WHERE owner_id = ? AND kind = 'wallet'", [
    demo.fan.userId,
  ]);
  assert.equal(Number(wallet?.balance), DEMO_FAN_DIAMONDS);
  const [users] = await db.query<{ n: number }>('SELECT count(*) AS n FROM users WHERE email IN (?, ?)', [
    DEMO_CREATOR_EMAIL,
    DEMO_FAN_EMAIL,
  ]);
  assert.equal(Number(users?.n), 2);
  const [sites] = await db.query<{ n: number }>('SELECT count(*) AS n FROM sites WHERE owner_id = ?', [demo.creator.userId]);
  assert.equal(Number(sites?.n), 1, 'one demo site');
  const [content] = await db.query<{ n: number }>('SELECT count(*) AS n FROM content WHERE creator_id = ?', [demo.creator.userId]);
  assert.equal(Number(content?.n), 3, 'the demo content, once');
  const [products] = await db.query<{ n: number }>('SELECT count(*) AS n FROM products WHERE site_id = ?', [demo.site.id]);
  assert.equal(Number(products?.n), 3, 'the demo products, once');
  assert.ok((await verifyLedger(db)).ok, 'ledger verify is clean');
  return demo;
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`the first start's demo seed on ${kind}`, { skip }, () => {
    const databases: TestDatabase[] = [];
    const fresh = async () => {
      const t = await createTestDatabase(kind);
      databases.push(t);
      return t;
    };
    after(async () => {
      for (const t of databases) await t.drop();
    });

    it('finishes a seed that stopped after the first demo account was written', async () => {
      const t = await fresh();
      // What a kill right after the first insert left behind, before the seed was one transaction.
      await createUser(
        t.db,
        { email: DEMO_CREATOR_EMAIL, password: 'an old lost password', displayName: 'Demo Creator', roles: ['creator', 'fan'] },
        { cost },
      );
      const { demo, created } = await seed(t.db, t.settings.dataDir);
      assert.equal(created, true, 'the seed is finished');
      assert.deepEqual(await assertWholeDemo(t.db, t.settings.dataDir), demo);
      const again = await seed(t.db, t.settings.dataDir);
      assert.equal(again.created, false);
      assert.deepEqual(again.demo, demo, 'a second start finds it whole');
    });

    it('finishes a seed that stopped after the site was made but before demo.json', async () => {
      const t = await fresh();
      const first = await seed(t.db, t.settings.dataDir);
      assert.ok(first.demo);
      // A half-made seed of an earlier version: the fan's account missing, the file gone.
      await t.db.run("UPDATE users SET email = 'someone-else@example.com' WHERE id = ?", [first.demo.fan.userId]);
      rmSync(demoFile(t.settings.dataDir));
      const { demo, created } = await seed(t.db, t.settings.dataDir);
      assert.equal(created, true);
      assert.ok(demo);
      assert.equal(demo.site.id, first.demo.site.id, 'the same site, with new keys');
      assert.equal(await findSiteByKey(t.db, first.demo.site.secretKey), undefined, 'the old secret key is rolled');
      assert.deepEqual(await assertWholeDemo(t.db, t.settings.dataDir), demo);
    });

    it('leaves nothing when the seed fails part way, and the next start seeds whole', async () => {
      const t = await fresh();
      await assert.rejects(
        seedDemo(t.db, t.settings.dataDir, async () => {
          throw new Error('killed after the accounts and the site were written');
        }),
        /killed/,
      );
      const [users] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM users');
      assert.equal(Number(users?.n), 0, 'no demo account committed');
      assert.equal(existsSync(demoFile(t.settings.dataDir)), false, 'no demo.json');
      const { created } = await seed(t.db, t.settings.dataDir);
      assert.equal(created, true);
      await assertWholeDemo(t.db, t.settings.dataDir);
    });

    it('finishes the seed at the next start after a process was killed in the middle of it', async () => {
      const t = await fresh();
      // The child's demo.json goes elsewhere, so that only the database tells what it left.
      const childDir = mkdtempSync(join(tmpdir(), 'diamonds-killed-'));
      const child = fork(KILL_CHILD, [], {
        env: { ...process.env, ...t.env, DEMO_FILE_DIR: childDir },
        execArgv: process.execArgv,
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const seen = new Promise<number>((resolve) => child.once('message', (m: { usersWritten: number }) => resolve(m.usersWritten)));
      const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, killed) => resolve(killed)));
      assert.equal(signal, 'SIGKILL', stderr);
      assert.equal(await seen, 2, 'killed after both demo accounts were written');
      rmSync(childDir, { recursive: true, force: true });
      const [users] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM users');
      assert.equal(Number(users?.n), 0, 'nothing of the killed seed was committed');
      const { created } = await seed(t.db, t.settings.dataDir);
      assert.equal(created, true, 'the next start seeds');
      await assertWholeDemo(t.db, t.settings.dataDir);
    });

    it('seeds once when three processes start together on one database', async () => {
      const t = await fresh();
      const connections = [t.reopen(), t.reopen(), t.reopen()];
      try {
        const outcomes = await Promise.all(connections.map((db) => seed(db, t.settings.dataDir)));
        assert.equal(outcomes.filter((o) => o.created).length, 1, 'exactly one seeded');
        const demo = await assertWholeDemo(t.db, t.settings.dataDir);
        for (const outcome of outcomes) assert.deepEqual(outcome.demo, demo, 'every process sees the one demo');
      } finally {
        for (const db of connections) await db.close();
      }
    });
  });
}

describe('three platform processes cold-starting on one empty PostgreSQL database', async () => {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres('postgres');
  it('migrate, make one signing key, and seed the demo once, with no error output', { skip }, async () => {
    const name = `diamonds_test_cold_${process.pid}_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(TEST_POSTGRES_URL);
    url.pathname = `/${name}`;
    const databaseUrl = url.toString();
    const dataDir = mkdtempSync(join(tmpdir(), 'diamonds-cold-'));
    const printed: string[] = [];
    const original = { error: console.error, warn: console.warn };
    console.error = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
    console.warn = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
    const servers: RunningServer[] = [];
    try {
      const started = await Promise.allSettled(
        [0, 1, 2].map(() =>
          startServer({ port: 0, host: '127.0.0.1', databaseUrl, dataDir, webhookDelivery: 'off', sqliteWriter: 'inline' }),
        ),
      );
      for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
      assert.deepEqual(
        started.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason)),
        [],
        'every process starts',
      );
      const outcomes = await Promise.all(
        servers.map((server) => seedDemo(server.db, dataDir, (tx, demo) => addDemoMoney(tx, server.ledger, demo))),
      );
      assert.equal(outcomes.filter((o) => o.created).length, 1, 'exactly one seed');
      const check = openPostgres({ connectionString: databaseUrl });
      try {
        await assertWholeDemo(check, dataDir);
        const [keys] = await check.query<{ n: number }>('SELECT count(*) AS n FROM signing_keys WHERE retired_at IS NULL');
        assert.ok(Number(keys?.n) >= 1, 'a receipt signing key');
      } finally {
        await check.close();
      }
    } finally {
      for (const server of servers) await server.close();
      console.error = original.error;
      console.warn = original.warn;
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      rmSync(dataDir, { recursive: true, force: true });
    }
    assert.deepEqual(printed, [], 'no error output');
  });
});
