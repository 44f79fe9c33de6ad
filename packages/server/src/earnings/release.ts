import type { SqlClient } from '../db/types.js';
import { appendEvent } from '../events/outbox.js';
import { moneyOperation } from '../money/operations.js';
import { earningsSummary, lastTransferIdAt } from './summary.js';

/** Input of {@link releaseOperation}. */
export interface ReleaseInput {
  /** The time the release describes (the sweeper's clock; tests pass a later one). */
  now: number;
  /** The hold, in milliseconds (see `earningsHoldMs`). */
  holdMs: number;
}

/** What {@link releaseOperation} did. */
export interface ReleaseResult {
  /** Creators with newly available earnings (one `earnings.available` each). */
  creators: number;
  /** Net Diamonds that became available, all creators together. */
  amountDiamonds: number;
}

const HELD_CODES = ['gift', 'unlock', 'order'] as const;

async function releasedUntil(tx: SqlClient): Promise<number> {
  // One runner at a time: on PostgreSQL the watermark's row is locked until this commits, and
  // a second runner, finding it moved, releases only what came due since.
  const lock = tx.kind === 'postgres' ? ' FOR UPDATE' : '';
  const [row] = await tx.query<{ seq: number | string }>(`SELECT seq FROM earnings_cursor WHERE name = 'release'${lock}`);
  if (row) return Number(row.seq);
  await tx.run(`INSERT INTO earnings_cursor (name, tx_id, seq) VALUES ('release', 0, 0) ON CONFLICT (name) DO NOTHING`);
  const [again] = await tx.query<{ seq: number | string }>(`SELECT seq FROM earnings_cursor WHERE name = 'release'${lock}`);
  return Number(again?.seq ?? 0);
}

/**
 * Records the earnings that passed the hold since the last release and appends one
 * `earnings.available` per creator who has some, in one transaction (run by the money writer,
 * so each event commits with its record and wakes the consumers).
 *
 * @remarks
 * The window is the spends posted after the stored watermark and at or before `now − hold`,
 * found by a range of the postings' key (transfer ids begin with their time): net credits of
 * gifts, unlocks and orders to creators' earnings, less the refunds already made of them. The
 * watermark only moves forward, so each spend is announced once. What is available is
 * {@link earningsSummary}'s to say; the event states it as of the release.
 */
export const releaseOperation = moneyOperation<ReleaseInput, ReleaseResult>('earnings.release', async (tx, _money, input) => {
  const through = input.now - input.holdMs;
  const from = await releasedUntil(tx);
  if (through <= from) return { creators: 0, amountDiamonds: 0 };
  const after = lastTransferIdAt(from);
  const upTo = lastTransferIdAt(through);
  const notPending = tx.kind === 'postgres' ? false : 0;
  const credits = await tx.query<{ owner_id: string; net: number | string }>(
    `SELECT a.owner_id, sum(p.amount) AS net FROM postings p
     JOIN accounts a ON a.id = p.account_id JOIN transfers t ON t.id = p.transfer_id
     WHERE p.transfer_id > ? AND p.transfer_id <= ? AND t.id > ? AND t.id <= ? AND p.pending = ? AND p.amount > 0 AND a.kind = 'earnings'
       AND t.code IN (${HELD_CODES.map(() => '?').join(', ')})
     GROUP BY a.owner_id ORDER BY a.owner_id`,
    [after, upTo, after, upTo, notPending, ...HELD_CODES],
  );
  const released = new Map(credits.map((row) => [row.owner_id, Number(row.net)]));
  // Refunds of the window's spends (made any time since): what was given back is not released.
  const refunds = await tx.query<{ owner_id: string; amount: number | string; metadata: string }>(
    `SELECT a.owner_id, p.amount, t.metadata FROM postings p
     JOIN accounts a ON a.id = p.account_id JOIN transfers t ON t.id = p.transfer_id
     WHERE p.transfer_id > ? AND t.id > ? AND p.pending = ? AND p.amount < 0 AND a.kind = 'earnings' AND t.code = 'refund'`,
    [after, after, notPending],
  );
  for (const refund of refunds) {
    const refundOf = (JSON.parse(refund.metadata) as { refundOf?: unknown }).refundOf;
    if (typeof refundOf !== 'string' || refundOf <= after || refundOf > upTo) continue;
    const net = released.get(refund.owner_id);
    if (net !== undefined) released.set(refund.owner_id, net + Number(refund.amount));
  }
  let creators = 0;
  let amountDiamonds = 0;
  for (const [creatorId, amount] of released) {
    if (amount <= 0) continue;
    const summary = await earningsSummary(tx, creatorId, input.now, input.holdMs);
    const greatest = tx.kind === 'postgres' ? 'GREATEST' : 'max';
    await tx.run(
      `INSERT INTO earnings_releases (creator_id, released_until, released_net, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (creator_id) DO UPDATE SET released_until = ${greatest}(earnings_releases.released_until, excluded.released_until),
         released_net = earnings_releases.released_net + excluded.released_net, updated_at = excluded.updated_at`,
      [creatorId, through, amount, input.now],
    );
    await appendEvent(
      tx,
      {
        type: 'earnings.available',
        siteId: null,
        creatorId,
        fanId: null,
        data: { amountDiamonds: amount, availableDiamonds: summary.availableDiamonds, releasedThrough: through },
      },
      input.now,
    );
    creators++;
    amountDiamonds += amount;
  }
  await tx.run(`UPDATE earnings_cursor SET seq = ? WHERE name = 'release'`, [through]);
  return { creators, amountDiamonds };
});
