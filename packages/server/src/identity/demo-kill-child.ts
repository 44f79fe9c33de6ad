// A platform process for first-start.test.ts: seeds the demo as `diamonds start` does, on the
// test database (DIAMONDS_DATA_DIR or DATABASE_URL from the environment), and SIGKILLs itself
// inside the seed, right after the demo accounts and site were written and before the commit.
import { openDatabase } from '../db/open.js';
import { Ledger } from '../ledger/ledger.js';
import { addDemoMoney } from '../money/demo.js';
import { seedDemo } from './demo.js';

const dataDir = process.env.DIAMONDS_DATA_DIR ?? '.diamonds';
const db = openDatabase({ dataDir, databaseUrl: process.env.DATABASE_URL || undefined });
const ledger = new Ledger(db);
await seedDemo(db, process.env.DEMO_FILE_DIR ?? dataDir, async (tx, demo) => {
  await addDemoMoney(tx, ledger, demo);
  const [users] = await tx.query<{ n: number }>('SELECT count(*) AS n FROM users');
  process.send?.({ usersWritten: Number(users?.n) });
  // Wait for the parent to see the message, then die without a word (no rollback, no close).
  await new Promise((resolve) => setTimeout(resolve, 200));
  process.kill(process.pid, 'SIGKILL');
});
