import type { SqlClient } from '../db/types.js';

/**
 * Waits (at most 5 s) until every event written so far is readable.
 *
 * @remarks On PostgreSQL a reader sees an event once every transaction older than its own has
 * ended, in the whole cluster (see `events/outbox.ts`): a test file running beside this one, on
 * another database of the same server, can hold that back for a moment. A test that reads the
 * events its own requests caused waits for this first, so it reads all of them, not a part.
 * SQLite has one writer: what committed is readable at once.
 */
export async function allEventsReadable(db: SqlClient): Promise<void> {
  if (db.kind !== 'postgres') return;
  for (let tries = 0; tries < 200; tries++) {
    const [row] = await db.query<{ readable: boolean }>(
      'SELECT coalesce(max(tx_id), 0) < pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS readable FROM events',
    );
    if (row?.readable) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  // Name the transaction that holds them back, so that a failure says where to look.
  const [oldest] = await db.query<{ datname: string | null; pid: number; state: string | null; age: string; query: string | null }>(
    `SELECT datname, pid, state, (now() - xact_start)::text AS age, left(query, 200) AS query FROM pg_stat_activity
      WHERE pid <> pg_backend_pid() AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL) ORDER BY xact_start LIMIT 1`,
  );
  const holder = oldest ? ` The oldest running one: ${JSON.stringify(oldest)}.` : '';
  throw new Error(`the events written stayed unreadable for 5 s: a transaction on the cluster never ends.${holder}`);
}
