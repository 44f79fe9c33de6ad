import type { Database } from './types.js';

/*
 * PostgreSQL advisory locks the platform takes, each a fixed number (the migrations' own,
 * 72_617_001, lives in migrations.ts). Arbitrary constants, kept apart from any other
 * application's by their prefix.
 */

/**
 * Taken by each group commit (`GroupCommit.run`, `Ledger.transferBatch`) for its transaction,
 * before any row lock: the money batches of several processes on one database run one after
 * another.
 *
 * @remarks Without it, two processes' batches deadlock: a batch holds the row locks of each of
 * its spends until it commits, so a batch that paid fan F then G and another that paid G then F
 * (or credited the fee account, which every spend does, between them) wait on each other, and
 * PostgreSQL breaks the cycle only after `deadlock_timeout` (1 s) by failing one batch, which
 * is then run again whole. Sorting each transfer's own row locks cannot prevent that: the
 * order that matters spans the batch. Every spend credits the one fee account (and most a few
 * hot creators), so batches already waited for each other's commit on those rows; the lock
 * only makes the waiting orderly, at the start, and costs no round trip (it goes on the wire
 * with the batch's first statement). Transactions outside the group commit may still lose a race;
 * the PostgreSQL transaction runner runs those again (see `db/postgres.ts`).
 */
export const MONEY_BATCH_LOCK_ID = 72_617_101;

/** Held by the process that sweeps expired confirmations and reservations: one sweeper at a time. */
export const SWEEPER_LOCK_ID = 72_617_102;

/**
 * Runs `work` only if no other process is running work under `lockId` now, and returns its
 * result, or `undefined` when another process holds the lock (it is doing the job).
 *
 * @remarks On PostgreSQL a transaction takes `pg_try_advisory_xact_lock` and stays open (idle,
 * one pooled connection) while `work` runs on other connections: should this process die, its
 * connection closes and the lock is free for the next process's turn. On SQLite, where one
 * process serves a database, `work` always runs. `work` must not use the lock's transaction
 * (it has none) and may take as long as it needs.
 * @example
 * ```ts
 * await asLeader(db, SWEEPER_LOCK_ID, () => sweepExpired(writer, db, ledger));
 * ```
 */
export async function asLeader<T>(db: Database, lockId: number, work: () => Promise<T>): Promise<T | undefined> {
  if (db.kind !== 'postgres') return work();
  let outcome: { value: T } | undefined;
  // One attempt only: taking a try-lock cannot deadlock, and `work` must not run twice.
  await db.transaction(
    async (tx) => {
      const [row] = await tx.query<{ taken: boolean }>('SELECT pg_try_advisory_xact_lock(?) AS taken', [lockId]);
      if (row?.taken !== true) return;
      outcome = { value: await work() };
    },
    { maxAttempts: 1 },
  );
  return outcome?.value;
}
