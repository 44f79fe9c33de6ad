import type { SqlClient } from '../db/types.js';
import type { WakeSource } from '../events/bus.js';
import { EventConsumer } from '../events/consumer.js';
import type { EventPosition, StoredEvent } from '../events/outbox.js';
import type { MoneyWriter } from '../money/writer.js';
import { systemClock, type Clock } from './clock.js';
import { sqlBoolean } from './endpoints.js';
import { fanOutOperation, type QueuedDelivery } from './operations.js';

/** Options of {@link WebhookDispatcher}. */
export interface WebhookDispatcherOptions {
  /** What wakes it when events commit: the process's bus, and PostgreSQL's LISTEN. */
  wake: readonly WakeSource[];
  /** @defaultValue the system clock */
  clock?: Clock | undefined;
  /** Told when deliveries were queued (the worker). */
  onQueued?: (() => void) | undefined;
  /**
   * How often, at most, the stored cursor is moved when events pass that no endpoint wants
   * (a restart reads them again, and queues nothing). @defaultValue 1000
   */
  cursorFlushMs?: number | undefined;
  /** Events read at once. @defaultValue 200 */
  batchSize?: number | undefined;
}

/**
 * The least time between two reads of the outbox: under a stream of commits one read (and one
 * look-up of the endpoints) takes about this much time's events instead of each commit's own,
 * a small part of the delivery lag's budget (issue 13: p99 ≤ 1 s).
 */
const DISPATCH_INTERVAL_MS = 50;

interface EndpointFilter {
  id: string;
  siteId: string;
  createdAt: number;
  /** Null for every type. */
  eventTypes: ReadonlySet<string> | null;
}

/** What the dispatcher did, for tests and the benchmark. */
export interface DispatcherStats {
  events: number;
  queued: number;
}

/**
 * Turns committed events into deliveries: reads the outbox by cursor (an {@link EventConsumer},
 * woken by the bus and PostgreSQL's NOTIFY), and queues one delivery per event per enabled
 * endpoint of its site that wants its type, moving its stored cursor in the same transaction
 * (the money writer's `webhooks.fanOut`).
 *
 * @remarks
 * A fan's private events (no site) never go anywhere. A `webhook.test` event goes to the one
 * endpoint it names. An endpoint gets the events committed from its creation on. Should the
 * process die, the stored cursor is where a new one starts; events read again are queued again
 * without duplicates (the deliveries' unique key), and two processes may dispatch at once.
 */
export class WebhookDispatcher {
  readonly #db: SqlClient;
  readonly #writer: Pick<MoneyWriter, 'run'>;
  readonly #options: WebhookDispatcherOptions;
  readonly #clock: Clock;
  #consumer: EventConsumer | undefined;
  #closed = false;
  #loop: Promise<void> | undefined;
  /** The position stored, and the position reached (ahead when events passed that nobody wanted). */
  #stored: EventPosition = { txId: -1, seq: 0 };
  #reached: EventPosition = { txId: -1, seq: 0 };
  #lastFlushAt = 0;
  /** What it did so far. */
  readonly stats: DispatcherStats = { events: 0, queued: 0 };

  constructor(db: SqlClient, writer: Pick<MoneyWriter, 'run'>, options: WebhookDispatcherOptions) {
    this.#db = db;
    this.#writer = writer;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Reads the stored cursor and starts the loop. */
  async start(): Promise<void> {
    const [row] = await this.#db.query<{ tx_id: number | string; seq: number | string }>(
      `SELECT tx_id, seq FROM webhook_cursor WHERE name = 'dispatcher'`,
    );
    this.#stored = row ? { txId: Number(row.tx_id), seq: Number(row.seq) } : this.#stored;
    this.#reached = this.#stored;
    this.#consumer = this.#newConsumer(this.#stored);
    this.#loop = this.#run().catch((error: unknown) => console.error('[webhooks] the dispatcher stopped', error));
  }

  #newConsumer(after: EventPosition): EventConsumer {
    return new EventConsumer(this.#db, {
      after,
      wake: this.#options.wake,
      batchSize: this.#options.batchSize ?? 200,
      minReadIntervalMs: DISPATCH_INTERVAL_MS,
    });
  }

  async #run(): Promise<void> {
    while (!this.#closed && this.#consumer) {
      try {
        const events = await this.#consumer.next(this.#options.cursorFlushMs ?? 1000);
        if (this.#closed) break;
        await this.#dispatch(events);
      } catch (error) {
        if (this.#closed) break;
        console.error('[webhooks] dispatching failed; reading again from the stored cursor', error);
        this.#consumer.close();
        this.#consumer = this.#newConsumer(this.#stored);
        this.#reached = this.#stored;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  async #dispatch(events: readonly StoredEvent[]): Promise<void> {
    const last = events.at(-1);
    if (last) this.#reached = { txId: last.txId, seq: last.seq };
    this.stats.events += events.length;
    const deliveries = await this.#deliveriesFor(events);
    const moved = this.#reached.txId !== this.#stored.txId || this.#reached.seq !== this.#stored.seq;
    const now = this.#clock.now();
    if (deliveries.length === 0 && !(moved && performance.now() - this.#lastFlushAt >= (this.#options.cursorFlushMs ?? 1000))) return;
    await this.#flush(deliveries, now);
  }

  async #flush(deliveries: QueuedDelivery[], now: number): Promise<void> {
    this.#lastFlushAt = performance.now();
    const to = this.#reached;
    const result = await this.#writer.run(fanOutOperation, { deliveries, to, now });
    this.stats.queued += result.created;
    this.#stored = to;
    if (result.cursor.txId > to.txId || (result.cursor.txId === to.txId && result.cursor.seq > to.seq)) {
      // Another process went further: skip what it has already queued.
      this.#stored = result.cursor;
      this.#reached = result.cursor;
      this.#consumer?.close();
      this.#consumer = this.#newConsumer(result.cursor);
    }
    if (result.created > 0) this.#options.onQueued?.();
  }

  /** The deliveries `events` make, by the enabled endpoints of their sites. */
  async #deliveriesFor(events: readonly StoredEvent[]): Promise<QueuedDelivery[]> {
    const siteIds = [...new Set(events.map((event) => event.siteId).filter((id): id is string => id !== null))];
    if (siteIds.length === 0) return [];
    const endpoints = await this.#endpointsOf(siteIds);
    if (endpoints.size === 0) return [];
    const deliveries: QueuedDelivery[] = [];
    for (const event of events) {
      if (event.siteId === null) continue;
      const ofSite = endpoints.get(event.siteId) ?? [];
      if (event.type === ('webhook.test' as string)) {
        const target = (JSON.parse(event.data) as { endpointId?: string }).endpointId;
        if (ofSite.some((endpoint) => endpoint.id === target) && target) {
          deliveries.push({ endpointId: target, eventId: event.id, kind: 'test' });
        }
        continue;
      }
      for (const endpoint of ofSite) {
        if (event.createdAt < endpoint.createdAt) continue;
        if (endpoint.eventTypes !== null && !endpoint.eventTypes.has(event.type)) continue;
        deliveries.push({ endpointId: endpoint.id, eventId: event.id, kind: 'event' });
      }
    }
    return deliveries;
  }

  async #endpointsOf(siteIds: readonly string[]): Promise<Map<string, EndpointFilter[]>> {
    const rows = await this.#db.query<{ id: string; site_id: string; created_at: number | string; event_types: string | null }>(
      `SELECT id, site_id, created_at, event_types FROM webhook_endpoints WHERE enabled = ? AND site_id IN (${siteIds.map(() => '?').join(', ')})`,
      [sqlBoolean(this.#db, true), ...siteIds],
    );
    const bySite = new Map<string, EndpointFilter[]>();
    for (const row of rows) {
      const list = bySite.get(row.site_id) ?? [];
      list.push({
        id: row.id,
        siteId: row.site_id,
        createdAt: Number(row.created_at),
        eventTypes: row.event_types === null ? null : new Set(JSON.parse(row.event_types) as string[]),
      });
      bySite.set(row.site_id, list);
    }
    return bySite;
  }

  /** Stops reading; stores how far it got. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#consumer?.close();
    await this.#loop;
    const moved = this.#reached.txId !== this.#stored.txId || this.#reached.seq !== this.#stored.seq;
    if (moved) await this.#flush([], this.#clock.now()).catch(() => undefined);
  }
}
