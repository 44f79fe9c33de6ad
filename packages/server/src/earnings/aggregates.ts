import type { SqlClient, SqlValue } from '../db/types.js';
import type { WakeSource } from '../events/bus.js';
import { EventConsumer } from '../events/consumer.js';
import type { EventPosition, StoredEvent } from '../events/outbox.js';
import { allocate } from '../ledger/allocate.js';
import { moneyOperation } from '../money/operations.js';
import type { MoneyWriter } from '../money/writer.js';

/** Milliseconds in a UTC day: aggregates are kept per day since the epoch. */
export const DAY_MS = 86_400_000;

/** The UTC day (days since the epoch) of a time in milliseconds. */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** Where the spend was made: the three sources the dashboard stacks. */
export type EarningsSource = 'gift' | 'unlock' | 'order';

/** A change to one row of `earnings_daily`. */
export interface DailyDelta {
  creatorId: string;
  day: number;
  source: EarningsSource;
  count: number;
  gross: number;
  fee: number;
  net: number;
}

/** A change to one row of `earnings_supporters` (times are only widened, never narrowed). */
export interface SupporterDelta {
  creatorId: string;
  fanId: string;
  count: number;
  gross: number;
  net: number;
  firstAt: number;
  lastAt: number;
}

/** A change to one row of `earnings_items`. */
export interface ItemDelta {
  creatorId: string;
  kind: 'content' | 'product';
  itemId: string;
  count: number;
  gross: number;
  net: number;
}

/** A gift message to keep. */
export interface MessageRow {
  eventId: string;
  creatorId: string;
  fanId: string;
  giftId: string;
  amount: number;
  message: string;
  createdAt: number;
}

/** What a batch of events changes, folded in memory: each key at most once. */
export interface EarningsFold {
  daily: DailyDelta[];
  supporters: SupporterDelta[];
  items: ItemDelta[];
  messages: MessageRow[];
}

/** Input of {@link foldOperation}. */
export interface FoldInput {
  /** The stored cursor the fold was read after: the fold applies only if it is still there. */
  from: EventPosition;
  /** The position after the batch's last event. */
  to: EventPosition;
  fold: EarningsFold;
}

/** What {@link foldOperation} did. */
export interface FoldResult {
  /** False when the stored cursor was not at `from` (another process applied these events). */
  applied: boolean;
  /** Where the stored cursor stands now. */
  cursor: EventPosition;
}

/** How often, at most, the stored cursor moves past events that change no earnings. */
const CURSOR_FLUSH_MS = 1_000;

/** Rows per multi-row statement: far below both engines' bound-parameter limits. */
const CHUNK = 100;

function chunks<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += CHUNK) out.push(rows.slice(i, i + CHUNK));
  return out;
}

function values(rowCount: number, columns: number): string {
  const one = `(${Array.from({ length: columns }, () => '?').join(', ')})`;
  return Array.from({ length: rowCount }, () => one).join(', ');
}

async function readCursor(tx: SqlClient, lock: boolean): Promise<EventPosition> {
  const forUpdate = lock && tx.kind === 'postgres' ? ' FOR UPDATE' : '';
  const [row] = await tx.query<{ tx_id: number | string; seq: number | string }>(
    `SELECT tx_id, seq FROM earnings_cursor WHERE name = 'aggregates'${forUpdate}`,
  );
  return { txId: Number(row?.tx_id ?? -1), seq: Number(row?.seq ?? 0) };
}

/**
 * Applies a folded batch of events to the aggregates and moves the stored cursor from `from`
 * to `to`, in one transaction, only if the cursor is still at `from`: a compare-and-set that
 * makes the aggregates exactly-once. A crash before the commit leaves both undone (the events
 * are folded again); a second process that folded the same events finds the cursor moved and
 * applies nothing. On PostgreSQL the cursor row is locked first, so two processes queue on it.
 */
export const foldOperation = moneyOperation<FoldInput, FoldResult>('earnings.fold', async (tx, _money, input) => {
  const cursor = await readCursor(tx, true);
  if (cursor.txId !== input.from.txId || cursor.seq !== input.from.seq) return { applied: false, cursor };
  const { fold } = input;
  const least = tx.kind === 'postgres' ? 'LEAST' : 'min';
  const greatest = tx.kind === 'postgres' ? 'GREATEST' : 'max';
  for (const rows of chunks(fold.daily)) {
    await tx.run(
      `INSERT INTO earnings_daily (creator_id, day, source, count, gross, fee, net) VALUES ${values(rows.length, 7)}
       ON CONFLICT (creator_id, day, source) DO UPDATE SET count = earnings_daily.count + excluded.count,
         gross = earnings_daily.gross + excluded.gross, fee = earnings_daily.fee + excluded.fee, net = earnings_daily.net + excluded.net`,
      rows.flatMap((r): SqlValue[] => [r.creatorId, r.day, r.source, r.count, r.gross, r.fee, r.net]),
    );
  }
  for (const rows of chunks(fold.supporters)) {
    await tx.run(
      `INSERT INTO earnings_supporters (creator_id, fan_id, count, gross, net, first_at, last_at) VALUES ${values(rows.length, 7)}
       ON CONFLICT (creator_id, fan_id) DO UPDATE SET count = earnings_supporters.count + excluded.count,
         gross = earnings_supporters.gross + excluded.gross, net = earnings_supporters.net + excluded.net,
         first_at = ${least}(earnings_supporters.first_at, excluded.first_at), last_at = ${greatest}(earnings_supporters.last_at, excluded.last_at)`,
      rows.flatMap((r): SqlValue[] => [r.creatorId, r.fanId, r.count, r.gross, r.net, r.firstAt, r.lastAt]),
    );
  }
  for (const rows of chunks(fold.items)) {
    await tx.run(
      `INSERT INTO earnings_items (creator_id, kind, item_id, count, gross, net) VALUES ${values(rows.length, 6)}
       ON CONFLICT (creator_id, kind, item_id) DO UPDATE SET count = earnings_items.count + excluded.count,
         gross = earnings_items.gross + excluded.gross, net = earnings_items.net + excluded.net`,
      rows.flatMap((r): SqlValue[] => [r.creatorId, r.kind, r.itemId, r.count, r.gross, r.net]),
    );
  }
  for (const rows of chunks(fold.messages)) {
    await tx.run(
      `INSERT INTO earnings_messages (event_id, creator_id, fan_id, gift_id, amount, message, created_at) VALUES ${values(rows.length, 7)}
       ON CONFLICT (event_id) DO NOTHING`,
      rows.flatMap((r): SqlValue[] => [r.eventId, r.creatorId, r.fanId, r.giftId, r.amount, r.message, r.createdAt]),
    );
  }
  await tx.run(`UPDATE earnings_cursor SET tx_id = ?, seq = ? WHERE name = 'aggregates'`, [input.to.txId, input.to.seq]);
  return { applied: true, cursor: input.to };
});

/** What the aggregates consumer needs to know of the ledger and the orders to fold events. */
interface FoldFacts {
  /** Net Diamonds credited (or, for a refund, debited: negative) to `owner`'s earnings, by transfer id. */
  earningsByTransfer: Map<string, Map<string, number>>;
  /** When each order in the batch was paid (a refund lowers that day). */
  paidAt: Map<string, number>;
  /** Product lines of each order in the batch. */
  lines: Map<string, Array<{ productId: string; quantity: number; amount: number }>>;
}

interface GiftData {
  giftId: string;
  amountDiamonds: number;
  message: string | null;
  transferId: string;
}
interface UnlockData {
  contentId: string;
  amountDiamonds: number;
  transferId: string | null;
}
interface OrderPaidData {
  orderId: string;
  amountDiamonds: number;
  transferId: string;
}
interface OrderRefundedData {
  orderId: string;
  amountDiamonds: number;
  refundTransferId: string;
}

interface EarningsReversedData {
  transferId: string;
  kind: EarningsSource;
  subjectId: string;
  amountDiamonds: number;
  spentAt: number;
  wholeSpend: boolean;
}

/** The event types that change earnings; every other type is passed over. */
const EARNING_TYPES: ReadonlySet<string> = new Set(['gift.sent', 'content.unlocked', 'order.paid', 'order.refunded', 'earnings.reversed']);

function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

/** Reads, in a few statements per batch, what the events do not carry: net amounts, paid days, lines. */
async function factsFor(db: SqlClient, events: readonly StoredEvent[]): Promise<FoldFacts> {
  const transferIds = new Set<string>();
  const orderIds = new Set<string>();
  for (const event of events) {
    if (!EARNING_TYPES.has(event.type)) continue;
    const data = JSON.parse(event.data) as Partial<GiftData & UnlockData & OrderPaidData & OrderRefundedData>;
    const transferId = event.type === 'order.refunded' ? data.refundTransferId : data.transferId;
    if (transferId) transferIds.add(transferId);
    if (event.type === 'order.paid' || event.type === 'order.refunded') orderIds.add(data.orderId as string);
    if (event.type === 'earnings.reversed') {
      const reversed = JSON.parse(event.data) as EarningsReversedData;
      if (reversed.kind === 'order') orderIds.add(reversed.subjectId);
    }
  }
  const facts: FoldFacts = { earningsByTransfer: new Map(), paidAt: new Map(), lines: new Map() };
  for (const ids of chunks([...transferIds])) {
    // The events name the transfer; the ledger says exactly what the creator's earnings got
    // (the fee is the rest), so the aggregates agree with the ledger to the Diamond.
    const rows = await db.query<{ transfer_id: string; owner_id: string; amount: number | string }>(
      `SELECT p.transfer_id, a.owner_id, p.amount FROM postings p JOIN accounts a ON a.id = p.account_id
       WHERE p.transfer_id IN (${placeholders(ids.length)}) AND a.kind = 'earnings'`,
      ids,
    );
    for (const row of rows) {
      const byOwner = facts.earningsByTransfer.get(row.transfer_id) ?? new Map<string, number>();
      byOwner.set(row.owner_id, (byOwner.get(row.owner_id) ?? 0) + Number(row.amount));
      facts.earningsByTransfer.set(row.transfer_id, byOwner);
    }
  }
  for (const ids of chunks([...orderIds])) {
    const orders = await db.query<{ id: string; paid_at: number | string | null }>(
      `SELECT id, paid_at FROM orders WHERE id IN (${placeholders(ids.length)})`,
      ids,
    );
    for (const order of orders) if (order.paid_at !== null) facts.paidAt.set(order.id, Number(order.paid_at));
    const lines = await db.query<{ order_id: string; product_id: string; quantity: number | string; amount: number | string }>(
      `SELECT order_id, product_id, quantity, amount FROM order_lines WHERE order_id IN (${placeholders(ids.length)}) AND product_id IS NOT NULL ORDER BY order_id, line_no`,
      ids,
    );
    for (const line of lines) {
      const list = facts.lines.get(line.order_id) ?? [];
      list.push({ productId: line.product_id, quantity: Number(line.quantity), amount: Number(line.amount) });
      facts.lines.set(line.order_id, list);
    }
  }
  return facts;
}

/** Folds events in memory into per-key deltas (see {@link EarningsFold}). */
export class Folder {
  readonly #daily = new Map<string, DailyDelta>();
  readonly #supporters = new Map<string, SupporterDelta>();
  readonly #items = new Map<string, ItemDelta>();
  readonly #messages: MessageRow[] = [];

  /** Adds one spend (or, with negative amounts and count, a refund). */
  add(spend: {
    creatorId: string;
    fanId: string | null;
    source: EarningsSource;
    day: number;
    at: number;
    sign: 1 | -1;
    /** Spends counted: `sign` unless given (a partial reversal counts 0). */
    count?: number;
    gross: number;
    net: number;
    items: Array<{ kind: 'content' | 'product'; itemId: string; count: number; gross: number; net: number }>;
  }): void {
    const { creatorId, sign } = spend;
    const count = spend.count ?? sign;
    const dailyKey = `${creatorId}\u0000${spend.day}\u0000${spend.source}`;
    const daily = this.#daily.get(dailyKey) ?? { creatorId, day: spend.day, source: spend.source, count: 0, gross: 0, fee: 0, net: 0 };
    daily.count += count;
    daily.gross += spend.gross;
    daily.net += spend.net;
    daily.fee += spend.gross - spend.net;
    this.#daily.set(dailyKey, daily);
    if (spend.fanId !== null) {
      const key = `${creatorId}\u0000${spend.fanId}`;
      const supporter = this.#supporters.get(key) ?? {
        creatorId,
        fanId: spend.fanId,
        count: 0,
        gross: 0,
        net: 0,
        firstAt: spend.at,
        lastAt: spend.at,
      };
      supporter.count += count;
      supporter.gross += spend.gross;
      supporter.net += spend.net;
      if (sign > 0) {
        supporter.firstAt = Math.min(supporter.firstAt, spend.at);
        supporter.lastAt = Math.max(supporter.lastAt, spend.at);
      }
      this.#supporters.set(key, supporter);
    }
    for (const item of spend.items) {
      const key = `${creatorId}\u0000${item.kind}\u0000${item.itemId}`;
      const row = this.#items.get(key) ?? { creatorId, kind: item.kind, itemId: item.itemId, count: 0, gross: 0, net: 0 };
      row.count += item.count;
      row.gross += item.gross;
      row.net += item.net;
      this.#items.set(key, row);
    }
  }

  /** Keeps a gift message. */
  message(row: MessageRow): void {
    this.#messages.push(row);
  }

  /** The fold, each key once. */
  result(): EarningsFold {
    return {
      daily: [...this.#daily.values()],
      supporters: [...this.#supporters.values()],
      items: [...this.#items.values()],
      messages: this.#messages,
    };
  }
}

/** Shares an order's net among its product lines by their gross, exactly (largest remainder). */
function productItems(
  lines: ReadonlyArray<{ productId: string; quantity: number; amount: number }>,
  net: number,
  sign: 1 | -1,
): Array<{ kind: 'product'; itemId: string; count: number; gross: number; net: number }> {
  if (lines.length === 0) return [];
  const shares = allocate(
    Math.abs(net),
    lines.map((line) => line.amount),
  );
  return lines.map((line, i) => ({
    kind: 'product' as const,
    itemId: line.productId,
    count: sign * line.quantity,
    gross: sign * line.amount,
    net: sign * (shares[i] ?? 0),
  }));
}

/**
 * Shares a reversed part of an order among its product lines by their gross, exactly: `gross`
 * (Diamonds of the spend) and `net` (negative: what the earnings gave back) both by line amount.
 * The quantities count down only when the whole order was reversed.
 */
function reversedProductItems(
  lines: ReadonlyArray<{ productId: string; quantity: number; amount: number }>,
  gross: number,
  net: number,
  whole: boolean,
): Array<{ kind: 'product'; itemId: string; count: number; gross: number; net: number }> {
  if (lines.length === 0 || lines.every((line) => line.amount === 0)) return [];
  const weights = lines.map((line) => line.amount);
  const grossShares = allocate(gross, weights);
  const netShares = allocate(Math.abs(net), weights);
  return lines.map((line, i) => ({
    kind: 'product' as const,
    itemId: line.productId,
    count: whole ? -line.quantity : 0,
    gross: -(grossShares[i] ?? 0),
    net: -(netShares[i] ?? 0),
  }));
}

/**
 * The creators a spend's (or a refund's) earnings went to: the event's creator alone, or, for a
 * spend on a split item (collabs/), every creator whose earnings the transfer moved, each with
 * their net as the ledger says and their share of `gross` (largest remainder by net), the
 * event's creator first and the others in id order.
 */
function partiesOf(
  facts: FoldFacts,
  transferId: string,
  creatorId: string,
  gross: number,
): Array<{ creatorId: string; net: number; gross: number }> {
  const byOwner = facts.earningsByTransfer.get(transferId);
  if (!byOwner || byOwner.size === 0 || (byOwner.size === 1 && byOwner.has(creatorId))) {
    return [{ creatorId, net: byOwner?.get(creatorId) ?? 0, gross }];
  }
  const owners = [creatorId, ...[...byOwner.keys()].filter((owner) => owner !== creatorId).sort()];
  const nets = owners.map((owner) => byOwner.get(owner) ?? 0);
  const weights = nets.map((net) => Math.abs(net));
  if (weights.every((weight) => weight === 0)) return [{ creatorId, net: 0, gross }];
  const shares = allocate(Math.abs(gross), weights);
  const sign = gross < 0 ? -1 : 1;
  return owners.map((owner, i) => ({ creatorId: owner, net: nets[i] ?? 0, gross: sign * (shares[i] ?? 0) }));
}

/**
 * Folds a batch of committed events into aggregate deltas, reading what the events do not
 * carry from the ledger and the orders (immutable once the event is committed).
 *
 * @remarks Only posted spends count: a held spend is folded when it is approved (its
 * `gift.sent`, `content.unlocked` or `order.paid` is appended then), so a voided one (declined,
 * expired) never entered the aggregates and has nothing to take back. A refund lowers the day
 * the order was paid; an `earnings.reversed` (a disputed top-up's Diamonds taken back from a
 * pending spend) lowers the day of the spend, counting it out only once it is wholly reversed.
 */
export async function foldEvents(db: SqlClient, events: readonly StoredEvent[]): Promise<EarningsFold> {
  const folder = new Folder();
  if (!events.some((event) => EARNING_TYPES.has(event.type))) return folder.result();
  const facts = await factsFor(db, events);
  const netOf = (transferId: string, creatorId: string) => facts.earningsByTransfer.get(transferId)?.get(creatorId) ?? 0;
  for (const event of events) {
    const creatorId = event.creatorId;
    if (creatorId === null || !EARNING_TYPES.has(event.type)) continue;
    const at = event.createdAt;
    if (event.type === 'gift.sent') {
      const data = JSON.parse(event.data) as GiftData;
      for (const party of partiesOf(facts, data.transferId, creatorId, data.amountDiamonds)) {
        folder.add({
          creatorId: party.creatorId,
          fanId: event.fanId,
          source: 'gift',
          day: dayOf(at),
          at,
          sign: 1,
          gross: party.gross,
          net: party.net,
          items: [],
        });
      }
      if (data.message !== null && data.message !== '' && event.fanId !== null) {
        folder.message({
          eventId: event.id,
          creatorId,
          fanId: event.fanId,
          giftId: data.giftId,
          amount: data.amountDiamonds,
          message: data.message,
          createdAt: at,
        });
      }
    } else if (event.type === 'content.unlocked') {
      const data = JSON.parse(event.data) as UnlockData;
      // Unlocked by a support threshold: nothing moved, nothing earned.
      if (data.transferId === null) continue;
      for (const { creatorId: party, gross, net } of partiesOf(facts, data.transferId, creatorId, data.amountDiamonds)) {
        folder.add({
          creatorId: party,
          fanId: event.fanId,
          source: 'unlock',
          day: dayOf(at),
          at,
          sign: 1,
          gross,
          net,
          items: [{ kind: 'content', itemId: data.contentId, count: 1, gross, net }],
        });
      }
    } else if (event.type === 'order.paid') {
      const data = JSON.parse(event.data) as OrderPaidData;
      for (const { creatorId: party, gross, net } of partiesOf(facts, data.transferId, creatorId, data.amountDiamonds)) {
        folder.add({
          creatorId: party,
          fanId: event.fanId,
          source: 'order',
          day: dayOf(at),
          at,
          sign: 1,
          gross,
          net,
          items: productItems(facts.lines.get(data.orderId) ?? [], net, 1),
        });
      }
    } else if (event.type === 'earnings.reversed') {
      // Part of a spend paid with a disputed top-up's Diamonds, taken back while pending: the
      // day, supporter and item of the spend are lowered by what the ledger says came back.
      const data = JSON.parse(event.data) as EarningsReversedData;
      const net = netOf(data.transferId, creatorId); // negative: the earnings gave it back
      // A split spend's reversal has one event per collaborator: each lowers their own share of the gross.
      const reversedGross = -(partiesOf(facts, data.transferId, creatorId, -data.amountDiamonds)[0]?.gross ?? -data.amountDiamonds);
      const count = data.wholeSpend ? -1 : 0;
      const items: Array<{ kind: 'content' | 'product'; itemId: string; count: number; gross: number; net: number }> = [];
      if (data.kind === 'unlock') {
        items.push({ kind: 'content', itemId: data.subjectId, count, gross: -reversedGross, net });
      } else if (data.kind === 'order') {
        items.push(...reversedProductItems(facts.lines.get(data.subjectId) ?? [], reversedGross, net, data.wholeSpend));
      }
      folder.add({
        creatorId,
        fanId: event.fanId,
        source: data.kind,
        day: dayOf(data.spentAt),
        at: data.spentAt,
        sign: -1,
        count,
        gross: -reversedGross,
        net,
        items,
      });
    } else {
      const data = JSON.parse(event.data) as OrderRefundedData;
      const paidAt = facts.paidAt.get(data.orderId) ?? at;
      // net is negative: the earnings gave it back (each party of a split order its own part).
      for (const { creatorId: party, gross, net } of partiesOf(facts, data.refundTransferId, creatorId, -data.amountDiamonds)) {
        folder.add({
          creatorId: party,
          fanId: event.fanId,
          source: 'order',
          day: dayOf(paidAt),
          at: paidAt,
          sign: -1,
          gross,
          net,
          items: productItems(facts.lines.get(data.orderId) ?? [], net, -1),
        });
      }
    }
  }
  return folder.result();
}

/** Options of {@link EarningsAggregator}. */
export interface EarningsAggregatorOptions {
  /** What wakes it when events commit: the process's bus, and PostgreSQL's LISTEN. */
  wake: readonly WakeSource[];
  /** Events folded at once. @defaultValue 500 */
  batchSize?: number | undefined;
  /** Longest wait between reads of the table without a wake-up. @defaultValue 1000 */
  pollIntervalMs?: number | undefined;
  /**
   * Pause after applying a batch, so that under load each fold takes many commits' events at
   * once: one bookkeeping transaction per pause rather than one per group commit, on the
   * writer the gifts share. @defaultValue 100
   */
  foldIntervalMs?: number | undefined;
}

/**
 * Keeps the earnings aggregates up to date from the outbox: reads committed events by its
 * stored cursor, folds a batch in memory and applies it with the cursor's move in one short
 * transaction ({@link foldOperation}). The gift's own transaction does nothing more for it.
 *
 * @remarks
 * The bookkeeping runs where the webhook dispatcher's does (`bookkeepingRunner`): through the
 * money writer on SQLite, in transactions of its own on PostgreSQL. Several processes may run
 * one each: the compare-and-set on the cursor lets one apply a batch, and the others start
 * again from where it got.
 */
export class EarningsAggregator {
  readonly #db: SqlClient;
  readonly #runner: Pick<MoneyWriter, 'run'>;
  readonly #options: EarningsAggregatorOptions;
  #consumer: EventConsumer | undefined;
  /** The position stored, and the position reached (ahead when events passed that change no earnings). */
  #stored: EventPosition = { txId: -1, seq: 0 };
  #reached: EventPosition = { txId: -1, seq: 0 };
  #lastFlushAt = 0;
  #closed = false;
  #loop: Promise<void> | undefined;
  readonly #waiters: Array<{ target: EventPosition; resolve: () => void }> = [];
  /** Events folded and applied by this process. */
  applied = 0;

  constructor(db: SqlClient, runner: Pick<MoneyWriter, 'run'>, options: EarningsAggregatorOptions) {
    this.#db = db;
    this.#runner = runner;
    this.#options = options;
  }

  /** How far this process has read: every earning event up to it is in the aggregates. */
  get position(): EventPosition {
    return this.#reached;
  }

  /** Reads the stored cursor and starts the loop. */
  async start(): Promise<void> {
    this.#stored = await readCursor(this.#db, false);
    this.#reached = this.#stored;
    this.#consumer = this.#newConsumer(this.#stored);
    this.#loop = this.#run().catch((error: unknown) => console.error('[earnings] the aggregator stopped', error));
  }

  #newConsumer(after: EventPosition): EventConsumer {
    return new EventConsumer(this.#db, {
      after,
      wake: this.#options.wake,
      batchSize: this.#options.batchSize ?? 500,
      pollIntervalMs: this.#options.pollIntervalMs,
    });
  }

  async #run(): Promise<void> {
    while (!this.#closed && this.#consumer) {
      try {
        const events = await this.#consumer.next(1000);
        if (this.#closed) break;
        const last = events.at(-1);
        if (!last) continue;
        const to = { txId: last.txId, seq: last.seq };
        const fold = await foldEvents(this.#db, events);
        const empty = fold.daily.length === 0 && fold.supporters.length === 0 && fold.items.length === 0 && fold.messages.length === 0;
        if (empty && performance.now() - this.#lastFlushAt < CURSOR_FLUSH_MS) {
          // Nothing to count (webhook tests, top-ups…): no transaction, and the stored cursor
          // moves at most once a second. A restart reads these again, and counts nothing.
          this.#reached = to;
          this.#notify();
          continue;
        }
        this.#lastFlushAt = performance.now();
        // From the stored cursor: the events between it and this batch changed nothing.
        const result = await this.#runner.run(foldOperation, { from: this.#stored, to, fold });
        if (result.applied) this.applied += events.length;
        else {
          // Another process applied them (or more): go on from where it got.
          this.#consumer.close();
          this.#consumer = this.#newConsumer(result.cursor);
        }
        this.#stored = result.cursor;
        this.#reached = result.cursor;
        this.#notify();
        const pause = this.#options.foldIntervalMs ?? 100;
        if (pause > 0 && !this.#closed) await new Promise((resolve) => setTimeout(resolve, pause));
      } catch (error) {
        if (this.#closed) break;
        console.error('[earnings] folding failed; reading again from the stored cursor', error);
        this.#consumer.close();
        this.#stored = await readCursor(this.#db, false).catch(() => this.#stored);
        this.#reached = this.#stored;
        this.#consumer = this.#newConsumer(this.#stored);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  #notify(): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i]!;
      if (!before(this.#reached, waiter.target)) {
        this.#waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /**
   * Resolves once the aggregates include every event readable now (tests, and a page that
   * wants to show what was just committed).
   */
  async caughtUp(target: EventPosition): Promise<void> {
    if (!before(this.#reached, target)) return;
    await new Promise<void>((resolve) => this.#waiters.push({ target, resolve }));
  }

  /** Stops reading; what was applied stays applied. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#consumer?.close();
    await this.#loop;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
  }
}

/** Whether position `a` comes before `b`. */
function before(a: EventPosition, b: EventPosition): boolean {
  return a.txId < b.txId || (a.txId === b.txId && a.seq < b.seq);
}
