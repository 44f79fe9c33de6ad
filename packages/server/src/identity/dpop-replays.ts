import { createHash } from 'node:crypto';
import type { Migration } from '../db/migrations.js';
import { StatementBatcher } from '../db/batched-read.js';
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
  if (!batcher) batchers.set(db, (batcher = proofBatcher(db)));
  if (++recorded % PRUNE_EVERY === 0) {
    void db.run('DELETE FROM dpop_replays WHERE expires_at <= ?', [nowMs]).catch((error: unknown) => {
      console.error('[dpop] deleting expired proof ids failed; trying again later', error);
    });
  }
  return batcher.add({ id, expiresAtMs });
}

const batchers = new WeakMap<SqlClient, StatementBatcher<{ id: string; expiresAtMs: number }, boolean>>();

/**
 * Records the proofs that arrive together (in one turn of the event loop) with one statement
 * (see {@link StatementBatcher}): every fan request on PostgreSQL records its proof.
 */
function proofBatcher(db: SqlClient): StatementBatcher<{ id: string; expiresAtMs: number }, boolean> {
  return new StatementBatcher(async (proofs) => {
    // One id twice in a batch: the first records it, the others are replays of it.
    const first = new Map<string, { id: string; expiresAtMs: number }>();
    for (const proof of proofs) if (!first.has(proof.id)) first.set(proof.id, proof);
    const distinct = [...first.values()];
    // Array literals: the ids are base64url (letters, digits, - and _), the times integers.
    const rows = await db.query<{ id: string }>(
      `INSERT INTO dpop_replays (id, expires_at) SELECT * FROM unnest(CAST(? AS TEXT[]), CAST(? AS BIGINT[]))
       ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE dpop_replays.expires_at <= ?
       RETURNING id`,
      [`{${distinct.map((proof) => proof.id).join(',')}}`, `{${distinct.map((proof) => proof.expiresAtMs).join(',')}}`, Date.now()],
    );
    const fresh = new Set(rows.map((row) => row.id));
    return proofs.map((proof) => first.get(proof.id) === proof && fresh.has(proof.id));
  });
}
