/**
 * Gifts per second on PostgreSQL with 1, 2 and 3 platform processes on one database.
 *
 *   npm run bench:cluster
 *
 * A throw-away PostgreSQL database gets a creator, their site and `BENCH_FANS` fans, each
 * connected with a large allowance, signed in and holding a large balance. For each process
 * count, the platform runs as `DIAMONDS_WORKERS=N diamonds start` does (a supervisor and N
 * node:cluster workers sharing one port: src/cluster/crash-child.ts), and autocannon sends
 * `POST /v1/gifts` flat out from the fans to ONE creator (the hot account, as bench:api), each
 * request with its own Idempotency-Key and a DPoP proof signed before the run (as bench:api
 * explains: fans' devices sign them, not this machine's CPU). After each run it checks that
 * every gift answered 2xx is a transfer in the ledger (plus at most one per connection in
 * flight when the run stopped), counts PostgreSQL's deadlocks, and verifies the ledger.
 *
 * On a machine with fewer cores than processes + PostgreSQL + the load generator, more
 * processes mostly share the same cores: the table says how many cores there were. A report,
 * not a test: exits 0 whatever the figures, 1 when something crashes.
 *
 * Knobs (environment):
 *   BENCH_SECONDS          measured seconds per process count (default 5)
 *   BENCH_WARMUP_SECONDS   warm-up seconds, not measured (default 1)
 *   BENCH_CONNECTIONS      concurrent connections (default 32)
 *   BENCH_FANS             fans the gifts rotate across (default 100)
 *   BENCH_PROCESSES        comma-separated process counts (default 1,2,3)
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { makeWorld, deadlocksSoFar, type World } from '../src/cluster/testing.js';
import { formatVerifyReport, verifyLedger } from '../src/ledger/verify.js';
import { createTestDatabase, postgresUnavailable, type TestDatabase } from '../src/testing/databases.js';
import { TEST_PAGE_ORIGIN } from '../src/testing/money.js';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number; got ${JSON.stringify(raw)}.`);
  return value;
}

const SECONDS = envNumber('BENCH_SECONDS', 5);
const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 1);
const CONNECTIONS = Math.floor(envNumber('BENCH_CONNECTIONS', 32));
const FANS = Math.floor(envNumber('BENCH_FANS', 100));
const PROCESSES = (process.env.BENCH_PROCESSES ?? '1,2,3').split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 1 || n > 8)
    throw new Error(`BENCH_PROCESSES lists process counts from 1 to 8; got ${JSON.stringify(s)}.`);
  return n;
});
const FAN_BALANCE = 100_000_000;
/** Proofs signed before each timed run, per second of it: above any rate this machine reaches. */
const PROOFS_PER_SECOND = 2_500;
const CHILD = fileURLToPath(new URL('../src/cluster/crash-child.ts', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startPlatform(t: TestDatabase, workers: number): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = fork(CHILD, [], {
    execArgv: ['--conditions=source', '--import', 'tsx'],
    env: {
      ...process.env,
      ...t.env,
      DIAMONDS_DATA_DIR: t.settings.dataDir,
      PORT: String(port),
      DIAMONDS_WORKERS: String(workers),
      NODE_ENV: 'test',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the platform stopped before it was ready (exit ${code})`)));
    child.on('message', (message: { ready?: boolean }) => {
      if (message.ready) resolve();
    });
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

async function stopPlatform(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.send('stop');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 40_000).unref())]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

interface Measured {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  failed: number;
}

async function giftLoad(world: World, url: string, run: string, seconds: number): Promise<Measured> {
  const creatorId = world.ownerId;
  const body = JSON.stringify({ creatorId, giftId: 'rose', quantity: 1 });
  const giftsUrl = `${url}/v1/gifts`;
  const proofs = Array.from({ length: Math.ceil(seconds * PROOFS_PER_SECOND) }, (_, i) => {
    const fan = world.fans[i % world.fans.length]!;
    return fan.dpop.proof('POST', giftsUrl, fan.token);
  });
  let sent = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: '/v1/gifts',
        setupRequest: (request) => {
          const fan = world.fans[sent % world.fans.length]!;
          const proof = proofs[sent] ?? fan.dpop.proof('POST', giftsUrl, fan.token);
          sent++;
          return {
            ...request,
            headers: {
              'Content-Type': 'application/json',
              Authorization: `Bearer ${world.site.publishableKey}`,
              Origin: TEST_PAGE_ORIGIN,
              'Diamonds-Token': fan.token,
              DPoP: proof,
              'Idempotency-Key': `bench:${run}:${sent}`,
            },
            body,
          };
        },
      },
    ],
  });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

async function giftTransfers(t: TestDatabase): Promise<number> {
  const [row] = await t.db.query<{ n: number }>(`SELECT count(*) AS n FROM transfers WHERE code = 'gift'`);
  return Number(row?.n ?? 0);
}

async function main(): Promise<void> {
  const unavailable = await postgresUnavailable();
  if (unavailable) {
    console.error(`bench:cluster needs PostgreSQL: ${unavailable}`);
    process.exitCode = 1;
    return;
  }
  const t = await createTestDatabase('postgres');
  const rows: string[] = [];
  let child: ChildProcess | undefined;
  try {
    console.log(`bench:cluster: setting up ${FANS} fans…`);
    const world = await makeWorld(t.db, { creators: 0, fans: FANS, balance: FAN_BALANCE });
    for (const workers of PROCESSES) {
      const platform = await startPlatform(t, workers);
      child = platform.child;
      const before = await giftTransfers(t);
      const deadlocksBefore = await deadlocksSoFar(t.db);
      const warm = await giftLoad(world, platform.url, `warm${workers}-${randomUUID()}`, WARMUP_SECONDS);
      const measured = await giftLoad(world, platform.url, `run${workers}-${randomUUID()}`, SECONDS);
      const load = loadavg()[0]!.toFixed(2);
      await stopPlatform(platform.child);
      child = undefined;
      const landed = (await giftTransfers(t)) - before;
      const answered = warm.ok + measured.ok;
      // A request in flight when a run stopped may land without its answer being counted.
      const consistent = landed >= answered && landed <= answered + 2 * CONNECTIONS;
      const deadlocks = (await deadlocksSoFar(t.db)) - deadlocksBefore;
      const report = await verifyLedger(t.db);
      rows.push(
        [
          `${workers}`.padStart(9),
          measured.requestsPerSecond.toFixed(0).padStart(8),
          measured.p50Ms.toFixed(1).padStart(7),
          measured.p99Ms.toFixed(1).padStart(7),
          `${measured.failed + warm.failed}`.padStart(6),
          `${deadlocks}`.padStart(9),
          `${consistent ? 'yes' : `NO (${landed} vs ${answered})`}`.padStart(13),
          (report.ok ? 'clean' : 'BROKEN').padStart(8),
          load.padStart(8),
        ].join(' '),
      );
      if (!report.ok) console.error(formatVerifyReport(report));
    }
  } finally {
    if (child) await stopPlatform(child);
    await t.drop();
  }
  console.log(
    `\nbench:cluster: POST /v1/gifts flat out on PostgreSQL, ${CONNECTIONS} connections, ${SECONDS} s per row, ` +
      `${FANS} fans to one creator. This machine has ${availableParallelism()} cores, shared by the processes, ` +
      'PostgreSQL and the load generator.\n',
  );
  console.log('processes  gifts/s  p50 ms  p99 ms  non2xx deadlocks  all 2xx in ledger  verify  load(1m)');
  for (const row of rows) console.log(row);
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
}
