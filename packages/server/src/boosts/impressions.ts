import type { MoneyWriter } from '../money/writer.js';
import { ApiError } from '../errors.js';
import { BOOST_DAY_MS, recordViewsOperation, type BoostView } from './boosts.js';

/*
 * Reported impressions and clicks are accepted into memory and counted in batches: one money
 * operation (one group-committed transaction) per flush, every FLUSH_MS or FLUSH_ITEMS views,
 * never one per impression. What the buffer holds when the process dies is lost: views are not
 * money until they are counted, and a lost view only means a boost spent less.
 */

/** How long a view waits for its batch. */
export const FLUSH_MS = 100;
/** A batch this large is counted at once. */
export const FLUSH_ITEMS = 2_000;
/** Views held at most; beyond, reports are refused (`rate_limited`) until a flush drains them. */
const MAX_PENDING = 100_000;
/** Keys remembered for the in-memory dedupe before it starts over (the database dedupes anyway). */
const MAX_SEEN = 500_000;

/** The rate limits of reports, per minute (see docs/boosts.md for what they do not stop). */
export interface ReportLimits {
  /** Views one viewer id may report per minute. @defaultValue 600 */
  perViewer: number;
  /** Views one IP address may report per minute. @defaultValue 6,000 */
  perIp: number;
}

/** The limits from `DIAMONDS_BOOST_VIEWS_PER_VIEWER` and `DIAMONDS_BOOST_VIEWS_PER_IP` (per minute). */
export function reportLimits(env: Record<string, string | undefined> = process.env): ReportLimits {
  const read = (name: string, fallback: number) => {
    const value = Number(env[name]);
    return Number.isSafeInteger(value) && value > 0 ? value : fallback;
  };
  return { perViewer: read('DIAMONDS_BOOST_VIEWS_PER_VIEWER', 600), perIp: read('DIAMONDS_BOOST_VIEWS_PER_IP', 6_000) };
}

/** Fixed one-minute windows of counts per key: small, and cleared whole each minute. */
class MinuteCounter {
  #window = 0;
  #counts = new Map<string, number>();

  /** Adds `n` to `key`; false (adding nothing) when that would pass `limit`. */
  take(key: string, n: number, limit: number, now: number): boolean {
    const window = Math.floor(now / 60_000);
    if (window !== this.#window) {
      this.#window = window;
      this.#counts.clear();
    }
    const count = (this.#counts.get(key) ?? 0) + n;
    if (count > limit) return false;
    this.#counts.set(key, count);
    return true;
  }
}

/** What {@link ImpressionBuffer} counted since it started. */
export interface BufferStats {
  accepted: number;
  duplicates: number;
  flushes: number;
  counted: number;
  failedFlushes: number;
}

/**
 * The per-process buffer of reported views: rate limits, an in-memory dedupe of the day, and
 * batched counting through the money writer.
 */
export class ImpressionBuffer {
  readonly #writer: Pick<MoneyWriter, 'run'>;
  readonly #limits: ReportLimits;
  readonly #now: () => number;
  #pending: BoostView[] = [];
  #seen = new Set<string>();
  #seenDay = -1;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();
  readonly #byViewer = new MinuteCounter();
  readonly #byIp = new MinuteCounter();
  /** Running totals, for the bench and tests. */
  readonly stats: BufferStats = { accepted: 0, duplicates: 0, flushes: 0, counted: 0, failedFlushes: 0 };

  constructor(writer: Pick<MoneyWriter, 'run'>, limits: ReportLimits = reportLimits(), now: () => number = Date.now) {
    this.#writer = writer;
    this.#limits = limits;
    this.#now = now;
  }

  /**
   * Takes a report: its views not yet seen today join the next batch.
   *
   * @returns How many views were new (not duplicates of today's).
   * @throws {@link ApiError} `rate_limited` past a limit of the viewer or the IP address, or when
   * the buffer is full.
   */
  add(views: readonly BoostView[], ip: string): number {
    const now = this.#now();
    if (this.#pending.length + views.length > MAX_PENDING) {
      throw new ApiError('rate_limited', 'Too many views are waiting to be counted; report again in a moment.');
    }
    const viewer = views[0]?.viewer ?? '';
    if (
      !this.#byIp.take(ip, views.length, this.#limits.perIp, now) ||
      !this.#byViewer.take(viewer, views.length, this.#limits.perViewer, now)
    ) {
      throw new ApiError('rate_limited', 'Too many views reported from here this minute; report again in a minute.');
    }
    const day = Math.floor(now / BOOST_DAY_MS);
    if (day !== this.#seenDay || this.#seen.size > MAX_SEEN) {
      this.#seenDay = day;
      this.#seen.clear();
    }
    let accepted = 0;
    for (const view of views) {
      const key = `${view.boostId} ${view.kind} ${view.viewer}`;
      if (this.#seen.has(key)) {
        this.stats.duplicates += 1;
        continue;
      }
      this.#seen.add(key);
      this.#pending.push(view);
      accepted += 1;
    }
    this.stats.accepted += accepted;
    if (this.#pending.length >= FLUSH_ITEMS) void this.flush();
    else if (this.#pending.length > 0 && this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.#timer.unref();
    }
    return accepted;
  }

  /** Counts everything accepted so far; resolves once it is committed (or its batch failed and was logged). */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.#pending;
    this.#pending = [];
    // One batch at a time: the next waits for the previous commit, and grows meanwhile.
    this.#flushing = this.#flushing.then(async () => {
      for (let i = 0; i < batch.length; i += FLUSH_ITEMS) {
        const views = batch.slice(i, i + FLUSH_ITEMS);
        try {
          const counted = await this.#writer.run(recordViewsOperation, { now: this.#now(), views });
          this.stats.counted += counted.impressions + counted.clicks;
          this.stats.flushes += 1;
        } catch (error) {
          // Not money: the views are dropped and the boost simply spends less. Said, not hidden.
          this.stats.failedFlushes += 1;
          console.error(`counting ${views.length} boost views failed`, error);
        }
      }
    });
    return this.#flushing;
  }
}

const buffers = new WeakMap<object, ImpressionBuffer>();

/** The buffer of the platform whose money writer is `writer` (one per app; made on first use). */
export function impressionBufferOf(writer: Pick<MoneyWriter, 'run'>): ImpressionBuffer {
  let buffer = buffers.get(writer);
  if (!buffer) buffers.set(writer, (buffer = new ImpressionBuffer(writer)));
  return buffer;
}

/** Counts the views the platform of `writer` holds (before it closes, and in tests). */
export async function flushImpressions(writer: Pick<MoneyWriter, 'run'>): Promise<void> {
  await buffers.get(writer)?.flush();
}
