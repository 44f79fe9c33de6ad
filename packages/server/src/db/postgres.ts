import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database, SqlClient, SqlValue, TransactionOptions } from './types.js';

/** Options of {@link openPostgres}. */
export interface PostgresOptions {
  /** A `postgres://` connection string. */
  connectionString: string;
  /** @defaultValue 10 */
  maxConnections?: number;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * 64-bit integers (balances, sums, times) arrive from pg as strings. Every amount we store is
 * far below 2^53, so parse them to numbers, and fail loudly rather than round if one is not.
 */
function parseExactInteger(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`Integer ${text} is outside the exact range of a number.`);
  return value;
}

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return parseExactInteger;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** Rewrites `?` placeholders to PostgreSQL's `$1, $2, …` (our SQL never puts `?` in literals). */
const placeholderCache = new Map<string, string>();
function toPostgres(sql: string): string {
  let converted = placeholderCache.get(sql);
  if (converted === undefined) {
    let index = 0;
    converted = sql.replace(/\?/g, () => `$${++index}`);
    placeholderCache.set(sql, converted);
  }
  return converted;
}

const RETRYABLE = new Set(['40001', '40P01']);

function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && RETRYABLE.has(code);
}

function clientOf(queryable: pg.Pool | pg.PoolClient): SqlClient {
  return {
    kind: 'postgres',
    async query<Row>(sql: string, params: readonly SqlValue[] = []) {
      const result = await queryable.query(toPostgres(sql), params as SqlValue[]);
      return result.rows as Row[];
    },
    async run(sql: string, params: readonly SqlValue[] = []) {
      const result = await queryable.query(toPostgres(sql), params as SqlValue[]);
      return result.rowCount ?? 0;
    },
  };
}

/**
 * PostgreSQL through a `pg` pool.
 *
 * @remarks
 * Transactions run at READ COMMITTED: the ledger's conditional updates lock the rows they
 * change, so they need no stronger isolation. A serialization failure (40001) or a deadlock
 * (40P01) reruns the whole transaction, a bounded number of times, with jittered backoff.
 */
class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  readonly description: string;
  readonly #pool: pg.Pool;
  readonly #client: SqlClient;

  constructor(options: PostgresOptions) {
    const url = new URL(options.connectionString);
    url.password = url.password ? '***' : '';
    this.description = `postgres:${url.toString()}`;
    this.#pool = new pg.Pool({ connectionString: options.connectionString, max: options.maxConnections ?? 10, types });
    // An idle client that loses its connection must not crash the process.
    this.#pool.on('error', () => {});
    this.#client = clientOf(this.#pool);
  }

  query<Row = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<Row[]> {
    return this.#client.query<Row>(sql, params);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.#client.run(sql, params);
  }

  async transaction<T>(work: (tx: SqlClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const maxAttempts = options.maxAttempts ?? 8;
    for (let attempt = 1; ; attempt++) {
      const connection = await this.#pool.connect();
      let broken = false;
      try {
        await connection.query('BEGIN');
        const result = await work(clientOf(connection));
        await connection.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await connection.query('ROLLBACK');
        } catch {
          broken = true;
        }
        if (isRetryable(error) && attempt < maxAttempts) {
          await sleep(Math.random() * 10 * attempt);
          continue;
        }
        throw error;
      } finally {
        connection.release(broken);
      }
    }
  }

  #closing: Promise<void> | undefined;

  close(): Promise<void> {
    this.#closing ??= this.#pool.end();
    return this.#closing;
  }
}

/** Opens a pool to a PostgreSQL database. */
export function openPostgres(options: PostgresOptions): Database {
  return new PostgresDatabase(options);
}
