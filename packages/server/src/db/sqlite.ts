import BetterSqlite3 from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError } from '../errors.js';
import { FileGuard } from './file-guard.js';
import type { Database, SqlClient, SqlValue, TransactionOptions } from './types.js';

/**
 * How long one attempt blocks waiting for another connection's write lock. Kept short because
 * better-sqlite3 waits synchronously, stalling the event loop: longer waits happen between
 * attempts, asynchronously (see {@link SqliteOptions.busyBudgetMs}).
 */
const BUSY_SLICE_MS = 50;

/** Options of {@link openSqlite}. */
export interface SqliteOptions {
  /** The database file, or `:memory:`. */
  file: string;
  /**
   * How long, in all, a statement or transaction waits for another process's write lock before
   * it fails with `database_busy`. @defaultValue 10000
   */
  busyBudgetMs?: number;
  /**
   * How many pages the WAL may hold before a commit of this connection checkpoints it (copies it
   * back into the database file) inside that commit: raise it when a checkpointer thread does
   * that instead (see `checkpointer.ts`). @defaultValue SQLite's, 1000
   */
  autoCheckpointPages?: number;
}

/** A FIFO lock so that one connection's transactions never interleave across `await`s. */
class Mutex {
  #tail: Promise<void> = Promise.resolve();
  async lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const previous = this.#tail;
    this.#tail = previous.then(() => next);
    await previous;
    return release;
  }
}

/** A trailing `LIMIT ?`, whose value {@link inlineLimit} writes into the statement. */
const TRAILING_LIMIT = /\bLIMIT\s+\?\s*$/i;

/** The largest limit written into a statement: each value is a statement of its own in the cache. */
const MAX_INLINED_LIMIT = 1000;

/** The most statements with a limit written in that one connection keeps: past it, new ones stay bound. */
const MAX_INLINED_STATEMENTS = 256;

/**
 * `sql` with a trailing `LIMIT ?` replaced by its value (the last parameter), when that is a
 * whole number up to {@link MAX_INLINED_LIMIT}: otherwise `sql` and `params` unchanged.
 *
 * @remarks The SQLite of better-sqlite3 (3.53) reads a bound LIMIT while planning, so a
 * statement whose LIMIT is a parameter is compiled again at every execution, as if new: the
 * outbox's consumers reading `events … LIMIT ?` after each commit spent ~25 µs per read on it.
 * A literal keeps the cached plan; the few values used (page sizes, batch sizes) each get one
 * cached statement. (A `?` compared with a constant of a partial index's `WHERE`, such as
 * `active = ?` beside an index `WHERE active = 1`, costs the same: write such constants into
 * the SQL.)
 */
export function inlineLimit(sql: string, params: readonly SqlValue[]): [string, readonly SqlValue[]] {
  const limit = params[params.length - 1];
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0 || limit > MAX_INLINED_LIMIT) return [sql, params];
  // Most statements end otherwise: the regular expression is only tried on those ending in `?`.
  const match = sql.trimEnd().endsWith('?') ? TRAILING_LIMIT.exec(sql) : null;
  if (!match) return [sql, params];
  return [`${sql.slice(0, match.index)}LIMIT ${limit}`, params.slice(0, -1)];
}

function toSqlite(params: readonly SqlValue[]): unknown[] {
  return params.map((value) => (typeof value === 'boolean' ? (value ? 1 : 0) : value));
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/**
 * SQLite through better-sqlite3: one connection, WAL, `synchronous=FULL`.
 *
 * @remarks
 * `synchronous=FULL` makes every commit wait for fsync, so a committed transfer survives a
 * power cut; batching many transfers into one transaction is how throughput is won back.
 * Several processes may share one file: write transactions start with `BEGIN IMMEDIATE`, so a
 * writer waits for the lock up front instead of failing half-way. It waits in short
 * synchronous slices with asynchronous sleeps between them, so a process waiting for another's
 * lock keeps serving; past the busy budget it answers `database_busy` (503), never a crash.
 */
class SqliteDatabase implements Database {
  readonly kind = 'sqlite' as const;
  readonly description: string;
  readonly file: string;
  readonly #db: BetterSqlite3.Database;
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  /** The statements cached with a limit written in (see {@link inlineLimit}). */
  readonly #inlined = new Set<string>();
  readonly #mutex = new Mutex();
  readonly #client: SqlClient;
  readonly #busyBudgetMs: number;
  /** Refuses commits once the file is no longer the one opened (see `file-guard.ts`). */
  readonly #guard: FileGuard | undefined;

  constructor(options: SqliteOptions) {
    if (options.file !== ':memory:') mkdirSync(dirname(options.file), { recursive: true });
    this.description = `sqlite:${options.file}`;
    this.file = options.file;
    this.#db = new BetterSqlite3(options.file, { timeout: Math.min(BUSY_SLICE_MS, options.busyBudgetMs ?? BUSY_SLICE_MS) });
    this.#busyBudgetMs = options.busyBudgetMs ?? 10_000;
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('foreign_keys = ON');
    // Each work of a group commit runs under a savepoint, whose undo log (the statement
    // journal) spilled past 64 KiB to a temporary file created, written page by page and
    // deleted in every batch: ~95 kB of writes and a file per commit of 13 gifts. Durability
    // does not depend on it (the WAL does that), so it stays in memory, bounded by one batch.
    this.#db.pragma('temp_store = MEMORY');
    if (options.autoCheckpointPages !== undefined) this.#db.pragma(`wal_autocheckpoint = ${Math.floor(options.autoCheckpointPages)}`);
    this.#db.defaultSafeIntegers(false);
    this.#guard = options.file === ':memory:' ? undefined : new FileGuard(options.file);
    this.#client = {
      kind: 'sqlite',
      query: async <Row>(sql: string, params: readonly SqlValue[] = []) => this.#all<Row>(sql, params),
      run: async (sql: string, params: readonly SqlValue[] = []) => this.#run(sql, params),
    };
  }

  #statement(sql: string): BetterSqlite3.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #all<Row>(text: string, values: readonly SqlValue[]): Row[] {
    let [sql, params] = inlineLimit(text, values);
    if (sql !== text && !this.#inlined.has(sql)) {
      // Page sizes chosen by clients must not grow the cache without end.
      if (this.#inlined.size < MAX_INLINED_STATEMENTS) this.#inlined.add(sql);
      else [sql, params] = [text, values];
    }
    const statement = this.#statement(sql);
    if (statement.reader) return statement.all(...toSqlite(params)) as Row[];
    // A write outside a transaction commits by itself: check first, as a commit does.
    if (!this.#db.inTransaction) this.#guard?.check();
    statement.run(...toSqlite(params));
    return [];
  }

  #run(sql: string, params: readonly SqlValue[]): number {
    if (!this.#db.inTransaction) this.#guard?.check();
    return this.#statement(sql).run(...toSqlite(params)).changes;
  }

  async query<Row = Record<string, unknown>>(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    const release = await this.#mutex.lock();
    try {
      return await this.#whileBusy(() => this.#all<Row>(sql, params));
    } finally {
      release();
    }
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    const release = await this.#mutex.lock();
    try {
      return await this.#whileBusy(() => this.#run(sql, params));
    } finally {
      release();
    }
  }

  /**
   * Runs `attempt` until it is not refused as busy, sleeping between tries (so the process
   * serves other work meanwhile) until the busy budget is spent; then `database_busy`.
   */
  async #whileBusy<T>(attempt: () => T | Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#busyBudgetMs;
    for (let tries = 1; ; tries++) {
      try {
        return await attempt();
      } catch (error) {
        if (!isBusy(error)) throw error;
        if (Date.now() >= deadline) {
          throw new ApiError('database_busy', 'The database is busy; retry with the same idempotency key.', { cause: error });
        }
        await sleep(Math.min(100, 2 * tries) + Math.random() * 10);
      }
    }
  }

  async transaction<T>(work: (tx: SqlClient) => Promise<T>, _options: TransactionOptions = {}): Promise<T> {
    const release = await this.#mutex.lock();
    try {
      // With BEGIN IMMEDIATE the write lock is taken up front, so once in, a transaction is
      // not refused as busy half-way; the whole attempt is still retried if it is.
      return await this.#whileBusy(async () => {
        this.#db.exec('BEGIN IMMEDIATE');
        try {
          const result = await work(this.#client);
          this.#guard?.check();
          this.#db.exec('COMMIT');
          return result;
        } catch (error) {
          if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
          throw error;
        }
      });
    } finally {
      release();
    }
  }

  unavailableReason(): string | undefined {
    return this.#guard?.lost;
  }

  async close(): Promise<void> {
    const release = await this.#mutex.lock();
    try {
      this.#guard?.close();
      if (this.#db.open) this.#db.close();
    } finally {
      release();
    }
  }
}

/** Opens (and creates, with its folder) an SQLite database file. */
export function openSqlite(options: SqliteOptions): Database {
  return new SqliteDatabase(options);
}
