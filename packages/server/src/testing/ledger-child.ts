/**
 * A child process for the ledger's multi-process tests: opens the database named by its
 * environment (`DATABASE_URL` or `DIAMONDS_DATA_DIR`, as every command does), never migrates
 * (the parent did), and runs the jobs it reads from stdin. See `ledger-child-protocol.ts`.
 *
 * Started by `ledger-child-runner.ts`; not part of the package's API.
 *
 * @internal
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { readSettings } from '../config.js';
import { openDatabase } from '../db/open.js';
import type { Database } from '../db/types.js';
import { isApiError } from '../errors.js';
import { Ledger, type TransferResult } from '../ledger/ledger.js';
import {
  streamRequest,
  type ChildMessage,
  type ChildOp,
  type ChildRequest,
  type OpOutcome,
  type OpsJob,
  type StreamJob,
} from './ledger-child-protocol.js';

function send(message: ChildMessage): void {
  // Pipes are written synchronously on Linux: a line is out before the next commit starts.
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

function outcomeOf(error: unknown): OpOutcome {
  return isApiError(error)
    ? { ok: false, code: error.code, message: error.message }
    : { ok: false, code: 'unexpected', message: describe(error) };
}

/** Waits until `startAt`, spinning through the last milliseconds, where timers are too coarse. */
async function startAtMoment(startAt: number): Promise<void> {
  const wait = startAt - Date.now() - 5;
  if (wait > 0) await sleep(wait);
  while (Date.now() < startAt) {
    // spin
  }
}

/** Opens the pool's connections (PostgreSQL) and checks the schema is there, before `ready`. */
async function warmUp(db: Database): Promise<void> {
  await Promise.all(Array.from({ length: 10 }, () => db.query('SELECT count(*) AS n FROM accounts')));
}

function runOp(ledger: Ledger, op: ChildOp): Promise<TransferResult> {
  switch (op.op) {
    case 'transfer':
      return ledger.transfer(op.request);
    case 'post':
      return ledger.post(op.request);
    case 'void':
      return ledger.void(op.request);
  }
}

async function runOps(ledger: Ledger, seq: number, job: OpsJob): Promise<void> {
  const startedAt = Date.now();
  const outcomes = await Promise.all(
    job.ops.map((op) =>
      runOp(ledger, op).then(
        (result): OpOutcome => ({ ok: true, transferId: result.transfer.id, state: result.transfer.state, replayed: result.replayed }),
        outcomeOf,
      ),
    ),
  );
  send({ type: 'ops_done', seq, outcomes, startedAt, finishedAt: Date.now() });
}

async function runStream(ledger: Ledger, seq: number, job: StreamJob): Promise<void> {
  const started = Date.now();
  let done = 0;
  let applied = 0;
  let replayed = 0;
  let minAppliedIndex = -1;
  let maxReplayedIndex = -1;
  const failures: { index: number; code: string; message: string }[] = [];
  const count = (index: number, result: TransferResult): void => {
    if (result.replayed) {
      replayed++;
      maxReplayedIndex = Math.max(maxReplayedIndex, index);
    } else {
      applied++;
      if (minAppliedIndex === -1) minAppliedIndex = index;
    }
  };
  while (done < job.count && Date.now() - started < job.timeLimitMs) {
    const inBlock = done % job.blockSize;
    if (inBlock < job.singlesPerBlock) {
      const index = done;
      try {
        count(index, await ledger.transfer(streamRequest(job, index)));
      } catch (error) {
        if (!isApiError(error)) throw error;
        failures.push({ index, code: error.code, message: error.message });
      }
      done++;
    } else {
      const end = Math.min(done - inBlock + job.blockSize, job.count);
      const indexes = Array.from({ length: end - done }, (_, i) => done + i);
      const results = await ledger.transferBatch(indexes.map((index) => streamRequest(job, index)));
      results.forEach((result, i) => {
        const index = indexes[i] ?? -1;
        if (result.ok) count(index, result);
        else failures.push({ index, code: result.error.code, message: result.error.message });
      });
      done = end;
    }
    send({ type: 'progress', seq, done });
  }
  send({ type: 'stream_done', seq, done, applied, replayed, minAppliedIndex, maxReplayedIndex, failures, elapsedMs: Date.now() - started });
}

async function main(): Promise<void> {
  const db = openDatabase(readSettings());
  try {
    const ledger = new Ledger(db);
    await warmUp(db);
    send({ type: 'ready', pid: process.pid });
    // Ends when the parent closes stdin (or goes away).
    for await (const line of createInterface({ input: process.stdin })) {
      if (line.trim() === '') continue;
      const { seq, startAt, job } = JSON.parse(line) as ChildRequest;
      await startAtMoment(startAt);
      if (job.mode === 'ops') await runOps(ledger, seq, job);
      else await runStream(ledger, seq, job);
    }
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  send({ type: 'fatal', message: describe(error) });
  process.exitCode = 1;
});
