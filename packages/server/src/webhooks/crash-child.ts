// A platform process for webhooks.crash.test.ts: the real server, delivering webhooks, on the
// test database (DIAMONDS_DATA_DIR or DATABASE_URL from the environment), with short leases so
// that a killed process's claims lapse quickly. The parent SIGKILLs it mid-delivery.
import { startServer } from '../server.js';

const server = await startServer({
  port: 0,
  host: '127.0.0.1',
  dataDir: process.env.DIAMONDS_DATA_DIR,
  databaseUrl: process.env.DATABASE_URL || undefined,
  // The timeout and the lease leave room for a loaded machine: an answer that comes late there
  // is retried only 5 s later, and a lease that lapses under a live attempt would double it.
  webhooks: { production: false, timeoutMs: 3000, leaseMs: 4000, pollIntervalMs: 100 },
});
process.send?.({ url: server.url });
