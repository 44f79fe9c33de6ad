import type { SqlClient } from '../db/types.js';
import { isApiError } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';
import { moneyOperation, type MoneyFeature } from './operations.js';
import { dueConfirmations, expireConfirmationOperation } from './spends.js';
import type { MoneyWriter } from './writer.js';

/** Voids one reservation whose time is up (the sweeper): whether this run voided it. */
export const expireReservationOperation = moneyOperation('reservations.expire', (tx, money, input: { pendingId: string }) =>
  money.ledger.expireReservationIn(tx, input.pendingId),
);

/** The sweeper's part in the money path: reservations whose time is up (confirmations are in `confirmationsMoney`). */
export const sweeperMoney: MoneyFeature = { name: 'sweeper', operations: [expireReservationOperation] };

/** What one sweep did. */
export interface SweepReport {
  /** Confirmations expired (their holds released and their flows' clean-up run). */
  confirmations: number;
  /** Other reservations voided because their time was up. */
  reservations: number;
}

/**
 * Expires the pending confirmations whose time is up, through `writer`, each exactly once even
 * with several sweepers. What is due is read on `db` (a read: the writer only writes).
 *
 * @returns How many this call expired.
 */
export async function expireConfirmations(writer: MoneyWriter, db: SqlClient, now = Date.now(), limit = 200): Promise<number> {
  const due = await dueConfirmations(db, now, limit);
  // Sent together: one group commit carries them all, each in its own savepoint.
  const expired = await Promise.all(due.map((id) => writer.run(expireConfirmationOperation, { id, now }).catch(alreadyTaken)));
  return expired.filter(Boolean).length;
}

/**
 * One sweep: confirmations first (their expiry also runs each flow's clean-up, such as
 * returning stock), then the ledger's other reservations whose time is up.
 */
export async function sweepExpired(writer: MoneyWriter, db: SqlClient, ledger: Ledger, now = Date.now()): Promise<SweepReport> {
  const confirmations = await expireConfirmations(writer, db, now);
  const due = await ledger.dueReservations(db);
  const voided = await Promise.all(due.map((pendingId) => writer.run(expireReservationOperation, { pendingId }).catch(alreadyTaken)));
  return { confirmations, reservations: voided.filter(Boolean).length };
}

/** Another sweeper (another process) got there first: nothing to do, and nothing to log. */
function alreadyTaken(error: unknown): false {
  if (isApiError(error, 'idempotency_request_in_progress') || isApiError(error, 'database_busy')) return false;
  throw error;
}
