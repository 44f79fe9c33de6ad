import { setTimeout as sleep } from 'node:timers/promises';
import type { Database, SqlClient, SqlValue, TransactionOptions } from '../db/types.js';
import { MONEY_BATCH_LOCK_ID } from '../db/locks.js';
import type { BatchItemResult, Ledger, TransferRequest, TransferResult } from './ledger.js';

/** Options of {@link GroupCommit}. */
export interface GroupCommitOptions {
  /** Most transfers in one database transaction. @defaultValue 100 */
  maxBatch?: number;
  /**
   * The least time from the start of one batch of {@link GroupCommit.run} work to the start of
   * the next, unless a full batch is waiting. A lone request after a quiet spell starts at
   * once; under a steady trickle of requests, each commit (and its fsync) carries several of
   * them instead of one, which costs the disk and the CPU far less per request.
   * @defaultValue 0
   */
  minBatchIntervalMs?: number;
}

interface Waiting {
  request: TransferRequest;
  resolve(result: TransferResult): void;
  reject(error: unknown): void;
}

interface WaitingWork {
  work: (tx: SqlClient) => Promise<unknown>;
  resolve(result: unknown): void;
  reject(error: unknown): void;
}

/** What a work of a batch attempt did so far, for `GroupCommit.#runBatch`. */
interface WorkFlags {
  /** Whether it opened a savepoint of its own. */
  own: boolean;
  /**
   * Whether it wrote outside any savepoint of its own: a self-contained statement that wrote (or
   * failed), or on SQLite any statement that changed a row in a batch run without savepoints.
   */
  unguarded: boolean;
  /** A deadlock or serialization failure it met, should it throw another error. */
  lostRace: unknown;
  /** Whether it sent (or asked to send) a statement. */
  touched: boolean;
  /**
   * Why its savepoint could not be opened (the advisory lock that goes with it timed out, say):
   * the transaction is aborted, so the batch fails with this error rather than roll back to a
   * savepoint that does not exist.
   */
  guardFailed?: unknown;
}

/** A work of a batch attempt as it runs: see `GroupCommit.#runBatch`. */
interface RunningWork {
  /** Its handle on the transaction. */
  itemTx: SqlClient;
  /** What it asked to run after the commit. */
  callbacks: Array<() => void>;
  flags: WorkFlags;
  /** Lets its statements that wait for their turn go. */
  giveTurn: () => void;
  /** Where it first stopped: a statement sent early, a statement waiting for its turn, or the end. */
  stopped: Promise<'ahead' | 'waiting' | 'settled'>;
  /** Its outcome, once it finished. */
  settled: Promise<WorkOutcome>;
}

/**
 * What runs once a group commit is durable, per savepoint: see {@link afterCommit}. Keyed by the
 * client handed to one work, so a work's callbacks are dropped with its savepoint.
 */
const commitCallbacks = new WeakMap<SqlClient, Array<() => void>>();

/**
 * Runs `callback` once the transaction `tx` belongs to has committed, when that transaction is
 * a {@link GroupCommit.run} batch and the work that got `tx` kept its writes, or one run by
 * {@link transactionWithAfterCommit}; in any other case (the work threw, the batch rolled back,
 * `tx` is another kind of transaction) never.
 *
 * @remarks For caches of facts that only exist once committed, such as an account's id: a
 * row seen inside a transaction may still vanish with a rollback, so it may only be
 * remembered after the commit. Callbacks must not throw and must not touch the database.
 * @example
 * ```ts
 * const id = await findAccountId(tx, owner);
 * afterCommit(tx, () => knownIds.set(owner, id));
 * ```
 */
export function afterCommit(tx: SqlClient, callback: () => void): void {
  const callbacks = commitCallbacks.get(tx);
  if (callbacks) callbacks.push(callback);
}

/**
 * Runs `work` in `db.transaction` so that {@link afterCommit} works inside it too: the
 * callbacks of the attempt that committed run once it has.
 */
export async function transactionWithAfterCommit<T>(
  db: Database,
  work: (tx: SqlClient) => Promise<T>,
  options?: TransactionOptions,
): Promise<T> {
  let committed: Array<() => void> = [];
  const value = await db.transaction(async (tx) => {
    // A rerun starts over: only the attempt that commits counts.
    const callbacks: Array<() => void> = [];
    committed = callbacks;
    commitCallbacks.set(tx, callbacks);
    try {
      return await work(tx);
    } finally {
      commitCallbacks.delete(tx);
    }
  }, options);
  for (const callback of committed) callback();
  return value;
}

/**
 * `db` with every {@link Database.transaction} run by {@link transactionWithAfterCommit}: what
 * the app hands its routes, so that events appended in a plain transaction (an order's
 * cancel, say) are published after its commit like those of a group commit.
 */
export function withAfterCommit(db: Database): Database {
  return {
    kind: db.kind,
    description: db.description,
    ...(db.file === undefined ? {} : { file: db.file }),
    query: (sql, params) => db.query(sql, params),
    run: (sql, params) => db.run(sql, params),
    transaction: (work, options) => transactionWithAfterCommit(db, work, options),
    close: () => db.close(),
  };
}

/** Runs a self-contained statement for a work of a {@link GroupCommit.run} batch. */
type SelfContainedRunner = <T>(statement: (tx: SqlClient) => Promise<T>, applied: (result: T) => boolean) => Promise<T>;

const selfContainedRunners = new WeakMap<SqlClient, SelfContainedRunner>();

/** Thrown inside a batch attempt to run it again with a savepoint for every work. */
class RerunWithSavepoints extends Error {}

/**
 * SQLite batches run with a savepoint for every work after a batch had to run again: see
 * `GroupCommit.#guardedBatchesLeft`.
 */
const GUARDED_BATCHES_AFTER_RERUN = 20;

/** Whether `sql` only reads: a statement that does not start with SELECT may write. */
function onlyReads(sql: string): boolean {
  return /^\s*SELECT\b/i.test(sql);
}

/**
 * Runs `statement` (one statement on the transaction it is given) for a {@link GroupCommit.run}
 * work without the savepoint a work otherwise gets before its first statement: one round trip
 * less on PostgreSQL, where the money path's fast spend is then a single round trip.
 * `applied(result)` says whether it wrote anything.
 *
 * @remarks Only for a statement that either does all it does or changes nothing, and reports a
 * refusal in its result rather than as an error (the PostgreSQL spend function, which catches
 * its own refusals). Should the work fail after it wrote (or after it failed), the batch runs
 * again with a savepoint for every work, so a failing work never takes another's writes with
 * it. Outside a batch it simply runs the statement on `tx`.
 */
export function selfContained<T>(tx: SqlClient, statement: (tx: SqlClient) => Promise<T>, applied: (result: T) => boolean): Promise<T> {
  const runner = selfContainedRunners.get(tx);
  return runner ? runner(statement, applied) : statement(tx);
}

function isTransactionRetry(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

type WorkOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Groups transfers that arrive at the same time into one database transaction.
 *
 * @remarks
 * With `synchronous=FULL`, every SQLite commit waits for an fsync; a server that commits each
 * request alone is capped by the disk. Here, requests queue while a batch is being written and
 * go together in the next one (at most `maxBatch`), each still with its own result: a request
 * that fails fails alone. No timer is involved: a lone request is written after the current
 * turn of the event loop, and requests read in the same turn share its transaction.
 *
 * @example
 * ```ts
 * const commits = new GroupCommit(ledger);
 * const { transfer } = await commits.transfer(request); // same contract as ledger.transfer
 * ```
 */
export class GroupCommit {
  readonly #ledger: Ledger;
  readonly #maxBatch: number;
  readonly #minBatchIntervalMs: number;
  #lastBatchStartedAt = -Infinity;
  #queue: Waiting[] = [];
  #flushing = false;
  #works: WaitingWork[] = [];
  #running = false;
  /**
   * SQLite batches left to run with a savepoint for every work from the start, after one had
   * to run again because a work that wrote failed (see `#runBatch`): a stream of failing works
   * then costs a savepoint each rather than a whole batch run twice.
   */
  #guardedBatchesLeft = 0;
  /** How many database transactions this instance has run, for tests and metrics. */
  batches = 0;
  /** How many works (or transfers) those transactions carried, and the last one's count: batch sizes for metrics. */
  works = 0;
  lastBatchSize = 0;
  /**
   * The longest a batch of works took, from its first statement to its commit (an fsync
   * included), in ms: a stall there holds every answer of the batch. Whoever reads it may reset it.
   */
  slowestBatchMs = 0;

  constructor(ledger: Ledger, options: GroupCommitOptions = {}) {
    this.#ledger = ledger;
    this.#maxBatch = options.maxBatch ?? 100;
    this.#minBatchIntervalMs = options.minBatchIntervalMs ?? 0;
  }

  /**
   * Moves Diamonds like {@link Ledger.transfer}, sharing a commit with concurrent callers.
   *
   * @throws the same errors as {@link Ledger.transfer}.
   */
  transfer(request: TransferRequest): Promise<TransferResult> {
    return new Promise<TransferResult>((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      if (!this.#flushing) {
        // Start once pending I/O has been read (setImmediate, not a microtask): requests that
        // arrived together are parsed first and share the batch. A microtask would start the
        // batch before the next request is even read, and on SQLite (whose statements do not
        // yield to the event loop) every batch would then hold exactly one request.
        this.#flushing = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  /**
   * Runs `work` in a database transaction shared with the other work that arrives together:
   * the API's spends (a gift with its allowance spend and its own rows, say) go through here.
   *
   * @remarks
   * Each work runs as if under its own savepoint: when it throws, only its own writes are rolled
   * back and its promise rejects, while the others commit. (On SQLite a batch first runs with
   * no savepoints; should a work fail after it changed a row, the batch runs again with one per
   * work.) Every promise settles only after
   * the shared transaction committed, so an answer is never sent before it is durable. `work`
   * may run more than once (the database may ask for a retry), so it must have no effects
   * outside `tx`. Use the ledger's `transferIn`, `postIn` and `voidIn` inside it.
   */
  run<T>(work: (tx: SqlClient) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#works.push({ work, resolve: resolve as (result: unknown) => void, reject });
      if (!this.#running) {
        this.#running = true;
        setImmediate(() => void this.#runWorks());
      }
    });
  }

  async #runWorks(): Promise<void> {
    try {
      while (this.#works.length > 0) {
        const wait = this.#lastBatchStartedAt + this.#minBatchIntervalMs - performance.now();
        if (wait > 0 && this.#works.length < this.#maxBatch) await sleep(wait);
        this.#lastBatchStartedAt = performance.now();
        const batch = this.#works.splice(0, this.#maxBatch);
        let outcomes: WorkOutcome[];
        try {
          this.batches++;
          this.works += batch.length;
          this.lastBatchSize = batch.length;
          let committed: Array<() => void> = [];
          // Set when a work that ran a self-contained statement without a savepoint of its own
          // failed: the batch runs again with a savepoint for every work (see selfContained).
          let savepointEveryWork = this.#guardedBatchesLeft > 0;
          if (savepointEveryWork) this.#guardedBatchesLeft--;
          const attempt = (tx: SqlClient): Promise<WorkOutcome[]> =>
            this.#runBatch(tx, batch, savepointEveryWork, (callbacks) => (committed = callbacks));
          const started = performance.now();
          outcomes = await this.#ledger.db.transaction(attempt).catch(async (error: unknown) => {
            if (!(error instanceof RerunWithSavepoints)) throw error;
            savepointEveryWork = true;
            if (this.#ledger.db.kind === 'sqlite') this.#guardedBatchesLeft = GUARDED_BATCHES_AFTER_RERUN;
            return this.#ledger.db.transaction(attempt);
          });
          this.slowestBatchMs = Math.max(this.slowestBatchMs, performance.now() - started);
          for (const callback of committed) callback();
        } catch (error) {
          for (const waiting of batch) waiting.reject(error);
          continue;
        }
        batch.forEach((waiting, i) => {
          const outcome = outcomes[i];
          if (!outcome) waiting.reject(new Error('missing batch result'));
          else if (outcome.ok) waiting.resolve(outcome.value);
          else waiting.reject(outcome.error);
        });
      }
    } finally {
      this.#running = false;
    }
  }

  /**
   * One attempt at a batch in `tx`: each work under a savepoint of its own, opened lazily, just
   * before the work's first statement, and on PostgreSQL sent together with the release of the
   * savepoint before it. A statement run through {@link selfContained} needs none: the works of
   * the money path's fast spend (money/pg-spend.ts) then cost one statement each, and need not
   * wait for one another.
   *
   * @remarks
   * Works take turns: a work's statements run only once the works before it have finished, so
   * a savepoint is always the latest one when its work rolls back to it. The exception is a
   * self-contained statement that is a work's first: it is sent at once and the next work
   * starts while it runs (on a pipelined PostgreSQL connection, see db/postgres.ts, all of them
   * are on the wire together: one round trip for the batch's spends rather than one each).
   * Whatever such a work does after it waits for its turn. A statement sent ahead never lands
   * after a savepoint it could be rolled back with: no work starts while another has its turn.
   */
  async #runBatch(
    tx: SqlClient,
    batch: readonly WaitingWork[],
    savepointEveryWork: boolean,
    keepCallbacks: (callbacks: Array<() => void>) => void,
  ): Promise<WorkOutcome[]> {
    // A rerun of the batch starts over: only the attempt that commits counts.
    const committed: Array<() => void> = [];
    keepCallbacks(committed);
    const done: WorkOutcome[] = [];
    // Whether a savepoint (this work's or an earlier one's, not yet released) is open.
    let open = false;
    // On SQLite a batch first runs its works with no savepoint at all: most works succeed, and a
    // savepoint costs two statements and a copy of every page the work changes (the statement
    // journal). A work that fails after it changed a row runs the batch again, every work under
    // a savepoint. A failed statement changed nothing: SQLite undoes a statement it aborts.
    const bare = tx.kind === 'sqlite' && !savepointEveryWork;
    let prefix = '';
    if (tx.kind === 'postgres') {
      // Batches of several processes take turns, before any row lock (see db/locks.ts); the lock
      // goes with the first statement that needs a round trip anyway.
      prefix = `SELECT pg_advisory_xact_lock(${MONEY_BATCH_LOCK_ID}); `;
    }
    // The advisory lock, when it went ahead of the first statement sent early: its failure, if
    // any, is the batch's (every statement after it failed too).
    let sentAhead: Promise<unknown> | undefined;
    const sendPrefix = (): void => {
      if (prefix === '') return;
      const sql = prefix.trim();
      prefix = '';
      sentAhead = tx.run(sql);
      sentAhead.catch(() => undefined);
    };
    // Works whose first statement was sent early, waiting to be finished in order.
    const ahead: RunningWork[] = [];

    const start = (waiting: WaitingWork): RunningWork => {
      let giveTurn!: () => void;
      const turn = new Promise<void>((resolve) => (giveTurn = resolve));
      let stop!: (how: 'ahead' | 'waiting' | 'settled') => void;
      const stopped = new Promise<'ahead' | 'waiting' | 'settled'>((resolve) => (stop = resolve));
      // Each work gets its own handle on the transaction, so what it asks to run after the
      // commit (see afterCommit) can be dropped with its savepoint. It also remembers a lost
      // race, should the work catch the error and throw another.
      const flags: WorkFlags = { own: false, unguarded: false, lostRace: undefined, touched: false };
      const noteRace = (error: unknown): never => {
        if (isTransactionRetry(error)) flags.lostRace ??= error;
        throw error;
      };
      /** Waits for this work's turn before a statement that is not sent early. */
      const myTurn = (): Promise<void> => {
        flags.touched = true;
        stop('waiting');
        return turn;
      };
      const guard = async (): Promise<void> => {
        if (flags.own || bare) return;
        flags.own = true;
        if (tx.kind === 'postgres') {
          // One round trip: the advisory lock (first work), the release of the last work's
          // savepoint, and this work's.
          const sql = `${prefix}${open ? 'RELEASE SAVEPOINT group_item; ' : ''}SAVEPOINT group_item`;
          prefix = '';
          await tx.run(sql).catch((error: unknown) => {
            flags.guardFailed = error;
            throw error;
          });
        } else {
          if (open) await tx.run('RELEASE SAVEPOINT group_item');
          await tx.run('SAVEPOINT group_item');
        }
        open = true;
      };
      const itemTx: SqlClient = {
        kind: tx.kind,
        query: async <Row>(sql: string, params?: readonly SqlValue[]) => {
          await myTurn();
          await guard();
          const rows = await tx.query<Row>(sql, params).catch(noteRace);
          if (bare && !onlyReads(sql)) flags.unguarded = true;
          return rows;
        },
        run: async (sql, params) => {
          await myTurn();
          await guard();
          const changes = await tx.run(sql, params).catch(noteRace);
          if (bare && changes > 0) flags.unguarded = true;
          return changes;
        },
      };
      const callbacks: Array<() => void> = [];
      commitCallbacks.set(itemTx, callbacks);
      selfContainedRunners.set(itemTx, async (statement, applied) => {
        const early = !flags.touched && !savepointEveryWork;
        if (early) {
          flags.touched = true;
          sendPrefix();
        } else {
          await myTurn();
          if (savepointEveryWork) await guard();
          if (flags.own) return statement(tx).catch(noteRace);
          sendPrefix();
        }
        const sent = statement(tx);
        if (early) stop('ahead');
        try {
          const result = await sent;
          // A refusal changed nothing: the work may fail without a savepoint to roll back to.
          if (applied(result)) flags.unguarded = true;
          return result;
        } catch (error) {
          // A failed statement aborts the transaction (PostgreSQL): only a rerun recovers.
          flags.unguarded = true;
          return noteRace(error);
        }
      });
      const settled = (async (): Promise<WorkOutcome> => {
        try {
          return { ok: true, value: await waiting.work(itemTx) };
        } catch (error) {
          return { ok: false, error };
        } finally {
          stop('settled');
        }
      })();
      return { itemTx, callbacks, flags, giveTurn, stopped, settled };
    };

    /** Gives `running` its turn, waits for it to finish, and keeps its outcome (in batch order). */
    const finish = async (running: RunningWork): Promise<void> => {
      running.giveTurn();
      let outcome = await running.settled;
      commitCallbacks.delete(running.itemTx);
      selfContainedRunners.delete(running.itemTx);
      if (!outcome.ok) {
        const { error } = outcome;
        // A deadlock or serialization failure dooms the whole transaction: let the database
        // layer run the batch again rather than fail this work alone.
        if (isTransactionRetry(error)) throw error;
        if (running.flags.lostRace !== undefined) throw running.flags.lostRace;
        if (running.flags.guardFailed !== undefined) throw running.flags.guardFailed;
        // A write made outside a savepoint of this work's own (a self-contained statement, or
        // any write in SQLite's batch without savepoints) cannot be undone alone: run the batch
        // again, every work under a savepoint.
        if (running.flags.unguarded) throw new RerunWithSavepoints();
        if (running.flags.own) await tx.run('ROLLBACK TO SAVEPOINT group_item');
        outcome = { ok: false, error };
      }
      if (outcome.ok) committed.push(...running.callbacks);
      done.push(outcome);
    };

    for (const waiting of batch) {
      const running = start(waiting);
      if ((await running.stopped) === 'ahead') {
        ahead.push(running);
        continue;
      }
      // This work needs its turn (or is over): the works sent ahead of it finish first.
      for (const early of ahead.splice(0)) await finish(early);
      await finish(running);
    }
    for (const early of ahead.splice(0)) await finish(early);
    await sentAhead;
    // A batch whose works ran no statement wrote nothing: it needs no turn.
    return done;
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        let results: BatchItemResult[];
        try {
          this.batches++;
          this.works += batch.length;
          this.lastBatchSize = batch.length;
          results = await this.#ledger.transferBatch(batch.map((w) => w.request));
        } catch (error) {
          for (const waiting of batch) waiting.reject(error);
          continue;
        }
        batch.forEach((waiting, i) => {
          const result = results[i];
          if (!result) waiting.reject(new Error('missing batch result'));
          else if (result.ok) waiting.resolve({ transfer: result.transfer, replayed: result.replayed });
          else waiting.reject(result.error);
        });
      }
    } finally {
      this.#flushing = false;
    }
  }
}
