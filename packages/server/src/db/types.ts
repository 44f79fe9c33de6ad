/** A value bound to a `?` placeholder. Booleans are stored as 0/1 on SQLite. */
export type SqlValue = string | number | boolean | null;

/** Which database engine a {@link Database} talks to. */
export type DatabaseKind = 'sqlite' | 'postgres';

/**
 * What the ledger and the API need of a database: run SQL with `?` placeholders.
 *
 * @remarks
 * SQL is written once, in the common subset of SQLite and PostgreSQL, with `?` placeholders;
 * the PostgreSQL client rewrites them to `$1, $2, …`. Where the dialects truly differ (DDL,
 * booleans), code branches on {@link SqlClient.kind}.
 */
export interface SqlClient {
  readonly kind: DatabaseKind;
  /** Runs a statement and returns its rows. */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /** Runs a statement and returns how many rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

/** Options of {@link Database.transaction}. */
export interface TransactionOptions {
  /**
   * How often a PostgreSQL transaction that lost a race (serialization failure 40001 or
   * deadlock 40P01) is run again before the error is raised. SQLite instead waits for another
   * process's lock up to its busy budget (see `SqliteOptions.busyBudgetMs`).
   *
   * @defaultValue 8
   */
  maxAttempts?: number;
}

/** A connection (or pool) to one database, with transactions. */
export interface Database extends SqlClient {
  /**
   * Runs `work` in one database transaction: all of it commits, or none of it does.
   *
   * @remarks
   * `work` may run more than once when the database asks for a retry, so it must not have
   * effects outside the transaction. Inside, use the `tx` client, never the database itself.
   */
  transaction<T>(work: (tx: SqlClient) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Waits for work in progress and closes every connection. */
  close(): Promise<void>;
  /** A short description for logs, without credentials (`sqlite:/path/db.sqlite`). */
  readonly description: string;
  /** The SQLite file (or `:memory:`), which another connection may open; undefined on PostgreSQL. */
  readonly file?: string;
  /** PostgreSQL: this process's pool, for metrics (connections open, idle, waiting, at most). */
  poolStats?(): { total: number; idle: number; waiting: number; max: number };
  /**
   * Why this database must not be written any more (its SQLite file was removed or replaced
   * under the running platform), or undefined while all is well. See `db/file-guard.ts`.
   */
  unavailableReason?(): string | undefined;
}
