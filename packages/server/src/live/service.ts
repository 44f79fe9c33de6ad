import type { Database } from '../db/types.js';
import type { WakeSource } from '../events/bus.js';
import { EventConsumer } from '../events/consumer.js';
import type { EventPosition } from '../events/outbox.js';
import type { MoneyContext } from '../money/operations.js';
import type { MoneyWriter } from '../money/writer.js';
import { LIVE_EVENT_TYPES, liveFoldOperation, pruneLiveFeedOperation, readLiveCursor } from './fold.js';
import { LiveHub, liveFeedBus, type LiveHubOptions } from './hub.js';

/** How often the cursor is stored when a batch holds nothing live (it is only re-read after a restart). */
const CURSOR_FLUSH_MS = 1_000;

/**
 * The least time between two reads of the outbox (see `EventConsumer`), by database: under a
 * stream of gifts one fold takes about this much time's commits instead of each commit's own (a
 * lone gift after a quiet spell is folded at once). On SQLite the fold is a transaction on the
 * money writer and a longer one holds the spends behind it (`bench:api`'s p99), so 25 ms; on
 * PostgreSQL it is a transaction of its own of about 13 statements, each a round trip, and
 * 100 ms takes about 10% of the CPU off every gift, the platform's and PostgreSQL's alike
 * (`bench:api`, 2.2 → 1.8 statements per gift). A fold's pause adds at most that much to an
 * alert's latency, whose budget is p99 ≤ 250 ms (issue 15).
 */
const FOLD_INTERVAL_MS = { sqlite: 25, postgres: 100 } as const;

/** How often old feed items are deleted. */
const PRUNE_INTERVAL_MS = 10 * 60 * 1000;

/** Settings of {@link startLive}. */
export interface LiveSettings extends Pick<LiveHubOptions, 'heartbeatMs' | 'streamsPerAddress'> {
  /** @defaultValue `Date.now` */
  now?: (() => number) | undefined;
}

/** The running live features: the fold from the outbox to the feed, and this process's streams. */
export interface LiveService {
  readonly hub: LiveHub;
  /** Resolves once the feed includes every event readable now (tests). */
  caughtUp(): Promise<void>;
  close(): Promise<void>;
}

const NO_MONEY: MoneyContext = {
  get ledger(): never {
    throw new Error('the live fold has no ledger');
  },
  settlementOf: () => {
    throw new Error('the live fold settles no spend');
  },
};

/**
 * Starts the live features: a consumer of the outbox that folds gifts and sessions into the
 * live feed (through the money writer on SQLite, whose thread holds the write lock; in a short
 * transaction of its own on PostgreSQL, the cursor row locked), and the hub that streams the
 * feed to this process's clients.
 */
export async function startLive(
  db: Database,
  writer: MoneyWriter,
  wake: readonly WakeSource[],
  settings: LiveSettings = {},
): Promise<LiveService> {
  const now = settings.now ?? Date.now;
  const minReadIntervalMs = FOLD_INTERVAL_MS[db.kind];
  const runner: Pick<MoneyWriter, 'run'> =
    db.kind === 'postgres' ? { run: (operation, input) => db.transaction((tx) => operation.run(tx, NO_MONEY, input)) } : writer;
  let stored: EventPosition = await readLiveCursor(db, false);
  let consumer = new EventConsumer(db, { after: stored, wake, batchSize: 500, minReadIntervalMs });
  let closed = false;
  let lastFlushAt = 0;
  let lastPruneAt = 0;
  const waiters: Array<() => void> = [];
  const hub = new LiveHub(db, { ...settings, now, remote: wake.length > 1 ? wake.slice(1) : [] });
  await hub.start();

  const loop = (async () => {
    while (!closed) {
      try {
        const events = await consumer.next(waiters.length > 0 ? 50 : 1000);
        if (closed) break;
        const last = events.at(-1);
        if (!last) {
          for (const resolve of waiters.splice(0)) resolve();
          continue;
        }
        const to = { txId: last.txId, seq: last.seq };
        const live = events.filter((event) => LIVE_EVENT_TYPES.has(event.type));
        if (live.length === 0 && performance.now() - lastFlushAt < CURSOR_FLUSH_MS) continue;
        lastFlushAt = performance.now();
        const result = await runner.run(liveFoldOperation, { from: stored, to, events: live, now: now() });
        if (!result.applied) {
          consumer.close();
          consumer = new EventConsumer(db, { after: result.cursor, wake, batchSize: 500, minReadIntervalMs });
        }
        stored = result.cursor;
        if (result.creators.length > 0) liveFeedBus.publish([]);
        if (now() - lastPruneAt > PRUNE_INTERVAL_MS) {
          lastPruneAt = now();
          await runner.run(pruneLiveFeedOperation, { now: now() });
        }
      } catch (error) {
        if (closed) break;
        console.error('[live] folding failed; reading again from the stored cursor', error);
        consumer.close();
        stored = await readLiveCursor(db, false).catch(() => stored);
        consumer = new EventConsumer(db, { after: stored, wake, batchSize: 500, minReadIntervalMs });
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  })();

  return {
    hub,
    caughtUp: () => new Promise<void>((resolve) => waiters.push(resolve)),
    async close() {
      if (closed) return;
      closed = true;
      consumer.close();
      await loop;
      for (const resolve of waiters.splice(0)) resolve();
      await hub.close();
    },
  };
}
