/**
 * What a ledger test and its child processes (`ledger-child.ts`) say to each other.
 *
 * @remarks
 * A child opens the database named by its environment and prints `ready`. Then it reads jobs
 * from stdin, one {@link ChildRequest} per line, and runs each in turn: it waits for the
 * request's `startAt` (a start barrier, so that several children really overlap), does the job
 * and prints its answer, tagged with the request's `seq`. When stdin ends, it closes the
 * database and exits 0. Every message is one line of JSON on stdout.
 *
 * @internal
 */
import type { ResolveRequest, TransferRequest } from '../ledger/ledger.js';

/** One ledger call of an {@link OpsJob}. */
export type ChildOp = { op: 'transfer'; request: TransferRequest } | { op: 'post' | 'void'; request: ResolveRequest };

/** Runs every op at once (`Promise.all`) and answers `ops_done` with one outcome per op, in order. */
export interface OpsJob {
  mode: 'ops';
  ops: ChildOp[];
}

/**
 * Walks the keys `keyPrefix0 … keyPrefix{count-1}` in order, one commit at a time: in each
 * block of `blockSize` keys the first `singlesPerBlock` go through `transfer`, the rest through
 * one `transferBatch`. Reports `progress` after every commit and `stream_done` at the end, or
 * when `timeLimitMs` has passed (at a commit boundary).
 */
export interface StreamJob {
  mode: 'stream';
  fromAccountId: string;
  toAccountId: string;
  keyPrefix: string;
  count: number;
  blockSize: number;
  singlesPerBlock: number;
  timeLimitMs: number;
}

/** The work given to one child. */
export type ChildJob = OpsJob | StreamJob;

/** One line on a child's stdin. */
export interface ChildRequest {
  /** Echoed in every answer to this request. */
  seq: number;
  /** Start at this moment (epoch milliseconds), or at once when it has passed. */
  startAt: number;
  job: ChildJob;
}

/** How one ledger call ended. `code` is an ApiError code, or `unexpected` for anything else. */
export type OpOutcome = { ok: true; transferId: string; state: string; replayed: boolean } | { ok: false; code: string; message: string };

/** A line a child prints. */
export type ChildMessage =
  | { type: 'ready'; pid: number }
  | { type: 'ops_done'; seq: number; outcomes: OpOutcome[]; startedAt: number; finishedAt: number }
  /** Keys `0 … done-1` of the stream have been answered (committed or replayed). */
  | { type: 'progress'; seq: number; done: number }
  | {
      type: 'stream_done';
      seq: number;
      done: number;
      applied: number;
      replayed: number;
      /** Smallest index that was applied by this run, -1 when none. */
      minAppliedIndex: number;
      /** Largest index that was a replay in this run, -1 when none. */
      maxReplayedIndex: number;
      failures: { index: number; code: string; message: string }[];
      elapsedMs: number;
    }
  | { type: 'fatal'; message: string };

/** The amount of stream key `index`: fixed per key, so that a retry is the same request. */
export function streamAmount(index: number): number {
  return 1 + ((index * 7) % 13);
}

/** The sum of {@link streamAmount} over keys `0 … count-1`. */
export function streamTotal(count: number): number {
  let total = 0;
  for (let index = 0; index < count; index++) total += streamAmount(index);
  return total;
}

/** The request of stream key `index`: the same every time it is asked for. */
export function streamRequest(job: StreamJob, index: number): TransferRequest {
  const amount = streamAmount(index);
  return {
    idempotencyKey: `${job.keyPrefix}${index}`,
    code: 'gift',
    postings: [
      { accountId: job.fromAccountId, amountDiamonds: -amount },
      { accountId: job.toAccountId, amountDiamonds: amount },
    ],
    metadata: { index },
  };
}
