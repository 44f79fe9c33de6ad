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
 *   same JSON body and answers `{ ok: true }`, doing no work: the ceiling of the HTTP stack;
 * - `gifts`: `POST /v1/gifts` (`{ creatorId, giftId: 'rose', quantity: 1 }`) from the 200 fans
 *   to ONE creator (the hot account), within the allowance so each gift posts at once, each
 *   request with its own `Idempotency-Key` and the fan's token, rotating across fans.
 *
 * Both servers run in one child process (this same file, with `--serve`), so the load generator
 * does not share the servers' event loop; on a small machine it still shares the CPU, alike for
 * both routes. Each route is warmed up, then measured flat out (as fast as the connections
 * go); then gifts are measured twice more at 0.15 × the bare route's rate, since the goal's
 * p99 is "at that load" and a closed loop run flat out only shows connections ÷ throughput as
 * its latency:
 *
 * - `evenly` (the graded one): an open loop that sends request i at start + i ÷ rate, whatever
 *   came back, over at most `BENCH_CONNECTIONS` keep-alive sockets; each latency counts from
 *   the moment the request was due, so a request that had to wait for a free socket carries
 *   that wait (no coordinated omission);
 * - `autocannon overallRate`, for reference: autocannon lets each connection send its share of
 *   the second's quota as fast as it can and then pause until the next second, so the load
 *   comes as one burst at full speed at the top of every second, and its latency histogram is
 *   "corrected" with an expected interval of 1 ms. Its p99 is about that of the flat-out run.
 *
 * The table gives requests/s, p50 and p99 latency, the non-2xx count (a run that measured
 * errors is marked INVALID), and the ratio gifts/bare; the goal on SQLite is a ratio ≥ 0.15
 * flat out, and p99 ≤ 20 ms evenly paced at that load (and keeping up with it). Below the
 * table, per engine, the server process's CPU time per gift and how busy it was during each
 * run (all its threads: on SQLite the spends are written on the writer thread, so a figure
 * above 100% of one core is two threads at work; both servers share the process, but only one
 * route is loaded at a time), and what
 * explains the figure: how many gifts shared each group commit, and how many statements and
 * transactions the server sent to the database per gift (counted in the child by a thin wrapper
 * around the database). After each engine it checks that every gift answered 2xx is a transfer in
 * the ledger (plus at most one per connection left in flight when a timed run stopped), waits for
 * those to land before stopping the server, and prints `verifyLedger`. Every database is dropped
 * at the end, even on failure or Ctrl-C. A report, not a test: it exits 0 whatever the figures,
 * 1 only when something crashes (130 when interrupted). Like `bench:ledger`, it runs on the built
 * packages (`npm run build` first), or on the sources with `node --conditions=source`.
 *
 * Knobs (environment):
 *   BENCH_SECONDS        measured seconds per route (default 6)
 *   BENCH_WARMUP_SECONDS warm-up seconds per route, not measured (default 2)
 *   BENCH_CONNECTIONS    concurrent connections (default 32)
 *   BENCH_FANS           fans the gifts rotate across (default 200)
 *   BENCH_ENGINES        comma-separated subset of sqlite,postgres (default both)
 *   DIAMONDS_SQLITE_WRITER  thread (default, as the server runs) or inline, to compare
 */
import { serve } from '@hono/node-server';
import autocannon from 'autocannon';
import { Hono } from 'hono';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { Agent, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
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
import { startServer } from '../src/server.js';
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
const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 2);
const CONNECTIONS = Math.floor(envNumber('BENCH_CONNECTIONS', 32));
const FANS = Math.floor(envNumber('BENCH_FANS', 200));
const ENGINES = (process.env.BENCH_ENGINES ?? 'sqlite,postgres')
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is DatabaseKind => s === 'sqlite' || s === 'postgres');

/** The page the fans' browsers are on: the site's one origin. */
const ORIGIN = 'http://127.0.0.1:5173';
/** Every fan starts with this; gifts of a rose cannot run a wallet dry within a bounded run. */
const FAN_BALANCE = 100_000_000;
const GOAL = { ratio: 0.15, p99Ms: 20 };
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
}

/**
 * The database with a count of the statements and transactions sent through it: how much work
 * one gift costs the database, the figure that explains the throughput.
 */
function countingDatabase(db: Database): { db: Database; counts: Omit<ChildStats, 'batches' | 'cpuMicros'> } {
  const counts = { statements: 0, transactions: 0 };
  const counted = (client: SqlClient): SqlClient => ({
    kind: client.kind,
    query: (sql, params) => {
      counts.statements++;
      return client.query(sql, params);
    },
    run: (sql, params) => {
      counts.statements++;
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

async function serveChild(): Promise<void> {
  // Ctrl-C reaches the whole process group: the parent decides when this process stops.
  process.on('SIGINT', () => {});
  const opened = openDatabase({ dataDir: process.env.DIAMONDS_DATA_DIR ?? '', databaseUrl: process.env.DATABASE_URL || undefined });
  const { db, counts } = countingDatabase(opened);
  const writer = process.env.DIAMONDS_SQLITE_WRITER === 'inline' ? 'inline' : 'thread';
  const platform = await startServer({ port: 0, host: '127.0.0.1', db, sqliteWriter: writer });
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
  process.on('message', (message) => {
    if (message === 'stats') {
      // On SQLite the spends are written on the writer thread, which counts its own statements.
      void platform.writer.stats().then((written) => {
        const cpu = process.cpuUsage();
        process.send?.({
          batches: platform.commits.batches + written.batches,
          statements: counts.statements + written.statements,
          transactions: counts.transactions + (platform.writer.mode === 'thread' ? written.batches : 0),
          cpuMicros: cpu.user + cpu.system,
        } satisfies ChildStats);
      });
      return;
    }
    if (message !== 'stop') return;
    void (async () => {
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
  return { creatorId: creator.id, publishableKey: site.publishableKey, fans, giftsUrl: '' };
}

/** The request autocannon sends, fan and idempotency key filled in per request. */
function giftRequests(world: World, run: string): autocannon.Request[] {
  const body = JSON.stringify({ creatorId: world.creatorId, giftId: 'rose', quantity: 1 });
  let sent = 0;
  return [
    {
      method: 'POST',
      path: '/v1/gifts',
      setupRequest: (request) => {
        const fan = world.fans[sent % world.fans.length]!;
        sent++;
        return {
          ...request,
          headers: {
            'Content-Type': 'application/json',
            Authorization: `Bearer ${world.publishableKey}`,
            Origin: ORIGIN,
            'Diamonds-Token': fan.token,
            // Made per request, as the SDK does: the platform accepts a proof once.
            DPoP: fan.dpop.proof('POST', world.giftsUrl, fan.token),
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
 * Gifts sent evenly at `rate` per second for `seconds`, in an open loop: request i leaves at
 * start + i ÷ rate whether or not earlier ones came back, over at most {@link CONNECTIONS}
 * keep-alive sockets, and its latency counts from when it was due. A server that cannot keep
 * up shows it twice: in the latency (requests queue for a socket) and in the rate achieved.
 */
async function paceEvenly(url: string, world: World, run: string, rate: number, seconds: number): Promise<Measured> {
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
            DPoP: fan.dpop.proof('POST', world.giftsUrl, fan.token),
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
    route: 'gifts',
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
  const [request] = giftRequests(world, `probe-${randomUUID()}`);
  const prepared = (request!.setupRequest as (r: autocannon.Request, c: object) => autocannon.Request)(request!, {});
  const response = await fetch(`${platformUrl}/v1/gifts`, {
    method: 'POST',
    headers: prepared.headers as Record<string, string>,
    body: prepared.body as string,
  });
  return { ok: response.ok, status: response.status, body: (await response.text()).slice(0, 300) };
}

interface EngineResult {
  engine: DatabaseKind;
  bare: Measured;
  gifts: Measured | undefined;
  /** Gifts sent evenly at the goal's load (0.15 × the bare route's requests/s): the p99 the goal is about. */
  even: (Measured & { targetRate: number }) | undefined;
  /** The same load through autocannon's `overallRate` (a burst at the top of each second), for reference. */
  paced: (Measured & { targetRate: number }) | undefined;
  /** The server process's CPU time per run, in microseconds, and the run's length in seconds. */
  cpu: { flat: number; even: number; paced: number; evenSeconds: number };
  /** Why gifts were not measured, when they were not. */
  giftsSkipped?: string;
  giftsInLedger: number;
  /** Gifts the server answered with a 2xx: the probe, the warm-up and the measured run. */
  giftsAnswered: number;
  /** Group-committed transactions the server ran during the measured gifts run. */
  transactions: number;
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
    execArgv: process.execArgv,
    env: { ...process.env, ...t.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, listening: message as Listening }));
    child.once('exit', (code) => reject(new Error(`the server process exited with ${code} before listening`)));
  });
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
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
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
    const bare = await load(listening.bareUrl, bareRequests, SECONDS, 'bare');
    console.log(`  ${engine}: bare ${fmt(bare.requestsPerSecond)} req/s`);

    let gifts: Measured | undefined;
    let paced: EngineResult['paced'];
    let even: EngineResult['even'];
    const cpu: EngineResult['cpu'] = { flat: 0, even: 0, paced: 0, evenSeconds: 0 };
    let giftsSkipped: string | undefined;
    let giftsAnswered = 0;
    let transactions = 0;
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
      const warm = await load(listening.platformUrl, giftRequests(world, `${run}-warm`), WARMUP_SECONDS, 'gifts');
      await settle(t.db);
      const before = await childStats(child);
      gifts = await load(listening.platformUrl, giftRequests(world, run), SECONDS, 'gifts');
      const after = await childStats(child);
      transactions = after.batches - before.batches;
      work = { statements: after.statements - before.statements, transactions: after.transactions - before.transactions };
      cpu.flat = after.cpuMicros - before.cpuMicros;
      await settle(t.db);
      // The goal's p99 is "at that load": gifts sent at 0.15 × the bare rate, not flat out, where
      // a closed loop of connections would make latency just connections ÷ throughput.
      const targetRate = Math.max(1, Math.round(GOAL.ratio * bare.requestsPerSecond));
      const beforeEven = await childStats(child);
      const evenStarted = performance.now();
      even = { ...(await paceEvenly(listening.platformUrl, world, `${run}-even`, targetRate, SECONDS)), targetRate };
      cpu.evenSeconds = (performance.now() - evenStarted) / 1000;
      cpu.even = (await childStats(child)).cpuMicros - beforeEven.cpuMicros;
      console.log(`  ${engine}: gifts evenly at ${fmt(targetRate)} req/s: p99 ${even.p99Ms} ms`);
      await settle(t.db);
      const beforePaced = await childStats(child);
      paced = { ...(await load(listening.platformUrl, giftRequests(world, `${run}-paced`), SECONDS, 'gifts', targetRate)), targetRate };
      cpu.paced = (await childStats(child)).cpuMicros - beforePaced.cpuMicros;
      console.log(`  ${engine}: gifts paced by autocannon at ${fmt(targetRate)} req/s: p99 ${paced.p99Ms} ms`);
      giftsAnswered = 1 + warm.ok + gifts.ok + even.ok + paced.ok;
      console.log(`  ${engine}: gifts ${fmt(gifts.requestsPerSecond)} req/s`);
    }
    await settle(t.db);
    await stopChild(child);
    const [row] = await t.db.query<{ n: number }>(`SELECT count(*) AS n FROM transfers WHERE code = 'gift'`);
    const report = await verifyLedger(t.db);
    return {
      engine,
      bare,
      gifts,
      even,
      paced,
      cpu,
      ...(giftsSkipped === undefined ? {} : { giftsSkipped }),
      giftsInLedger: Number(row?.n ?? 0),
      giftsAnswered,
      transactions,
      work,
      verify: formatVerifyReport(report),
      verifyOk: report.ok,
    };
  } finally {
    await stopChild(child);
  }
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
      `${cpus().length} CPUs, Node ${process.version}; SQLite spends written ${process.env.DIAMONDS_SQLITE_WRITER === 'inline' ? 'inline' : 'on the writer thread'}`,
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
  for (const { engine, bare, gifts, even, paced, giftsSkipped } of results) {
    rows.push([engine, 'bare', fmt(bare.requestsPerSecond), String(bare.p50Ms), String(bare.p99Ms), String(bare.failed), '', '', '']);
    if (!gifts) {
      rows.push([engine, 'POST /v1/gifts', '-', '-', '-', '-', '-', '', 'NOT RUN']);
      notes.push(`${engine}: ${giftsSkipped}`);
      continue;
    }
    const ratio = bare.requestsPerSecond > 0 ? gifts.requestsPerSecond / bare.requestsPerSecond : 0;
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
      verdict(gifts.failed === 0 && bare.failed === 0, ratio >= GOAL.ratio),
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
    const { engine, bare, gifts, even, paced, cpu, giftsInLedger, giftsAnswered, transactions, work, verify, verifyOk } = result;
    console.log(`  ${engine}: bare ${bare.total} requests (${JSON.stringify(bare.statuses)})`);
    if (gifts) {
      console.log(
        `  ${engine}: gifts ${gifts.total} requests measured (${JSON.stringify(gifts.statuses)}) in ${transactions} transactions ` +
          `(${transactions > 0 ? (gifts.ok / transactions).toFixed(1) : '-'} gifts per commit)`,
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
      if (even && even.failed > 0)
        notes.push(`${engine}: the evenly paced gifts run had ${even.failed} failed requests: its figures are INVALID.`);
      if (paced && paced.failed > 0)
        notes.push(`${engine}: the paced gifts run had ${paced.failed} failed requests: its figures are INVALID.`);
      if (gifts.failed > 0) notes.push(`${engine}: the gifts run had ${gifts.failed} failed requests: its figures are INVALID.`);
    }
    console.log(`  ${engine}: verifyLedger ${verifyOk ? 'clean' : 'FAILED'}\n      ${verify}`);
  }
  for (const note of notes) console.log(`\n  *** ${note}`);
  if (aborted) {
    console.log('\n  *** INTERRUPTED: the figures above are partial.');
    process.exitCode = 130;
  }
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
