import type { SqlClient } from './types.js';

/** The most items one statement takes. */
const MAX_ITEMS_PER_STATEMENT = 500;

interface Waiting<Item, Answer> {
  item: Item;
  resolve(answer: Answer): void;
  reject(error: unknown): void;
}

/**
 * Work items that arrive together, in one turn of the event loop, sent as one statement: on
 * PostgreSQL every fan request reads its site's key and token and records its DPoP proof, and one
 * round trip for all of a turn's requests costs the server and the database far less than one
 * each (see `bench:api`). One statement at a time: items that arrive while it is on its way go
 * in the next, which is sent after they were asked.
 */
export class StatementBatcher<Item, Answer> {
  readonly #run: (items: readonly Item[]) => Promise<readonly Answer[]>;
  #waiting: Waiting<Item, Answer>[] = [];
  #flushing = false;

  /** `run` sends one statement for `items` (at most 500) and gives each one's answer, in order. */
  constructor(run: (items: readonly Item[]) => Promise<readonly Answer[]>) {
    this.#run = run;
  }

  /** The answer to `item`, from the next statement sent. */
  add(item: Item): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
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
      const batch = this.#waiting.splice(0, MAX_ITEMS_PER_STATEMENT);
      try {
        const answers = await this.#run(batch.map((waiting) => waiting.item));
        for (const [index, waiting] of batch.entries()) waiting.resolve(answers[index]!);
      } catch (error) {
        for (const waiting of batch) waiting.reject(error);
      }
    }
  }
}

/**
 * Reads of one kind by key (a site's key, a fan's token) that arrive together answered by one
 * statement (see {@link StatementBatcher}).
 *
 * @remarks Nothing is cached. A read is answered by a statement sent after it was asked (one
 * that was already on its way does not answer it), so whatever was revoked before the request
 * came is read as revoked, in every process. On SQLite, where a read is a call into the same
 * process, reads go straight through.
 * @example
 * ```ts
 * const tokens = new BatchedRead(db, async (db, hashes) => new Map(rowsOf(db, hashes).map((row) => [row.token_hash, row])));
 * const row = await tokens.read(hash);
 * ```
 */
export class BatchedRead<Row> {
  readonly #db: SqlClient;
  readonly #readMany: (db: SqlClient, keys: readonly string[]) => Promise<ReadonlyMap<string, Row>>;
  readonly #batcher: StatementBatcher<string, Row | undefined>;

  /** `readMany` reads the rows of `keys` (distinct, at most 500) and gives them by key. */
  constructor(db: SqlClient, readMany: (db: SqlClient, keys: readonly string[]) => Promise<ReadonlyMap<string, Row>>) {
    this.#db = db;
    this.#readMany = readMany;
    this.#batcher = new StatementBatcher(async (keys) => {
      const rows = await readMany(db, [...new Set(keys)]);
      return keys.map((key) => rows.get(key));
    });
  }

  /** The row of `key`, or undefined when there is none. */
  read(key: string): Promise<Row | undefined> {
    if (this.#db.kind === 'sqlite') return this.#readMany(this.#db, [key]).then((rows) => rows.get(key));
    return this.#batcher.add(key);
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
