// A platform process for events.crash.test.ts: starts the real server on the test database
// (DIAMONDS_DATA_DIR or DATABASE_URL from the environment) and tells its parent the URL. The
// parent SIGKILLs it while gifts are in flight.
import { startServer } from '../server.js';

const server = await startServer({
  port: 0,
  host: '127.0.0.1',
  dataDir: process.env.DIAMONDS_DATA_DIR,
  databaseUrl: process.env.DATABASE_URL || undefined,
});
process.send?.({ url: server.url });
