// The platform as `DIAMONDS_WORKERS=N diamonds start` runs it, for cluster.crash.test.ts and
// bench/cluster.bench.ts: this process supervises N workers (DIAMONDS_WORKERS, default 2;
// node:cluster, sharing PORT) on the test's PostgreSQL database (DATABASE_URL), each a whole
// platform delivering webhooks with short leases, so that a killed worker's claims lapse
// quickly. The crash test SIGKILLs workers; the supervisor replaces them. Messages from the
// parent: 'pids' (answered with the workers' pids, oldest first, and those listening) and 'stop'.
import cluster from 'node:cluster';
import { startServer } from '../server.js';
import { superviseWorkers } from './workers.js';

if (cluster.isPrimary) {
  const supervisor = superviseWorkers(Number(process.env.DIAMONDS_WORKERS || 2), { restartDelayMs: 100, log: false });
  await supervisor.ready;
  process.on('message', (message) => {
    if (message === 'pids') {
      process.send?.({
        pids: supervisor.workers().map((worker) => worker.process.pid),
        listening: supervisor.listening().map((worker) => worker.process.pid),
        restarts: supervisor.restarts,
      });
    } else if (message === 'stop') {
      void supervisor.stop().then(() => process.exit(0));
    }
  });
  process.send?.({ ready: true });
} else {
  const server = await startServer({
    port: Number(process.env.PORT),
    host: '127.0.0.1',
    dataDir: process.env.DIAMONDS_DATA_DIR,
    databaseUrl: process.env.DATABASE_URL || undefined,
    webhooks: { production: false, timeoutMs: 3000, leaseMs: 4000, pollIntervalMs: 100 },
  });
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}
