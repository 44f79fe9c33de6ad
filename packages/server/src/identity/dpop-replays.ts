import { createHash } from 'node:crypto';
import type { Migration } from '../db/migrations.js';
import type { SqlClient } from '../db/types.js';

/**
 * DPoP proof ids seen by any process on a PostgreSQL database (issue 17): a proof is accepted
 * once by the whole deployment, not once per process. An `UNLOGGED` table: its inserts write no
 * WAL, so checking a proof waits for no disk flush; should PostgreSQL crash, the table comes
 * back empty, and proofs made in the five minutes before could each be replayed once more,
 * which is what one process's memory (SQLite, before) allowed after every restart. SQLite keeps
 * the table unused: one process serves it, and its memory is the cache (identity/dpop.ts).
 */
export const dpopReplaysMigration: Migration = {
  version: 28,
  name: 'DPoP proofs seen, shared by processes',
  statements: {
    sqlite: ['CREATE TABLE dpop_replays (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)'],
    postgres: [
      'CREATE UNLOGGED TABLE dpop_replays (id TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)',
      'CREATE INDEX dpop_replays_expiry ON dpop_replays (expires_at)',
    ],
  },
};

/** Expired proof ids are deleted every this many proofs recorded by a process. */
const PRUNE_EVERY = 1_000;

let recorded = 0;

/**
 * Records the proof `jkt.jti` until `expiresAtMs` in the database, for every process: `false`
 * when any process recorded it already (a replay).
 *
 * @remarks One statement for the proofs of one turn of the event loop; the id stored is a
 * hash, so the client's `jti` never reaches SQL text. An id already there but expired (its
 * proof can no longer pass the `iat` check, so it is only a leftover) is taken over.
 * @example
 * ```ts
 * if (!(await rememberSharedProof(db, `${jkt}.${jti}`, expiresAtMs, Date.now()))) throw replayed();
 * ```
 */
export function rememberSharedProof(db: SqlClient, proofId: string, expiresAtMs: number, nowMs: number): Promise<boolean> {
  const id = createHash('sha256').update(proofId).digest('base64url');
  let batcher = batchers.get(db);
  if (!batcher) batchers.set(db, (batcher = new ProofBatcher(db)));
  if (++recorded % PRUNE_EVERY === 0) {
    void db.run('DELETE FROM dpop_replays WHERE expires_at <= ?', [nowMs]).catch((error: unknown) => {
      console.error('[dpop] deleting expired proof ids failed; trying again later', error);
    });
  }
  return batcher.remember(id, expiresAtMs);
}

interface WaitingProof {
  id: string;
  expiresAtMs: number;
  resolve(fresh: boolean): void;
  reject(error: unknown): void;
}

/** The most proof ids recorded by one statement. */
const MAX_PROOFS_PER_STATEMENT = 500;

const batchers = new WeakMap<SqlClient, ProofBatcher>();

/**
 * Records the proofs that arrive together (in one turn of the event loop) with one statement:
 * every fan request on PostgreSQL records its proof, and one round trip for all of a turn's
 * requests costs the server and the database far less than one each.
 */
class ProofBatcher {
  readonly #db: SqlClient;
  #waiting: WaitingProof[] = [];
  #flushing = false;

  constructor(db: SqlClient) {
    this.#db = db;
  }

  remember(id: string, expiresAtMs: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ id, expiresAtMs, resolve, reject });
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
      const batch = this.#waiting.splice(0, MAX_PROOFS_PER_STATEMENT);
      // One id twice in a batch: the first records it, the others are replays of it.
      const first = new Map<string, WaitingProof>();
      for (const proof of batch) if (!first.has(proof.id)) first.set(proof.id, proof);
      const proofs = [...first.values()];
      try {
        // Array literals: the ids are base64url (letters, digits, - and _), the times integers.
        const rows = await this.#db.query<{ id: string }>(
          `INSERT INTO dpop_replays (id, expires_at) SELECT * FROM unnest(CAST(? AS TEXT[]), CAST(? AS BIGINT[]))
           ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE dpop_replays.expires_at <= ?
           RETURNING id`,
          [`{${proofs.map((proof) => proof.id).join(',')}}`, `{${proofs.map((proof) => proof.expiresAtMs).join(',')}}`, Date.now()],
        );
        const fresh = new Set(rows.map((row) => row.id));
        for (const proof of batch) proof.resolve(first.get(proof.id) === proof && fresh.has(proof.id));
      } catch (error) {
        for (const proof of batch) proof.reject(error);
      }
    }
  }
}
