import type { Database } from '../db/types.js';
import type { WakeSource } from '../events/bus.js';
import type { MoneyContext } from '../money/operations.js';
import type { MoneyWriter } from '../money/writer.js';
import type { Clock } from './clock.js';
import { WebhookDispatcher } from './dispatcher.js';
import type { Resolver } from './ssrf.js';
import { deliveriesQueued } from './wake.js';
import { DeliveryWorker } from './worker.js';

/** How the platform delivers webhooks (see {@link startWebhooks}); every field has a default. */
export interface WebhookSettings {
  /** Production address rules (see `ssrf.ts`). @defaultValue `NODE_ENV === 'production'` */
  production?: boolean | undefined;
  /** The clock retries go by (tests pass a `ManualClock`). @defaultValue the system clock */
  clock?: Clock | undefined;
  /** A 2xx must come within this. @defaultValue 15000 */
  timeoutMs?: number | undefined;
  /** How long a claimed attempt holds its delivery. @defaultValue timeoutMs + 15000 */
  leaseMs?: number | undefined;
  /** Most attempts in flight in this process. @defaultValue 64 */
  concurrency?: number | undefined;
  /** Most attempts in flight to one endpoint. @defaultValue 16 */
  perEndpoint?: number | undefined;
  /** Longest sleep between looks at the table. @defaultValue 1000 */
  pollIntervalMs?: number | undefined;
  /** The delay before the attempt after attempt `n` (tests shorten it). @defaultValue the published schedule */
  retryDelay?: ((attempt: number) => number | undefined) | undefined;
  /** Resolves endpoint host names (tests map names to addresses). @defaultValue `dns.lookup` */
  resolver?: Resolver | undefined;
  /** The worker's name in leases. @defaultValue from the process id */
  owner?: string | undefined;
}

/** The running delivery of webhooks: a dispatcher and a worker. */
export interface WebhookService {
  readonly dispatcher: WebhookDispatcher;
  readonly worker: DeliveryWorker;
  /** Stops both: the attempts in flight finish and are recorded, the cursor is stored. */
  close(): Promise<void>;
}

/** What refuses to be used: the webhooks' operations move no money. */
const NO_MONEY: MoneyContext = {
  get ledger(): never {
    throw new Error('webhook bookkeeping has no ledger');
  },
  settlementOf: () => {
    throw new Error('webhook bookkeeping settles no spend');
  },
};

/**
 * Where the delivery bookkeeping (`operations.ts`) runs. On SQLite, through the money writer:
 * its thread holds the write lock, and these writes share its group commits instead of
 * waiting for the lock on the event loop. On PostgreSQL, in transactions of their own on the
 * pool: rows are locked, not the database, so they run beside the money writer's group commit
 * (one transaction at a time, on one connection) instead of queueing in it behind the spends.
 */
export function bookkeepingRunner(db: Database, writer: MoneyWriter): Pick<MoneyWriter, 'run'> {
  if (db.kind !== 'postgres') return writer;
  return { run: (operation, input) => db.transaction((tx) => operation.run(tx, NO_MONEY, input)) };
}

/**
 * Starts delivering webhooks from `db`'s outbox: the dispatcher queues deliveries as events
 * commit, the worker posts them (bookkeeping by {@link bookkeepingRunner}).
 */
export async function startWebhooks(
  db: Database,
  writer: MoneyWriter,
  wake: readonly WakeSource[],
  settings: WebhookSettings = {},
): Promise<WebhookService> {
  const production = settings.production ?? process.env.NODE_ENV === 'production';
  const runner = bookkeepingRunner(db, writer);
  const worker = new DeliveryWorker(db, runner, {
    production,
    clock: settings.clock,
    timeoutMs: settings.timeoutMs,
    leaseMs: settings.leaseMs,
    concurrency: settings.concurrency,
    perEndpoint: settings.perEndpoint,
    pollIntervalMs: settings.pollIntervalMs,
    retryDelay: settings.retryDelay,
    resolver: settings.resolver,
    owner: settings.owner,
    wake: [deliveriesQueued],
  });
  const dispatcher = new WebhookDispatcher(db, runner, { wake, clock: settings.clock, onQueued: () => worker.wake(true) });
  await dispatcher.start();
  worker.start();
  let closing: Promise<void> | undefined;
  return {
    dispatcher,
    worker,
    close() {
      closing ??= (async () => {
        await dispatcher.close();
        await worker.close();
      })();
      return closing;
    },
  };
}
