/**
 * What one gift costs the SQLite money writer, without HTTP: the work the writer thread does
 * per `POST /v1/gifts`, run on this thread exactly as the thread runs it (its own connection,
 * `platformMoney()`, `runMoneyRequest` under the fan's idempotency key, group commits), in
 * batches of a fixed size, so that CPU per gift is measured alone and is far less at the mercy of
 * a busy machine than a throughput figure.
 *
 *   node --conditions=source --import tsx packages/server/bench/writer-cost.ts
 *
 * It runs the same gifts with the outbox (as shipped) and without it (the `INSERT INTO events`
 * dropped at the connection, the rest unchanged), in alternating rounds, and prints per gift:
 * CPU µs (this thread, and the process: with the WAL checkpointer's thread, as the writer
 * thread starts one), statements, bytes the process wrote (`wchar` of /proc/self/io: the WAL
 * and its checkpoints), and the time spent in each kind of statement.
 * With `--cpu-prof --cpu-prof-dir=<dir>` before the script, `profile-summary.mjs <dir> --run gifts`
 * summarises the measured rounds alone.
 *
 * On PostgreSQL (BENCH_ENGINE=postgres) the same runs inline on this thread's pool, as the
 * platform runs them there; bytes are then the cluster's WAL (pg_current_wal_lsn), to which
 * anything else using the same server adds.
 *
 * Knobs (environment): BENCH_ENGINE (sqlite or postgres), BENCH_GIFTS per round (default 3000), BENCH_BATCH gifts per commit
 * (default 13, what bench:api measures flat out), BENCH_ROUNDS (default 4), BENCH_FANS (200), BENCH_STATEMENT_TIMES
 * (0: no per-statement wall times, whose bookkeeping costs the thread ~30 µs per gift; for comparing CPU per gift).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { MAX_TRANSFER_DIAMONDS } from '@diamonds/protocol';
import { WAL_SAFETY_PAGES, startCheckpointer } from '../src/db/checkpointer.js';
import { openSqlite } from '../src/db/sqlite.js';
import type { Database, DatabaseKind, SqlClient } from '../src/db/types.js';
import { platformMoney } from '../src/features.js';
import { sendGiftOperation } from '../src/gifts/gifts.js';
import { seedGiftCatalog } from '../src/gifts/catalog.js';
import { connect } from '../src/identity/connections.js';
import { createSite } from '../src/identity/sites.js';
import { createUser } from '../src/identity/users.js';
import { GroupCommit } from '../src/ledger/group-commit.js';
import { Ledger } from '../src/ledger/ledger.js';
import { verifyLedger } from '../src/ledger/verify.js';
import { requestFingerprint } from '../src/money/idempotency.js';
import { walletOf } from '../src/money/spends.js';
import { runMoneyRequest, type MoneyRequest } from '../src/money/writer.js';
import { createTestDatabase } from '../src/testing/databases.js';
import { TEST_SCRYPT_COST } from '../src/testing/money.js';

const ENGINE: DatabaseKind = process.env.BENCH_ENGINE === 'postgres' ? 'postgres' : 'sqlite';
const GIFTS = Number(process.env.BENCH_GIFTS ?? 3000);
const BATCH = Number(process.env.BENCH_BATCH ?? 13);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const FANS = Number(process.env.BENCH_FANS ?? 200);

/** CPU time of this thread (the main one: its id is the process id), in µs, at 10 ms ticks. */
function threadCpu(): { user: number; system: number } {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) * 10_000, system: Number(fields[12]) * 10_000 };
}

/** Bytes this process handed to write() so far. */
function processBytesWritten(): number {
  const match = /^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
  return Number(match?.[1] ?? 0);
}

/** Per kind of statement: how many and how long (µs of wall time, this thread). */
const timings = new Map<string, { count: number; micros: number }>();
let dropEvents = false;
/** How long each group commit took, BEGIN to COMMIT (fsync and any checkpoint included), in ms. */
let commitMillis: number[] = [];
let statements = 0;

function label(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim().slice(0, 70);
}

/** Off with BENCH_STATEMENT_TIMES=0: the per-statement timing costs the writer's thread ~30 µs per gift. */
const TIME_STATEMENTS = process.env.BENCH_STATEMENT_TIMES !== '0';

function instrumented(client: SqlClient): SqlClient {
  const timed = async <T>(sql: string, run: () => Promise<T>): Promise<T> => {
    statements++;
    if (!TIME_STATEMENTS) return run();
    const started = performance.now();
    try {
      return await run();
    } finally {
      const key = label(sql);
      const entry = timings.get(key) ?? { count: 0, micros: 0 };
      entry.count++;
      entry.micros += (performance.now() - started) * 1000;
      timings.set(key, entry);
    }
  };
  return {
    kind: client.kind,
    query: (sql, params) => timed(sql, () => client.query(sql, params)),
    run: (sql, params) =>
      dropEvents && sql.startsWith('INSERT INTO events') ? Promise.resolve(1) : timed(sql, () => client.run(sql, params)),
  };
}

async function main(): Promise<void> {
  console.log(
    `writer-cost: ${GIFTS} gifts × ${ROUNDS} rounds per mode, ${BATCH} per commit, ${FANS} fans; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const t = await createTestDatabase(ENGINE);
  try {
    await seedGiftCatalog(t.db);
    const creator = await createUser(
      t.db,
      { email: `creator-${randomUUID()}@example.com`, password: 'a long password', displayName: 'Ada', roles: ['creator'] },
      { cost: TEST_SCRYPT_COST },
    );
    const site = await createSite(t.db, { ownerId: creator.id, name: 'Ada', origins: ['http://127.0.0.1:5173'] });
    const setupLedger = new Ledger(t.db);
    const fans: string[] = [];
    for (let i = 0; i < FANS; i++) {
      const user = await createUser(
        t.db,
        { email: `fan${i}-${randomUUID()}@example.com`, password: 'a long password', displayName: `Fan ${i}`, roles: ['fan'] },
        { cost: TEST_SCRYPT_COST },
      );
      await connect(t.db, user.id, site.site.id, MAX_TRANSFER_DIAMONDS);
      await t.db.transaction(async (tx) => {
        const wallet = await walletOf(tx, setupLedger, user.id);
        const issuance = await setupLedger.platformAccount('issuance', tx);
        await setupLedger.transferIn(tx, {
          idempotencyKey: `fund:${user.id}`,
          code: 'purchase',
          postings: [
            { accountId: issuance.id, amountDiamonds: -100_000_000 },
            { accountId: wallet, amountDiamonds: 100_000_000 },
          ],
        });
      });
      fans.push(user.id);
    }
    // What the writer thread opens (writer-thread.ts), with each statement timed; on
    // PostgreSQL the same pool, as the inline writer uses it.
    if (ENGINE === 'sqlite') await t.db.close();
    const opened = ENGINE === 'sqlite' ? openSqlite({ file: t.db.file!, autoCheckpointPages: WAL_SAFETY_PAGES }) : t.db;
    const checkpointer = ENGINE === 'sqlite' ? startCheckpointer(t.db.file!) : undefined;
    // Bytes written: this process's writes on SQLite (the WAL and its checkpoints), the
    // cluster's WAL on PostgreSQL (other clients of the same server add to it).
    const bytesWritten = async (): Promise<number> => {
      if (ENGINE === 'sqlite') return processBytesWritten();
      const [row] = await opened.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      const [high, low] = (row?.lsn ?? '0/0').split('/').map((part) => parseInt(part, 16));
      return high! * 2 ** 32 + low!;
    };
    const db: Database = {
      ...instrumented(opened),
      kind: opened.kind,
      description: opened.description,
      file: opened.file,
      transaction: async (work, options) => {
        const started = performance.now();
        try {
          return await opened.transaction((tx) => work(instrumented(tx)), options);
        } finally {
          commitMillis.push(performance.now() - started);
        }
      },
      close: () => opened.close(),
    };
    const ledger = new Ledger(db);
    const registry = platformMoney();
    const money = registry.contextFor(ledger);
    const commits = new GroupCommit(ledger);
    const body = { creatorId: creator.id, giftId: 'rose', quantity: 1 };
    const fingerprint = requestFingerprint('POST', '/v1/gifts', body);
    let sent = 0;
    const request = (): MoneyRequest => {
      const userId = fans[sent % fans.length]!;
      sent++;
      return {
        operation: sendGiftOperation.name,
        input: {
          userId,
          siteId: site.site.id,
          feeBasisPoints: 500,
          baseUrl: 'http://127.0.0.1:8787',
          request: { creatorId: creator.id, giftId: 'rose', quantity: 1, message: null },
        },
        claim: { scope: `fan:${userId}:${site.site.id}`, key: `bench:${randomUUID()}`, fingerprint },
      };
    };
    const round = async (gifts: number) => {
      for (let done = 0; done < gifts; done += BATCH) {
        const batch = Array.from({ length: Math.min(BATCH, gifts - done) }, request);
        await Promise.all(batch.map((r) => commits.run((tx) => runMoneyRequest(tx, registry, money, r))));
      }
    };
    // Warm-up: caches (account ids, statements) and the JIT, as after a server's first minute.
    await round(Math.min(GIFTS, 2000));

    interface Totals {
      commits: number[];
      thread: number;
      system: number;
      process: number;
      bytes: number;
      statements: number;
      gifts: number;
      batches: number;
      timings: Map<string, { count: number; micros: number }>;
    }
    const totals = (): Totals => ({
      commits: [],
      thread: 0,
      system: 0,
      process: 0,
      bytes: 0,
      statements: 0,
      gifts: 0,
      batches: 0,
      timings: new Map(),
    });
    const modes = { outbox: totals(), 'no outbox': totals() };
    // Under --cpu-prof, marks on the profile's clock cut it to the measured rounds (profile-summary.mjs --run gifts).
    const profileDir = process.execArgv.find((a) => a.startsWith('--cpu-prof-dir='))?.slice('--cpu-prof-dir='.length);
    const marks = [{ name: 'gifts:start', atMicros: Number(process.hrtime.bigint() / 1000n) }];
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of r % 2 === 0 ? (['outbox', 'no outbox'] as const) : (['no outbox', 'outbox'] as const)) {
        dropEvents = mode === 'no outbox';
        timings.clear();
        commitMillis = [];
        const before = {
          thread: threadCpu(),
          process: process.cpuUsage(),
          bytes: await bytesWritten(),
          statements,
          batches: commits.batches,
        };
        await round(GIFTS);
        const cpu = process.cpuUsage(before.process);
        const m = modes[mode];
        const after = threadCpu();
        m.thread += after.user + after.system - before.thread.user - before.thread.system;
        m.system += after.system - before.thread.system;
        m.process += cpu.user + cpu.system;
        m.bytes += (await bytesWritten()) - before.bytes;
        m.statements += statements - before.statements;
        m.batches += commits.batches - before.batches;
        m.gifts += GIFTS;
        m.commits.push(...commitMillis);
        for (const [key, value] of timings) {
          const entry = m.timings.get(key) ?? { count: 0, micros: 0 };
          entry.count += value.count;
          entry.micros += value.micros;
          m.timings.set(key, entry);
        }
      }
    }
    marks.push({ name: 'gifts:end', atMicros: Number(process.hrtime.bigint() / 1000n) });
    if (profileDir !== undefined) {
      // Node makes the folder only when it writes the profile, at exit.
      mkdirSync(profileDir, { recursive: true });
      writeFileSync(join(profileDir, `marks-${process.pid}.json`), JSON.stringify(marks));
    }
    for (const [mode, m] of Object.entries(modes)) {
      const per = (n: number) => (n / m.gifts).toFixed(1);
      console.log(
        `\n${mode}: ${per(m.thread)} µs CPU per gift on the writer's thread (${per(m.system)} in the kernel; ${per(m.process)} µs the whole process), ` +
          `${per(m.statements)} statements, ${per(m.bytes)} bytes written, ${(m.gifts / m.batches).toFixed(1)} gifts per commit`,
      );
      m.commits.sort((a, b) => a - b);
      const pct = (q: number) => (m.commits[Math.min(m.commits.length - 1, Math.ceil(q * m.commits.length) - 1)] ?? 0).toFixed(1);
      console.log(`  a commit of ${BATCH} takes p50 ${pct(0.5)} ms, p90 ${pct(0.9)} ms, p99 ${pct(0.99)} ms, max ${pct(1)} ms`);
      const rows = [...m.timings].sort((a, b) => b[1].micros - a[1].micros);
      const all = rows.reduce((sum, [, v]) => sum + v.micros, 0);
      console.log(`  statements' wall time: ${per(all)} µs per gift`);
      for (const [key, value] of rows.slice(0, 20)) {
        console.log(`  ${per(value.micros).padStart(7)} µs  ${(value.count / m.gifts).toFixed(2).padStart(5)}×  ${key}`);
      }
    }
    const outbox = modes.outbox;
    const none = modes['no outbox'];
    console.log(
      `\nthe outbox per gift: ${((outbox.thread - none.thread) / outbox.gifts).toFixed(1)} µs CPU (writer thread), ` +
        `${((outbox.bytes - none.bytes) / outbox.gifts).toFixed(0)} bytes written`,
    );
    await commits.run(async () => undefined);
    const report = await verifyLedger(db);
    console.log(
      `verifyLedger ${report.ok ? 'clean' : 'FAILED'}; load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    await checkpointer?.close();
    if (ENGINE === 'sqlite') await db.close();
  } finally {
    await t.drop();
  }
}

await main();
