import BetterSqlite3 from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError } from '../errors.js';
import type { Database, SqlClient, SqlValue, TransactionOptions } from './types.js';

/** How long SQLite waits for another process's write lock before answering busy. */
const BUSY_TIMEOUT_MS = 5_000;

/** Options of {@link openSqlite}. */
export interface SqliteOptions {
  /** The database file, or `:memory:`. */
  file: string;
  /** How long to wait for another process's write lock before answering busy. @defaultValue 5000 */
  busyTimeoutMs?: number;
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
 * writer waits (busy timeout) for the lock up front instead of failing half-way, and a busy
 * answer after that is retried, then reported as `database_busy` (503), never a crash.
 */
class SqliteDatabase implements Database {
  readonly kind = 'sqlite' as const;
  readonly description: string;
  readonly #db: BetterSqlite3.Database;
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  readonly #mutex = new Mutex();
  readonly #client: SqlClient;

  constructor(options: SqliteOptions) {
    if (options.file !== ':memory:') mkdirSync(dirname(options.file), { recursive: true });
    this.description = `sqlite:${options.file}`;
    this.#db = new BetterSqlite3(options.file, { timeout: options.busyTimeoutMs ?? BUSY_TIMEOUT_MS });
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('foreign_keys = ON');
    this.#db.defaultSafeIntegers(false);
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

  #all<Row>(sql: string, params: readonly SqlValue[]): Row[] {
    const statement = this.#statement(sql);
    if (statement.reader) return statement.all(...toSqlite(params)) as Row[];
    statement.run(...toSqlite(params));
    return [];
  }

  #run(sql: string, params: readonly SqlValue[]): number {
    return this.#statement(sql).run(...toSqlite(params)).changes;
  }

  async query<Row = Record<string, unknown>>(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    const release = await this.#mutex.lock();
    try {
      return this.#all<Row>(sql, params);
    } finally {
      release();
    }
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    const release = await this.#mutex.lock();
    try {
      return this.#run(sql, params);
    } finally {
      release();
    }
  }

  async transaction<T>(work: (tx: SqlClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const maxAttempts = options.maxAttempts ?? 8;
    const release = await this.#mutex.lock();
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          this.#db.exec('BEGIN IMMEDIATE');
        } catch (error) {
          if (isBusy(error) && attempt < maxAttempts) {
            await sleep(5 * attempt + Math.random() * 20);
            continue;
          }
          if (isBusy(error)) throw new ApiError('database_busy', 'The database is busy; retry with the same idempotency key.');
          throw error;
        }
        try {
          const result = await work(this.#client);
          this.#db.exec('COMMIT');
          return result;
        } catch (error) {
          if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
          if (isBusy(error) && attempt < maxAttempts) {
            await sleep(5 * attempt + Math.random() * 20);
            continue;
          }
          if (isBusy(error)) throw new ApiError('database_busy', 'The database is busy; retry with the same idempotency key.');
          throw error;
        }
      }
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    const release = await this.#mutex.lock();
    try {
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
