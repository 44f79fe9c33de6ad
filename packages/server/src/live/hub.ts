import type { SqlClient, SqlValue } from '../db/types.js';
import { EventBus, type WakeSource } from '../events/bus.js';
import { LIVE_REPLAY_MS, type LiveFeedRow } from './fold.js';

/** How often a stream gets a comment line when nothing else is sent, so proxies keep it open. */
export const HEARTBEAT_MS = 15_000;

/** Streams one address may hold open at once by default. */
export const DEFAULT_STREAMS_PER_ADDRESS = 20;

/** Feed rows read at once. */
const PAGE = 1_000;

/** A client with this much unsent is too slow and is dropped (it reconnects and resumes). */
export const MAX_UNSENT_BYTES = 1024 * 1024;

/** After a wake-up from another process, when to read again (its fold commits a moment later). */
const REMOTE_REREADS_MS = [30, 120, 400] as const;

const ENCODER = new TextEncoder();

/** The comment line that keeps idle streams open. */
const HEARTBEAT = ENCODER.encode(': heartbeat\n\n');

/** Wakes the hubs of this process when the live fold committed new feed rows. */
export const liveFeedBus = new EventBus();

/** One open stream. */
interface Subscriber {
  creatorId: string;
  /** The last feed row it was sent (or, resuming, the one it says it saw). */
  lastSeq: number;
  /** Gift items carry absolute art URLs on this origin. */
  baseUrl: string;
  /** Writes encoded text; returns true when the client is too slow ({@link MAX_UNSENT_BYTES} unsent). */
  send(bytes: Uint8Array): boolean;
  close(): void;
  /** Rows it still has to be sent from before it joined, or `undefined` once caught up. */
  catchUpFrom: number | undefined;
  /** Whether the creator's test alerts are sent to it (the overlay's stream), or left out (a site's). */
  includeTests: boolean;
  address: string;
}

/** One read's rows of a creator, encoded for the streams of one origin and audience. */
interface SharedMessage {
  bytes: Uint8Array;
  /** The messages in `bytes` (test alerts are left out of a site's). */
  count: number;
}

/** Options of {@link LiveHub}. */
export interface LiveHubOptions {
  /** What wakes it besides {@link liveFeedBus}: another process's events (PostgreSQL). */
  remote?: readonly WakeSource[];
  /** @defaultValue {@link HEARTBEAT_MS} */
  heartbeatMs?: number;
  /** @defaultValue {@link DEFAULT_STREAMS_PER_ADDRESS} */
  streamsPerAddress?: number;
  /** @defaultValue `Date.now` */
  now?: () => number;
}

/** One SSE message: its id (a feed row's sequence, for `Last-Event-ID`), its event name, its data. */
export function sseMessage(event: string, data: string, id?: number): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;
}

/** A feed row's data as sent to a client on `baseUrl` (a gift's art becomes an absolute URL). */
export function rowData(row: Pick<LiveFeedRow, 'kind' | 'data'>, baseUrl: string): string {
  if (row.kind !== 'gift') return row.data;
  const { artPath, ...gift } = JSON.parse(row.data) as { artPath: string };
  return JSON.stringify({ ...gift, artUrl: `${baseUrl}${artPath}` });
}

/**
 * The process's live streams: every open stream of every creator, fed from one read loop over
 * the live feed (one query for all of them, whatever their number), with a heartbeat for all.
 *
 * @remarks A stream that resumes (`Last-Event-ID`) is first sent the feed rows after the one it
 * saw, within the replay window, by the same loop, before any newer row: nothing missed,
 * nothing twice, in order. Woken at once by this process's fold, and after another process's
 * events (PostgreSQL) it reads again a few times while that process's fold commits; it also
 * reads every second, the bound should every wake-up be lost.
 */
export class LiveHub {
  readonly #db: SqlClient;
  readonly #options: LiveHubOptions;
  readonly #byCreator = new Map<string, Set<Subscriber>>();
  readonly #byAddress = new Map<string, number>();
  /** The streams resuming, still to be sent what they missed (a read looks at these, not at every stream). */
  readonly #catchingUp = new Set<Subscriber>();
  #cursor = 0;
  #started = false;
  #closed = false;
  #wake: (() => void) | undefined;
  #woken = false;
  #loop: Promise<void> | undefined;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #unsubscribe: Array<() => void> = [];
  /** Messages sent, for tests and benchmarks. */
  sent = 0;

  constructor(db: SqlClient, options: LiveHubOptions = {}) {
    this.#db = db;
    this.#options = options;
  }

  /** Streams open now. */
  get size(): number {
    let n = 0;
    for (const set of this.#byCreator.values()) n += set.size;
    return n;
  }

  /** Whether a stream of `creatorId` is open in this process (the overlay's "connected" light). */
  hasSubscribers(creatorId: string): boolean {
    return (this.#byCreator.get(creatorId)?.size ?? 0) > 0;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const [row] = await this.#db.query<{ seq: number | string | null }>('SELECT max(seq) AS seq FROM live_feed');
    this.#cursor = Number(row?.seq ?? 0);
    this.#unsubscribe.push(liveFeedBus.subscribe(() => this.#poke()));
    for (const source of this.#options.remote ?? []) {
      this.#unsubscribe.push(
        source.subscribe(() => {
          if (this.size === 0) return;
          this.#poke();
          for (const delay of REMOTE_REREADS_MS) this.#timers.push(setTimeout(() => this.#poke(), delay).unref());
          if (this.#timers.length > 100) this.#timers.splice(0, 50);
        }),
      );
    }
    const heartbeat = setInterval(() => this.#heartbeat(), this.#options.heartbeatMs ?? HEARTBEAT_MS);
    heartbeat.unref();
    this.#timers.push(heartbeat);
    this.#loop = this.#run();
  }

  #poke(): void {
    this.#woken = true;
    this.#wake?.();
  }

  /**
   * Opens a stream of `creatorId` for a client at `address`, resuming after `lastSeq` when it
   * says so; returns its closer, or `undefined` when the address holds too many streams.
   */
  subscribe(params: {
    creatorId: string;
    address: string;
    baseUrl: string;
    lastSeq: number | undefined;
    send: (bytes: Uint8Array) => boolean;
    close: () => void;
    /** Send the creator's test alerts too (the overlay's stream). @defaultValue false */
    includeTests?: boolean;
  }): (() => void) | undefined {
    const limit = this.#options.streamsPerAddress ?? DEFAULT_STREAMS_PER_ADDRESS;
    const open = this.#byAddress.get(params.address) ?? 0;
    if (open >= limit) return undefined;
    this.#byAddress.set(params.address, open + 1);
    const subscriber: Subscriber = {
      creatorId: params.creatorId,
      address: params.address,
      baseUrl: params.baseUrl,
      lastSeq: params.lastSeq ?? this.#cursor,
      send: params.send,
      close: params.close,
      catchUpFrom: params.lastSeq !== undefined && params.lastSeq < this.#cursor ? params.lastSeq : undefined,
      includeTests: params.includeTests === true,
    };
    let set = this.#byCreator.get(params.creatorId);
    if (!set) this.#byCreator.set(params.creatorId, (set = new Set()));
    set.add(subscriber);
    if (subscriber.catchUpFrom !== undefined) {
      this.#catchingUp.add(subscriber);
      this.#poke();
    }
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      set.delete(subscriber);
      this.#catchingUp.delete(subscriber);
      if (set.size === 0) this.#byCreator.delete(params.creatorId);
      const left = (this.#byAddress.get(params.address) ?? 1) - 1;
      if (left <= 0) this.#byAddress.delete(params.address);
      else this.#byAddress.set(params.address, left);
    };
  }

  /**
   * Queues `row` for `subscriber` in `outbox`, encoded once per origin (`encoded` is that cache);
   * {@link LiveHub.#flush} then writes each subscriber's queue at once (a stream catching up, or
   * one that joined among a read's rows: see {@link LiveHub.#fanOut} for the others).
   */
  #deliver(
    subscriber: Subscriber,
    row: LiveFeedRow,
    encoded: Map<string, Uint8Array>,
    outbox: Map<Subscriber, Uint8Array[]>,
    catchingUp = false,
  ): void {
    // A stream resuming gets the rows it missed first: newer ones wait for its catch-up.
    if (!catchingUp && subscriber.catchUpFrom !== undefined) return;
    if (row.seq <= subscriber.lastSeq) return;
    subscriber.lastSeq = row.seq;
    if (!subscriber.includeTests && isTestAlert(row)) return;
    this.sent++;
    let bytes = encoded.get(subscriber.baseUrl);
    if (!bytes) encoded.set(subscriber.baseUrl, (bytes = ENCODER.encode(sseMessage(row.kind, rowData(row, subscriber.baseUrl), row.seq))));
    const queued = outbox.get(subscriber);
    if (queued) queued.push(bytes);
    else outbox.set(subscriber, [bytes]);
  }

  #flush(outbox: Map<Subscriber, Uint8Array[]>): void {
    for (const [subscriber, chunks] of outbox) {
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (subscriber.send(bytes)) subscriber.close();
    }
    outbox.clear();
  }

  #heartbeat(): void {
    for (const set of this.#byCreator.values()) {
      for (const subscriber of set) subscriber.send(HEARTBEAT);
    }
  }

  async #catchUp(): Promise<void> {
    const now = (this.#options.now ?? Date.now)();
    for (const subscriber of [...this.#catchingUp]) {
      if (subscriber.catchUpFrom === undefined) continue;
      let after = subscriber.catchUpFrom;
      subscriber.lastSeq = after;
      for (;;) {
        const rows = await this.#feedRows('creator_id = ? AND seq > ? AND seq <= ? AND created_at >= ?', [
          subscriber.creatorId,
          after,
          this.#cursor,
          now - LIVE_REPLAY_MS,
        ]);
        const outbox = new Map<Subscriber, Uint8Array[]>();
        for (const row of rows) this.#deliver(subscriber, row, new Map(), outbox, true);
        this.#flush(outbox);
        const last = rows.at(-1);
        if (!last || rows.length < PAGE) break;
        after = last.seq;
      }
      if (subscriber.lastSeq < this.#cursor) subscriber.lastSeq = this.#cursor;
      subscriber.catchUpFrom = undefined;
      this.#catchingUp.delete(subscriber);
    }
  }

  /** Feed rows matching `where`, in order, a page at most. */
  async #feedRows(where: string, params: readonly SqlValue[]): Promise<LiveFeedRow[]> {
    const rows = await this.#db.query<{
      seq: number | string;
      creator_id: string;
      kind: LiveFeedRow['kind'];
      created_at: number | string;
      data: string;
    }>(`SELECT seq, creator_id, kind, created_at, data FROM live_feed WHERE ${where} ORDER BY seq LIMIT ?`, [...params, PAGE]);
    return rows.map((row) => ({
      seq: Number(row.seq),
      creatorId: row.creator_id,
      kind: row.kind,
      createdAt: Number(row.created_at),
      data: row.data,
    }));
  }

  async #read(): Promise<void> {
    await this.#catchUp();
    if (this.size === 0) {
      // Nobody listens: keep up with the feed's end without reading its rows.
      const [row] = await this.#db.query<{ seq: number | string | null }>('SELECT max(seq) AS seq FROM live_feed');
      this.#cursor = Math.max(this.#cursor, Number(row?.seq ?? 0));
      return;
    }
    for (;;) {
      const rows = await this.#feedRows('seq > ?', [this.#cursor]);
      const byCreator = new Map<string, LiveFeedRow[]>();
      for (const row of rows) {
        this.#cursor = row.seq;
        const list = byCreator.get(row.creatorId);
        if (list) list.push(row);
        else byCreator.set(row.creatorId, [row]);
      }
      for (const [creatorId, creatorRows] of byCreator) this.#fanOut(creatorId, creatorRows);
      if (rows.length < PAGE) return;
    }
  }

  /**
   * Sends `rows` (one creator's, in order) to the creator's streams. A stream that had every row
   * before them (nearly all) is sent the same bytes as every other on its origin, made once: one
   * encoding and one write per stream, whatever the number of rows. One that joined among them is
   * sent its part, row by row.
   */
  #fanOut(creatorId: string, rows: readonly LiveFeedRow[]): void {
    const set = this.#byCreator.get(creatorId);
    if (!set) return;
    const first = rows[0]!.seq;
    const last = rows.at(-1)!.seq;
    /** Per audience (a site's streams, the overlay's) and origin: the bytes, and how many messages they hold. */
    const shared = { site: new Map<string, SharedMessage>(), overlay: new Map<string, SharedMessage>() };
    let outbox: Map<Subscriber, Uint8Array[]> | undefined;
    for (const subscriber of set) {
      if (subscriber.catchUpFrom !== undefined || subscriber.lastSeq >= last) continue;
      if (subscriber.lastSeq >= first) {
        outbox ??= new Map();
        const encoded = new Map<string, Uint8Array>();
        for (const row of rows) this.#deliver(subscriber, row, encoded, outbox);
        continue;
      }
      subscriber.lastSeq = last;
      const forAudience = subscriber.includeTests ? shared.overlay : shared.site;
      let message = forAudience.get(subscriber.baseUrl);
      if (!message) {
        let text = '';
        let count = 0;
        for (const row of rows) {
          if (!subscriber.includeTests && isTestAlert(row)) continue;
          text += sseMessage(row.kind, rowData(row, subscriber.baseUrl), row.seq);
          count++;
        }
        forAudience.set(subscriber.baseUrl, (message = { bytes: ENCODER.encode(text), count }));
      }
      if (message.count === 0) continue;
      this.sent += message.count;
      if (subscriber.send(message.bytes)) subscriber.close();
    }
    if (outbox) this.#flush(outbox);
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      if (!this.#woken) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          setTimeout(resolve, 1000).unref();
        });
        this.#wake = undefined;
      }
      this.#woken = false;
      if (this.#closed) break;
      try {
        await this.#read();
      } catch (error) {
        if (this.#closed) break;
        console.error('[live] reading the feed failed; trying again', error);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** Closes every stream and stops. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of this.#unsubscribe) stop();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#wake?.();
    await this.#loop;
    for (const set of [...this.#byCreator.values()]) for (const subscriber of [...set]) subscriber.close();
  }
}

/** Whether a feed row is a creator's test alert (a gift item flagged `test`). */
export function isTestAlert(row: Pick<LiveFeedRow, 'kind' | 'data'>): boolean {
  return row.kind === 'gift' && row.data.includes('"test":true');
}
