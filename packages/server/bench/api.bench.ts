/**
 * Gifts per second over real HTTP, next to a bare Hono route measured in the same run.
 *
 *   npm run bench:api
 *
 * For each engine (SQLite with `synchronous=FULL`, as the server opens it; PostgreSQL in a
 * throw-away database), a fresh migrated database gets a creator, their site, and 200 fans, each
 * connected to the site with a large daily allowance, signed in (an access token for the site's
 * origin) and holding a large balance. Then, over loopback with autocannon, bounded in time and
 * connections:
 *
 * - `bare`: a Hono route on its own server (@hono/node-server, as the platform) that parses the
 *   same JSON body and answers `{ ok: true }`, doing no work: the ceiling of the HTTP stack. It
 *   runs flat out just before the gifts' flat-out run and again just after it, and the ratio
 *   divides by the mean of the two: on a shared machine one run of the bare route moves by a
 *   third from one moment to the next, and a slow spell that hit only one side then shows as the
 *   two bare runs disagreeing (printed below the table) instead of a ratio off either way;
 * - `gifts`: `POST /v1/gifts` (`{ creatorId, giftId: 'rose', quantity: 1 }`) from the 200 fans
 *   to ONE creator (the hot account), within the allowance so each gift posts at once, each
 *   request with its own `Idempotency-Key`, the fan's token and a fresh DPoP proof by the fan's
 *   key, rotating across fans. The proofs of a timed run are signed just before it starts (the
 *   server verifies each as usual): in production fans' devices sign them, and signing them
 *   during the run would load this machine's shared CPU with ~50 µs of ECDSA per request that
 *   is not the platform's work (the bare route's requests cost the load generator nothing alike).
 *
 * Both servers run in one child process (this same file, with `--serve`), so the load generator
 * does not share the servers' event loop; on a small machine it still shares the CPU, alike for
 * both routes. Each route is warmed up, 15 s by default: V8 makes some 430 TurboFan compilations
 * for the gift's path over its first ~18 s of traffic (50–80 a second at first, still ~10 a
 * second after 8 s), on threads that share this machine's 2 cores with the servers, and a run
 * measured after 2 s carried about 65 µs of that compiling per gift, which a server that has run
 * a while does not. Then each is measured flat out (as fast as the connections go); then gifts
 * are measured twice more at 0.15 × the bare route's rate, since the goal's p99 is "at that
 * load" and a closed loop run flat out only shows connections ÷ throughput as
 * its latency:
 *
 * - `evenly` (the graded one): an open loop that sends request i at start + i ÷ rate, whatever
 *   came back, over at most `BENCH_CONNECTIONS` keep-alive sockets; each latency counts from
 *   the moment the request was due, so a request that had to wait for a free socket carries
 *   that wait (no coordinated omission);
 * - `autocannon overallRate`, for reference: autocannon lets each connection send its share of
 *   the second's quota as fast as it can and then pause until the next second, so the load
 *   comes as one burst at full speed at the top of every second, and its latency histogram is
 *   "corrected" with an expected interval of 1 ms. Its p99 is about that of the flat-out run;
 * - `bare evenly`, for reference: the bare route paced exactly as `evenly` (the same rate,
 *   request bytes and load generator), the p99 a request that does no work gets on this machine.
 *
 * The table gives requests/s, p50 and p99 latency, the non-2xx count (a run that measured
 * errors is marked INVALID), and the ratio gifts/bare (and, with both engines, PostgreSQL's
 * gifts/s ÷ SQLite's, issue 17's goal ≥ 0.5); the goals on SQLite (issue 12) are a
 * ratio ≥ 0.3 flat out, and p99 ≤ 20 ms evenly paced at 0.15 × the bare rate (and keeping up
 * with it). Below the table, per engine, the server process's CPU time per gift and how busy it
 * was during each run (all its threads: on SQLite the spends are written on the writer thread,
 * so a figure above 100% of one core is two threads at work; both servers share the process,
 * but only one route is loaded at a time), the same split by thread (the event loop, the
 * busiest other thread, which on SQLite is the writer, and the rest: V8's helpers, the WAL
 * checkpointer), the load generator's own CPU per request, the event loop's GC pauses, for the
 * evenly paced run where its p99 went (a gift's time inside the server, how late the server's
 * event loop ran, its slowest group commit, the gifts' wait for the money writer (p50 and p99
 * as the upper bounds of `diamonds_writer_wait_seconds`' buckets): a tail that none of them
 * shows waited outside the server, for the CPU or in the load generator), and what explains the
 * figure: how many gifts shared each group commit (flat out and evenly paced), and how many
 * statements and transactions the server sent to the database per gift (counted in the child by a
 * thin wrapper around the database). After each engine it checks that every gift answered 2xx is a
 * transfer in the ledger (plus at most one per connection left in flight when a timed run stopped),
 * waits for those to land before stopping the server, and prints `verifyLedger`. Every database is
 * dropped at the end, even on failure or Ctrl-C. A report, not a test: it exits 0 whatever the
 * figures, 1 only when something crashes (130 when interrupted). The server runs from this
 * package's TypeScript sources under tsx, as the tests do; the other packages
 * (`@diamonds/protocol`) from their build (`npm run build` first), or from their sources with
 * `node --conditions=source`.
 *
 * Knobs (environment):
 *   BENCH_SECONDS        measured seconds per route (default 6)
 *   BENCH_WARMUP_SECONDS warm-up seconds per route, not measured (default 15)
 *   BENCH_CONNECTIONS    concurrent connections (default 32)
 *   BENCH_FANS           fans the gifts rotate across (default 200)
 *   BENCH_ENGINES        comma-separated subset of sqlite,postgres (default both)
 *   DIAMONDS_SQLITE_WRITER  thread (default, as the server runs) or inline, to compare
 *   BENCH_IDLE_STREAMS   live streams held open for one more evenly paced run of the gifts, after
 *                        the first, at the same rate (default 0: no such run; issue 15 asks for
 *                        1000): plain connections to `GET /v1/live/{creator}/stream` of ten other
 *                        creators, opened from this process, which nobody gifts
 *   BENCH_EVEN_RATE      gifts per second of the evenly paced run (default 0.15 × the bare
 *                        route's requests/s); fixed, its CPU per gift can be compared across runs
 *   BENCH_TRACE_SQL      a file: the server process writes there how often each statement ran
 *                        (first 110 characters); on SQLite the writer thread's go to <file>.writer
 *   BENCH_SERVER_FLAGS   more Node flags for the server process, space-separated (`--trace-gc-nvp`
 *                        shows what each of its GCs copied, promoted and paused)
 *   BENCH_CPU_PROF       a folder: the server process runs with `--cpu-prof` and writes one
 *                        .cpuprofile per thread there when it stops (summarise them with
 *                        `node packages/server/bench/profile-summary.mjs <folder>`)
 */
import { serve } from '@hono/node-server';
import autocannon from 'autocannon';
import { Hono } from 'hono';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { subscribe } from 'node:diagnostics_channel';
import { Agent, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MAX_TRANSFER_DIAMONDS } from '@diamonds/protocol';
import { openDatabase } from '../src/db/open.js';
import type { Database, DatabaseKind, SqlClient } from '../src/db/types.js';
import { connect } from '../src/identity/connections.js';
import { createSite } from '../src/identity/sites.js';
import { issueTokens, newFamilyId } from '../src/identity/tokens.js';
import { newDpopKey, type DpopTestKey } from '../src/testing/dpop.js';
import { createUser } from '../src/identity/users.js';
import { Ledger } from '../src/ledger/ledger.js';
import { formatVerifyReport, verifyLedger } from '../src/ledger/verify.js';
import { walletOf } from '../src/money/spends.js';
import type { PlatformMetrics } from '../src/ops/metrics.js';
import { startServer } from '../src/server.js';
import { createEndpoint } from '../src/webhooks/endpoints.js';
import { startReceiver, type WebhookReceiver } from '../src/webhooks/testing.js';
import { createTestDatabase, postgresUnavailable, type TestDatabase } from '../src/testing/databases.js';
import { TEST_SCRYPT_COST } from '../src/testing/money.js';

// ---------------------------------------------------------------------------------------------
// Settings

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number; got ${JSON.stringify(raw)}.`);
  return value;
}

const SECONDS = envNumber('BENCH_SECONDS', 6);
/** Live streams held open for one more evenly paced run (BENCH_IDLE_STREAMS; 0: no such run). */
const IDLE_STREAMS = Math.floor(envNumber('BENCH_IDLE_STREAMS', 0));
/** The creators the idle streams follow: others than the one the gifts go to. */
const IDLE_CREATORS = 10;
const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 15);
const CONNECTIONS = Math.floor(envNumber('BENCH_CONNECTIONS', 32));
const FANS = Math.floor(envNumber('BENCH_FANS', 200));
/** The evenly paced run's rate, when fixed (BENCH_EVEN_RATE): by default 0.15 × the bare route's. */
const EVEN_RATE = process.env.BENCH_EVEN_RATE ? Math.round(envNumber('BENCH_EVEN_RATE', 1)) : undefined;
/** Where the server process writes its CPU profiles (`--cpu-prof-dir`); none when unset. */
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF || undefined;
/** More Node flags for the server process (BENCH_SERVER_FLAGS, space-separated). */
const SERVER_FLAGS = (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean);
/**
 * With BENCH_WEBHOOKS=1 the site has a webhook endpoint for `gift.sent` on a receiver in this
 * process, so every gift is also delivered while the runs go on: the API's goals while
 * deliveries run (issue 13).
 */
const WEBHOOKS = process.env.BENCH_WEBHOOKS === '1';
/** How long the deliveries may take to catch up after the runs. */
const WEBHOOK_DRAIN_MS = 120_000;
const ENGINES = (process.env.BENCH_ENGINES ?? 'sqlite,postgres')
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is DatabaseKind => s === 'sqlite' || s === 'postgres');

/** The page the fans' browsers are on: the site's one origin. */
const ORIGIN = 'http://127.0.0.1:5173';
/** Every fan starts with this; gifts of a rose cannot run a wallet dry within a bounded run. */
const FAN_BALANCE = 100_000_000;
/**
 * Issue 12's goals on SQLite: gifts/bare flat out, and the p99 of gifts evenly paced at `evenLoad`
 * × the bare rate; issue 17's: PostgreSQL's gifts/s flat out at least `postgresRatio` × SQLite's.
 */
const GOAL = { ratio: 0.3, p99Ms: 20, evenLoad: 0.15, postgresRatio: 0.5 };
/** Timed runs of gifts per engine (warm-up, flat out, paced): each may end with a request per connection in flight. */
const TIMED_GIFT_RUNS = 3;

// ---------------------------------------------------------------------------------------------
// The child: the platform and the bare route, each on its own loopback port

/** What the child tells the parent once both servers listen. */
interface Listening {
  platformUrl: string;
  bareUrl: string;
}

/** The child's answer to `stats`: what the platform has sent to the database so far. */
interface ChildStats {
  /** Group-committed transactions (GroupCommit.batches). */
  batches: number;
  /** Statements, inside and outside transactions (`BEGIN`/`COMMIT` not counted). */
  statements: number;
  /** Transactions of any kind (group commits, and the others such as a token's use). */
  transactions: number;
  /** CPU time the server process has used (user + system), in microseconds. */
  cpuMicros: number;
  /**
   * CPU time per thread (Linux: /proc/self/task), in microseconds at the kernel's tick (10 ms),
   * keyed by thread id; the main thread's id is the process id. Empty elsewhere.
   */
  threads: Record<string, number>;
  /** The server process's id (its main thread's id). */
  pid: number;
  /** The main thread's garbage-collection pauses so far: how many, their total and the longest, in ms. */
  gc: { count: number; totalMs: number; maxMs: number };
  /**
   * Since the previous stats call: `POST /v1/gifts` inside the server (from its headers being
   * parsed to the last byte of the answer handed to the kernel), and how late the main thread's
   * event loop ran (sampled each ms). Beside the latency the load generator sees, they tell a
   * slow server from a request that waited outside it (the CPU, the socket, the loader).
   */
  inside: {
    gifts: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    loopDelayP99Ms: number;
    loopDelayMaxMs: number;
    slowestCommitMs: number;
    /**
     * The gifts' wait for the money writer (`diamonds_writer_wait_seconds`), p50 and p99 as the
     * upper bounds of the histogram's buckets they fall in.
     */
    writerWaitP50Ms: number;
    writerWaitP99Ms: number;
  };
}

/**
 * CPU time of the machine's PostgreSQL processes (`postgres` in /proc, Linux), in µs: the
 * database's own share of a gift when it runs on this machine, as in these runs. Processes that
 * ended between two readings are missed (the server's pool keeps its connections during a run).
 */
function postgresCpuMicros(): number {
  let micros = 0;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return 0;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      micros += (Number(fields[11]) + Number(fields[12])) * 10_000;
    } catch {
      // The process ended meanwhile.
    }
  }
  return micros;
}

/** CPU time of each of this process's threads, from /proc (Linux); empty where there is none. */
function threadCpuMicros(): Record<string, number> {
  const micros: Record<string, number> = {};
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return micros;
  }
  for (const tid of tids) {
    try {
      // Fields after the command name (which may hold spaces, so split after its ')'): utime is
      // the 12th, stime the 13th, in clock ticks (USER_HZ, 100 a second on Linux).
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      micros[tid] = (Number(fields[11]) + Number(fields[12])) * 10_000;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return micros;
}

/**
 * The database with a count of the statements and transactions sent through it: how much work
 * one gift costs the database, the figure that explains the throughput.
 */
/** With BENCH_TRACE_SQL (a file), how often each statement ran on the main thread, written there at each stats call. */
const statementTexts = process.env.BENCH_TRACE_SQL ? new Map<string, number>() : undefined;

function countingDatabase(db: Database): { db: Database; counts: Pick<ChildStats, 'statements' | 'transactions'> } {
  const counts = { statements: 0, transactions: 0 };
  const note = (sql: string): void => {
    counts.statements++;
    if (statementTexts) {
      const text = sql.replace(/\s+/g, ' ').slice(0, 110);
      statementTexts.set(text, (statementTexts.get(text) ?? 0) + 1);
    }
  };
  const counted = (client: SqlClient): SqlClient => ({
    kind: client.kind,
    query: (sql, params) => {
      note(sql);
      return client.query(sql, params);
    },
    run: (sql, params) => {
      note(sql);
      return client.run(sql, params);
    },
  });
  const wrapped: Database = {
    ...counted(db),
    description: db.description,
    file: db.file,
    transaction: (work, options) =>
      db.transaction((tx) => {
        counts.transactions++;
        return work(counted(tx));
      }, options),
    close: () => db.close(),
  };
  return { db: wrapped, counts };
}

/** The figures of {@link ChildStats}' `inside` from the gifts' times and the loop's delay histogram (in ns). */
function insideSince(
  times: number[],
  loopDelay: IntervalHistogram,
): Omit<ChildStats['inside'], 'slowestCommitMs' | 'writerWaitP50Ms' | 'writerWaitP99Ms'> {
  times.sort((a, b) => a - b);
  const at = (q: number) =>
    times.length === 0 ? 0 : Math.round(10 * times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!) / 10;
  const ms = (ns: number) => Math.round(ns / 1e5) / 10;
  return {
    gifts: times.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: at(1),
    loopDelayP99Ms: loopDelay.count === 0 ? 0 : ms(loopDelay.percentile(99)),
    loopDelayMaxMs: loopDelay.count === 0 ? 0 : ms(loopDelay.max),
  };
}

/**
 * The p50 and p99 of the gifts' waits for the money writer since `previous` (bucket counts by
 * upper bound in seconds, updated in place), as the upper bounds of their buckets, in ms.
 */
async function writerWaitSince(metrics: PlatformMetrics, previous: Map<number, number>): Promise<{ p50Ms: number; p99Ms: number }> {
  const { values } = await metrics.writerWait.get();
  const cumulative = values
    .filter((value) => value.metricName === 'diamonds_writer_wait_seconds_bucket' && value.labels.operation === 'gifts.send')
    .map((value) => {
      // Bucket samples carry `le` beside the histogram's own labels.
      const upper = (value.labels as Record<string, string | number | undefined>).le;
      const le = upper === '+Inf' ? Infinity : Number(upper);
      const since = value.value - (previous.get(le) ?? 0);
      previous.set(le, value.value);
      return { le, since };
    })
    .sort((a, b) => a.le - b.le);
  const total = cumulative.at(-1)?.since ?? 0;
  const bound = (q: number) => {
    const found = cumulative.find((bucket) => bucket.since >= q * total);
    return total === 0 || found === undefined ? 0 : found.le * 1000;
  };
  return { p50Ms: bound(0.5), p99Ms: bound(0.99) };
}

async function serveChild(): Promise<void> {
  // Ctrl-C reaches the whole process group: the parent decides when this process stops.
  process.on('SIGINT', () => {});
  const opened = openDatabase({ dataDir: process.env.DIAMONDS_DATA_DIR ?? '', databaseUrl: process.env.DATABASE_URL || undefined });
  const { db, counts } = countingDatabase(opened);
  const writer = process.env.DIAMONDS_SQLITE_WRITER === 'inline' ? 'inline' : 'thread';
  // Every idle stream comes from 127.0.0.1: the per-address limit (20) is lifted for them.
  const platform = await startServer({
    port: 0,
    host: '127.0.0.1',
    db,
    sqliteWriter: writer,
    ...(IDLE_STREAMS > 0 ? { live: { streamsPerAddress: IDLE_STREAMS + 100 } } : {}),
  });
  const bare = new Hono();
  bare.post('/v1/gifts', async (c) => {
    await c.req.json();
    return c.json({ ok: true });
  });
  const bareServer = await new Promise<Server>((resolve, reject) => {
    const listening = serve({ fetch: bare.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(listening as Server));
    (listening as Server).once('error', reject);
  });
  const barePort = (bareServer.address() as AddressInfo).port;
  // The main thread's GC pauses, which every request in flight waits out.
  const gc = { count: 0, totalMs: 0, maxMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count++;
      gc.totalMs += entry.duration;
      gc.maxMs = Math.max(gc.maxMs, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  // The gifts' time inside the server, and the event loop's lateness, per run.
  const giftTimes: number[] = [];
  const startedAt = new WeakMap<object, number>();
  subscribe('http.server.request.start', (message) => {
    const { request } = message as { request: IncomingMessage };
    if (request.method === 'POST' && request.url === '/v1/gifts') startedAt.set(request, performance.now());
  });
  subscribe('http.server.response.finish', (message) => {
    const { request } = message as { request: IncomingMessage };
    const started = startedAt.get(request);
    if (started !== undefined) giftTimes.push(performance.now() - started);
  });
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  const writerWaits = new Map<number, number>();
  loopDelay.enable();
  // With BENCH_CPU_PROF, the parent marks when each run starts and ends (on the profiles' clock,
  // CLOCK_MONOTONIC in µs, as V8 stamps samples), so the profiles can be cut to one run.
  const marks: Array<{ name: string; atMicros: number }> = [];
  process.on('message', (message) => {
    if (typeof message === 'object' && message !== null && 'mark' in message) {
      marks.push({ name: String(message.mark), atMicros: Number(process.hrtime.bigint() / 1000n) });
      return;
    }
    if (message === 'stats') {
      // On SQLite the spends are written on the writer thread, which counts its own statements.
      void Promise.all([platform.writer.stats({ restartSlowest: true }), writerWaitSince(platform.metrics, writerWaits)]).then(
        ([written, waits]) => {
          const cpu = process.cpuUsage();
          process.send?.({
            batches: platform.commits.batches + written.batches,
            statements: counts.statements + written.statements,
            transactions: counts.transactions + (platform.writer.mode === 'thread' ? written.batches : 0),
            cpuMicros: cpu.user + cpu.system,
            threads: threadCpuMicros(),
            pid: process.pid,
            gc: { ...gc },
            inside: {
              ...insideSince(giftTimes.splice(0), loopDelay),
              slowestCommitMs: written.slowestBatchMs ?? 0,
              writerWaitP50Ms: waits.p50Ms,
              writerWaitP99Ms: waits.p99Ms,
            },
          } satisfies ChildStats);
          loopDelay.reset();
          // The longest pause is per run: from one stats call to the next.
          gc.maxMs = 0;
          if (statementTexts && process.env.BENCH_TRACE_SQL) {
            const lines = [...statementTexts].sort((a, b) => b[1] - a[1]).map(([text, n]) => `${String(n).padStart(8)}  ${text}`);
            writeFileSync(process.env.BENCH_TRACE_SQL, `${lines.join('\n')}\n`);
          }
        },
      );
      return;
    }
    if (message !== 'stop') return;
    void (async () => {
      if (CPU_PROF_DIR !== undefined) {
        // Node makes the folder only when it writes the profiles, at exit. A profiled server
        // exits at once: a clean stop is not what is measured, and one that lags must not cost
        // the profiles (the parent kills a server that has not exited in time).
        mkdirSync(CPU_PROF_DIR, { recursive: true });
        writeFileSync(join(CPU_PROF_DIR, `marks-${process.pid}.json`), JSON.stringify(marks));
        process.exit(0);
      }
      bareServer.close();
      bareServer.closeAllConnections();
      await platform.close();
      await db.close();
      process.exit(0);
    })();
  });
  process.send?.({ platformUrl: platform.url, bareUrl: `http://127.0.0.1:${barePort}` } satisfies Listening);
}

// ---------------------------------------------------------------------------------------------
// The parent: set-up, load, report

interface Fan {
  token: string;
  /** The DPoP key the fan's token is bound to: every request carries a fresh proof by it. */
  dpop: DpopTestKey;
}

interface World {
  creatorId: string;
  /** Creators nobody gifts, whose streams the idle streams follow (BENCH_IDLE_STREAMS). */
  idleCreatorIds: string[];
  siteId: string;
  publishableKey: string;
  fans: Fan[];
  /** `POST /v1/gifts` on the running platform: what each DPoP proof names (`htu`). */
  giftsUrl: string;
}

/**
 * Seeds the gift catalog when the gifts module offers `seedGiftCatalog` (found at run time, so
 * this script runs whichever file the catalog lives in).
 */
async function seedGiftCatalogIfAny(db: Database): Promise<boolean> {
  const folder = fileURLToPath(new URL('../src/gifts/', import.meta.url));
  for (const file of readdirSync(folder).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))) {
    const module = (await import(pathToFileURL(join(folder, file)).href)) as { seedGiftCatalog?: (db: Database) => Promise<unknown> };
    if (typeof module.seedGiftCatalog === 'function') {
      await module.seedGiftCatalog(db);
      return true;
    }
  }
  return false;
}

async function buildWorld(t: TestDatabase): Promise<World> {
  const db = t.db;
  const ledger = new Ledger(db);
  const creator = await createUser(
    db,
    { email: `creator-${randomUUID()}@example.com`, password: 'a long password', displayName: 'Ada', roles: ['creator'] },
    { cost: TEST_SCRYPT_COST },
  );
  const site = await createSite(db, { ownerId: creator.id, name: 'Ada’s page', origins: [ORIGIN] });
  const fans: Fan[] = [];
  for (let i = 0; i < FANS; i++) {
    const user = await createUser(
      db,
      { email: `fan${i}-${randomUUID()}@example.com`, password: 'a long password', displayName: `Fan ${i}`, roles: ['fan'] },
      { cost: TEST_SCRYPT_COST },
    );
    await connect(db, user.id, site.site.id, MAX_TRANSFER_DIAMONDS);
    const dpop = newDpopKey();
    const token = await db.transaction(async (tx) => {
      const wallet = await walletOf(tx, ledger, user.id);
      const issuance = await ledger.platformAccount('issuance', tx);
      await ledger.transferIn(tx, {
        idempotencyKey: `bench-credit:${user.id}`,
        code: 'purchase',
        postings: [
          { accountId: issuance.id, amountDiamonds: -FAN_BALANCE },
          { accountId: wallet, amountDiamonds: FAN_BALANCE },
        ],
        metadata: { description: 'Benchmark top-up' },
      });
      const tokens = await issueTokens(tx, {
        userId: user.id,
        siteId: site.site.id,
        origin: ORIGIN,
        familyId: newFamilyId(),
        jkt: dpop.jkt,
      });
      return tokens.accessToken;
    });
    fans.push({ token, dpop });
  }
  const idleCreatorIds: string[] = [];
  for (let i = 0; i < (IDLE_STREAMS > 0 ? IDLE_CREATORS : 0); i++) {
    const idle = await createUser(
      db,
      { email: `idle${i}-${randomUUID()}@example.com`, password: 'a long password', displayName: `Idle ${i}`, roles: ['creator'] },
      { cost: TEST_SCRYPT_COST },
    );
    idleCreatorIds.push(idle.id);
  }
  return { creatorId: creator.id, idleCreatorIds, siteId: site.site.id, publishableKey: site.publishableKey, fans, giftsUrl: '' };
}

/**
 * Opens `count` live streams on the platform, spread over the world's idle creators, 250 at a
 * time; resolves to the open ones and how many failed (and the first failure's reason).
 */
async function openIdleStreams(
  platformUrl: string,
  world: World,
  count: number,
): Promise<{ streams: IncomingMessage[]; failed: number; firstFailure: string | undefined }> {
  const target = new URL(platformUrl);
  const streams: IncomingMessage[] = [];
  let failed = 0;
  let firstFailure: string | undefined;
  const openOne = (i: number) =>
    new Promise<void>((resolve) => {
      const fail = (reason: string) => {
        failed++;
        firstFailure ??= reason;
        resolve();
      };
      const req = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: `/v1/live/${world.idleCreatorIds[i % world.idleCreatorIds.length]}/stream`,
          agent: false,
          headers: { Authorization: `Bearer ${world.publishableKey}`, Origin: ORIGIN, Accept: 'text/event-stream' },
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            fail(`HTTP ${res.statusCode}`);
            return;
          }
          res.resume();
          res.on('error', () => undefined);
          streams.push(res);
          resolve();
        },
      );
      req.on('error', (error) => fail(error.message));
      req.setTimeout(30_000, () => req.destroy(new Error('timed out')));
      req.end();
    });
  for (let i = 0; i < count; i += 250) {
    await Promise.all(Array.from({ length: Math.min(250, count - i) }, (_, j) => openOne(i + j)));
  }
  return { streams, failed, firstFailure };
}

/** Proofs a timed run needed beyond those signed before it (see {@link signProofs}). */
let proofsSignedDuringRuns = 0;

/**
 * DPoP proofs for the next `count` gift requests (request i is fan i mod the number of fans),
 * signed before a timed run starts. In production each fan's browser signs its own proofs, on
 * its own device; signed during the run, they would charge this machine's load generator, which
 * shares the CPU with the server (about 50 µs of ECDSA per request, more than the bare route's
 * whole cost), with work that is not the platform's. Each proof is fresh (`iat` now, a new
 * `jti`), valid for minutes, and sent once; the server verifies every one as usual. A run that
 * sends more requests than were signed for signs the rest as it goes (and says so).
 */
function signProofs(world: World, count: number): string[] {
  return Array.from({ length: Math.ceil(count) }, (_, i) => {
    const fan = world.fans[i % world.fans.length]!;
    return fan.dpop.proof('POST', world.giftsUrl, fan.token);
  });
}

/** The proof for request `i` of a run: signed beforehand, or now if the run outgrew them. */
function proofFor(world: World, proofs: readonly string[], i: number): string {
  const signed = proofs[i];
  if (signed !== undefined) return signed;
  proofsSignedDuringRuns++;
  const fan = world.fans[i % world.fans.length]!;
  return fan.dpop.proof('POST', world.giftsUrl, fan.token);
}

/** The request autocannon sends, fan, proof and idempotency key filled in per request. */
function giftRequests(world: World, run: string, proofs: readonly string[] = []): autocannon.Request[] {
  const body = JSON.stringify({ creatorId: world.creatorId, giftId: 'rose', quantity: 1 });
  let sent = 0;
  return [
    {
      method: 'POST',
      path: '/v1/gifts',
      setupRequest: (request) => {
        const fan = world.fans[sent % world.fans.length]!;
        const proof = proofFor(world, proofs, sent);
        sent++;
        return {
          ...request,
          headers: {
            'Content-Type': 'application/json',
            Authorization: `Bearer ${world.publishableKey}`,
            Origin: ORIGIN,
            'Diamonds-Token': fan.token,
            // One per request, as the SDK makes them: the platform accepts a proof once.
            DPoP: proof,
            'Idempotency-Key': `bench:${run}:${sent}`,
          },
          body,
        };
      },
    },
  ];
}

interface Measured {
  route: 'bare' | 'gifts';
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  total: number;
  ok: number;
  /** Non-2xx answers, connection errors and timeouts: any of them makes the run invalid. */
  failed: number;
  statuses: Record<string, number>;
}

async function load(
  url: string,
  requests: autocannon.Request[],
  seconds: number,
  route: Measured['route'],
  overallRate?: number,
): Promise<Measured> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
    requests,
    ...(overallRate === undefined ? {} : { overallRate }),
  });
  const statuses = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([status, stats]) => [status, (stats as { count: number }).count]),
  );
  return {
    route,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    total: result.requests.total,
    ok: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
    statuses,
  };
}

/**
 * Gifts sent evenly at `rate` per second for `seconds` (to the bare route's server when `route`
 * is `bare`: the same requests, answered without work), in an open loop: request i leaves at
 * start + i ÷ rate whether or not earlier ones came back, over at most {@link CONNECTIONS}
 * keep-alive sockets, and its latency counts from when it was due. A server that cannot keep
 * up shows it twice: in the latency (requests queue for a socket) and in the rate achieved.
 */
async function paceEvenly(
  url: string,
  world: World,
  run: string,
  rate: number,
  seconds: number,
  proofs: readonly string[],
  route: Measured['route'] = 'gifts',
): Promise<Measured> {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const body = JSON.stringify({ creatorId: world.creatorId, giftId: 'rose', quantity: 1 });
  const count = Math.max(1, Math.round(rate * seconds));
  const intervalMs = 1000 / rate;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  const send = (i: number, dueAt: number) =>
    new Promise<void>((resolve) => {
      const fan = world.fans[i % world.fans.length]!;
      const request = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: '/v1/gifts',
          method: 'POST',
          agent,
          timeout: 10_000,
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            Authorization: `Bearer ${world.publishableKey}`,
            Origin: ORIGIN,
            'Diamonds-Token': fan.token,
            DPoP: proofFor(world, proofs, i),
            'Idempotency-Key': `bench:${run}:${i}`,
          },
        },
        (response) => {
          response.resume();
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            statuses[status] = (statuses[status] ?? 0) + 1;
            if (status >= 200 && status < 300) {
              ok++;
              latencies.push(performance.now() - dueAt);
            } else failed++;
            resolve();
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error('timed out')));
      request.on('error', () => {
        failed++;
        resolve();
      });
      request.end(body);
    });
  const started = performance.now();
  const pending: Promise<void>[] = [];
  let sent = 0;
  while (sent < count && !aborted) {
    const now = performance.now();
    while (sent < count && started + sent * intervalMs <= now) {
      pending.push(send(sent, started + sent * intervalMs));
      sent++;
    }
    await sleep(1);
  }
  await Promise.all(pending);
  const elapsedSeconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const percentile = (q: number) =>
    latencies.length === 0 ? 0 : Math.round(10 * latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)]!) / 10;
  return {
    route,
    requestsPerSecond: ok / elapsedSeconds,
    p50Ms: percentile(0.5),
    p99Ms: percentile(0.99),
    total: sent,
    ok,
    failed,
    statuses,
  };
}

/** One gift through the real route, to tell "not built yet" from a bench that would measure errors. */
async function probeGift(platformUrl: string, world: World): Promise<{ ok: boolean; status: number; body: string }> {
  const [request] = giftRequests(world, `probe-${randomUUID()}`, signProofs(world, 1));
  const prepared = (request!.setupRequest as (r: autocannon.Request, c: object) => autocannon.Request)(request!, {});
  const response = await fetch(`${platformUrl}/v1/gifts`, {
    method: 'POST',
    headers: prepared.headers as Record<string, string>,
    body: prepared.body as string,
  });
  return { ok: response.ok, status: response.status, body: (await response.text()).slice(0, 300) };
}

/** The server's CPU time of one run by thread, in microseconds. */
interface ThreadSplit {
  /** The event loop: HTTP, authentication, validation, answers. */
  main: number;
  /** The busiest other thread: on SQLite the money writer's (statements, commits). */
  writer: number;
  /** Every other thread: V8's helpers (GC, compilation), libuv's pool. */
  rest: number;
}

/** The main thread's GC pauses during one run. */
interface GcPauses {
  count: number;
  totalMs: number;
  maxMs: number;
}

function gcBetween(before: ChildStats, after: ChildStats): GcPauses {
  return { count: after.gc.count - before.gc.count, totalMs: after.gc.totalMs - before.gc.totalMs, maxMs: after.gc.maxMs };
}

function threadSplit(before: ChildStats, after: ChildStats): ThreadSplit | undefined {
  const main = String(after.pid);
  if (after.threads[main] === undefined) return undefined;
  const deltas = Object.entries(after.threads).map(([tid, micros]) => [tid, micros - (before.threads[tid] ?? 0)] as const);
  const others = deltas.filter(([tid]) => tid !== main).sort((a, b) => b[1] - a[1]);
  return {
    main: after.threads[main]! - (before.threads[main] ?? 0),
    writer: others[0]?.[1] ?? 0,
    rest: others.slice(1).reduce((sum, [, micros]) => sum + micros, 0),
  };
}

interface EngineResult {
  engine: DatabaseKind;
  bare: Measured;
  /**
   * The bare route flat out again, right after the gifts' flat-out run: with `bare` it brackets
   * that run, and the graded ratio divides by the mean of the two (see {@link bareRate}).
   */
  bareAfter: Measured | undefined;
  gifts: Measured | undefined;
  /** Gifts sent evenly at the goal's load (0.15 × the bare route's requests/s): the p99 the goal is about. */
  even: (Measured & { targetRate: number }) | undefined;
  /** With BENCH_IDLE_STREAMS: the same evenly paced gifts with that many idle live streams open (issue 15). */
  evenWithStreams: (Measured & { targetRate: number; streams: number }) | undefined;
  /** The same load through autocannon's `overallRate` (a burst at the top of each second), for reference. */
  paced: (Measured & { targetRate: number }) | undefined;
  /**
   * The bare route paced exactly as `even` (the same rate, request bytes and load generator): the
   * p99 this machine and the HTTP stack give a request that does no work, for reference.
   */
  bareEven: (Measured & { targetRate: number }) | undefined;
  /** The server process's CPU time per run, in microseconds, and the run's length in seconds. */
  cpu: {
    flat: number;
    even: number;
    paced: number;
    evenSeconds: number;
    flatThreads: ThreadSplit | undefined;
    evenThreads: ThreadSplit | undefined;
    /** PostgreSQL's processes during the flat-out run (0 on SQLite). */
    database: number;
  };
  /** Why gifts were not measured, when they were not. */
  giftsSkipped?: string;
  giftsInLedger: number;
  /** With BENCH_WEBHOOKS: `gift.sent` deliveries received, and the seconds after the runs until the last. */
  webhooks?: { received: number; drainSeconds: number; drained: boolean };
  /** Gifts the server answered with a 2xx: the probe, the warm-up and the measured run. */
  giftsAnswered: number;
  /**
   * CPU time of this process (autocannon, the load generator) per request flat out, in µs: it
   * shares the machine with the server, so it bounds what the server can get.
   */
  loader: { bare: number; gifts: number };
  /** The main thread's GC pauses during the flat-out and the evenly paced gifts runs. */
  gcPauses: { flat?: GcPauses; even?: GcPauses };
  /** Group-committed transactions the server ran during the measured gifts run. */
  transactions: number;
  /** The same during the evenly paced run, where each commit carries far fewer gifts. */
  evenTransactions: number;
  /** Everything the server sent to the database during the measured gifts run. */
  work: { statements: number; transactions: number };
  verify: string;
  verifyOk: boolean;
}

const databases = new Set<TestDatabase>();
const children = new Set<ChildProcess>();
let aborted = false;

function startChild(t: TestDatabase): Promise<{ child: ChildProcess; listening: Listening }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], {
    // The same loader and conditions as this process (tsx, and `--conditions=source` if given).
    // BENCH_CPU_PROF=dir: a CPU profile of the server (each of its threads) lands in dir;
    // BENCH_SERVER_FLAGS: more Node flags (`--trace-gc-nvp`, say).
    execArgv: [
      ...process.execArgv,
      ...SERVER_FLAGS,
      ...(CPU_PROF_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`]),
    ],
    env: { ...process.env, ...t.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, listening: message as Listening }));
    child.once('exit', (code) => reject(new Error(`the server process exited with ${code} before listening`)));
  });
}

/** Marks a moment in the server's CPU profile (see BENCH_CPU_PROF); nothing without one. */
function mark(child: ChildProcess, name: string): void {
  if (CPU_PROF_DIR !== undefined) child.send({ mark: name });
}

function childStats(child: ChildProcess): Promise<ChildStats> {
  return new Promise((resolve) => {
    child.once('message', (message) => resolve(message as ChildStats));
    child.send('stats');
  });
}

/**
 * Waits until the gifts still in flight when a timed run stopped have been written (the count
 * holds still for half a second), so that stopping the server never cuts a request short.
 */
async function settle(db: Database): Promise<number> {
  const count = async () => Number((await db.query<{ n: number }>(`SELECT count(*) AS n FROM transfers WHERE code = 'gift'`))[0]?.n ?? 0);
  const deadline = Date.now() + 15_000;
  let last = await count();
  while (Date.now() < deadline) {
    await sleep(500);
    const now = await count();
    if (now === last) break;
    last = now;
  }
  return last;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send('stop');
  // Writing CPU profiles at exit takes a while.
  const timer = setTimeout(() => child.kill('SIGKILL'), CPU_PROF_DIR === undefined ? 10_000 : 120_000);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

async function runEngine(engine: DatabaseKind): Promise<EngineResult> {
  const t = await createTestDatabase(engine);
  databases.add(t);
  const setupStarted = performance.now();
  const seeded = await seedGiftCatalogIfAny(t.db);
  const world = await buildWorld(t);
  console.log(
    `  ${engine}: ${FANS} fans signed in and funded in ${((performance.now() - setupStarted) / 1000).toFixed(1)} s` +
      `${seeded ? ', gift catalog seeded' : ''}`,
  );
  let receiver: WebhookReceiver | undefined;
  if (WEBHOOKS) {
    receiver = await startReceiver();
    await createEndpoint(t.db, world.siteId, { url: `${receiver.url}/hook`, eventTypes: ['gift.sent'], description: 'bench' });
  }
  const { child, listening } = await startChild(t);
  world.giftsUrl = `${listening.platformUrl}/v1/gifts`;
  try {
    const bareRequests: autocannon.Request[] = [
      {
        method: 'POST',
        path: '/v1/gifts',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ creatorId: world.creatorId, giftId: 'rose', quantity: 1 }),
      },
    ];
    await load(listening.bareUrl, bareRequests, WARMUP_SECONDS, 'bare');
    mark(child, `${engine}:bare:start`);
    const loaderBefore = process.cpuUsage();
    const bare = await load(listening.bareUrl, bareRequests, SECONDS, 'bare');
    const loaderBare = process.cpuUsage(loaderBefore);
    mark(child, `${engine}:bare:end`);
    console.log(`  ${engine}: bare ${fmt(bare.requestsPerSecond)} req/s`);

    let gifts: Measured | undefined;
    let bareAfter: Measured | undefined;
    let paced: EngineResult['paced'];
    let even: EngineResult['even'];
    let bareEven: EngineResult['bareEven'];
    let evenWithStreams: EngineResult['evenWithStreams'];
    let giftsWithStreams = 0;
    const cpu: EngineResult['cpu'] = {
      flat: 0,
      even: 0,
      paced: 0,
      evenSeconds: 0,
      flatThreads: undefined,
      evenThreads: undefined,
      database: 0,
    };
    let giftsSkipped: string | undefined;
    let giftsAnswered = 0;
    let transactions = 0;
    let evenTransactions = 0;
    const gcPauses: EngineResult['gcPauses'] = {};
    const loader: EngineResult['loader'] = { bare: (loaderBare.user + loaderBare.system) / Math.max(1, bare.total), gifts: 0 };
    let work = { statements: 0, transactions: 0 };
    const probe = await probeGift(listening.platformUrl, world);
    if (aborted) giftsSkipped = 'interrupted';
    else if (!probe.ok) {
      giftsSkipped =
        probe.status === 404
          ? 'POST /v1/gifts does not exist yet (404): gifts not measured'
          : `a probe gift failed (${probe.status} ${probe.body}): gifts not measured`;
    } else {
      const run = randomUUID();
      // Enough proofs for gifts at half the bare route's rate; beyond that they are signed on the fly.
      const expected = (seconds: number) => 0.5 * bare.requestsPerSecond * seconds + CONNECTIONS;
      const warm = await load(
        listening.platformUrl,
        giftRequests(world, `${run}-warm`, signProofs(world, expected(WARMUP_SECONDS))),
        WARMUP_SECONDS,
        'gifts',
      );
      await settle(t.db);
      const flatProofs = signProofs(world, expected(SECONDS));
      const before = await childStats(child);
      const databaseBefore = postgresCpuMicros();
      mark(child, `${engine}:gifts-flat:start`);
      const loaderGifts = process.cpuUsage();
      gifts = await load(listening.platformUrl, giftRequests(world, run, flatProofs), SECONDS, 'gifts');
      const loaderUsed = process.cpuUsage(loaderGifts);
      loader.gifts = (loaderUsed.user + loaderUsed.system) / Math.max(1, gifts.total);
      mark(child, `${engine}:gifts-flat:end`);
      const after = await childStats(child);
      cpu.database = postgresCpuMicros() - databaseBefore;
      transactions = after.batches - before.batches;
      work = { statements: after.statements - before.statements, transactions: after.transactions - before.transactions };
      cpu.flat = after.cpuMicros - before.cpuMicros;
      cpu.flatThreads = threadSplit(before, after);
      gcPauses.flat = gcBetween(before, after);
      await settle(t.db);
      // The bare route again, so that it brackets the gifts' run (see bareRate).
      bareAfter = await load(listening.bareUrl, bareRequests, SECONDS, 'bare');
      console.log(`  ${engine}: bare again after the gifts ${fmt(bareAfter.requestsPerSecond)} req/s`);
      // The goal's p99 is "at that load": gifts sent at 0.15 × the bare rate, not flat out, where
      // a closed loop of connections would make latency just connections ÷ throughput.
      const targetRate = EVEN_RATE ?? Math.max(1, Math.round(GOAL.evenLoad * bareRate({ bare, bareAfter })));
      const evenProofs = signProofs(world, targetRate * SECONDS);
      // First the same pacing against the bare route, while nothing else is in flight: what of the
      // gifts' p99 this machine and the HTTP stack would take anyway.
      bareEven = {
        ...(await paceEvenly(listening.bareUrl, world, `${run}-bare-even`, targetRate, SECONDS, evenProofs, 'bare')),
        targetRate,
      };
      console.log(`  ${engine}: bare route evenly at ${fmt(targetRate)} req/s (the same requests, no work): p99 ${bareEven.p99Ms} ms`);
      const beforeEven = await childStats(child);
      const evenStarted = performance.now();
      mark(child, `${engine}:gifts-even:start`);
      even = { ...(await paceEvenly(listening.platformUrl, world, `${run}-even`, targetRate, SECONDS, evenProofs)), targetRate };
      mark(child, `${engine}:gifts-even:end`);
      cpu.evenSeconds = (performance.now() - evenStarted) / 1000;
      const afterEven = await childStats(child);
      cpu.even = afterEven.cpuMicros - beforeEven.cpuMicros;
      cpu.evenThreads = threadSplit(beforeEven, afterEven);
      evenTransactions = afterEven.batches - beforeEven.batches;
      gcPauses.even = gcBetween(beforeEven, afterEven);
      console.log(`  ${engine}: gifts evenly at ${fmt(targetRate)} req/s: p99 ${even.p99Ms} ms`);
      const inside = afterEven.inside;
      console.log(
        `  ${engine}: evenly, inside the server: p50 ${inside.p50Ms} ms, p99 ${inside.p99Ms} ms, max ${inside.maxMs} ms over ${inside.gifts} gifts; ` +
          `the event loop ran late by up to ${inside.loopDelayMaxMs} ms (p99 ${inside.loopDelayP99Ms} ms); the slowest group commit took ${inside.slowestCommitMs} ms; ` +
          `the money writer answered within ${inside.writerWaitP50Ms} ms (p50) and ${inside.writerWaitP99Ms} ms (p99)`,
      );
      if (IDLE_STREAMS > 0) {
        // Issue 15: the same pacing again with idle live streams held open (each costs the
        // process its socket, and the hub's heartbeat writes to it every 15 s).
        await settle(t.db);
        const opened = await openIdleStreams(listening.platformUrl, world, IDLE_STREAMS);
        // Opening them is not what is measured: its garbage collected, the process quiet again.
        await sleep(2000);
        try {
          const idleProofs = signProofs(world, targetRate * SECONDS);
          const withStreams = await paceEvenly(listening.platformUrl, world, `${run}-even-streams`, targetRate, SECONDS, idleProofs);
          evenWithStreams = { ...withStreams, targetRate, streams: opened.streams.length };
          giftsWithStreams = withStreams.ok;
          console.log(
            `  ${engine}: gifts evenly at ${fmt(targetRate)} req/s with ${opened.streams.length} idle live streams open` +
              `${opened.failed > 0 ? ` (${opened.failed} failed to open, first: ${opened.firstFailure})` : ''}: p99 ${withStreams.p99Ms} ms (without: ${even.p99Ms} ms)`,
          );
        } finally {
          for (const stream of opened.streams) stream.destroy();
        }
      }
      await settle(t.db);
      const pacedProofs = signProofs(world, targetRate * SECONDS + CONNECTIONS);
      const beforePaced = await childStats(child);
      paced = {
        ...(await load(listening.platformUrl, giftRequests(world, `${run}-paced`, pacedProofs), SECONDS, 'gifts', targetRate)),
        targetRate,
      };
      cpu.paced = (await childStats(child)).cpuMicros - beforePaced.cpuMicros;
      console.log(`  ${engine}: gifts paced by autocannon at ${fmt(targetRate)} req/s: p99 ${paced.p99Ms} ms`);
      giftsAnswered = 1 + warm.ok + gifts.ok + even.ok + paced.ok + giftsWithStreams;
      console.log(`  ${engine}: gifts ${fmt(gifts.requestsPerSecond)} req/s`);
    }
    await settle(t.db);
    let webhooks: EngineResult['webhooks'];
    if (receiver !== undefined) {
      // Deliveries catch up after the runs; the gifts all committed before this count.
      const [committed] = await t.db.query<{ n: number }>(`SELECT count(*) AS n FROM transfers WHERE code = 'gift'`);
      const drainStarted = performance.now();
      const delivered = () => new Set(receiver.at('/hook').map((r) => r.headers['webhook-id'])).size;
      const drained = await receiver
        .waitFor(() => delivered() >= Number(committed?.n ?? 0), 'webhook deliveries', WEBHOOK_DRAIN_MS)
        .then(() => true)
        .catch(() => false);
      webhooks = { received: delivered(), drainSeconds: (performance.now() - drainStarted) / 1000, drained };
    }
    await stopChild(child);
    await receiver?.close();
    const [row] = await t.db.query<{ n: number }>(`SELECT count(*) AS n FROM transfers WHERE code = 'gift'`);
    const report = await verifyLedger(t.db);
    return {
      engine,
      bare,
      bareAfter,
      gifts,
      even,
      paced,
      bareEven,
      evenWithStreams,
      cpu,
      ...(giftsSkipped === undefined ? {} : { giftsSkipped }),
      giftsInLedger: Number(row?.n ?? 0),
      ...(webhooks === undefined ? {} : { webhooks }),
      giftsAnswered,
      gcPauses,
      loader,
      transactions,
      evenTransactions,
      work,
      verify: formatVerifyReport(report),
      verifyOk: report.ok,
    };
  } finally {
    await stopChild(child);
  }
}

/**
 * The bare route's requests/s the gifts are graded against: the mean of its runs just before and
 * just after the gifts' flat-out run. On a shared machine a slow spell of a few seconds moves one
 * run by a third or more; bracketing the gifts (A, B, A) lets a spell that hit one side show
 * up as the two bare runs disagreeing, rather than as a ratio off in either direction.
 */
function bareRate(result: Pick<EngineResult, 'bare' | 'bareAfter'>): number {
  const runs = [result.bare, result.bareAfter].filter((run): run is Measured => run !== undefined);
  return runs.reduce((sum, run) => sum + run.requestsPerSecond, 0) / runs.length;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function table(headers: string[], rows: string[][], numeric: ReadonlySet<number>): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  console.log(
    `bench:api — ${SECONDS} s per route after ${WARMUP_SECONDS} s of warm-up, ${CONNECTIONS} connections, ${FANS} fans, ` +
      `${cpus().length} CPUs, Node ${process.version}; SQLite spends written ${process.env.DIAMONDS_SQLITE_WRITER === 'inline' ? 'inline' : 'on the writer thread'}` +
      (WEBHOOKS ? '; every gift also delivered as a gift.sent webhook to a receiver in this process' : ''),
  );
  const notes: string[] = [];
  const engines: DatabaseKind[] = [];
  for (const engine of ENGINES) {
    if (engine === 'postgres') {
      const reason = await postgresUnavailable();
      if (reason) {
        notes.push(`PostgreSQL NOT BENCHMARKED: ${reason}`);
        continue;
      }
    }
    engines.push(engine);
  }
  const results: EngineResult[] = [];
  for (const engine of engines) {
    if (aborted) break;
    results.push(await runEngine(engine));
  }

  const headers = ['engine', 'route', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'gifts/bare', 'goal', 'result'];
  const rows: string[][] = [];
  for (const { engine, bare, bareAfter, gifts, even, paced, bareEven, evenWithStreams, giftsSkipped } of results) {
    rows.push([engine, 'bare', fmt(bare.requestsPerSecond), String(bare.p50Ms), String(bare.p99Ms), String(bare.failed), '', '', '']);
    if (bareAfter) {
      rows.push([
        engine,
        'bare, again after the gifts',
        fmt(bareAfter.requestsPerSecond),
        String(bareAfter.p50Ms),
        String(bareAfter.p99Ms),
        String(bareAfter.failed),
        '',
        '',
        '',
      ]);
    }
    if (!gifts) {
      rows.push([engine, 'POST /v1/gifts', '-', '-', '-', '-', '-', '', 'NOT RUN']);
      notes.push(`${engine}: ${giftsSkipped}`);
      continue;
    }
    const bareMean = bareRate({ bare, bareAfter });
    const ratio = bareMean > 0 ? gifts.requestsPerSecond / bareMean : 0;
    const graded = engine === 'sqlite';
    const verdict = (valid: boolean, pass: boolean) => (!valid ? 'INVALID' : !graded ? '-' : pass ? 'PASS' : 'MISS');
    rows.push([
      engine,
      'POST /v1/gifts, flat out',
      fmt(gifts.requestsPerSecond),
      String(gifts.p50Ms),
      String(gifts.p99Ms),
      String(gifts.failed),
      ratio.toFixed(3),
      graded ? `ratio ≥ ${GOAL.ratio}` : '-',
      verdict(gifts.failed === 0 && bare.failed === 0 && (bareAfter?.failed ?? 0) === 0, ratio >= GOAL.ratio),
    ]);
    if (even) {
      // Paced below what the route can do, it must keep up; if it cannot, the p99 is of a backlog.
      const sustained = even.requestsPerSecond >= 0.95 * even.targetRate;
      rows.push([
        engine,
        `POST /v1/gifts evenly @ ${fmt(even.targetRate)}/s`,
        fmt(even.requestsPerSecond),
        String(even.p50Ms),
        String(even.p99Ms),
        String(even.failed),
        '',
        graded ? `p99 ≤ ${GOAL.p99Ms} ms` : '-',
        verdict(even.failed === 0, sustained && even.p99Ms <= GOAL.p99Ms) + (sustained ? '' : ' (rate not sustained)'),
      ]);
    }
    if (evenWithStreams) {
      // Issue 15: the same goal with idle live streams open.
      const sustained = evenWithStreams.requestsPerSecond >= 0.95 * evenWithStreams.targetRate;
      rows.push([
        engine,
        `POST /v1/gifts evenly @ ${fmt(evenWithStreams.targetRate)}/s, ${fmt(evenWithStreams.streams)} idle streams`,
        fmt(evenWithStreams.requestsPerSecond),
        String(evenWithStreams.p50Ms),
        String(evenWithStreams.p99Ms),
        String(evenWithStreams.failed),
        '',
        graded ? `p99 ≤ ${GOAL.p99Ms} ms` : '-',
        verdict(evenWithStreams.failed === 0, sustained && evenWithStreams.p99Ms <= GOAL.p99Ms) +
          (sustained ? '' : ' (rate not sustained)'),
      ]);
    }
    if (bareEven) {
      rows.push([
        engine,
        `bare evenly @ ${fmt(bareEven.targetRate)}/s`,
        fmt(bareEven.requestsPerSecond),
        String(bareEven.p50Ms),
        String(bareEven.p99Ms),
        String(bareEven.failed),
        '',
        '-',
        bareEven.failed === 0 ? 'reference' : 'INVALID',
      ]);
    }
    if (paced) {
      rows.push([
        engine,
        `POST /v1/gifts @ ${fmt(paced.targetRate)}/s (autocannon bursts)`,
        fmt(paced.requestsPerSecond),
        String(paced.p50Ms),
        String(paced.p99Ms),
        String(paced.failed),
        '',
        '-',
        paced.failed === 0 ? 'reference' : 'INVALID',
      ]);
    }
  }
  console.log(`\n${table(headers, rows, new Set([2, 3, 4, 5, 6]))}\n`);

  for (const result of results) {
    const { engine, bare, bareAfter, gifts, even, paced, cpu, giftsInLedger, giftsAnswered, transactions, work, verify, verifyOk } = result;
    console.log(`  ${engine}: bare ${bare.total} requests (${JSON.stringify(bare.statuses)})`);
    if (gifts && bareAfter) {
      const ratioTo = (run: Measured) => (run.requestsPerSecond > 0 ? (gifts.requestsPerSecond / run.requestsPerSecond).toFixed(3) : '-');
      const spread = Math.abs(bare.requestsPerSecond - bareAfter.requestsPerSecond) / Math.max(1, bareRate(result));
      console.log(
        `  ${engine}: gifts/bare against the bare run before the gifts ${ratioTo(bare)}, after them ${ratioTo(bareAfter)}, ` +
          `their mean (graded) ${(gifts.requestsPerSecond / Math.max(1, bareRate(result))).toFixed(3)}; the two bare runs differ by ` +
          `${(100 * spread).toFixed(0)}%${spread > 0.2 ? ': the machine was noisy, repeat the run before trusting the ratio' : ''}`,
      );
    }
    if (gifts) {
      console.log(
        `  ${engine}: gifts ${gifts.total} requests measured (${JSON.stringify(gifts.statuses)}) in ${transactions} transactions ` +
          `(${transactions > 0 ? (gifts.ok / transactions).toFixed(1) : '-'} gifts per commit)` +
          (even && result.evenTransactions > 0
            ? `; evenly paced ${(even.ok / result.evenTransactions).toFixed(1)} gifts per commit (${result.evenTransactions} transactions)`
            : ''),
      );
      const perGift = (n: number) => (gifts.total > 0 ? (n / gifts.total).toFixed(1) : '-');
      console.log(
        `  ${engine}: per gift request the server sent ${perGift(work.statements)} statements and ran ` +
          `${perGift(work.transactions)} transactions (group commits and others)`,
      );
      if (gifts.ok > 0) {
        const busy = (micros: number, seconds: number) => `${((100 * micros) / 1e6 / seconds).toFixed(0)}% of one core`;
        console.log(
          `  ${engine}: server CPU ${fmt(cpu.flat / gifts.ok)} µs per gift flat out (${busy(cpu.flat, SECONDS)})` +
            (even ? `; evenly at ${fmt(even.targetRate)}/s ${busy(cpu.even, cpu.evenSeconds)}` : '') +
            (paced ? `; autocannon-paced ${busy(cpu.paced, SECONDS)}` : ''),
        );
        if (engine === 'postgres' && cpu.database > 0) {
          console.log(
            `  ${engine}: PostgreSQL's processes used ${fmt(cpu.database / gifts.ok)} µs CPU per gift flat out (${busy(cpu.database, SECONDS)})`,
          );
        }
        // By thread, from the kernel's 10 ms ticks: flat out, and at the even run's fixed rate (a
        // figure that depends far less on how busy the machine is, since the server keeps up).
        const bySplit = (split: ThreadSplit | undefined, count: number, what: string) => {
          if (!split || count === 0) return;
          const per = (micros: number) => fmt(micros / count);
          console.log(
            `  ${engine}: ${what}: main thread ${per(split.main)} µs, busiest other thread (the writer on SQLite) ` +
              `${per(split.writer)} µs, the rest (V8 helpers, libuv) ${per(split.rest)} µs per gift; ` +
              `${per(split.main + split.writer + split.rest)} µs in all`,
          );
        };
        bySplit(cpu.flatThreads, gifts.ok, 'flat out');
        if (even) bySplit(cpu.evenThreads, even.ok, `evenly at ${fmt(even.targetRate)}/s`);
        console.log(
          `  ${engine}: the load generator (this process) used ${fmt(result.loader.bare)} µs per bare request and ` +
            `${fmt(result.loader.gifts)} µs per gift request flat out`,
        );
        const pauses = (p: GcPauses | undefined, what: string) =>
          p ? `${what} ${p.count} (${p.totalMs.toFixed(0)} ms in all, the longest ${p.maxMs.toFixed(1)} ms)` : '';
        console.log(
          `  ${engine}: main thread GC pauses: ${[pauses(result.gcPauses.flat, 'flat out'), pauses(result.gcPauses.even, 'evenly')].filter(Boolean).join('; ')}`,
        );
      }
      // Every gift answered 2xx (probe and warm-up included) is a transfer in the ledger. A run
      // stopped by time leaves up to one request per connection in flight: committed, unanswered;
      // the even run waits for all its answers, but a request that timed out may have committed.
      const inFlight = giftsInLedger - giftsAnswered;
      const consistent = inFlight >= 0 && inFlight <= TIMED_GIFT_RUNS * CONNECTIONS + (even?.failed ?? 0);
      console.log(
        `  ${engine}: gifts answered 2xx ${giftsAnswered}, gift transfers in the ledger ${giftsInLedger} ` +
          `(${inFlight} in flight when the runs stopped): ${consistent ? 'consistent' : 'INCONSISTENT'}`,
      );
      if (!consistent) notes.push(`${engine}: ${giftsAnswered} gifts answered 2xx but ${giftsInLedger} gift transfers in the ledger.`);
      if (result.webhooks) {
        const { received, drainSeconds, drained } = result.webhooks;
        console.log(
          `  ${engine}: webhooks: ${received} gift.sent deliveries received for ${giftsInLedger} gifts, ` +
            (drained
              ? `the last ${drainSeconds.toFixed(1)} s after the runs`
              : `NOT all within ${WEBHOOK_DRAIN_MS / 1000} s after the runs`),
        );
        if (!drained) notes.push(`${engine}: webhook deliveries did not catch up with the gifts.`);
      }
      if (even && even.failed > 0)
        notes.push(`${engine}: the evenly paced gifts run had ${even.failed} failed requests: its figures are INVALID.`);
      if (paced && paced.failed > 0)
        notes.push(`${engine}: the paced gifts run had ${paced.failed} failed requests: its figures are INVALID.`);
      if (gifts.failed > 0) notes.push(`${engine}: the gifts run had ${gifts.failed} failed requests: its figures are INVALID.`);
    }
    console.log(`  ${engine}: verifyLedger ${verifyOk ? 'clean' : 'FAILED'}\n      ${verify}`);
  }
  const sqliteGifts = results.find((result) => result.engine === 'sqlite')?.gifts;
  const postgresGifts = results.find((result) => result.engine === 'postgres')?.gifts;
  if (sqliteGifts && postgresGifts && sqliteGifts.requestsPerSecond > 0) {
    // Issue 17's goal, in one run: PostgreSQL flat out at least half of SQLite.
    const ratio = postgresGifts.requestsPerSecond / sqliteGifts.requestsPerSecond;
    console.log(
      `  PostgreSQL ÷ SQLite, gifts/s flat out: ${fmt(postgresGifts.requestsPerSecond)} ÷ ${fmt(sqliteGifts.requestsPerSecond)} = ` +
        `${ratio.toFixed(3)} (goal ≥ ${GOAL.postgresRatio}: ${ratio >= GOAL.postgresRatio ? 'PASS' : 'MISS'})\n`,
    );
  }
  for (const note of notes) console.log(`\n  *** ${note}`);
  if (aborted) {
    console.log('\n  *** INTERRUPTED: the figures above are partial.');
    process.exitCode = 130;
  }
  console.log(
    `\n  DPoP proofs signed before each timed run; ${proofsSignedDuringRuns} more were signed during the runs (they outgrew the estimate).`,
  );
  console.log(`\n  total ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function cleanUp(): Promise<void> {
  for (const child of children) await stopChild(child).catch(() => child.kill('SIGKILL'));
  for (const t of databases) await t.drop().catch((error: unknown) => console.error('could not drop a bench database:', error));
}

if (process.argv.includes('--serve')) {
  await serveChild();
} else {
  process.once('SIGINT', () => {
    aborted = true;
    console.error('\ninterrupted: finishing the current measurement, then removing the databases…');
  });
  try {
    await main();
  } catch (error) {
    process.exitCode = 1;
    console.error('\nbench:api crashed:', error);
  } finally {
    await cleanUp();
  }
}
