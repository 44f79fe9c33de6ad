import { newId, type DiamondsEvent, type EventData, type EventType } from '@diamonds/protocol';
import type { SqlClient, SqlValue } from '../db/types.js';
import { afterCommit } from '../ledger/group-commit.js';
import { localEvents, type CommittedEvent } from './bus.js';

/** An event to append: who it concerns and its data (the protocol's schema for its type). */
export interface NewEvent<T extends EventType = EventType> {
  type: T;
  /** The site the money moved on; null for a fan's private event (a top-up). */
  siteId: string | null;
  /** Who received (the creator, the shop's owner); null for a fan's private event. */
  creatorId: string | null;
  /** The fan who paid or bought; null when no fan is involved (a canceled order). */
  fanId: string | null;
  data: EventData<T>;
  /** Its id, when the caller must know it (`webhook.test` answers it). @defaultValue a new `evt_…` */
  id?: string;
}

/**
 * Appends an event to the outbox in `tx`, the transaction of the effect it describes: it is
 * stored if and only if that effect commits, and published on this process's bus
 * ({@link localEvents}) once it has.
 *
 * @remarks
 * Publishing needs a transaction that runs commit callbacks: a `GroupCommit.run` work (a work
 * whose savepoint rolls back drops its events with it) or `transactionWithAfterCommit` (the
 * app's `db` does that). In any other transaction the event is stored but wakes nobody in this
 * process: consumers still find it, since they read the table and the bus only wakes them.
 * On PostgreSQL the table's trigger also sends `NOTIFY diamonds_events`, delivered on commit.
 */
export async function appendEvent<T extends EventType>(tx: SqlClient, event: NewEvent<T>, now = Date.now()): Promise<void> {
  const row = eventRow(tx, event, now);
  await tx.run(insertSql(row), row.values);
  row.written();
}

/**
 * An event's outbox row, for a caller that writes it within a statement of its own (the
 * PostgreSQL spend, money/pg-spend.ts): once it is written in `tx`, call `written()`, so the
 * event is published after the commit as {@link appendEvent} does.
 */
export function eventRow<T extends EventType>(tx: SqlClient, event: NewEvent<T>, now = Date.now()): RowInsert {
  const id = event.id ?? newId('evt', now);
  const committed: CommittedEvent = { id, type: event.type, siteId: event.siteId };
  return {
    table: 'events',
    columns: EVENT_COLUMNS,
    values: [id, event.type, event.siteId, event.creatorId, event.fanId, now, JSON.stringify(event.data)],
    written: () => afterCommit(tx, () => localEvents.publish([committed])),
  };
}

const EVENT_COLUMNS: readonly string[] = ['id', 'type', 'site_id', 'creator_id', 'fan_id', 'created_at', 'data'];

/** `INSERT` texts by table, then by columns list (the same array each time: give it as a constant). */
const insertTexts = new Map<string, WeakMap<readonly string[], string>>();

/**
 * The `INSERT` statement of `row`, made once per table and columns array: a text built at each
 * call is a new string, which the connection's statement cache must copy and hash again to find.
 */
function insertSql(row: RowInsert): string {
  let byColumns = insertTexts.get(row.table);
  if (!byColumns) insertTexts.set(row.table, (byColumns = new WeakMap()));
  let sql = byColumns.get(row.columns);
  if (sql === undefined) {
    sql = `INSERT INTO ${row.table} (${row.columns.join(', ')}) VALUES (${row.columns.map(() => '?').join(', ')})`;
    byColumns.set(row.columns, sql);
  }
  return sql;
}

/** One row to insert, by table and columns (names from our code, never from input), with what to do once it is written. */
export interface RowInsert {
  table: string;
  columns: readonly string[];
  values: readonly SqlValue[];
  /** Called once the row is written in the transaction. */
  written(): void;
}

/** Inserts `row` in `tx` (one statement) and calls its `written`. */
export async function insertRow(tx: SqlClient, row: RowInsert): Promise<void> {
  await tx.run(insertSql(row), row.values);
  row.written();
}

/**
 * Where an event stands in the order readers go by: `seq` on SQLite (`txId` 0), and
 * `(txId, seq)` on PostgreSQL (see `events/schema.ts`).
 */
export interface EventPosition {
  txId: number;
  seq: number;
}

/** The start of the stream: before every event. */
export const START: EventPosition = { txId: -1, seq: 0 };

/** An event as stored, with its position. */
export interface StoredEvent extends EventPosition {
  id: string;
  type: EventType;
  siteId: string | null;
  creatorId: string | null;
  fanId: string | null;
  createdAt: number;
  /** The data as JSON text. */
  data: string;
}

interface EventRow {
  seq: number;
  tx_id?: number;
  id: string;
  type: string;
  site_id: string | null;
  creator_id: string | null;
  fan_id: string | null;
  created_at: number;
  data: string;
}

const COLUMNS = 'seq, id, type, site_id, creator_id, fan_id, created_at, data';

function toStored(row: EventRow): StoredEvent {
  return {
    seq: Number(row.seq),
    txId: Number(row.tx_id ?? 0),
    id: row.id,
    type: row.type as EventType,
    siteId: row.site_id,
    creatorId: row.creator_id,
    fanId: row.fan_id,
    createdAt: Number(row.created_at),
    data: row.data,
  };
}

/** What {@link readEvents} reads. */
export interface EventQuery {
  /** Only this site's events; every event (the fans' private ones too) when undefined. */
  siteId?: string | undefined;
  /** Only events of this type. */
  type?: EventType | undefined;
  /** Only events after this position. @defaultValue {@link START} */
  after?: EventPosition | undefined;
  limit: number;
}

/**
 * Events in the order they are delivered, after a position: every reader (the API, the
 * consumers) goes through here.
 *
 * @remarks
 * On SQLite one writer commits at a time, so `seq` order is commit order. On PostgreSQL only
 * events whose transaction is older than the oldest still running (`pg_snapshot_xmin` of this
 * statement's snapshot) are returned, ordered by `(txId, seq)`: every transaction of that part
 * of the order has ended, so nothing can later appear before an event already returned, and a
 * reader that resumes after its last position misses nothing. No lock is taken: money
 * transactions commit concurrently; an event becomes readable once the transactions older than
 * its own have ended (milliseconds for money transactions).
 */
export async function readEvents(db: SqlClient, query: EventQuery): Promise<StoredEvent[]> {
  const after = query.after ?? START;
  const where: string[] = [];
  const params: Array<string | number> = [];
  if (query.siteId !== undefined) {
    where.push('site_id = ?');
    params.push(query.siteId);
  }
  if (query.type !== undefined) {
    where.push('type = ?');
    params.push(query.type);
  }
  if (db.kind === 'sqlite') {
    where.push('seq > ?');
    params.push(after.seq);
    const rows = await db.query<EventRow>(`SELECT ${COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`, [
      ...params,
      query.limit,
    ]);
    return rows.map(toStored);
  }
  where.push('(tx_id, seq) > (?, ?)', 'tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint');
  params.push(after.txId, after.seq);
  const rows = await db.query<EventRow>(`SELECT ${COLUMNS}, tx_id FROM events WHERE ${where.join(' AND ')} ORDER BY tx_id, seq LIMIT ?`, [
    ...params,
    query.limit,
  ]);
  return rows.map(toStored);
}

/**
 * Whether events after `query.after` have committed that {@link readEvents} does not return
 * yet, because a transaction older than theirs is still running (PostgreSQL only; always false
 * on SQLite). A reader that finds nothing but this true should read again shortly, rather than
 * wait for a wake-up that already came.
 */
export async function eventsHeldBack(db: SqlClient, query: Omit<EventQuery, 'limit'>): Promise<boolean> {
  if (db.kind === 'sqlite') return false;
  const after = query.after ?? START;
  const where = ['(tx_id, seq) > (?, ?)'];
  const params: Array<string | number> = [after.txId, after.seq];
  if (query.siteId !== undefined) {
    where.unshift('site_id = ?');
    params.unshift(query.siteId);
  }
  if (query.type !== undefined) {
    where.push('type = ?');
    params.push(query.type);
  }
  const rows = await db.query<{ one: number }>(`SELECT 1 AS one FROM events WHERE ${where.join(' AND ')} LIMIT 1`, params);
  return rows.length > 0;
}

/** One event by id, when it belongs to `siteId` (every event when `siteId` is undefined). */
export async function findEvent(db: SqlClient, id: string, siteId?: string): Promise<StoredEvent | undefined> {
  const txId = db.kind === 'postgres' ? ', tx_id' : '';
  const [row] =
    siteId === undefined
      ? await db.query<EventRow>(`SELECT ${COLUMNS}${txId} FROM events WHERE id = ?`, [id])
      : await db.query<EventRow>(`SELECT ${COLUMNS}${txId} FROM events WHERE id = ? AND site_id = ?`, [id, siteId]);
  return row ? toStored(row) : undefined;
}

/** The position of the last readable event (where a new consumer that skips the past starts). */
export async function latestPosition(db: SqlClient): Promise<EventPosition> {
  if (db.kind === 'sqlite') {
    const [row] = await db.query<{ seq: number | null }>('SELECT max(seq) AS seq FROM events');
    return { txId: 0, seq: Number(row?.seq ?? 0) };
  }
  const [row] = await db.query<{ tx_id: number; seq: number }>(
    'SELECT tx_id, seq FROM events WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint ORDER BY tx_id DESC, seq DESC LIMIT 1',
  );
  return row ? { txId: Number(row.tx_id), seq: Number(row.seq) } : START;
}

/** The wire view of a stored event. */
export function presentEvent(event: StoredEvent): DiamondsEvent {
  return {
    object: 'event',
    id: event.id,
    type: event.type,
    createdAt: event.createdAt,
    siteId: event.siteId,
    creatorId: event.creatorId,
    fanId: event.fanId,
    data: JSON.parse(event.data) as unknown,
  } as DiamondsEvent;
}
