import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/*
 * WAL checkpoints off the money path. In WAL mode each commit appends the pages it changed to
 * the WAL; a checkpoint copies them back into the database file and fsyncs it. By default the
 * connection whose commit brings the WAL past 1,000 pages does that copy inside its COMMIT: on
 * the SQLite writer thread that was one commit in seven under load, each held up by several
 * milliseconds (the commit's own answers and every spend queued behind it), and about a tenth
 * of the writer's CPU per gift. Here a thread of its own checkpoints a few times a second with
 * `PASSIVE` (it never waits for, nor blocks, the writer or the readers), so a page changed by
 * many commits in that time is copied once. The connections keep a far higher automatic
 * threshold ({@link WAL_SAFETY_PAGES}) as a bound should this thread fall behind or stop.
 */

/** How often the checkpointer copies the WAL back into the database. */
export const CHECKPOINT_INTERVAL_MS = 100;

/**
 * The automatic checkpoint threshold of connections while a checkpointer runs: the most pages
 * the WAL grows to (40 MB) before the committing connection checkpoints itself, as without one.
 */
export const WAL_SAFETY_PAGES = 10_000;

/** A running checkpointer (see {@link startCheckpointer}). */
export interface Checkpointer {
  /** Stops the thread and closes its connection (after a last checkpoint). */
  close(): Promise<void>;
}

// The thread's code: plain CommonJS with nothing but the driver, so it runs the same from the
// TypeScript sources (tests, benchmarks) and from the build.
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { timeout: 0 });
// As every connection of the platform: the database file is synced before the WAL may be reused.
db.pragma('synchronous = FULL');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy (another checkpoint) or a passing I/O error: the next turn tries again.
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

/**
 * Starts a thread that checkpoints the WAL of the SQLite `file` every `intervalMs`, on its own
 * connection.
 *
 * @remarks Give the connections that write a high `wal_autocheckpoint` (such as
 * {@link WAL_SAFETY_PAGES}), or they keep checkpointing inside their commits.
 */
export function startCheckpointer(file: string, intervalMs = CHECKPOINT_INTERVAL_MS): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(THREAD, { eval: true, workerData: { file, driver, intervalMs } });
  // It must not keep a process alive on its own, nor crash it: the safety threshold takes over.
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('error', (error) => console.error('[sqlite] the WAL checkpointer stopped; commits checkpoint the WAL themselves', error));
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        // Waited for now: the last checkpoint and the connection's close happen before it ends.
        worker.ref();
        worker.postMessage('close');
        await exited;
      })();
      return closing;
    },
  };
}
