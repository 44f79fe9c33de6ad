import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { WEBHOOK_FAILING_DISABLE_MS, WEBHOOK_RETRY_DELAYS_MS } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import type { WakeSource } from '../events/bus.js';
import type { MoneyWriter } from '../money/writer.js';
import { systemClock, type Clock, type ClockTimer } from './clock.js';
import { sendWebhook, type SendResult } from './deliver.js';
import { claimOperation, recordAttemptOperation, type AttemptOutcome, type ClaimedDelivery } from './operations.js';
import { sqlBoolean } from './endpoints.js';
import type { Resolver } from './ssrf.js';

/** Options of {@link DeliveryWorker}. */
export interface DeliveryWorkerOptions {
  /** Production rules for addresses (see `ssrf.ts`). */
  production: boolean;
  /** @defaultValue the system clock */
  clock?: Clock | undefined;
  /** A 2xx must come within this. @defaultValue 15000 */
  timeoutMs?: number | undefined;
  /** How long a claim holds before another process may take the delivery. @defaultValue timeoutMs + 15000 */
  leaseMs?: number | undefined;
  /** Most attempts in flight in this process. @defaultValue 64 */
  concurrency?: number | undefined;
  /** Most attempts in flight to one endpoint, across processes. @defaultValue 16 */
  perEndpoint?: number | undefined;
  /** Longest sleep between looks at the table, in the clock's time. @defaultValue 1000 */
  pollIntervalMs?: number | undefined;
  /** The delay before attempt `attempt + 1` after attempt `attempt` failed. @defaultValue {@link retryDelayMs} */
  retryDelay?: ((attempt: number) => number | undefined) | undefined;
  resolver?: Resolver | undefined;
  /** What else wakes it (deliveries queued by this process). */
  wake?: readonly WakeSource[] | undefined;
  /** This worker's name in leases and attempt rows. @defaultValue `pid:<pid>:<random>` */
  owner?: string | undefined;
}

/**
 * The delay before the next attempt after attempt `attempt` (from 1) failed: the published
 * schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), each ±10% at random so that an
 * endpoint's retries do not all come at once; `undefined` after the last attempt.
 */
export function retryDelayMs(attempt: number): number | undefined {
  const base = WEBHOOK_RETRY_DELAYS_MS[attempt - 1];
  if (base === undefined) return undefined;
  return Math.round(base * (0.9 + Math.random() * 0.2));
}

/** What the worker did, for tests and the benchmark. */
export interface WorkerStats {
  attempts: number;
  succeeded: number;
  failed: number;
  /** Attempts by how they were judged (`succeeded`, `retry`, `failed`, `gone`), for metrics. */
  outcomes?: Partial<Record<string, number>>;
}

/**
 * Claims due deliveries and posts them, signed, each on its own (a slow endpoint holds only
 * its own attempts: at most `perEndpoint` of them, while the other endpoints' go on), records
 * each result through the money writer, and schedules retries.
 *
 * @remarks
 * It looks at the table (a cheap read) and claims only when something is due, then sleeps until
 * the next due time, a wake-up (new deliveries) or a finished attempt. Claims are leases: a
 * process that dies mid-attempt loses nothing, its lease lapses and any worker tries again (at
 * least once; the receiver drops repeats by `webhook-id`). {@link DeliveryWorker.close} lets
 * the attempts in flight finish.
 */
export class DeliveryWorker {
  readonly #db: SqlClient;
  readonly #writer: Pick<MoneyWriter, 'run'>;
  readonly #clock: Clock;
  readonly #options: Required<Pick<DeliveryWorkerOptions, 'timeoutMs' | 'leaseMs' | 'concurrency' | 'perEndpoint' | 'pollIntervalMs'>> &
    DeliveryWorkerOptions;
  readonly #owner: string;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 64 }),
  };
  readonly #unsubscribe: Array<() => void>;
  #closed = false;
  #woken = false;
  /** Deliveries were queued since the last look (by this process's dispatcher or a replay). */
  #queued = false;
  #wakeUp: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  /** What it did so far. */
  readonly stats: WorkerStats = { attempts: 0, succeeded: 0, failed: 0, outcomes: {} };

  constructor(db: SqlClient, writer: Pick<MoneyWriter, 'run'>, options: DeliveryWorkerOptions) {
    this.#db = db;
    this.#writer = writer;
    this.#clock = options.clock ?? systemClock;
    const timeoutMs = options.timeoutMs ?? 15_000;
    this.#options = {
      ...options,
      timeoutMs,
      leaseMs: options.leaseMs ?? timeoutMs + 15_000,
      concurrency: options.concurrency ?? 64,
      perEndpoint: options.perEndpoint ?? 16,
      pollIntervalMs: options.pollIntervalMs ?? 1000,
    };
    this.#owner = options.owner ?? `pid:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#unsubscribe = (options.wake ?? []).map((source) => source.subscribe(() => this.wake(true)));
  }

  /** This worker's name in leases. */
  get owner(): string {
    return this.#owner;
  }

  /** Starts the loop. */
  start(): void {
    this.#loop ??= this.#run().catch((error: unknown) => console.error('[webhooks] the delivery worker stopped', error));
  }

  /** Looks at the table again now; `queued`: deliveries were queued, so some are due. */
  wake(queued = false): void {
    if (queued) this.#queued = true;
    this.#woken = true;
    this.#wakeUp?.();
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      this.#woken = false;
      let sleepMs = this.#options.pollIntervalMs;
      try {
        const free = this.#options.concurrency - this.#inFlight.size;
        const now = this.#clock.now();
        // Woken by new deliveries: something is due, no need to look first.
        const due = free <= 0 ? null : this.#queued ? now : await this.#nextDue();
        this.#queued = false;
        if (due !== null && due <= now) {
          const claimed = await this.#writer.run(claimOperation, {
            owner: this.#owner,
            now,
            limit: free,
            leaseMs: this.#options.leaseMs,
            perEndpoint: this.#options.perEndpoint,
          });
          for (const delivery of claimed) this.#attempt(delivery);
          if (claimed.length === free && !this.#closed) continue;
        } else if (due !== null) {
          sleepMs = Math.min(sleepMs, Math.max(1, due - now));
        }
      } catch (error) {
        if (this.#closed) return;
        console.error('[webhooks] claiming deliveries failed; trying again', error);
      }
      if (this.#woken || this.#closed) continue;
      await this.#sleep(sleepMs);
    }
  }

  /** When the next delivery is due (a lapsed lease counts as due), or null when none waits. */
  async #nextDue(): Promise<number | null> {
    const [row] = await this.#db.query<{ due: number | string | null }>(
      `SELECT min(d.next_attempt_at) AS due FROM webhook_deliveries d
       JOIN webhook_endpoints e ON e.id = d.endpoint_id
       WHERE d.status = 'pending' AND e.enabled = ? AND (d.lease_until IS NULL OR d.lease_until <= ?)`,
      [sqlBoolean(this.#db, true), this.#clock.now()],
    );
    if (row?.due === null || row?.due === undefined) {
      // One left waiting on an endpoint disabled by failures: a claim fails it (see failStranded).
      const stranded = await this.#db.query(
        `SELECT 1 AS one FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.status = 'pending' AND e.enabled = ? AND e.disabled_reason IN ('failing', 'gone')
           AND (d.lease_until IS NULL OR d.lease_until <= ?) LIMIT 1`,
        [sqlBoolean(this.#db, false), this.#clock.now()],
      );
      if (stranded.length > 0) return this.#clock.now();
      // Leased ones only: due again when their lease lapses (should their worker die).
      const [leased] = await this.#db.query<{ lease: number | string | null }>(
        `SELECT min(lease_until) AS lease FROM webhook_deliveries WHERE status = 'pending' AND lease_until IS NOT NULL`,
      );
      return leased?.lease === null || leased?.lease === undefined ? null : Number(leased.lease) + 1;
    }
    return Number(row.due);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: ClockTimer | undefined;
      const done = () => {
        timer?.cancel();
        this.#wakeUp = undefined;
        resolve();
      };
      this.#wakeUp = done;
      timer = this.#clock.setTimer(done, ms);
      // And a look in real time: a clock moved by a test (or a wall clock that jumped) is
      // noticed within the poll interval, whatever the clock's own timers do.
      const poll = setTimeout(done, this.#options.pollIntervalMs);
      poll.unref();
      const cancel = timer.cancel;
      timer = { cancel: () => (cancel(), clearTimeout(poll)) };
    });
  }

  #attempt(delivery: ClaimedDelivery): void {
    const running = this.#deliver(delivery)
      .catch((error: unknown) => console.error(`[webhooks] delivery ${delivery.id} could not be recorded`, error))
      .finally(() => {
        this.#inFlight.delete(running);
        this.wake();
      });
    this.#inFlight.add(running);
  }

  async #deliver(delivery: ClaimedDelivery): Promise<void> {
    this.stats.attempts++;
    const result = await sendWebhook(
      {
        url: delivery.url,
        messageId: delivery.eventId,
        body: delivery.body,
        secrets: delivery.secrets,
        headers: { 'diamonds-delivery-id': delivery.id, 'diamonds-delivery-attempt': String(delivery.attempt) },
      },
      { timeoutMs: this.#options.timeoutMs, production: this.#options.production, resolver: this.#options.resolver, agents: this.#agents },
    );
    const now = this.#clock.now();
    const { outcome, nextAttemptAt } = this.#judge(delivery.attempt, result, now);
    if (outcome === 'succeeded') this.stats.succeeded++;
    else this.stats.failed++;
    const outcomes = (this.stats.outcomes ??= {});
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    await this.#writer.run(recordAttemptOperation, {
      deliveryId: delivery.id,
      endpointId: delivery.endpointId,
      attempt: delivery.attempt,
      owner: this.#owner,
      now,
      outcome,
      nextAttemptAt,
      httpStatus: result.status,
      durationMs: result.durationMs,
      response: result.response,
      error: result.error,
      disableIfFailingSince: now - WEBHOOK_FAILING_DISABLE_MS,
    });
  }

  #judge(attempt: number, result: SendResult, now: number): { outcome: AttemptOutcome; nextAttemptAt: number | null } {
    if (result.ok) return { outcome: 'succeeded', nextAttemptAt: null };
    if (result.status === 410) return { outcome: 'gone', nextAttemptAt: null };
    const delay = (this.#options.retryDelay ?? retryDelayMs)(attempt);
    if (delay === undefined) return { outcome: 'failed', nextAttemptAt: null };
    return { outcome: 'retry', nextAttemptAt: now + delay };
  }

  /** Attempts in flight now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Stops claiming and waits for the attempts in flight to finish and be recorded (at most the
   * timeout each); then closes its connections.
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#wakeUp?.();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }
}
