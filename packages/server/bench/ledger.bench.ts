/**
 * Ledger throughput against the raw limit of the same database, measured in the same run.
 *
 *   npm run bench:ledger
 *
 * For each engine (SQLite, PostgreSQL) and mode (single: one transfer per transaction through
 * `Ledger.transfer`; batch: 100 transfers per transaction through `Ledger.transferBatch`), the
 * ledger moves small amounts from fan wallets to creator earnings accounts, each with a unique
 * idempotency key. The raw side writes the same rows per transfer into a fresh database of the
 * same schema with hand-written SQL and no ledger layer (no validation, no request hash of the
 * body, no idempotency lookup, no result object): the two conditional balance updates, the
 * transfer row and its two postings, in one transaction per transfer or per 100. The ratio
 * ledger/raw is the share of the engine's limit the ledger keeps.
 *
 * Every measurement is bounded by a count and by time, ledger and raw are interleaved in rounds
 * of L R R L so drift in the machine hits both alike, and both sides see the same sequence of
 * transfers. Besides the table it prints, per row, the spread of the per-round ratios (how noisy
 * the machine was), the statements each side sends per transfer (round trips on PostgreSQL) and
 * the Node CPU time per transfer, and `verifyLedger` of both databases. Every database is
 * dropped at the end, even on failure or Ctrl-C. It is a report: it exits 0 whatever the ratios
 * are, 1 only when something crashes (130 when interrupted).
 *
 * Knobs (environment):
 *   BENCH_SECONDS          seconds of measurement per side per row (default 4)
 *   BENCH_MAX_TRANSFERS    most transfers per side per row (default 150000)
 *   BENCH_PG_CONCURRENCY   workers (and pool size) of the concurrent PostgreSQL single row (default 8; 0 skips it)
 *   BENCH_ENGINES          comma-separated subset of sqlite,postgres (default both)
 *   BENCH_ROUNDS           L R R L rounds each row's time is cut into (default 4)
 *   BENCH_PG_NAMED         1: the raw PostgreSQL side uses named (server-side prepared) statements
 */
import BetterSqlite3 from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { newId } from '@diamonds/protocol';
import { sqliteFile } from '../src/config.js';
import type { Database, DatabaseKind, SqlClient } from '../src/db/types.js';
import { Ledger, type TransferRequest } from '../src/ledger/ledger.js';
import { formatVerifyReport, verifyLedger } from '../src/ledger/verify.js';
import { createTestDatabase, postgresUnavailable, TEST_POSTGRES_URL, type TestDatabase } from '../src/testing/databases.js';

// ---------------------------------------------------------------------------------------------
// Settings

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number; got ${JSON.stringify(raw)}.`);
  return value;
}

const SECONDS_PER_SIDE = envNumber('BENCH_SECONDS', 4);
const MAX_TRANSFERS_PER_SIDE = Math.max(1, Math.floor(envNumber('BENCH_MAX_TRANSFERS', 150_000)));
const PG_CONCURRENCY = Math.floor(envNumber('BENCH_PG_CONCURRENCY', 8));
const PG_NAMED = process.env.BENCH_PG_NAMED === '1';
const ROUNDS = Math.max(1, Math.floor(envNumber('BENCH_ROUNDS', 4)));
const ENGINES = (process.env.BENCH_ENGINES ?? 'sqlite,postgres')
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is DatabaseKind => s === 'sqlite' || s === 'postgres');

const BATCH_SIZE = 100;
const FANS = 300;
const CREATORS = 60;
/** Each fan's wallet starts with this; transfers move 1 to 5, so no wallet runs dry. */
const FAN_FUNDING = 1_000_000;
const WARMUP_SECONDS = 0.75;
const WARMUP_MAX_TRANSFERS = 3_000;
const GOALS: Record<DatabaseKind, number> = { sqlite: 0.7, postgres: 0.6 };

// ---------------------------------------------------------------------------------------------
// Workload: the same deterministic sequence of transfers for the ledger and the raw side

interface Plan {
  key: string;
  debit: string;
  credit: string;
  amount: number;
}

interface Accounts {
  wallets: string[];
  earnings: string[];
}

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Hands out plans; each side of a row gets its own generator with the same seed. */
class Workload {
  readonly #next: () => number;
  readonly #accounts: Accounts;
  readonly #prefix: string;
  #seq = 0;

  constructor(accounts: Accounts, prefix: string, seed: number) {
    this.#accounts = accounts;
    this.#prefix = prefix;
    this.#next = prng(seed);
  }

  take(count: number): Plan[] {
    const plans: Plan[] = [];
    for (let i = 0; i < count; i++) {
      const { wallets, earnings } = this.#accounts;
      const debit = wallets[this.#next() % wallets.length];
      const credit = earnings[this.#next() % earnings.length];
      if (debit === undefined || credit === undefined) throw new Error('no accounts');
      plans.push({ key: `${this.#prefix}-${++this.#seq}`, debit, credit, amount: 1 + (this.#next() % 5) });
    }
    return plans;
  }
}

/** Opens the fan wallets and creator earnings accounts, and funds the wallets from issuance. Not measured. */
async function setUpAccounts(db: Database): Promise<Accounts> {
  const ledger = new Ledger(db);
  const issuance = await ledger.platformAccount('issuance');
  const open = async (kind: 'wallet' | 'earnings', owner: (i: number) => string, count: number): Promise<string[]> => {
    const ids: string[] = [];
    // A few at a time: PostgreSQL gains from the pool; SQLite serialises them anyway.
    for (let start = 0; start < count; start += 20) {
      const chunk = Array.from({ length: Math.min(20, count - start) }, (_, i) => ledger.openAccount({ ownerId: owner(start + i), kind }));
      for (const account of await Promise.all(chunk)) ids.push(account.id);
    }
    return ids;
  };
  const wallets = await open('wallet', (i) => `fan-${i}`, FANS);
  const earnings = await open('earnings', (i) => `creator-${i}`, CREATORS);
  const funding = await ledger.transferBatch(
    wallets.map((wallet) => ({
      idempotencyKey: `fund-${wallet}`,
      code: 'purchase',
      postings: [
        { accountId: issuance.id, amountDiamonds: -FAN_FUNDING },
        { accountId: wallet, amountDiamonds: FAN_FUNDING },
      ],
    })),
  );
  const failed = funding.find((r) => !r.ok);
  if (failed && !failed.ok) throw new Error(`funding failed: ${failed.error.message}`);
  return { wallets, earnings };
}

function toRequest(plan: Plan): TransferRequest {
  return {
    idempotencyKey: plan.key,
    code: 'gift',
    postings: [
      { accountId: plan.debit, amountDiamonds: -plan.amount },
      { accountId: plan.credit, amountDiamonds: plan.amount },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// The two sides. A writer commits one unit: 1 transfer (single) or BATCH_SIZE (batch).

type Writer = (plans: Plan[]) => Promise<void>;

function ledgerWriter(ledger: Ledger, mode: Mode): Writer {
  if (mode === 'single') {
    return async (plans) => {
      for (const plan of plans) {
        const result = await ledger.transfer(toRequest(plan));
        if (result.replayed) throw new Error(`ledger replayed ${plan.key}`);
      }
    };
  }
  return async (plans) => {
    const results = await ledger.transferBatch(plans.map(toRequest));
    for (const result of results) {
      if (!result.ok) throw new Error(`ledger refused a transfer: ${result.error.code}: ${result.error.message}`);
      if (result.replayed) throw new Error('ledger replayed a transfer');
    }
  };
}

// The exact statements Ledger#apply, #applyPosting and #insertPostings run for a posted
// two-posting transfer (the debit's `allow_negative` test included), minus the idempotency lookup.
const TRANSFER_COLUMNS = 'id, code, state, amount, idempotency_key, request_hash, pending_id, metadata, expires_at, created_at';
const RAW_SQL = {
  debit: (allowNegative: string) =>
    `UPDATE accounts SET balance = balance - ? WHERE id = ? AND (${allowNegative} OR balance - pending_debits >= ?)`,
  credit: 'UPDATE accounts SET balance = balance + ? WHERE id = ?',
  transfer: `INSERT INTO transfers (${TRANSFER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
  postings: 'INSERT INTO postings (transfer_id, account_id, amount, pending) VALUES (?, ?, ?, ?), (?, ?, ?, ?)',
};

/** What the raw side stores as request_hash: a real SHA-256 of the same length, of the key only. */
function rawHash(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}

/** The ledger's order of row locks: postings sorted by account id. */
function lockOrder(plan: Plan): Array<['debit' | 'credit', string]> {
  return plan.debit < plan.credit
    ? [
        ['debit', plan.debit],
        ['credit', plan.credit],
      ]
    : [
        ['credit', plan.credit],
        ['debit', plan.debit],
      ];
}

interface RawSide {
  write: Writer;
  /** Statements sent so far, BEGIN and COMMIT included. */
  statements(): number;
  close(): Promise<void>;
}

/** better-sqlite3 directly: a second connection to the file, the same pragmas, prepared statements. */
function rawSqlite(file: string): RawSide {
  const db = new BetterSqlite3(file, { timeout: 5_000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const debit = db.prepare(RAW_SQL.debit('allow_negative = 1'));
  const credit = db.prepare(RAW_SQL.credit);
  const transfer = db.prepare(RAW_SQL.transfer);
  const postings = db.prepare(RAW_SQL.postings);
  let statements = 0;
  const writeOne = (plan: Plan, now: number): void => {
    for (const [side, account] of lockOrder(plan)) {
      const changed = side === 'debit' ? debit.run(plan.amount, account, plan.amount).changes : credit.run(plan.amount, account).changes;
      if (changed !== 1) throw new Error(`raw sqlite: ${side} of ${account} changed ${changed} rows`);
    }
    const id = newId('txn', now);
    const inserted = transfer.run(id, 'gift', 'posted', plan.amount, plan.key, rawHash(plan.key), '{}', null, now).changes;
    if (inserted !== 1) throw new Error(`raw sqlite: key ${plan.key} already used`);
    postings.run(id, plan.debit, -plan.amount, 0, id, plan.credit, plan.amount, 0);
    statements += 4;
  };
  return {
    statements: () => statements,
    // async only to share the harness with the ledger; the work is synchronous like sqlite.ts's.
    async write(plans) {
      begin.run();
      statements += 2;
      try {
        for (const plan of plans) writeOne(plan, Date.now());
        commit.run();
      } catch (error) {
        if (db.inTransaction) rollback.run();
        throw error;
      }
    },
    async close() {
      if (db.open) db.close();
    },
  };
}

/** pg directly: a pool like postgres.ts's, one connection per transaction, `$n` placeholders. */
function rawPostgres(connectionString: string, poolSize: number): RawSide {
  const pool = new pg.Pool({ connectionString, max: poolSize });
  pool.on('error', () => {});
  const numbered = (sql: string): string => {
    let index = 0;
    return sql.replace(/\?/g, () => `$${++index}`);
  };
  const statements = {
    debit: numbered(RAW_SQL.debit('allow_negative')),
    credit: numbered(RAW_SQL.credit),
    transfer: numbered(RAW_SQL.transfer),
    postings: numbered(RAW_SQL.postings),
  };
  let sent = 0;
  const run = async (client: pg.PoolClient, name: keyof typeof statements, values: unknown[]): Promise<number> => {
    sent++;
    const result = PG_NAMED
      ? await client.query({ name: `raw_${name}`, text: statements[name], values })
      : await client.query(statements[name], values);
    return result.rowCount ?? 0;
  };
  return {
    statements: () => sent,
    async write(plans) {
      const client = await pool.connect();
      let broken = false;
      try {
        sent += 2;
        await client.query('BEGIN');
        for (const plan of plans) {
          const now = Date.now();
          for (const [side, account] of lockOrder(plan)) {
            const changed =
              side === 'debit'
                ? await run(client, 'debit', [plan.amount, account, plan.amount])
                : await run(client, 'credit', [plan.amount, account]);
            if (changed !== 1) throw new Error(`raw postgres: ${side} of ${account} changed ${changed} rows`);
          }
          const id = newId('txn', now);
          const inserted = await run(client, 'transfer', [id, 'gift', 'posted', plan.amount, plan.key, rawHash(plan.key), '{}', null, now]);
          if (inserted !== 1) throw new Error(`raw postgres: key ${plan.key} already used`);
          await run(client, 'postings', [id, plan.debit, -plan.amount, false, id, plan.credit, plan.amount, false]);
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
    async close() {
      await pool.end();
    },
  };
}

/** `db`, counting every statement the ledger sends through it, plus BEGIN and COMMIT of each transaction. */
function counting(db: Database, counter: { statements: number }): Database {
  const wrap = (client: SqlClient): SqlClient => ({
    kind: client.kind,
    query: (sql, params) => {
      counter.statements++;
      return client.query(sql, params);
    },
    run: (sql, params) => {
      counter.statements++;
      return client.run(sql, params);
    },
  });
  const outer = wrap(db);
  return {
    kind: db.kind,
    description: db.description,
    query: outer.query,
    run: outer.run,
    transaction: (work, options) =>
      db.transaction((tx) => {
        counter.statements += 2;
        return work(wrap(tx));
      }, options),
    close: () => db.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// Harness

type Mode = 'single' | 'batch';

interface Row {
  engine: DatabaseKind;
  mode: Mode;
  /** Concurrent workers, each committing its own transactions. */
  concurrency: number;
}

interface Measurement {
  transfers: number;
  seconds: number;
  /** CPU time of this Node process (user + system) while measuring. */
  cpuMicros: number;
}

let aborted = false;

/** Runs `writer` for at most `seconds` and `maxTransfers` (whichever first), with `concurrency` workers. */
async function measure(
  writer: Writer,
  workload: Workload,
  unit: number,
  concurrency: number,
  seconds: number,
  maxTransfers: number,
): Promise<Measurement> {
  let claimed = 0;
  let done = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (!aborted && claimed + unit <= maxTransfers && performance.now() < deadline) {
      claimed += unit;
      await writer(workload.take(unit));
      done += unit;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const used = process.cpuUsage(cpu);
  return { transfers: done, seconds: (performance.now() - start) / 1000, cpuMicros: used.user + used.system };
}

function add(a: Measurement, b: Measurement): Measurement {
  return { transfers: a.transfers + b.transfers, seconds: a.seconds + b.seconds, cpuMicros: a.cpuMicros + b.cpuMicros };
}

const tps = (m: Measurement): number => (m.seconds > 0 ? m.transfers / m.seconds : 0);

interface RowResult {
  row: Row;
  ledger: Measurement;
  raw: Measurement;
  /** ledger/raw of each L R R L round: their spread shows how noisy the machine was. */
  roundRatios: number[];
  /** Statements per transfer, BEGIN and COMMIT included. */
  census: { ledger: number; raw: number };
  verify: string;
  verifyOk: boolean;
}

/** Every database and raw connection this run opened, so that `finally` can remove them. */
const cleanups: Array<{ what: string; run: () => Promise<void> }> = [];

function dropLater(test: TestDatabase): void {
  cleanups.push({
    what: `${test.kind} test database ${test.db.description}`,
    async run() {
      await test.drop();
      // A PostgreSQL test database also gets a temporary data folder that drop() leaves behind.
      if (test.kind === 'postgres') rmSync(test.settings.dataDir, { recursive: true, force: true });
    },
  });
}

async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) {
    const step = cleanups.pop();
    if (!step) break;
    try {
      await step.run();
    } catch (error) {
      console.error(`cleanup: could not remove ${step.what}: ${(error as Error).message}`);
    }
  }
}

async function runRow(row: Row, index: number): Promise<RowResult> {
  const unit = row.mode === 'batch' ? BATCH_SIZE : 1;
  const label = `${row.engine} ${row.mode}${row.concurrency > 1 ? ` ×${row.concurrency}` : ''}`;
  process.stdout.write(`  ${label}: setting up…`);

  const ledgerTest = await createTestDatabase(row.engine);
  dropLater(ledgerTest);
  const rawTest = await createTestDatabase(row.engine);
  dropLater(rawTest);

  const [ledgerAccounts, rawAccounts] = [await setUpAccounts(ledgerTest.db), await setUpAccounts(rawTest.db)];
  const ledger = new Ledger(ledgerTest.db);
  const writeLedger = ledgerWriter(ledger, row.mode);

  const raw =
    row.engine === 'sqlite'
      ? rawSqlite(sqliteFile(rawTest.settings.dataDir))
      : rawPostgres(rawTest.settings.databaseUrl ?? '', Math.max(row.concurrency, 1));
  // Close the raw connection before its database is dropped (cleanups run last-in, first-out).
  cleanups.push({ what: `raw ${row.engine} connection`, run: () => raw.close() });

  const seed = 0x5eed + index;
  const ledgerWork = new Workload(ledgerAccounts, `bench-ledger-${index}`, seed);
  const rawWork = new Workload(rawAccounts, `bench-raw-${index}`, seed);

  process.stdout.write(' warming up…');
  await measure(writeLedger, ledgerWork, unit, row.concurrency, WARMUP_SECONDS, WARMUP_MAX_TRANSFERS);
  await measure(raw.write, rawWork, unit, row.concurrency, WARMUP_SECONDS, WARMUP_MAX_TRANSFERS);

  // How many statements (each a round trip on PostgreSQL) one unit costs on each side, BEGIN and COMMIT included.
  const census = { ledger: 0, raw: 0 };
  {
    const counter = { statements: 0 };
    const ledgerCensus = new Workload(ledgerAccounts, `census-ledger-${index}`, seed + 1);
    await ledgerWriter(new Ledger(counting(ledgerTest.db, counter)), row.mode)(ledgerCensus.take(unit));
    census.ledger = counter.statements / unit;
    const before = raw.statements();
    await raw.write(new Workload(rawAccounts, `census-raw-${index}`, seed + 1).take(unit));
    census.raw = (raw.statements() - before) / unit;
  }

  process.stdout.write(' measuring…');
  const slice = SECONDS_PER_SIDE / (2 * ROUNDS);
  const sliceMax = Math.max(unit, Math.floor(MAX_TRANSFERS_PER_SIDE / (2 * ROUNDS)));
  const zero: Measurement = { transfers: 0, seconds: 0, cpuMicros: 0 };
  let ledgerTotal = zero;
  let rawTotal = zero;
  const roundRatios: number[] = [];
  // Rounds of L R R L: whatever drifts during the row (checkpoints, page cache, other processes
  // on the machine) hits both sides alike, and each round gives a ratio of its own.
  for (let round = 0; round < ROUNDS && !aborted; round++) {
    let ledgerRound = zero;
    let rawRound = zero;
    ledgerRound = add(ledgerRound, await measure(writeLedger, ledgerWork, unit, row.concurrency, slice, sliceMax));
    rawRound = add(rawRound, await measure(raw.write, rawWork, unit, row.concurrency, slice, sliceMax));
    rawRound = add(rawRound, await measure(raw.write, rawWork, unit, row.concurrency, slice, sliceMax));
    ledgerRound = add(ledgerRound, await measure(writeLedger, ledgerWork, unit, row.concurrency, slice, sliceMax));
    if (tps(rawRound) > 0) roundRatios.push(tps(ledgerRound) / tps(rawRound));
    ledgerTotal = add(ledgerTotal, ledgerRound);
    rawTotal = add(rawTotal, rawRound);
  }

  process.stdout.write(' verifying…');
  const ledgerReport = await verifyLedger(ledgerTest.db);
  const rawReport = await verifyLedger(rawTest.db);
  const verifyOk = ledgerReport.ok && rawReport.ok;
  const verify =
    `ledger db: ${formatVerifyReport(ledgerReport)}\n      raw db:    ${formatVerifyReport(rawReport)}` +
    (ledgerReport.ok ? '' : '\n      *** THE LEDGER DATABASE IS INCONSISTENT ***');

  await cleanUp();
  process.stdout.write(` done (ledger ${fmt(tps(ledgerTotal))}/s, raw ${fmt(tps(rawTotal))}/s)\n`);
  return { row, ledger: ledgerTotal, raw: rawTotal, roundRatios, census, verify, verifyOk };
}

function fmt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function table(headers: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join(' | ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

async function describePostgres(): Promise<string> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string; sc: string; fsync: string }>(
      `SELECT current_setting('server_version') AS version, current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fsync`,
    );
    const r = rows[0];
    return r ? `PostgreSQL ${r.version} (synchronous_commit=${r.sc}, fsync=${r.fsync})` : 'PostgreSQL';
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const engines = [...ENGINES];
  const notes: string[] = [];
  let postgresLine = '';
  let skipped = false;
  if (engines.includes('postgres')) {
    const reason = await postgresUnavailable();
    if (reason) {
      engines.splice(engines.indexOf('postgres'), 1);
      const banner = '*'.repeat(Math.min(100, reason.length + 40));
      console.log(`\n${banner}\n*** ${reason}\n*** BENCHMARKING SQLITE ONLY: no PostgreSQL figures in this run.\n${banner}\n`);
      notes.push(`PostgreSQL NOT BENCHMARKED: ${reason}`);
      skipped = true;
    } else {
      postgresLine = await describePostgres();
    }
  }

  const rows: Row[] = [];
  for (const engine of engines) {
    rows.push({ engine, mode: 'single', concurrency: 1 });
    if (engine === 'postgres' && PG_CONCURRENCY > 1) rows.push({ engine, mode: 'single', concurrency: PG_CONCURRENCY });
    rows.push({ engine, mode: 'batch', concurrency: 1 });
  }

  const sqliteVersion = (() => {
    const probe = new BetterSqlite3(':memory:');
    try {
      return (probe.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    } finally {
      probe.close();
    }
  })();

  console.log('Ledger throughput vs. the raw limit (same rows, hand-written SQL, no ledger layer)');
  console.log(
    `  node ${process.version}, ${cpus().length} CPU(s), SQLite ${sqliteVersion} (WAL, synchronous=FULL)${postgresLine ? `, ${postgresLine}` : ''}`,
  );
  console.log(
    `  per row and side: ≤ ${SECONDS_PER_SIDE} s and ≤ ${MAX_TRANSFERS_PER_SIDE.toLocaleString('en-US')} transfers after a ${WARMUP_SECONDS} s warm-up, ` +
      `interleaved as ${ROUNDS} rounds of ledger, raw, raw, ledger; fresh databases per row`,
  );
  console.log(`  ${FANS} funded fan wallets → ${CREATORS} creator earnings accounts, 1–5 Diamonds per transfer, unique idempotency keys`);
  console.log(`  single = 1 transfer per transaction (Ledger.transfer); batch = ${BATCH_SIZE} per transaction (Ledger.transferBatch)`);
  console.log(
    `  PostgreSQL: 1 worker (one connection at a time) unless marked ×N: N concurrent workers on each side; raw uses ${PG_NAMED ? 'named prepared statements (BENCH_PG_NAMED=1)' : 'unnamed parameterized statements, like postgres.ts'}\n`,
  );

  const results: RowResult[] = [];
  for (const [index, row] of rows.entries()) {
    if (aborted) break;
    results.push(await runRow(row, index));
  }

  const headers = ['engine', 'mode', 'ledger tps', 'raw tps', 'ledger/raw', 'goal', 'result', 'verify'];
  const body = results.map(({ row, ledger, raw, verifyOk }) => {
    const ratio = tps(raw) > 0 ? tps(ledger) / tps(raw) : 0;
    const goal = GOALS[row.engine];
    return [
      row.engine,
      `${row.mode}${row.concurrency > 1 ? ` ×${row.concurrency}` : ''}`,
      fmt(tps(ledger)),
      fmt(tps(raw)),
      ratio.toFixed(2),
      `≥ ${goal.toFixed(1)}`,
      ledger.transfers === 0 || raw.transfers === 0 ? 'NO DATA' : ratio >= goal ? 'PASS' : 'BELOW',
      verifyOk ? 'clean' : 'FAILED',
    ];
  });
  if (skipped) body.push(['postgres', 'all', '-', '-', '-', `≥ ${GOALS.postgres.toFixed(1)}`, 'NOT RUN', '-']);
  console.log(`\n${table(headers, body, new Set([2, 3, 4]))}\n`);
  const perTransfer = (m: Measurement): string => (m.transfers > 0 ? (m.cpuMicros / m.transfers).toFixed(0) : '-');
  for (const { row, ledger, raw, roundRatios, census, verify } of results) {
    const spread = roundRatios.length > 0 ? `${Math.min(...roundRatios).toFixed(2)}–${Math.max(...roundRatios).toFixed(2)}` : '-';
    console.log(
      `  ${row.engine} ${row.mode}${row.concurrency > 1 ? ` ×${row.concurrency}` : ''}: ` +
        `ledger ${ledger.transfers} transfers in ${ledger.seconds.toFixed(2)} s, raw ${raw.transfers} in ${raw.seconds.toFixed(2)} s; ` +
        `ratio per round ${spread}; ` +
        `statements/transfer ledger ${census.ledger.toFixed(2)}, raw ${census.raw.toFixed(2)}; ` +
        `node CPU µs/transfer ledger ${perTransfer(ledger)}, raw ${perTransfer(raw)}\n      ${verify}`,
    );
  }
  for (const note of notes) console.log(`\n  *** ${note}`);
  if (aborted) {
    console.log('\n  *** INTERRUPTED: the figures above are partial.');
    process.exitCode = 130;
  }
  console.log(`\n  total ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

process.once('SIGINT', () => {
  aborted = true;
  console.error('\ninterrupted: stopping the measurements and removing the databases…');
});

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  console.error('\nbench:ledger crashed:', error);
} finally {
  await cleanUp();
}
