import type { SqlClient } from '../db/types.js';
import { ApiError } from '../errors.js';
import { DAY_MS } from './aggregates.js';
import { lastTransferIdAt } from './summary.js';

/** The longest range a CSV export covers, in days (both ends included): a leap year. */
export const MAX_CSV_DAYS = 366;

/** A checked date range: whole UTC days, both ends included. */
export interface DateRange {
  /** `YYYY-MM-DD`. */
  from: string;
  to: string;
  /** The first millisecond of `from`, and the first after `to`. */
  startMs: number;
  endMs: number;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function parseDay(text: string | undefined, param: 'from' | 'to'): number {
  const match = text === undefined ? null : DATE.exec(text);
  const ms = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : NaN;
  // Date.UTC rolls 2026-02-31 over to March: a date that does not read back is not a date.
  if (!match || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== text) {
    throw new ApiError('invalid_date_range', `${param} must be a date written YYYY-MM-DD, such as 2026-01-31.`, { param });
  }
  return ms;
}

/**
 * Checks an export's range: two dates `YYYY-MM-DD` (UTC), `from` not after `to`, at most
 * {@link MAX_CSV_DAYS} days together.
 *
 * @throws {@link ApiError} `invalid_date_range` (400) otherwise.
 */
export function parseDateRange(from: string | undefined, to: string | undefined): DateRange {
  const startMs = parseDay(from, 'from');
  const toMs = parseDay(to, 'to');
  if (toMs < startMs) {
    throw new ApiError('invalid_date_range', `The range is reversed: from (${from}) is after to (${to}).`, { param: 'to' });
  }
  const days = (toMs - startMs) / DAY_MS + 1;
  if (days > MAX_CSV_DAYS) {
    throw new ApiError('invalid_date_range', `The range covers ${days} days; export at most ${MAX_CSV_DAYS} days at a time.`, {
      param: 'to',
    });
  }
  return { from: from!, to: to!, startMs, endMs: toMs + DAY_MS };
}

/** The CSV's header line. */
export const CSV_HEADER = 'date,transfer_id,type,description,gross_diamonds,fee_diamonds,net_diamonds\r\n';

/**
 * A CSV field: quoted when it holds a comma, a quote or a line break, and a leading `=`, `+`,
 * `-`, `@`, tab or carriage return defused with an apostrophe, so a spreadsheet never runs a
 * fan's gift message or a shop's product name as a formula.
 */
export function csvField(value: string): string {
  const defused = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(defused) ? `"${defused.replaceAll('"', '""')}"` : defused;
}

interface TransferRow {
  id: string;
  code: string;
  amount: number | string;
  metadata: string;
  created_at: number | string;
}

/** Transfers looked up at once, by primary key. */
const LOOKUP = 1_000;

/** Rows read at once: a month of a busy creator streams in pages, never all in memory. */
const PAGE = 5_000;

/**
 * The lines of a creator's earnings export, page by page: one line per movement of their
 * `earnings` account posted in the range (gifts, unlocks and orders in; refunds and, once they
 * exist, payouts out), oldest first.
 *
 * @remarks
 * `net_diamonds` is the posting itself, so the lines of a range sum exactly to the movement of
 * the account in that range. For a spend, `gross_diamonds` is what the fan paid and
 * `fee_diamonds` the platform's share (gross − net); a refund gives back both, so its gross
 * and fee are negative. Other movements (payouts) carry no fee: gross = net. Read by a range of
 * the postings' key (transfer ids begin with their time): no scan of the creator's history.
 */
export async function* earningsCsvLines(db: SqlClient, creatorId: string, range: DateRange): AsyncGenerator<string> {
  const [account] = await db.query<{ id: string }>(`SELECT id FROM accounts WHERE owner_id = ? AND kind = 'earnings'`, [creatorId]);
  if (!account) return;
  const notPending = db.kind === 'postgres' ? false : 0;
  let after = lastTransferIdAt(range.startMs - 1);
  const upTo = lastTransferIdAt(range.endMs - 1);
  for (;;) {
    // The page's postings by the account's index, then their transfers by primary key: no join
    // a planner could turn into a scan of the range's transfers (all creators') for every page.
    const postings = await db.query<{ transfer_id: string; amount: number | string }>(
      `SELECT transfer_id, amount FROM postings WHERE account_id = ? AND transfer_id > ? AND transfer_id <= ? AND pending = ?
       ORDER BY transfer_id LIMIT ?`,
      [account.id, after, upTo, notPending, PAGE],
    );
    const transfers = new Map<string, TransferRow>();
    for (let i = 0; i < postings.length; i += LOOKUP) {
      const ids = postings.slice(i, i + LOOKUP).map((posting) => posting.transfer_id);
      const found = await db.query<TransferRow>(
        `SELECT id, code, amount, metadata, created_at FROM transfers WHERE id IN (${ids.map(() => '?').join(', ')})`,
        ids,
      );
      for (const transfer of found) transfers.set(transfer.id, transfer);
    }
    const rows = postings.map((posting) => {
      const transfer = transfers.get(posting.transfer_id);
      if (!transfer) throw new Error(`posting of ${posting.transfer_id} without its transfer`);
      return {
        transfer_id: posting.transfer_id,
        amount: posting.amount,
        code: transfer.code,
        gross: transfer.amount,
        metadata: transfer.metadata,
        created_at: transfer.created_at,
      };
    });
    let out = '';
    for (const row of rows) {
      const net = Number(row.amount);
      const spend = row.code === 'gift' || row.code === 'unlock' || row.code === 'order' || row.code === 'refund';
      const gross = spend ? Math.sign(net) * Number(row.gross) : net;
      const description = (JSON.parse(row.metadata) as { description?: unknown }).description;
      out += `${new Date(Number(row.created_at)).toISOString()},${row.transfer_id},${row.code},${csvField(
        typeof description === 'string' ? description : '',
      )},${gross},${gross - net},${net}\r\n`;
    }
    if (out) yield out;
    const last = rows.at(-1);
    if (!last || rows.length < PAGE) return;
    after = last.transfer_id;
  }
}
