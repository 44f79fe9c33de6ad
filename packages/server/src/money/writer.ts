import { Worker } from 'node:worker_threads';
import type { Database } from '../db/types.js';
import type { ErrorCode } from '@diamonds/protocol';
import { ApiError } from '../errors.js';
import type { GroupCommit } from '../ledger/group-commit.js';
import type { Ledger } from '../ledger/ledger.js';
import type { SqlClient } from '../db/types.js';
import { idempotent, type IdempotentResult, type StoredResponse } from './idempotency.js';
import type { MoneyContext, MoneyOperation, MoneyRegistry } from './operations.js';
import { localEvents, type CommittedEvent } from '../events/bus.js';
import { WAL_SAFETY_PAGES } from '../db/checkpointer.js';

/** An idempotent operation's answer, ready to send: its status, its body as JSON text, and whether it was replayed. */
export type IdempotentAnswer = Pick<IdempotentResult, 'status' | 'json' | 'replayed'>;

/** What of an idempotent result crosses back to the route: no parsed body, which would be cloned for nothing. */
export function toIdempotentAnswer({ status, json, replayed }: IdempotentResult): IdempotentAnswer {
  return { status, json, replayed };
}

/** The caller's `Idempotency-Key` for an operation: run once, its answer replayed after. */
export interface IdempotencyClaim {
  /** The idempotency scope (the fan on a site: `fanScope`; a site's backend: `siteScope`). */
  scope: string;
  /** The request's `Idempotency-Key`. */
  key: string;
  /** The request's fingerprint (method, path, body): a reused key with another body is refused. */
  fingerprint: string;
}

/** How much database work the writer has done: the figures `npm run bench:api` explains itself with. */
export interface WriterStats {
  /** Group-committed transactions. */
  batches: number;
  /** Statements the writer sent (counted on the writer thread only; 0 when it runs inline). */
  statements: number;
  /** Money operations those transactions carried (their mean batch size is `works / batches`). */
  works?: number;
  /** Money operations in the last group commit. */
  lastBatchSize?: number;
  /**
   * The longest group commit, in ms (see GroupCommit.slowestBatchMs): since the writer started,
   * or since the last stats call that asked to restart the count.
   */
  slowestBatchMs?: number;
}

/**
 * The one writer of money: every write that moves Diamonds or changes the state of a spend
 * (spends, confirmations, top-ups, refunds, the sweeper…) is a registered
 * {@link MoneyOperation} run here, group-committed, its answer given only once the
 * transaction is durable and its events published.
 *
 * @remarks On SQLite it runs on a writer thread with the only connection that writes these
 * tables, so statements and the commit's fsync stay off the event loop; on PostgreSQL (and an
 * in-memory SQLite database) the same interface runs inline on this thread's group commit.
 */
export interface MoneyWriter {
  /** `thread`: on a writer thread with its own connection; `inline`: on this thread's group commit. */
  readonly mode: 'thread' | 'inline';
  /**
   * Runs `operation` once (a failed run leaves nothing behind and may be retried).
   *
   * @throws {@link ApiError} the operation's refusal (nothing moved); any other error is unexpected.
   */
  run<Input, Output>(operation: MoneyOperation<Input, Output>, input: Input): Promise<Output>;
  /**
   * Runs `operation` under the caller's idempotency key: the first time for real, its answer
   * stored in the same transaction; a retry with the same key gets that answer back.
   *
   * @throws {@link ApiError} the operation's refusal, `idempotency_key_reused`,
   * `idempotency_request_in_progress`.
   */
  runIdempotent<Input>(operation: MoneyOperation<Input, StoredResponse>, input: Input, claim: IdempotencyClaim): Promise<IdempotentAnswer>;
  /**
   * The work done so far. With `restartSlowest`, the slowest commit's count starts again after
   * this answer (a benchmark does so between its runs; the metrics never do).
   */
  stats(options?: StatsOptions): Promise<WriterStats>;
  /** Waits for the operations in flight, then stops (the thread and its connection). */
  close(): Promise<void>;
}

/** One request to the writer, as data: the operation by name, its input, its idempotency key if any. */
export interface MoneyRequest {
  operation: string;
  input: unknown;
  claim?: IdempotencyClaim;
}

/**
 * Runs `request` in `tx` with the registered operation of its name (what both the inline
 * writer and the writer thread do): under its idempotency key when it has one.
 */
export async function runMoneyRequest(
  tx: SqlClient,
  registry: MoneyRegistry,
  money: MoneyContext,
  request: MoneyRequest,
): Promise<unknown> {
  const operation = registry.operation<unknown, unknown>(request.operation);
  if (!request.claim) return operation.run(tx, money, request.input);
  const result = await idempotent(tx, request.claim, () => operation.run(tx, money, request.input) as Promise<StoredResponse>, Date.now(), {
    claimInSpend: operation.claimsAnswerInSpend === true,
  });
  return toIdempotentAnswer(result);
}

/**
 * Runs money operations on this thread's {@link GroupCommit}: for PostgreSQL (whose client does
 * not block the event loop) and for an in-memory SQLite database, which another connection
 * cannot open.
 */
export function inlineMoneyWriter(registry: MoneyRegistry, ledger: Ledger, commits: GroupCommit, observe?: WriterObserver): MoneyWriter {
  const money = registry.contextFor(ledger);
  const execute = (request: MoneyRequest) =>
    observed(
      observe,
      request.operation,
      commits.run((tx) => runMoneyRequest(tx, registry, money, request)),
    );
  return {
    mode: 'inline',
    run: (operation, input) => execute({ operation: operation.name, input }) as Promise<never>,
    runIdempotent: (operation, input, claim) => execute({ operation: operation.name, input, claim }) as Promise<IdempotentAnswer>,
    stats: (options) =>
      Promise.resolve({
        batches: commits.batches,
        statements: 0,
        works: commits.works,
        lastBatchSize: commits.lastBatchSize,
        slowestBatchMs: slowestOf(commits, options),
      }),
    close: () => Promise.resolve(),
  };
}

/**
 * Told how long each money operation waited for its answer, from being asked to the answer
 * (refusals included), in seconds: its queue, its group commit with the fsync, and on SQLite the
 * hand-over to and from the writer thread (`diamonds_writer_wait_seconds`).
 */
export type WriterObserver = (operation: string, seconds: number) => void;

/** `answer`, its time from now until it settles given to `observe`. */
function observed<T>(observe: WriterObserver | undefined, operation: string, answer: Promise<T>): Promise<T> {
  if (observe === undefined) return answer;
  const askedAt = performance.now();
  const answered = () => observe(operation, (performance.now() - askedAt) / 1000);
  // A branch of its own, handled: the caller still gets the refusal.
  answer.then(answered, answered);
  return answer;
}

/** A request on its way to the writer thread, numbered to match its answer. */
export interface NumberedRequest {
  id: number;
  request: MoneyRequest;
}

/** An answer from the writer thread. */
export type WriterAnswer = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: CrossingError };

/**
 * What the writer thread is told. Requests travel in batches: those a turn of the event loop
 * brought go in one message (one wake-up of the thread, one group commit).
 */
/** What {@link MoneyWriter.stats} may be asked. */
export interface StatsOptions {
  /** Start counting the slowest commit again after this answer. */
  restartSlowest?: boolean | undefined;
}

/** The group commit's slowest batch (to 0.1 ms), its count started again when asked. @internal */
export function slowestOf(commits: GroupCommit, options: StatsOptions = {}): number {
  const slowest = commits.slowestBatchMs;
  if (options.restartSlowest) commits.slowestBatchMs = 0;
  return Math.round(slowest * 10) / 10;
}

export type ToWriter =
  { type: 'requests'; requests: NumberedRequest[] } | { type: 'stats'; id: number; options: StatsOptions } | { type: 'close' };

/** An error as it crosses from the writer thread: an {@link ApiError} keeps its code and param. */
export type CrossingError =
  { api: true; code: ErrorCode; message: string; param: string | undefined } | { api: false; message: string; stack: string | undefined };

/**
 * What the writer thread answers; the answers of one group commit travel together, with the
 * events that commit appended (published on the main thread's bus, see `events/bus.ts`).
 */
export type FromWriter =
  | { type: 'ready' }
  | { type: 'answers'; answers: WriterAnswer[]; events: CommittedEvent[] }
  | { type: 'stats'; id: number; stats: WriterStats };

/** What the writer thread starts from. */
export interface WriterData {
  /** The SQLite file (already migrated). */
  file: string;
}

/** Flattens an error so that it survives `postMessage` (class and getters would not). */
export function toCrossingError(error: unknown): CrossingError {
  if (error instanceof ApiError) return { api: true, code: error.code, message: error.message, param: error.param };
  const { message, stack } = error instanceof Error ? error : { message: String(error), stack: undefined };
  return { api: false, message, stack };
}

function fromCrossingError(error: CrossingError): Error {
  if (error.api) return new ApiError(error.code, error.message, { param: error.param });
  const unexpected = new Error(`writer thread: ${error.message}`);
  if (error.stack) unexpected.stack = `${unexpected.name}: writer thread: ${error.stack}`;
  return unexpected;
}

interface Pending {
  resolve(value: never): void;
  reject(error: unknown): void;
}

/**
 * Runs money operations on a writer thread that has its own connection to the SQLite file and
 * its own group commit.
 *
 * @remarks
 * better-sqlite3 is synchronous: on the main thread, every statement of a spend and every
 * `COMMIT` (an fsync with `synchronous=FULL`) stops the event loop, so requests that arrive
 * meanwhile wait to be even read, and the slowest fsync lands in every request's latency. On
 * the writer thread the main thread keeps parsing, authenticating and answering while a
 * batch is written; the spends of that time go together into the next batch. Other writes
 * (sign-in, sessions, sites, content) stay on the main connection: SQLite serialises the two
 * writers with `BEGIN IMMEDIATE` and its busy wait, and the main one never writes money.
 *
 * Should the thread die, the spends in flight fail (safe to retry with the same key: each
 * either committed whole or not at all) and the next spend starts a new thread.
 */
export class ThreadMoneyWriter implements MoneyWriter {
  readonly mode = 'thread' as const;
  readonly #data: WriterData;
  readonly #observe: WriterObserver | undefined;
  #worker: Promise<Worker> | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #askedOf = new WeakMap<Worker, Set<number>>();
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Requests of this turn of the event loop, not yet sent. */
  readonly #outbox: NumberedRequest[] = [];
  #closing: Promise<void> | undefined;

  /** Starts the thread (see {@link ThreadMoneyWriter.start}). */
  private constructor(data: WriterData, observe: WriterObserver | undefined) {
    this.#data = data;
    this.#observe = observe;
  }

  /** Starts a writer thread on `file` and waits until its connection is open; `observe` times each operation. */
  static async start(file: string, observe?: WriterObserver): Promise<ThreadMoneyWriter> {
    const writer = new ThreadMoneyWriter({ file }, observe);
    await writer.#spawn();
    return writer;
  }

  #spawn(): Promise<Worker> {
    const started = new Promise<Worker>((resolve, reject) => {
      // From the TypeScript sources (tests, benchmarks under tsx), the thread loads tsx first:
      // a worker's entry does not go through the loader hooks the main thread registered.
      const fromSources = import.meta.url.endsWith('.ts');
      const entry = new URL(fromSources ? './writer-thread.ts' : './writer-thread.js', import.meta.url).href;
      const code = fromSources
        ? `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`
        : `import(${JSON.stringify(entry)})`;
      const worker = new Worker(code, { eval: true, workerData: this.#data satisfies WriterData });
      // What this thread was asked and has not answered: only these fail with it, not the
      // questions a thread started after it is already answering.
      const unanswered = new Set<number>();
      this.#askedOf.set(worker, unanswered);
      let ready = false;
      let dead = false;
      const settle = (id: number, how: (pending: Pending) => void) => {
        unanswered.delete(id);
        this.#settle(id, how);
      };
      worker.on('message', (message: FromWriter) => {
        if (message.type === 'ready') {
          ready = true;
          resolve(worker);
        } else if (message.type === 'stats') {
          settle(message.id, (pending) => pending.resolve(message.stats as never));
        } else {
          // The events committed before their answers: consumers are woken first.
          if (message.events.length > 0) localEvents.publish(message.events);
          for (const answer of message.answers) {
            settle(answer.id, (pending) =>
              answer.ok ? pending.resolve(answer.result as never) : pending.reject(fromCrossingError(answer.error)),
            );
          }
        }
      });
      // 'error' and then 'exit' both come for one death: it is handled once.
      const failed = (error: Error) => {
        if (dead) return;
        dead = true;
        if (this.#worker === started) this.#worker = undefined;
        if (!ready) reject(error);
        this.#askedOf.delete(worker);
        for (const id of unanswered) this.#settle(id, (pending) => pending.reject(error));
        unanswered.clear();
      };
      worker.on('error', (error) => failed(error));
      worker.on('exit', (code) => failed(new Error(`the writer thread stopped (exit code ${code})`)));
    });
    this.#worker = started;
    return started;
  }

  #settle(id: number, settle: (pending: Pending) => void): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    settle(pending);
  }

  /** Registers a question to the thread; its promise settles with the thread's answer. */
  #expect<T>(id: number): Promise<T> {
    if (this.#closing) return Promise.reject(new Error('the money writer is closed'));
    const answer = new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: never) => void, reject });
    });
    this.#inFlight.add(answer);
    const settled = () => void this.#inFlight.delete(answer);
    answer.then(settled, settled);
    return answer;
  }

  #send(message: ToWriter, ids: number[]): void {
    (this.#worker ?? this.#spawn()).then(
      (worker) => {
        const unanswered = this.#askedOf.get(worker);
        if (!unanswered) {
          // The thread died between being picked and being asked: nothing was sent to it.
          const error = new Error('the writer thread stopped');
          for (const id of ids) this.#settle(id, (pending) => pending.reject(error));
          return;
        }
        for (const id of ids) unanswered.add(id);
        worker.postMessage(message);
      },
      (error: unknown) => {
        for (const id of ids) this.#settle(id, (pending) => pending.reject(error));
      },
    );
  }

  #execute(request: MoneyRequest): Promise<unknown> {
    const id = this.#nextId++;
    const answer = observed(this.#observe, request.operation, this.#expect<unknown>(id));
    if (this.#closing) return answer;
    this.#outbox.push({ id, request });
    if (this.#outbox.length === 1) {
      // After pending I/O has been read: the requests of this turn go to the thread together.
      setImmediate(() => {
        const requests = this.#outbox.splice(0);
        this.#send(
          { type: 'requests', requests },
          requests.map((r) => r.id),
        );
      });
    }
    return answer;
  }

  run<Input, Output>(operation: MoneyOperation<Input, Output>, input: Input): Promise<Output> {
    return this.#execute({ operation: operation.name, input }) as Promise<Output>;
  }

  runIdempotent<Input>(operation: MoneyOperation<Input, StoredResponse>, input: Input, claim: IdempotencyClaim): Promise<IdempotentAnswer> {
    return this.#execute({ operation: operation.name, input, claim }) as Promise<IdempotentAnswer>;
  }

  stats(options: StatsOptions = {}): Promise<WriterStats> {
    const id = this.#nextId++;
    const answer = this.#expect<WriterStats>(id);
    if (!this.#closing) this.#send({ type: 'stats', id, options }, [id]);
    return answer;
  }

  /**
   * Stops the thread at once, as a crash would, to prove in tests that the writer recovers.
   * @internal
   */
  async crashThreadForTests(): Promise<void> {
    const worker = await this.#worker;
    await worker?.terminate();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      // Requests in flight are answered first: the thread finishes its queue before it stops.
      await Promise.allSettled([...this.#inFlight]);
      const worker = await this.#worker?.catch(() => undefined);
      if (!worker) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage({ type: 'close' } satisfies ToWriter);
      await exited;
    })();
    return this.#closing;
  }
}

/**
 * The money writer for `db`: a writer thread for an SQLite file (unless `mode` is `inline`),
 * this thread's group commit otherwise.
 */
export async function openMoneyWriter(
  db: Database,
  registry: MoneyRegistry,
  ledger: Ledger,
  commits: GroupCommit,
  mode: 'thread' | 'inline' = 'thread',
  observe?: WriterObserver,
): Promise<MoneyWriter> {
  if (mode === 'thread' && db.kind === 'sqlite' && db.file !== undefined && db.file !== ':memory:') {
    const writer = await ThreadMoneyWriter.start(db.file, observe);
    // The writer thread's checkpointer copies the WAL back: this connection's rare commits
    // (sign-ins, sessions) must not do it on the event loop meanwhile (see db/checkpointer.ts).
    await db.query(`PRAGMA wal_autocheckpoint = ${WAL_SAFETY_PAGES}`);
    return writer;
  }
  return inlineMoneyWriter(registry, ledger, commits, observe);
}
