import type { SqlClient } from '../db/types.js';
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

/**
 * Fixed one-minute windows of counts per key: small, and cleared whole each minute.
 *
 * @remarks With several processes on one PostgreSQL database the counts are shared through its
 * `rate_limits` table, in batches rather than a round trip per report: each process checks its
 * own hits plus every process's as last read, and about every {@link LIMITS_SYNC_MS} adds its
 * new hits there and reads the totals back ({@link MinuteCounts.handOver}, {@link MinuteCounts.takeBack}).
 * So the limits hold across processes, give or take what the others accept between two syncs.
 */
export class MinuteCounts {
  #window = 0;
  /** Hits taken here this minute and not yet handed over. */
  #local = new Map<string, number>();
  /** Hits handed over, whose totals have not come back yet. */
  #sending = new Map<string, number>();
  /** Every process's hits this minute, as last read from the database. */
  #shared = new Map<string, number>();

  #roll(now: number): number {
    const window = Math.floor(now / 60_000);
    if (window !== this.#window) {
      this.#window = window;
      this.#local.clear();
      this.#sending.clear();
      this.#shared.clear();
    }
    return window;
  }

  /** Adds `n` to `key`; false (adding nothing) when that would pass `limit`. */
  take(key: string, n: number, limit: number, now: number): boolean {
    this.#roll(now);
    const local = this.#local.get(key) ?? 0;
    const count = (this.#shared.get(key) ?? 0) + (this.#sending.get(key) ?? 0) + local + n;
    if (count > limit) return false;
    this.#local.set(key, local + n);
    return true;
  }

  /** Whether hits wait to be handed over. */
  get unshared(): boolean {
    return this.#local.size > 0;
  }

  /** The hits taken since the last hand-over, to add to the shared counts, and the minute they are of. */
  handOver(now: number): { minute: number; hits: Map<string, number> } {
    const minute = this.#roll(now);
    const hits = this.#local;
    for (const [key, n] of hits) this.#sending.set(key, (this.#sending.get(key) ?? 0) + n);
    this.#local = new Map();
    return { minute, hits };
  }

  /**
   * The shared totals after a hand-over of `minute` (every process's hits, this one's included),
   * or `undefined` when it failed: its hits count here again, to be handed over next time.
   */
  takeBack(minute: number, handed: Map<string, number>, totals: Map<string, number> | undefined): void {
    if (minute !== this.#window) return;
    for (const [key, n] of handed) {
      const sending = (this.#sending.get(key) ?? 0) - n;
      if (sending > 0) this.#sending.set(key, sending);
      else this.#sending.delete(key);
      if (totals === undefined) this.#local.set(key, (this.#local.get(key) ?? 0) + n);
    }
    for (const [key, total] of totals ?? []) this.#shared.set(key, total);
  }
}

/** How often a process shares its report counts with the others (on PostgreSQL). */
export const LIMITS_SYNC_MS = 100;

/** The `rate_limits` buckets of report limits: `boost-views:ip:…` and `boost-views:viewer:…`. */
const BUCKET_PREFIX = 'boost-views:';
/** Keys per statement when sharing counts. */
const SYNC_CHUNK = 400;

/**
 * Adds `hits` (by bucket) to the `rate_limits` counts of `minute` and returns every bucket's total.
 * Buckets in one order in every process, so that two processes' upserts never deadlock.
 */
async function shareCounts(db: SqlClient, minute: number, hits: Map<string, number>): Promise<Map<string, number>> {
  const windowStart = minute * 60_000;
  const buckets = [...hits.keys()].sort();
  const totals = new Map<string, number>();
  for (let i = 0; i < buckets.length; i += SYNC_CHUNK) {
    const chunk = buckets.slice(i, i + SYNC_CHUNK);
    const rows = await db.query<{ bucket: string; hits: number }>(
      `INSERT INTO rate_limits (bucket, window_start, hits) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}
       ON CONFLICT (bucket) DO UPDATE SET
         hits = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.hits + excluded.hits ELSE excluded.hits END,
         window_start = excluded.window_start
       RETURNING bucket, hits`,
      chunk.flatMap((bucket) => [bucket, windowStart, hits.get(bucket)!]),
    );
    for (const row of rows) totals.set(row.bucket, Number(row.hits));
  }
  return totals;
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
  /** Reports per viewer and per IP address this minute (`boost-views:viewer:…`, `boost-views:ip:…`). */
  readonly #counts = new MinuteCounts();
  /** Where the counts are shared with other processes (PostgreSQL), if anywhere. */
  readonly #shared: SqlClient | undefined;
  #syncTimer: ReturnType<typeof setTimeout> | undefined;
  /** The last minute whose older `boost-views:` rows were deleted. */
  #swept = -1;
  /** Running totals, for the bench and tests. */
  readonly stats: BufferStats = { accepted: 0, duplicates: 0, flushes: 0, counted: 0, failedFlushes: 0 };

  /**
   * @param shared - The PostgreSQL database that several platform processes may share: the
   * report limits are then counted across all of them. Without it (SQLite: one process) they
   * are counted in memory only.
   */
  constructor(writer: Pick<MoneyWriter, 'run'>, limits: ReportLimits = reportLimits(), now: () => number = Date.now, shared?: SqlClient) {
    this.#writer = writer;
    this.#limits = limits;
    this.#now = now;
    this.#shared = shared;
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
    const byIp = this.#counts.take(`${BUCKET_PREFIX}ip:${ip}`, views.length, this.#limits.perIp, now);
    if (byIp && this.#shared !== undefined && this.#syncTimer === undefined) {
      this.#syncTimer = setTimeout(() => void this.shareLimits(), LIMITS_SYNC_MS);
      this.#syncTimer.unref();
    }
    if (!byIp || !this.#counts.take(`${BUCKET_PREFIX}viewer:${viewer}`, views.length, this.#limits.perViewer, now)) {
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

  /**
   * Adds this process's report counts to those every process shares (PostgreSQL) and reads the
   * totals back; runs by itself about {@link LIMITS_SYNC_MS} after a report. Once a minute it
   * also deletes the counts of minutes past.
   */
  async shareLimits(): Promise<void> {
    clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    const db = this.#shared;
    if (db === undefined || !this.#counts.unshared) return;
    const now = this.#now();
    const { minute, hits } = this.#counts.handOver(now);
    let totals: Map<string, number> | undefined;
    try {
      totals = await shareCounts(db, minute, hits);
      if (this.#swept !== minute) {
        this.#swept = minute;
        // LIKE rather than a range: under a linguistic collation ':' and ';' may not sort as in ASCII.
        await db.run(`DELETE FROM rate_limits WHERE bucket LIKE ? AND window_start < ?`, [`${BUCKET_PREFIX}%`, minute * 60_000]);
      }
    } catch (error) {
      // Not money: the hits count here again and go with the next sync. Said, not hidden.
      console.error(`sharing ${hits.size} boost report counts failed`, error);
    }
    this.#counts.takeBack(minute, hits, totals);
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

/**
 * The buffer of the platform whose money writer is `writer` (one per app; made on first use).
 * On PostgreSQL (`db`), where several processes may serve one platform, its report limits are
 * shared with theirs.
 */
export function impressionBufferOf(writer: Pick<MoneyWriter, 'run'>, db?: SqlClient): ImpressionBuffer {
  let buffer = buffers.get(writer);
  if (!buffer) {
    buffer = new ImpressionBuffer(writer, reportLimits(), Date.now, db?.kind === 'postgres' ? db : undefined);
    buffers.set(writer, buffer);
  }
  return buffer;
}

/** Counts the views the platform of `writer` holds (before it closes, and in tests). */
export async function flushImpressions(writer: Pick<MoneyWriter, 'run'>): Promise<void> {
  await buffers.get(writer)?.flush();
}
