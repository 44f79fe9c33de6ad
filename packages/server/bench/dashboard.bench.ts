/**
 * The creator dashboard with a million gifts: `/dashboard` and a month's CSV.
 *
 *   npm run bench:dashboard
 *
 * For each engine (SQLite as the server opens it, PostgreSQL in a throw-away database) the real
 * platform starts (`startMoneyHarness`) with a creator, then one creator's history is seeded in
 * bulk: `BENCH_GIFTS` (default 1,000,000) gifts spread evenly over the last 365 days from
 * `BENCH_FANS` (default 10,000) fans, one in ten with a message. Seeding writes what the
 * platform would have written, but by multi-row INSERTs in large transactions rather than one
 * request per gift (hours otherwise):
 *
 * - the ledger: per gift one `gift` transfer (id from its time, as `newId` makes them) and its
 *   three postings (the fans' side from the issuance account rather than 10,000 wallets: the
 *   reads timed here never touch it), then the cached balances;
 * - the aggregates the outbox consumer keeps (`earnings_daily`, `earnings_supporters`,
 *   `earnings_messages`), computed in memory from the same gifts. No events are written: the
 *   dashboard and the CSV never read them.
 *
 * Then, over real HTTP with a signed-in creator's session: `GET /dashboard` (30 and 90 days)
 * `BENCH_RUNS` times each (default 20) and `GET /dashboard/earnings.csv` of the last 30 days
 * `BENCH_CSV_RUNS` times (default 5), whole bodies read. Goals: the dashboard ≤ 200 ms, the
 * CSV ≤ 2 s. Figures are printed with the load average (the machine is shared). A report, not
 * a test: exits 0 whatever the figures, 1 when something crashes. Every database is dropped.
 */
import { loadavg } from 'node:os';
import { newId } from '@diamonds/protocol';
import type { DatabaseKind, SqlValue } from '../src/db/types.js';
import { DAY_MS, dayOf } from '../src/earnings/aggregates.js';
import { signedInBrowser } from '../src/gifts/testing.js';
import { skipUnlessPostgres } from '../src/testing/databases.js';
import { startMoneyHarness, type MoneyHarness } from '../src/testing/money.js';

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive whole number`);
  return value;
}

const GIFTS = Math.min(envNumber('BENCH_GIFTS', 1_000_000), 2_000_000);
const FANS = Math.min(envNumber('BENCH_FANS', 10_000), 100_000);
const RUNS = Math.min(envNumber('BENCH_RUNS', 20), 200);
const CSV_RUNS = Math.min(envNumber('BENCH_CSV_RUNS', 5), 50);
const ENGINES = (process.env.BENCH_ENGINES ?? 'sqlite,postgres').split(',').map((e) => e.trim()) as DatabaseKind[];
const FEE_BPS = 2_000;
const PRICES = [1, 5, 10, 50, 100] as const;

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
}

/** Inserts rows by multi-row statements of `per` rows, ten statements per transaction. */
async function bulkInsert(
  h: MoneyHarness,
  table: string,
  columns: readonly string[],
  rows: Iterable<SqlValue[]>,
  per = 500,
): Promise<void> {
  const one = `(${columns.map(() => '?').join(', ')})`;
  let batch: SqlValue[][] = [];
  let pending: SqlValue[][][] = [];
  const flushTx = async () => {
    const statements = pending;
    pending = [];
    await h.t.db.transaction(async (tx) => {
      for (const chunk of statements) {
        await tx.run(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${chunk.map(() => one).join(', ')}`, chunk.flat());
      }
    });
  };
  for (const row of rows) {
    batch.push(row);
    if (batch.length === per) {
      pending.push(batch);
      batch = [];
      // Short transactions: on PostgreSQL a long one holds back every outbox reader of the
      // server (events become readable once older transactions end), other databases' too.
      if (pending.length >= 10) await flushTx();
    }
  }
  if (batch.length > 0) pending.push(batch);
  if (pending.length > 0) await flushTx();
}

interface Seeded {
  net: number;
  monthLines: number;
}

/** Seeds {@link GIFTS} gifts to the harness's creator (see the header). */
async function seed(h: MoneyHarness, now: number): Promise<Seeded> {
  const creator = h.creator.id;
  const { earnings, fees, issuance } = await h.t.db.transaction(async (tx) => ({
    earnings: await h.server.ledger.accountId({ ownerId: creator, kind: 'earnings' }, tx),
    fees: await h.server.ledger.accountId({ ownerId: null, kind: 'fees' }, tx),
    issuance: (await h.server.ledger.platformAccount('issuance', tx)).id,
  }));
  const fans = Array.from({ length: FANS }, (_, i) => newId('usr', now - 400 * DAY_MS + i));
  const start = now - 365 * DAY_MS;
  const step = (365 * DAY_MS) / GIFTS;
  const gift = (i: number) => {
    const at = Math.floor(start + i * step);
    const price = PRICES[i % PRICES.length]!;
    const net = price - Math.floor((price * FEE_BPS) / 10_000);
    return { at, price, net, fee: price - net, fan: fans[(i * 7919) % FANS]!, id: newId('txn', at) };
  };
  const ids: string[] = new Array<string>(GIFTS);
  const daily = new Map<number, { count: number; gross: number; fee: number; net: number }>();
  const supporters = new Map<string, { count: number; gross: number; net: number; first: number; last: number }>();
  let net = 0;
  let monthLines = 0;
  for (let i = 0; i < GIFTS; i++) {
    const g = gift(i);
    ids[i] = g.id;
    net += g.net;
    if (g.at >= now - 29 * DAY_MS - (now % DAY_MS)) monthLines++;
    const d = daily.get(dayOf(g.at)) ?? { count: 0, gross: 0, fee: 0, net: 0 };
    d.count++;
    d.gross += g.price;
    d.fee += g.fee;
    d.net += g.net;
    daily.set(dayOf(g.at), d);
    const s = supporters.get(g.fan) ?? { count: 0, gross: 0, net: 0, first: g.at, last: g.at };
    s.count++;
    s.gross += g.price;
    s.net += g.net;
    s.last = g.at;
    supporters.set(g.fan, s);
  }
  const giftAt = (i: number) => gift(i);
  await bulkInsert(
    h,
    'transfers',
    ['id', 'code', 'state', 'amount', 'idempotency_key', 'request_hash', 'pending_id', 'metadata', 'expires_at', 'created_at'],
    (function* () {
      for (let i = 0; i < GIFTS; i++) {
        const g = giftAt(i);
        yield [
          ids[i]!,
          'gift',
          'posted',
          g.price,
          `bench:${i}`,
          'bench',
          null,
          JSON.stringify({ description: `Gift: ${g.price} × Heart for Ada`, kind: 'gift' }),
          null,
          g.at,
        ];
      }
    })(),
    200,
  );
  const notPending = h.t.db.kind === 'postgres' ? false : 0;
  await bulkInsert(
    h,
    'postings',
    ['transfer_id', 'account_id', 'amount', 'pending'],
    (function* () {
      for (let i = 0; i < GIFTS; i++) {
        const g = giftAt(i);
        yield [ids[i]!, issuance, -g.price, notPending];
        yield [ids[i]!, earnings, g.net, notPending];
        if (g.fee > 0) yield [ids[i]!, fees, g.fee, notPending];
      }
    })(),
    500,
  );
  const totalGross = [...daily.values()].reduce((sum, d) => sum + d.gross, 0);
  const totalFee = [...daily.values()].reduce((sum, d) => sum + d.fee, 0);
  await h.t.db.transaction(async (tx) => {
    await tx.run('UPDATE accounts SET balance = balance + ? WHERE id = ?', [net, earnings]);
    await tx.run('UPDATE accounts SET balance = balance + ? WHERE id = ?', [totalFee, fees]);
    await tx.run('UPDATE accounts SET balance = balance - ? WHERE id = ?', [totalGross, issuance]);
  });
  await bulkInsert(
    h,
    'earnings_daily',
    ['creator_id', 'day', 'source', 'count', 'gross', 'fee', 'net'],
    [...daily].map(([day, d]) => [creator, day, 'gift', d.count, d.gross, d.fee, d.net]),
  );
  await bulkInsert(
    h,
    'earnings_supporters',
    ['creator_id', 'fan_id', 'count', 'gross', 'net', 'first_at', 'last_at'],
    [...supporters].map(([fan, s]) => [creator, fan, s.count, s.gross, s.net, s.first, s.last]),
  );
  await bulkInsert(
    h,
    'earnings_messages',
    ['event_id', 'creator_id', 'fan_id', 'gift_id', 'amount', 'message', 'created_at'],
    (function* () {
      for (let i = 0; i < GIFTS; i += 10) {
        const g = giftAt(i);
        yield [newId('evt', g.at), creator, g.fan, newId('gift', g.at), g.price, `Message number ${i}, <thanks> & more`, g.at];
      }
    })(),
  );
  // Fresh statistics, as a database that grew to this size would have.
  await h.t.db.run('ANALYZE');
  return { net, monthLines };
}

async function timeGet(fetchIt: () => Promise<Response>): Promise<{ ms: number; body: string }> {
  const started = performance.now();
  const res = await fetchIt();
  const body = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`status ${res.status}: ${body.slice(0, 300)}`);
  return { ms, body };
}

async function benchEngine(kind: DatabaseKind): Promise<void> {
  const h = await startMoneyHarness(kind, { earnings: { releaseIntervalMs: 0 } });
  try {
    const now = Date.now();
    const seedStarted = performance.now();
    const seeded = await seed(h, now);
    console.log(
      `${kind}: seeded ${GIFTS.toLocaleString('en-US')} gifts from ${FANS.toLocaleString('en-US')} fans in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s (load ${load()})`,
    );
    const browser = await signedInBrowser(h, { id: h.creator.id });
    // Warm the caches and connections once, as a running platform has them.
    await timeGet(() => browser.request('/dashboard'));
    for (const days of [30, 90]) {
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) times.push((await timeGet(() => browser.request(`/dashboard?days=${days}`))).ms);
      console.log(
        `${kind}: GET /dashboard?days=${days}  p50 ${percentile(times, 0.5).toFixed(1)} ms  p95 ${percentile(times, 0.95).toFixed(1)} ms  max ${Math.max(...times).toFixed(1)} ms  (goal ≤ 200 ms; load ${load()})`,
      );
    }
    const to = new Date(now).toISOString().slice(0, 10);
    const from = new Date(now - 29 * DAY_MS).toISOString().slice(0, 10);
    const times: number[] = [];
    let lines = 0;
    let sum = 0;
    for (let i = 0; i < CSV_RUNS; i++) {
      const { ms, body } = await timeGet(() => browser.request(`/dashboard/earnings.csv?from=${from}&to=${to}`));
      times.push(ms);
      const rows = body.trim().split('\r\n').slice(1);
      lines = rows.length;
      sum = rows.reduce((total, row) => total + Number(row.slice(row.lastIndexOf(',') + 1)), 0);
    }
    console.log(
      `${kind}: GET /dashboard/earnings.csv (${from} to ${to}, ${lines.toLocaleString('en-US')} lines, net ${sum.toLocaleString('en-US')} ◆)  p50 ${percentile(times, 0.5).toFixed(0)} ms  max ${Math.max(...times).toFixed(0)} ms  (goal ≤ 2000 ms; load ${load()})`,
    );
    if (lines !== seeded.monthLines) console.log(`${kind}: note: expected ${seeded.monthLines} lines in the month`);
  } finally {
    await h.close();
  }
}

console.log(`bench:dashboard: ${GIFTS.toLocaleString('en-US')} gifts, engines ${ENGINES.join(', ')} (load ${load()})`);
for (const kind of ENGINES) {
  // PostgreSQL's figures only where it answers: skipped, and said so, when it does not (a report, not a test).
  const skip = await skipUnlessPostgres(kind);
  if (skip) {
    console.log(`${kind}: skipped (${String(skip)})`);
    continue;
  }
  await benchEngine(kind);
}
