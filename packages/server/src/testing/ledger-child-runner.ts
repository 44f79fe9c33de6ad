/**
 * Starts `ledger-child.ts` processes against a test database and talks to them
 * (see `ledger-child-protocol.ts`).
 *
 * @internal
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildJob, ChildMessage, ChildRequest, OpOutcome, OpsJob } from './ledger-child-protocol.js';
import type { TestDatabase } from './databases.js';

/** How a child ended. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The tail of what it wrote to stderr. */
  stderr: string;
}

/** The message of `type`. */
export type MessageOf<T extends ChildMessage['type']> = Extract<ChildMessage, { type: T }>;

/** A running child process. */
export interface LedgerChild {
  readonly pid: number;
  /** Every message so far, in order. */
  readonly messages: readonly ChildMessage[];
  /**
   * Sends a job, to start at `startAt` (epoch milliseconds; at once by default).
   *
   * @returns Its `seq`, which the answers to it carry.
   */
  send(job: ChildJob, startAt?: number): number;
  /**
   * The first message of `type` (that `accept` accepts), seen already or yet to come. Rejects
   * when the child reports `fatal`, ends first, or `timeoutMs` passes.
   */
  waitFor<T extends ChildMessage['type']>(type: T, accept?: (message: MessageOf<T>) => boolean, timeoutMs?: number): Promise<MessageOf<T>>;
  /** Closes the child's stdin: it finishes its jobs, closes the database and exits 0. */
  end(): void;
  /** Sends `signal` to this child (by its pid) if it still runs. */
  kill(signal?: NodeJS.Signals): void;
  /** Settles once the process has ended and its output has been read to the end. */
  readonly exited: Promise<ChildExit>;
}

const sourceFile = fileURLToPath(import.meta.url);
/** `.ts` from the sources (through tsx), `.js` from a build. */
const fromSource = sourceFile.endsWith('.ts');
const childFile = fileURLToPath(new URL(fromSource ? './ledger-child.ts' : './ledger-child.js', import.meta.url));

const running = new Set<ChildProcess>();

const STDERR_TAIL_CHARS = 8_000;

/** Starts a child on `testDb` and waits until it has opened the database and says `ready`. */
export async function startLedgerChild(testDb: TestDatabase, timeoutMs = 30_000): Promise<LedgerChild> {
  const args = fromSource ? ['--conditions=source', '--import', 'tsx', childFile] : [childFile];
  // An empty DATABASE_URL reads as unset: an SQLite child must not follow a DATABASE_URL from
  // the environment to some PostgreSQL server.
  const env = { ...process.env, DATABASE_URL: '', ...testDb.env };
  const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${childFile}`);
  running.add(child);
  const pid = child.pid;

  const messages: ChildMessage[] = [];
  const listeners = new Set<() => void>();
  let stderr = '';
  let ended: ChildExit | undefined;
  let seq = 0;

  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
  });
  child.stdin.on('error', () => {}); // the child may be gone before we write
  createInterface({ input: child.stdout }).on('line', (line) => {
    let message: ChildMessage;
    try {
      message = JSON.parse(line) as ChildMessage;
    } catch {
      stderr = `${stderr}[stdout] ${line}\n`.slice(-STDERR_TAIL_CHARS);
      return;
    }
    messages.push(message);
    for (const listener of [...listeners]) listener();
  });
  const exited = new Promise<ChildExit>((resolve) => {
    // 'close' comes after 'exit', once stdout has been read to its end.
    child.on('close', (code, signal) => {
      running.delete(child);
      ended = { code, signal, stderr };
      for (const listener of [...listeners]) listener();
      resolve(ended);
    });
  });

  const handle: LedgerChild = {
    pid,
    messages,
    exited,
    send(job, startAt = 0) {
      seq++;
      const request: ChildRequest = { seq, startAt, job };
      child.stdin.write(`${JSON.stringify(request)}\n`);
      return seq;
    },
    end() {
      child.stdin.end();
    },
    kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, signal);
    },
    waitFor<T extends ChildMessage['type']>(type: T, accept: (message: MessageOf<T>) => boolean = () => true, waitMs = 30_000) {
      return new Promise<MessageOf<T>>((resolve, reject) => {
        const finish = (error: Error | undefined, message?: MessageOf<T>): void => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve(message as MessageOf<T>);
        };
        const check = (): void => {
          const found = messages.find((m): m is MessageOf<T> => m.type === type && accept(m as MessageOf<T>));
          if (found) return finish(undefined, found);
          const fatal = messages.find((m): m is MessageOf<'fatal'> => m.type === 'fatal');
          if (fatal) return finish(new Error(`child ${pid} failed: ${fatal.message}`));
          if (ended)
            finish(new Error(`child ${pid} ended (code ${ended.code}, signal ${ended.signal}) before "${type}"; stderr:\n${ended.stderr}`));
        };
        const timer = setTimeout(() => finish(new Error(`child ${pid}: no "${type}" within ${waitMs} ms; stderr:\n${stderr}`)), waitMs);
        listeners.add(check);
        check();
      });
    },
  };
  try {
    await handle.waitFor('ready', undefined, timeoutMs);
  } catch (error) {
    handle.kill();
    throw error;
  }
  return handle;
}

/** Starts `count` children on `testDb` at once; see {@link startLedgerChild}. */
export async function startLedgerChildren(testDb: TestDatabase, count: number): Promise<LedgerChild[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startLedgerChild(testDb)));
  const children = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    for (const child of children) child.kill();
    throw failed.reason;
  }
  return children;
}

/** Ends `children` (closes their stdin) and fails unless every one exits with 0. */
export async function stopLedgerChildren(children: readonly LedgerChild[]): Promise<void> {
  for (const child of children) child.end();
  const exits = await Promise.all(children.map((child) => child.exited));
  exits.forEach((exit, i) => {
    if (exit.code !== 0) throw new Error(`child ${children[i]?.pid} exited with ${exit.code ?? exit.signal}; stderr:\n${exit.stderr}`);
  });
}

/** SIGKILLs every child this module started that still runs (by its pid); for `after` hooks. */
export function killLedgerChildren(): void {
  for (const child of running) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  }
}

/**
 * Gives `jobs[i]` to `children[i]`, all to start at one moment shortly ahead, and returns each
 * child's `ops_done` answer.
 */
export async function runOps(
  children: readonly LedgerChild[],
  jobs: readonly OpsJob[],
  timeoutMs = 30_000,
): Promise<MessageOf<'ops_done'>[]> {
  if (jobs.length > children.length) throw new Error(`${jobs.length} jobs for ${children.length} children`);
  // Shortly ahead, so that the children start together rather than in the order they read.
  const startAt = Date.now() + 100;
  const sent = jobs.map((job, i) => {
    const child = children[i] as LedgerChild;
    return { child, seq: child.send(job, startAt) };
  });
  return Promise.all(sent.map(({ child, seq }) => child.waitFor('ops_done', (m) => m.seq === seq, timeoutMs)));
}

/** Counts outcomes by `ok` or error code: `{ ok: 10, insufficient_funds: 40 }`. */
export function tally(outcomes: readonly OpOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) {
    const key = outcome.ok ? 'ok' : outcome.code;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** The distinct error messages among `outcomes`, for an assertion's message. */
export function errorMessages(outcomes: readonly OpOutcome[]): string {
  const messages = new Set(outcomes.flatMap((outcome) => (outcome.ok ? [] : [`${outcome.code}: ${outcome.message}`])));
  return [...messages].slice(0, 10).join('\n');
}
