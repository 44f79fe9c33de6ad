import { timingSafeEqual, createHash } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database } from '../db/types.js';
import type { WriterStats } from '../money/writer.js';

/*
 * The platform's Prometheus metrics (prom-client), on a registry of each app's own (tests build
 * many apps in one process; the global registry would mix them). Request metrics are observed
 * as requests end; everything else is read when Prometheus scrapes, from what already counts
 * it (the writer's stats, the webhook worker's, the live hub, the pool, the outbox table).
 */

/** What the metrics read at scrape time; bound once the platform's parts have started. */
export interface MetricsSources {
  /** The writer's counts of group commits and of works committed in them. */
  writerStats?: () => Promise<WriterStats>;
  /** Webhook attempts by outcome (`succeeded`, `retry`, `failed`, `gone`) since the start. */
  webhookOutcomes?: () => Readonly<Partial<Record<string, number>>> | undefined;
  /** Live (SSE) subscribers connected to this process. */
  liveSubscribers?: () => number;
}

/** The outbox's consumers: each keeps its position in a table of its own (see their schemas). */
const CONSUMERS: ReadonlyArray<{ consumer: string; table: string; name: string }> = [
  { consumer: 'webhooks', table: 'webhook_cursor', name: 'dispatcher' },
  { consumer: 'earnings', table: 'earnings_cursor', name: 'aggregates' },
  { consumer: 'live', table: 'live_cursor', name: 'feed' },
];

/** The most events counted behind a consumer: past it the lag reads as this (bounds the scrape). */
const MAX_COUNTED_LAG = 100_000;

/** How far behind the outbox each consumer is: events not passed yet, and the oldest one's age. */
async function outboxLag(db: Database, now: number): Promise<Array<{ consumer: string; events: number; seconds: number }>> {
  const lag: Array<{ consumer: string; events: number; seconds: number }> = [];
  for (const { consumer, table, name } of CONSUMERS) {
    const [cursor] = await db.query<{ tx_id: number; seq: number }>(`SELECT tx_id, seq FROM ${table} WHERE name = ?`, [name]);
    if (!cursor) continue;
    // The order readers go by (see events/outbox.ts): seq on SQLite, (tx_id, seq) on PostgreSQL.
    const after = db.kind === 'postgres' ? '(tx_id, seq) > (?, ?)' : 'seq > ?';
    const params = db.kind === 'postgres' ? [Number(cursor.tx_id), Number(cursor.seq)] : [Number(cursor.seq)];
    const order = db.kind === 'postgres' ? 'tx_id, seq' : 'seq';
    const [count] = await db.query<{ n: number }>(
      `SELECT count(*) AS n FROM (SELECT 1 FROM events WHERE ${after} LIMIT ${MAX_COUNTED_LAG}) behind`,
      params,
    );
    const [oldest] = await db.query<{ created_at: number }>(
      `SELECT created_at FROM events WHERE ${after} ORDER BY ${order} LIMIT 1`,
      params,
    );
    lag.push({
      consumer,
      events: Number(count?.n ?? 0),
      seconds: oldest ? Math.max(0, (now - Number(oldest.created_at)) / 1000) : 0,
    });
  }
  return lag;
}

/** Seconds, for request latencies: from 1 ms to 10 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds, for the money writer's answers: finer where a spend's latency budget (20 ms) is spent. */
const WRITER_WAIT_BUCKETS = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 1, 5];

/**
 * The platform's metrics on a registry of its own.
 *
 * @example
 * ```ts
 * const metrics = new PlatformMetrics(db);
 * metrics.observeRequest('POST', '/v1/gifts', 200, 0.004);
 * const text = await metrics.render();
 * ```
 */
export class PlatformMetrics {
  /** The registry every metric here is on. */
  readonly registry = new Registry();
  /** Requests answered, by method, route pattern and status. */
  readonly requests: Counter<'method' | 'route' | 'status'>;
  /** How long requests took to answer, by method, route pattern and status. */
  readonly requestDuration: Histogram<'method' | 'route' | 'status'>;
  /**
   * How long money operations waited for the money writer, by operation (`gifts.send`,
   * `live.fold`…): fed by the money writer (`WriterObserver`).
   */
  readonly writerWait: Histogram<'operation'>;
  #sources: MetricsSources = {};

  /**
   * @param options.processMetrics - Also prom-client's process metrics (CPU, memory, event-loop
   * lag, GC): they start monitors of their own, so only when someone will scrape. @defaultValue true
   */
  constructor(db: Database, options: { processMetrics?: boolean } = {}) {
    const registry = this.registry;
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'diamonds_' });
    this.requests = new Counter({
      name: 'diamonds_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    });
    this.requestDuration = new Histogram({
      name: 'diamonds_http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.writerWait = new Histogram({
      name: 'diamonds_writer_wait_seconds',
      help: 'Time from asking the money writer to its answer (its queue, the group commit and its fsync, the hand-over between threads), by operation.',
      labelNames: ['operation'],
      buckets: WRITER_WAIT_BUCKETS,
      registers: [registry],
    });
    const sources = () => this.#sources;
    let lastWriter: WriterStats | undefined;
    const writerStats = async () => {
      lastWriter = (await sources().writerStats?.()) ?? lastWriter;
      return lastWriter;
    };
    new Counter({
      name: 'diamonds_writer_commits_total',
      help: 'Group commits of the money writer (one database transaction each).',
      registers: [registry],
      async collect() {
        const stats = await writerStats();
        this.reset();
        if (stats) this.inc(stats.batches);
      },
    });
    new Counter({
      name: 'diamonds_writer_committed_works_total',
      help: 'Money operations committed by the writer; divided by commits, the mean batch size.',
      registers: [registry],
      async collect() {
        const stats = await writerStats();
        this.reset();
        if (stats?.works !== undefined) this.inc(stats.works);
      },
    });
    new Gauge({
      name: 'diamonds_writer_last_batch_size',
      help: 'Money operations in the last group commit.',
      registers: [registry],
      async collect() {
        this.set((await writerStats())?.lastBatchSize ?? 0);
      },
    });
    new Counter({
      name: 'diamonds_webhook_attempts_total',
      help: 'Webhook delivery attempts made by this process, by outcome (succeeded, retry, failed, gone).',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [outcome, count] of Object.entries(sources().webhookOutcomes?.() ?? {})) this.inc({ outcome }, count ?? 0);
      },
    });
    new Gauge({
      name: 'diamonds_webhook_deliveries_pending',
      help: 'Webhook deliveries waiting for a (next) attempt, across every process.',
      registers: [registry],
      async collect() {
        const [row] = await db.query<{ n: number }>(`SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'`);
        this.set(Number(row?.n ?? 0));
      },
    });
    new Gauge({
      name: 'diamonds_live_subscribers',
      help: 'Live (server-sent events) streams open on this process.',
      registers: [registry],
      collect() {
        this.set(sources().liveSubscribers?.() ?? 0);
      },
    });
    // One scan of the consumers' positions serves both lag gauges of a scrape (collected in parallel).
    let lagScan: { at: number; result: Promise<Array<{ consumer: string; events: number; seconds: number }>> } | undefined;
    const scanLag = () => {
      const now = Date.now();
      if (lagScan && now - lagScan.at < 250) return lagScan.result;
      lagScan = { at: now, result: outboxLag(db, now) };
      return lagScan.result;
    };
    new Gauge({
      name: 'diamonds_outbox_lag_events',
      help: `Committed events a consumer has not passed yet (counted up to ${MAX_COUNTED_LAG}).`,
      labelNames: ['consumer'],
      registers: [registry],
      async collect() {
        for (const { consumer, events } of await scanLag()) this.set({ consumer }, events);
      },
    });
    new Gauge({
      name: 'diamonds_outbox_lag_seconds',
      help: 'Age of the oldest committed event a consumer has not passed yet (0 when caught up).',
      labelNames: ['consumer'],
      registers: [registry],
      async collect() {
        for (const { consumer, seconds } of await scanLag()) this.set({ consumer }, seconds);
      },
    });
    if (db.kind === 'postgres') {
      const pool = new Gauge({
        name: 'diamonds_db_pool_connections',
        help: 'PostgreSQL pool connections of this process, by state (in_use, idle, max); waiting counts queued requests.',
        labelNames: ['state'],
        registers: [registry],
        collect() {
          const stats = db.poolStats?.();
          if (!stats) return;
          pool.set({ state: 'in_use' }, stats.total - stats.idle);
          pool.set({ state: 'idle' }, stats.idle);
          pool.set({ state: 'max' }, stats.max);
          pool.set({ state: 'waiting' }, stats.waiting);
        },
      });
    }
  }

  /** Sets what is read at scrape time (see {@link MetricsSources}). */
  bind(sources: MetricsSources): void {
    this.#sources = { ...this.#sources, ...sources };
  }

  /** Counts one answered request. `route` is the pattern (`/v1/orders/:id`), never the raw path. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.requestDuration.observe(labels, seconds);
  }

  /** The metrics in Prometheus' text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of {@link PlatformMetrics.render}'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * Whether an `Authorization` header carries `Bearer <token>` for the configured token, compared
 * in constant time (over hashes, so lengths do not leak either).
 */
export function metricsAuthorized(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(match[1]), digest(token));
}
