import type { Database } from '../db/types.js';
import type { WakeSource } from '../events/bus.js';
import type { MoneyContext, MoneyFeature } from '../money/operations.js';
import type { MoneyWriter } from '../money/writer.js';
import { EarningsAggregator, foldOperation } from './aggregates.js';
import { releaseOperation } from './release.js';
import { earningsHoldMs } from './summary.js';

/** The earnings' part in the money path: the aggregates' fold and the release (see `features.ts`). */
export const earningsMoney: MoneyFeature = { name: 'earnings', operations: [foldOperation, releaseOperation] };

/** How often the release job runs by default. */
const RELEASE_INTERVAL_MS = 60_000;

/** Settings of {@link startEarnings}; every field has a default. */
export interface EarningsSettings {
  /** The hold before earnings are available. @defaultValue `earningsHoldMs()` (7 days) */
  holdMs?: number | undefined;
  /** How often newly available earnings are released; 0 never (tests release by hand). @defaultValue 60000 */
  releaseIntervalMs?: number | undefined;
  /** The release job's clock. @defaultValue `Date.now` */
  now?: (() => number) | undefined;
}

/** The running earnings bookkeeping: the aggregates consumer and the release timer. */
export interface EarningsService {
  readonly aggregator: EarningsAggregator;
  /** The hold in force. */
  readonly holdMs: number;
  /** Runs the release job once now (the timer does it every minute). */
  release(): Promise<void>;
  close(): Promise<void>;
}

const NO_MONEY: MoneyContext = {
  get ledger(): never {
    throw new Error('earnings bookkeeping has no ledger');
  },
  settlementOf: () => {
    throw new Error('earnings bookkeeping settles no spend');
  },
};

/**
 * Where the aggregates' fold runs: as the webhook dispatcher's bookkeeping does, through the
 * money writer on SQLite (its thread holds the write lock: the fold shares its group commits),
 * and on PostgreSQL in a short transaction of its own beside the group commit (the cursor row
 * is locked, not the database).
 */
function bookkeeping(db: Database, writer: MoneyWriter): Pick<MoneyWriter, 'run'> {
  if (db.kind !== 'postgres') return writer;
  return { run: (operation, input) => db.transaction((tx) => operation.run(tx, NO_MONEY, input)) };
}

/**
 * Starts keeping earnings: the aggregates consumer, woken by `wake`, and the release job on a
 * timer (through the money writer, so each `earnings.available` commits with its record).
 */
export async function startEarnings(
  db: Database,
  writer: MoneyWriter,
  wake: readonly WakeSource[],
  settings: EarningsSettings = {},
): Promise<EarningsService> {
  const holdMs = settings.holdMs ?? earningsHoldMs();
  const now = settings.now ?? Date.now;
  const aggregator = new EarningsAggregator(db, bookkeeping(db, writer), { wake });
  await aggregator.start();
  let releasing: Promise<unknown> = Promise.resolve();
  const release = () => {
    const run = releasing.then(() => writer.run(releaseOperation, { now: now(), holdMs }));
    releasing = run.catch((error: unknown) => console.error('[earnings] the release failed', error));
    return run.then(() => undefined);
  };
  const interval = settings.releaseIntervalMs ?? RELEASE_INTERVAL_MS;
  const timer = interval > 0 ? setInterval(() => void release().catch(() => undefined), interval) : undefined;
  timer?.unref();
  let closing: Promise<void> | undefined;
  return {
    aggregator,
    holdMs,
    release,
    close() {
      closing ??= (async () => {
        if (timer) clearInterval(timer);
        await releasing;
        await aggregator.close();
      })();
      return closing;
    },
  };
}
