import type { SqlClient } from './types.js';

/** The most keys one statement reads. */
const MAX_KEYS_PER_STATEMENT = 500;

interface WaitingRead<Row> {
  key: string;
  resolve(row: Row | undefined): void;
  reject(error: unknown): void;
}

/**
 * Reads of one kind by key (a site's key, a fan's token) that arrive together, in one turn of
 * the event loop, answered by one statement: on PostgreSQL every fan request makes such reads,
 * and one round trip for all of a turn's requests costs the server and the database far less
 * than one each (see `bench:api`).
 *
 * @remarks Nothing is cached. A read is answered by a statement sent after it was asked (one
 * that was already on its way does not answer it), so whatever was revoked before the request
 * came is read as revoked, in every process. On SQLite, where a read is a call into the same
 * process, reads go straight through.
 * @example
 * ```ts
 * const tokens = new BatchedRead(db, async (hashes) => new Map(rowsOf(hashes).map((row) => [row.token_hash, row])));
 * const row = await tokens.read(hash);
 * ```
 */
export class BatchedRead<Row> {
  readonly #db: SqlClient;
  readonly #readMany: (db: SqlClient, keys: readonly string[]) => Promise<ReadonlyMap<string, Row>>;
  #waiting: WaitingRead<Row>[] = [];
  #flushing = false;

  /** `readMany` reads the rows of `keys` (distinct, at most 500) and gives them by key. */
  constructor(db: SqlClient, readMany: (db: SqlClient, keys: readonly string[]) => Promise<ReadonlyMap<string, Row>>) {
    this.#db = db;
    this.#readMany = readMany;
  }

  /** The row of `key`, or undefined when there is none. */
  read(key: string): Promise<Row | undefined> {
    if (this.#db.kind === 'sqlite') return this.#readMany(this.#db, [key]).then((rows) => rows.get(key));
    return new Promise((resolve, reject) => {
      this.#waiting.push({ key, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        // After this turn's other requests were read: they share the statement.
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    for (;;) {
      // Decided in the same turn as the last answers: a caller they wake schedules its own flush.
      if (this.#waiting.length === 0) {
        this.#flushing = false;
        return;
      }
      const batch = this.#waiting.splice(0, MAX_KEYS_PER_STATEMENT);
      try {
        const rows = await this.#readMany(this.#db, [...new Set(batch.map((read) => read.key))]);
        for (const read of batch) read.resolve(rows.get(read.key));
      } catch (error) {
        for (const read of batch) read.reject(error);
      }
    }
  }
}

/**
 * A PostgreSQL array literal of `values`, for `CAST(? AS TEXT[])`: one parameter however many
 * values (each quoted, its quotes and backslashes escaped), where `IN (?, ?, …)` would be a new statement text
 * for every count.
 */
export function textArrayLiteral(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}
