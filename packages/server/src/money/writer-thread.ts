// The writer thread of `ThreadSpendWriter` (money/writer.ts): its own connection to the SQLite
// file, its own ledger and group commit; spends come in as data and their answers go back once
// their batch has committed.
import { parentPort, workerData } from 'node:worker_threads';
import { openSqlite } from '../db/sqlite.js';
import type { Database, SqlClient } from '../db/types.js';
import { GroupCommit } from '../ledger/group-commit.js';
import { Ledger } from '../ledger/ledger.js';
import { runIdempotentSpend } from './commands.js';
import { toCrossingError, type FromWriter, type ToWriter, type WriterData } from './writer.js';

if (!parentPort) throw new Error('writer-thread.ts runs only as a worker thread (see ThreadSpendWriter).');
const port = parentPort;
const { file } = workerData as WriterData;

/** Counts statements, so that the benchmark can say what a spend costs the database. */
let statements = 0;
function counted(client: SqlClient): SqlClient {
  return {
    kind: client.kind,
    query: (sql, params) => {
      statements++;
      return client.query(sql, params);
    },
    run: (sql, params) => {
      statements++;
      return client.run(sql, params);
    },
  };
}

const opened = openSqlite({ file });
const db: Database = {
  ...counted(opened),
  kind: opened.kind,
  description: opened.description,
  file: opened.file,
  transaction: (work, options) => opened.transaction((tx) => work(counted(tx)), options),
  close: () => opened.close(),
};
const ledger = new Ledger(db);
const commits = new GroupCommit(ledger);
const send = (message: FromWriter) => port.postMessage(message);

port.on('message', (message: ToWriter) => {
  switch (message.type) {
    case 'spend':
      commits
        .run((tx) => runIdempotentSpend(tx, ledger, message.spend))
        .then(
          (result) => send({ type: 'done', id: message.id, ok: true, result }),
          (error: unknown) => send({ type: 'done', id: message.id, ok: false, error: toCrossingError(error) }),
        );
      return;
    case 'stats':
      send({ type: 'stats', id: message.id, stats: { batches: commits.batches, statements } });
      return;
    case 'close':
      // The main thread sends this after every spend it asked for was answered.
      void db.close().then(() => port.close());
      return;
  }
});
send({ type: 'ready' });
