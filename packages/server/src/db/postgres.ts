import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import type { Database, SqlClient, SqlValue, TransactionOptions } from './types.js';

/** Options of {@link openPostgres}. */
export interface PostgresOptions {
  /** A `postgres://` connection string. */
  connectionString: string;
  /** @defaultValue 10 */
  maxConnections?: number;
  /**
   * Whether statements with parameters are prepared once per connection (named), rather than
   * parsed and planned on every call. Turn it off behind a pooler that does not keep a session
   * per client (PgBouncer in transaction mode before 1.21). @defaultValue true
   */
  preparedStatements?: boolean;
  /**
   * The longest a statement may run, and the longest it may wait for a row or table lock,
   * before PostgreSQL cancels it (`statement_timeout`, `lock_timeout`): no request waits
   * forever behind a stuck transaction. 0 turns one off.
   * `DIAMONDS_PG_STATEMENT_TIMEOUT_MS`, `DIAMONDS_PG_LOCK_TIMEOUT_MS`. @defaultValue 30000 and 10000
   */
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
  /** How long to wait for a new connection before failing. @defaultValue 5000 */
  connectTimeoutMs?: number;
}

/** Milliseconds from an environment variable, or `fallback` when unset or not a whole number. */
function envMs(name: string, fallback: number): number {
  const text = process.env[name]?.trim();
  return text && /^\d{1,9}$/.test(text) ? Number(text) : fallback;
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

/** A statement as sent to PostgreSQL: its text with `$n` placeholders, and its name if prepared. */
interface Statement {
  text: string;
  name: string | undefined;
}

/**
 * The most statements prepared under a name: our SQL is a fixed set of texts (a few hundred),
 * so this bounds only a caller that builds texts without end.
 */
const MAX_NAMED_STATEMENTS = 2_000;

/** Statements a name may be given: data manipulation, whose plans PostgreSQL can cache. */
const PREPARABLE = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;

const statements = new Map<string, Statement>();
let namedStatements = 0;

/**
 * Rewrites `?` placeholders to PostgreSQL's `$1, $2, …` (our SQL never puts `?` in literals), and
 * names statements with parameters, so that each connection parses and plans them once and then
 * only binds and executes them: the money path sends the same few statements over and over, and
 * on a small machine PostgreSQL's parsing and planning compete with the server for the CPU.
 */
function toPostgres(sql: string, parameters: number): Statement {
  let statement = statements.get(sql);
  if (statement === undefined) {
    let index = 0;
    const text = sql.replace(/\?/g, () => `$${++index}`);
    const named = parameters > 0 && PREPARABLE.test(text) && namedStatements < MAX_NAMED_STATEMENTS;
    statement = { text, name: named ? `d${++namedStatements}` : undefined };
    statements.set(sql, statement);
  }
  return statement;
}

/** A connection kept for statements outside a transaction, and whether a statement is on it. */
interface Lane {
  connection: pg.PoolClient;
  client: SqlClient;
  busy: boolean;
}

/** The most connections kept for statements outside a transaction (see PostgresDatabase). */
const AUTOCOMMIT_LANES = 3;

const RETRYABLE = new Set(['40001', '40P01']);

function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && RETRYABLE.has(code);
}

function send(queryable: pg.Pool | pg.PoolClient, sql: string, params: readonly SqlValue[], prepare: boolean): Promise<pg.QueryResult> {
  const { text, name } = toPostgres(sql, params.length);
  const values = params as SqlValue[];
  return queryable.query(name === undefined || !prepare ? { text, values } : { name, text, values });
}

/** The socket under a pooled connection (pg's `connection.stream`), when there is one to cork. */
function socketOf(queryable: pg.Pool | pg.PoolClient): Writable | undefined {
  const stream = (queryable as { connection?: { stream?: unknown } }).connection?.stream;
  return stream instanceof Writable ? stream : undefined;
}

function clientOf(queryable: pg.Pool | pg.PoolClient, prepare: boolean): SqlClient {
  const socket = socketOf(queryable);
  let corked = false;
  /**
   * Holds the statements sent during this run of the microtask queue in the socket, and writes
   * them in one system call once it is over (pg writes each statement on its own): a group
   * commit's spends, pipelined (see the pool's `pipeline`), leave in one write rather than one
   * each. A write to loopback costs tens of microseconds of the event loop, the kernel's
   * delivery to PostgreSQL included. Nothing waits longer: the write happens before the event
   * loop looks for I/O again.
   */
  const sendTogether = (sql: string, params: readonly SqlValue[]) => {
    if (socket && !corked) {
      corked = true;
      socket.cork();
      process.nextTick(() => {
        corked = false;
        socket.uncork();
      });
    }
    return send(queryable, sql, params, prepare);
  };
  return {
    kind: 'postgres',
    async query<Row>(sql: string, params: readonly SqlValue[] = []) {
      const result = await sendTogether(sql, params);
      return result.rows as Row[];
    },
    async run(sql: string, params: readonly SqlValue[] = []) {
      const result = await sendTogether(sql, params);
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
  readonly #prepare: boolean;

  constructor(options: PostgresOptions) {
    const url = new URL(options.connectionString);
    url.password = url.password ? '***' : '';
    this.description = `postgres:${url.toString()}`;
    this.#pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      types,
      statement_timeout: options.statementTimeoutMs ?? envMs('DIAMONDS_PG_STATEMENT_TIMEOUT_MS', 30_000),
      lock_timeout: options.lockTimeoutMs ?? envMs('DIAMONDS_PG_LOCK_TIMEOUT_MS', 10_000),
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      // Statements asked for together go on the wire together, each still answered (and failing)
      // on its own: a group commit's spends cost one round trip, not one each (see
      // ledger/group-commit.ts). Code that awaits each statement behaves as without it.
      pipeline: true,
    });
    // An idle client that loses its connection must not crash the process.
    this.#pool.on('error', () => {});
    // Nor a client checked out between two statements (a transaction awaiting other work) when
    // the server goes away: its next statement fails instead, and the request answers 503.
    this.#pool.on('connect', (client) => client.on('error', () => {}));
    this.#prepare = options.preparedStatements ?? true;
    this.#client = clientOf(this.#pool, this.#prepare);
    this.#maxLanes = Math.max(0, Math.min(AUTOCOMMIT_LANES, (options.maxConnections ?? 10) - 2));
  }

  /**
   * Connections kept out of the pool for statements outside a transaction (a request's token
   * look-up, its idempotency key): `pool.query` checks a connection out and back in around every
   * statement, which costs about as much CPU as the statement itself. A statement takes an idle
   * lane (one statement at a time on each: pg deprecates queueing on a client); while every
   * lane is busy it goes through the pool, and one more lane is opened, up to AUTOCOMMIT_LANES,
   * always leaving connections for transactions. A lane whose connection fails is dropped.
   */
  readonly #lanes: Lane[] = [];
  #opening = false;
  readonly #maxLanes: number;

  async #onLane<T>(use: (client: SqlClient) => Promise<T>): Promise<T> {
    const lane = this.#lanes.find((candidate) => !candidate.busy);
    if (lane === undefined) {
      if (this.#lanes.length < this.#maxLanes && !this.#opening && !this.#closing) this.#openLane();
      return use(this.#client);
    }
    lane.busy = true;
    try {
      return await use(lane.client);
    } catch (error) {
      // A statement that failed for its own reasons leaves the connection fine (no transaction
      // is open); one whose connection broke must not be used again.
      if ((error as { code?: unknown }).code === undefined || this.#connectionLost(error)) this.#dropLane(lane);
      throw error;
    } finally {
      lane.busy = false;
    }
  }

  /** Opens one more lane in the background. */
  #openLane(): void {
    this.#opening = true;
    this.#pool
      .connect()
      .then((connection) => {
        if (this.#closing) connection.release();
        else this.#lanes.push({ connection, client: clientOf(connection, this.#prepare), busy: false });
      })
      .catch(() => {})
      .finally(() => (this.#opening = false));
  }

  #connectionLost(error: unknown): boolean {
    const code = (error as { code?: unknown }).code;
    // Class 08 (connection exception) and 57P0x (the server is shutting down, or crashed).
    return typeof code === 'string' && (code.startsWith('08') || code.startsWith('57P'));
  }

  #dropLane(lane: Lane): void {
    const index = this.#lanes.indexOf(lane);
    if (index < 0) return;
    this.#lanes.splice(index, 1);
    lane.connection.release(true);
  }

  query<Row = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<Row[]> {
    return this.#onLane((client) => client.query<Row>(sql, params));
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.#onLane((client) => client.run(sql, params));
  }

  async transaction<T>(work: (tx: SqlClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const maxAttempts = options.maxAttempts ?? 8;
    for (let attempt = 1; ; attempt++) {
      const connection = await this.#pool.connect();
      let broken = false;
      // A lost race, remembered: `work` may catch the error and throw another (or one from
      // the aborted transaction's next statement), and the attempt is still to be run again.
      let lostRace: unknown;
      const client = clientOf(connection, this.#prepare);
      const noteRace = (error: unknown): never => {
        if (isRetryable(error)) lostRace ??= error;
        throw error;
      };
      try {
        // Not awaited: the work's first statement goes on the wire right behind it (the pool
        // pipelines), which saves a round trip per transaction. BEGIN cannot fail on a healthy
        // connection, and on a broken one every statement after it fails too; its answer is
        // checked before the COMMIT all the same.
        const begun = connection.query('BEGIN');
        begun.catch(() => undefined);
        const result = await work({
          kind: 'postgres',
          query: <Row>(sql: string, params?: readonly SqlValue[]) => client.query<Row>(sql, params).catch(noteRace),
          run: (sql, params) => client.run(sql, params).catch(noteRace),
        });
        await begun;
        await connection.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await connection.query('ROLLBACK');
        } catch {
          broken = true;
        }
        if ((isRetryable(error) || lostRace !== undefined) && attempt < maxAttempts) {
          await sleep(Math.random() * 10 * attempt);
          continue;
        }
        throw error;
      } finally {
        connection.release(broken);
      }
    }
  }

  poolStats(): { total: number; idle: number; waiting: number; max: number } {
    const pool = this.#pool;
    return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options.max ?? 10 };
  }

  #closing: Promise<void> | undefined;

  close(): Promise<void> {
    if (!this.#closing) {
      for (const lane of this.#lanes.splice(0)) lane.connection.release();
      this.#closing = this.#pool.end();
    }
    return this.#closing;
  }
}

/** Opens a pool to a PostgreSQL database. */
export function openPostgres(options: PostgresOptions): Database {
  return new PostgresDatabase(options);
}
