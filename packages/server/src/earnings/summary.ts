import { newId } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { DAY_MS } from './aggregates.js';

/** The hold when the operator sets none: 7 days, long enough for most refunds and card disputes. */
export const DEFAULT_HOLD_DAYS = 7;

/**
 * The hold before earnings become available, in milliseconds: `DIAMONDS_EARNINGS_HOLD_DAYS`
 * (a whole number of days from 0 to 180) or {@link DEFAULT_HOLD_DAYS}.
 *
 * @throws Error when the variable is set to anything else (a typo must not release earnings early).
 */
export function earningsHoldMs(env: Record<string, string | undefined> = process.env): number {
  const text = env.DIAMONDS_EARNINGS_HOLD_DAYS?.trim();
  if (!text) return DEFAULT_HOLD_DAYS * DAY_MS;
  const days = Number(text);
  if (!/^\d+$/.test(text) || days > 180) {
    throw new Error(`DIAMONDS_EARNINGS_HOLD_DAYS must be a whole number of days from 0 to 180, got ${JSON.stringify(text)}`);
  }
  return days * DAY_MS;
}

/** What a creator holds, pending and available (see {@link earningsSummary}). */
export interface EarningsSummary {
  creatorId: string;
  /** What the creator's `earnings` ledger account holds: pending + available. */
  totalDiamonds: number;
  /** Net earnings of spends posted within the hold (less their refunds), at most the total. */
  pendingDiamonds: number;
  /** What may be paid out now: the total less what is pending. */
  availableDiamonds: number;
  /** Spends posted at or before this time (ms) are past the hold. */
  releasedThrough: number;
  /** The hold applied, in milliseconds. */
  holdMs: number;
  /** The time the summary describes. */
  asOf: number;
}

/** The spend codes whose credits to earnings are held: what fans paid (not returns of failed payouts). */
const HELD_CODES = ['gift', 'unlock', 'order'] as const;

/**
 * The largest transfer id made at or before `ms`: ids start with their creation time (see
 * `newId`), so "posted at or before" is a range of the postings' primary key, on both engines
 * (ids are digits and capitals, ordered alike by SQLite, the C collation and the usual locales).
 */
export function lastTransferIdAt(ms: number): string {
  return `${newId('txn', Math.max(0, ms)).slice(0, 14)}${'Z'.repeat(16)}`;
}

/**
 * What a creator has earned, split into pending and available at `now`: what the payouts
 * will read.
 *
 * @remarks
 * The formula, in integers:
 * - `total` = the balance of the creator's `earnings` account (payouts, in transit or paid,
 *   have already left it).
 * - `pendingNet` = net credits to that account by gifts, unlocks and orders posted after
 *   `now − hold`, less the refunds of those same spends.
 * - `pending` = min(pendingNet, total); `available` = total − pending.
 *
 * This is the brief's `available = min(balance, released net − already paid out or in transit)`:
 * with `released = earned − pendingNet` and `paid out = earned − balance` (nothing else leaves
 * earnings), `released − paid out = balance − pendingNet`. Computed from the ledger, not from
 * the aggregates, so a gift committed a moment ago is pending at once, never briefly available
 * while the aggregates catch up. A refund of a released spend lowers the total (and so what is
 * available) at once. Reads only the postings of the hold's window (an index range); the
 * transfers are bounded by the same range on PostgreSQL (`t.id > ?`, the same ids), so its
 * planner joins the window's transfers rather than scanning them all.
 */
export async function earningsSummary(
  db: SqlClient,
  creatorId: string,
  now: number = Date.now(),
  holdMs: number = earningsHoldMs(),
): Promise<EarningsSummary> {
  const releasedThrough = now - holdMs;
  const [account] = await db.query<{ id: string; balance: number | string }>(
    `SELECT id, balance FROM accounts WHERE owner_id = ? AND kind = 'earnings'`,
    [creatorId],
  );
  if (!account) {
    return { creatorId, totalDiamonds: 0, pendingDiamonds: 0, availableDiamonds: 0, releasedThrough, holdMs, asOf: now };
  }
  const total = Number(account.balance);
  const bound = lastTransferIdAt(releasedThrough);
  const notPending = db.kind === 'postgres' ? false : 0;
  const bounded = db.kind === 'postgres' ? ' AND t.id > ?' : '';
  const bounds = bounded ? [bound] : [];
  const [credits] = await db.query<{ net: number | string | null }>(
    `SELECT sum(p.amount) AS net FROM postings p JOIN transfers t ON t.id = p.transfer_id
     WHERE p.account_id = ? AND p.transfer_id > ?${bounded} AND p.pending = ? AND p.amount > 0
       AND t.code IN (${HELD_CODES.map(() => '?').join(', ')})`,
    [account.id, bound, ...bounds, notPending, ...HELD_CODES],
  );
  const refunds = await db.query<{ amount: number | string; metadata: string }>(
    `SELECT p.amount, t.metadata FROM postings p JOIN transfers t ON t.id = p.transfer_id
     WHERE p.account_id = ? AND p.transfer_id > ?${bounded} AND p.pending = ? AND p.amount < 0 AND t.code = 'refund'`,
    [account.id, bound, ...bounds, notPending],
  );
  let pendingNet = Number(credits?.net ?? 0);
  for (const refund of refunds) {
    // Only the refund of a spend still within the hold lowers what is pending; the refund of
    // a released one lowered the total (and so what is available).
    const refundOf = (JSON.parse(refund.metadata) as { refundOf?: unknown }).refundOf;
    if (typeof refundOf === 'string' && refundOf > bound) pendingNet += Number(refund.amount);
  }
  const pending = Math.max(0, Math.min(pendingNet, total));
  return {
    creatorId,
    totalDiamonds: total,
    pendingDiamonds: pending,
    availableDiamonds: Math.max(0, total - pending),
    releasedThrough,
    holdMs,
    asOf: now,
  };
}
