import type { EventType } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import type { CommittedEvent, WakeSource } from './bus.js';
import { eventsHeldBack, readEvents, START, type EventPosition, type StoredEvent } from './outbox.js';

/** Options of {@link EventConsumer}. */
export interface EventConsumerOptions {
  /** Only this site's events; every event when undefined. */
  siteId?: string | undefined;
  /** Only events of this type. */
  type?: EventType | undefined;
  /** Where to start: after this position. @defaultValue {@link START} (every event) */
  after?: EventPosition | undefined;
  /** What wakes it: the process's bus, a PostgreSQL listener… */
  wake: readonly WakeSource[];
  /**
   * How long it waits without a wake-up before reading the table anyway: the bound on how late
   * an event is seen should every wake-up be lost. @defaultValue 1000
   */
  pollIntervalMs?: number;
  /** Most events one {@link EventConsumer.next} returns. @defaultValue 100 */
  batchSize?: number;
  /**
   * The least time from one read of the table to the next: under a stream of commits each read
   * (and what the consumer does with it) then takes several commits' events at once instead of
   * one commit's, for at most this much more delay; a read after a quiet spell starts at once.
   * @defaultValue 0
   */
  minReadIntervalMs?: number;
}

/** After a wake-up, how long to keep reading when the event is not readable yet (PostgreSQL). */
const AFTER_WAKE_MS = 500;

/**
 * Reads events by cursor, waiting for a wake-up between reads: the base of anything that acts
 * on events (webhooks, live feeds…).
 *
 * @remarks
 * Completeness comes from the table, never from the bus: each read returns the events after
 * the last one returned, in delivery order, so each is seen exactly once and in order even if
 * wake-ups are lost or repeated. On PostgreSQL an event becomes readable only once the
 * transactions older than its own have ended (see `readEvents`), so while committed events are
 * held back that way (or just after a wake-up) it reads again every few milliseconds, up to 50.
 *
 * @example
 * ```ts
 * const consumer = new EventConsumer(db, { siteId, wake: [localEvents] });
 * for (;;) for (const event of await consumer.next(30_000)) await deliver(event);
 * ```
 */
export class EventConsumer {
  readonly #db: SqlClient;
  readonly #options: EventConsumerOptions;
  #position: EventPosition;
  readonly #unsubscribe: Array<() => void>;
  #woken = false;
  #lastWakeAt = -Infinity;
  #wakeUp: (() => void) | undefined;
  /** Ends a pause between reads early: only closing does. */
  #endPause: (() => void) | undefined;
  #lastReadAt = -Infinity;
  #closed = false;

  constructor(db: SqlClient, options: EventConsumerOptions) {
    this.#db = db;
    this.#options = options;
    this.#position = options.after ?? START;
    const onWake = (events: readonly CommittedEvent[]) => {
      const siteId = options.siteId;
      if (siteId !== undefined && events.length > 0 && events.every((event) => event.siteId !== siteId)) return;
      this.#woken = true;
      this.#lastWakeAt = performance.now();
      this.#wakeUp?.();
    };
    this.#unsubscribe = options.wake.map((source) => source.subscribe(onWake));
  }

  /** The position after the last event returned: where a restarted consumer resumes. */
  get position(): EventPosition {
    return this.#position;
  }

  /**
   * The events after the last ones returned (at most `batchSize`), waiting up to `timeoutMs`
   * for one to commit; an empty list when none did in that time or the consumer was closed.
   */
  async next(timeoutMs: number): Promise<StoredEvent[]> {
    const deadline = performance.now() + timeoutMs;
    let retry = 2;
    while (!this.#closed) {
      const spacing = this.#lastReadAt + (this.#options.minReadIntervalMs ?? 0) - performance.now();
      if (spacing > 0) {
        // Not cut short by a wake-up: the commits of this pause are read together after it.
        await this.#pause(Math.min(spacing, Math.max(0, deadline - performance.now())));
        if (this.#closed) break;
      }
      this.#woken = false;
      this.#lastReadAt = performance.now();
      const events = await readEvents(this.#db, {
        siteId: this.#options.siteId,
        type: this.#options.type,
        after: this.#position,
        limit: this.#options.batchSize ?? 100,
      });
      const last = events.at(-1);
      if (last) {
        this.#position = { txId: last.txId, seq: last.seq };
        return events;
      }
      const now = performance.now();
      if (now >= deadline) return [];
      if (this.#woken) continue;
      // Woken lately, or events committed that an older transaction still holds back (the
      // wake-up for them may have come before this read): read again shortly.
      const soon =
        now - this.#lastWakeAt < AFTER_WAKE_MS ||
        (await eventsHeldBack(this.#db, { siteId: this.#options.siteId, type: this.#options.type, after: this.#position }));
      if (this.#woken) continue;
      const wait = soon ? retry : (this.#options.pollIntervalMs ?? 1000);
      retry = soon ? Math.min(retry * 2, 50) : 2;
      await this.#sleep(Math.min(wait, deadline - now));
    }
    return [];
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeUp = () => {
        this.#wakeUp = undefined;
        done();
      };
    });
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#endPause = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#endPause = done;
    });
  }

  /** Stops listening; a waiting {@link EventConsumer.next} returns at once. */
  close(): void {
    this.#closed = true;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#wakeUp?.();
    this.#endPause?.();
  }
}
