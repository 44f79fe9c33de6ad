import type { EventType } from '@diamonds/protocol';

/** What the bus says of a committed event: enough to decide whether to read the table. */
export interface CommittedEvent {
  id: string;
  type: EventType;
  /** Null for a fan's private event (a top-up). */
  siteId: string | null;
}

/**
 * Called when events committed. An empty list means "something committed, read the table"
 * (a PostgreSQL `NOTIFY` from another process says no more than that).
 */
export type EventWakeListener = (events: readonly CommittedEvent[]) => void;

/** Something that wakes consumers when events commit: the in-process bus, a `LISTEN`er. */
export interface WakeSource {
  /** Calls `listener` on each wake-up until the returned function is called. */
  subscribe(listener: EventWakeListener): () => void;
}

/**
 * An in-process publisher of committed events: it only wakes consumers, which then read the
 * `events` table by cursor (so a missed or duplicated wake-up loses and repeats nothing).
 */
export class EventBus implements WakeSource {
  readonly #listeners = new Set<EventWakeListener>();

  subscribe(listener: EventWakeListener): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Tells every subscriber; a subscriber that throws is logged and does not stop the others. */
  publish(events: readonly CommittedEvent[]): void {
    for (const listener of this.#listeners) {
      try {
        listener(events);
      } catch (error) {
        console.error('[events] a subscriber failed', error);
      }
    }
  }

  /** How many subscribers listen (for tests). */
  get size(): number {
    return this.#listeners.size;
  }
}

/**
 * This process's bus: what `appendEvent` publishes on once the transaction committed, and what
 * the writer thread's events are published on when its answers come back.
 *
 * @remarks One per process (per thread, in fact: the writer thread has its own, which it
 * forwards to the main thread), because events are appended deep inside money transactions
 * that do not carry the app. It holds no state but its subscribers.
 */
export const localEvents = new EventBus();
