// The writer thread of `ThreadMoneyWriter` (money/writer.ts): its own connection to the SQLite
// file, its own ledger, money registry and group commit; requests come in as data and their
// answers go back once their batch has committed.
import { writeFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { WAL_SAFETY_PAGES, startCheckpointer } from '../db/checkpointer.js';
import { openSqlite } from '../db/sqlite.js';
import type { Database, SqlClient } from '../db/types.js';
import { GroupCommit } from '../ledger/group-commit.js';
import { Ledger } from '../ledger/ledger.js';
import { platformMoney } from '../features.js';
import { localEvents, type CommittedEvent } from '../events/bus.js';
import {
  runMoneyRequest,
  slowestOf,
  toCrossingError,
  type FromWriter,
  type ToWriter,
  type WriterAnswer,
  type WriterData,
} from './writer.js';

if (!parentPort) throw new Error('writer-thread.ts runs only as a worker thread (see ThreadMoneyWriter).');
const port = parentPort;
const { file } = workerData as WriterData;

/** Counts statements, so that the benchmark can say what a spend costs the database. */
let statements = 0;
/**
 * With `BENCH_TRACE_SQL` (a file, see `bench/api.bench.ts`), how often each statement ran on
 * this thread, written to that file's name plus `.writer` at each stats request.
 */
const traceFile = process.env.BENCH_TRACE_SQL ? `${process.env.BENCH_TRACE_SQL}.writer` : undefined;
const traced = new Map<string, number>();
function count(sql: string): void {
  statements++;
  if (traceFile === undefined) return;
  const text = sql.replace(/\s+/g, ' ').slice(0, 110);
  traced.set(text, (traced.get(text) ?? 0) + 1);
}
function counted(client: SqlClient): SqlClient {
  return {
    kind: client.kind,
    query: (sql, params) => {
      count(sql);
      return client.query(sql, params);
    },
    run: (sql, params) => {
      count(sql);
      return client.run(sql, params);
    },
  };
}

// The WAL is copied back into the database by a checkpointer thread, not inside this
// thread's commits (see db/checkpointer.ts).
const opened = openSqlite({ file, autoCheckpointPages: WAL_SAFETY_PAGES });
const checkpointer = startCheckpointer(file);
const db: Database = {
  ...counted(opened),
  kind: opened.kind,
  description: opened.description,
  file: opened.file,
  transaction: (work, options) => opened.transaction((tx) => work(counted(tx)), options),
  close: () => opened.close(),
};
const ledger = new Ledger(db);
const registry = platformMoney();
const money = registry.contextFor(ledger);
/**
 * Batches start at least this far apart (unless a full one waits): under a steady trickle of
 * spends each commit then carries a few instead of one, at the cost of up to a millisecond; a
 * lone spend after a quiet spell still starts at once. In `npm run bench:api` 0, 1, 3 and 5 ms
 * all met the p99 goal; 1 ms had the best latency of those that saved CPU (5 ms saved the most
 * CPU but added about 3 ms to every answer).
 */
const MIN_BATCH_INTERVAL_MS = 1;
const commits = new GroupCommit(ledger, { minBatchIntervalMs: MIN_BATCH_INTERVAL_MS });
const send = (message: FromWriter) => port.postMessage(message);

/**
 * Events committed on this thread, not yet handed over: `appendEvent` publishes them on this
 * thread's bus once their group commit is durable (before its answers), and they travel to the
 * main thread with those answers.
 */
const committedEvents: CommittedEvent[] = [];
localEvents.subscribe((events) => void committedEvents.push(...events));

/** Answers not yet sent: those of one group commit go back in one message. */
const outbox: WriterAnswer[] = [];
function answer(reply: WriterAnswer): void {
  outbox.push(reply);
  if (outbox.length === 1) {
    setImmediate(() => send({ type: 'answers', answers: outbox.splice(0), events: committedEvents.splice(0) }));
  }
}

port.on('message', (message: ToWriter) => {
  switch (message.type) {
    case 'requests':
      for (const { id, request } of message.requests) {
        commits
          .run((tx) => runMoneyRequest(tx, registry, money, request))
          .then(
            (result) => answer({ id, ok: true, result }),
            (error: unknown) => answer({ id, ok: false, error: toCrossingError(error) }),
          );
      }
      return;
    case 'stats':
      if (traceFile !== undefined) {
        const lines = [...traced].sort((a, b) => b[1] - a[1]).map(([text, n]) => `${String(n).padStart(8)}  ${text}`);
        writeFileSync(traceFile, `${lines.join('\n')}\n`);
      }
      send({
        type: 'stats',
        id: message.id,
        stats: {
          batches: commits.batches,
          statements,
          works: commits.works,
          lastBatchSize: commits.lastBatchSize,
          slowestBatchMs: slowestOf(commits, message.options),
        },
      });
      return;
    case 'close':
      // The main thread sends this after every spend it asked for was answered.
      void checkpointer
        .close()
        .then(() => db.close())
        .then(() => port.close());
      return;
  }
});
send({ type: 'ready' });
