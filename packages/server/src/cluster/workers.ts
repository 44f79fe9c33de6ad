import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';

/** The environment variable that asks `diamonds start` for several worker processes. */
export const WORKERS_ENV = 'DIAMONDS_WORKERS';

/** The most worker processes one `diamonds start` runs. */
export const MAX_WORKERS = 64;

/** How long stopped workers may take to drain before they are killed. */
const STOP_GRACE_MS = 30_000;

/**
 * The worker processes `DIAMONDS_WORKERS` asks for: a whole number from 1 to {@link MAX_WORKERS},
 * or `auto` (one per CPU core). Unset or empty means 1: one process, no supervisor.
 *
 * @remarks Several processes need PostgreSQL (`DATABASE_URL`): on SQLite the money writer owns
 * the database file's one write lock, so a second process would only queue behind it (and its
 * sweeper and consumers would compete with the first) for no gain. More CPU for one SQLite
 * platform comes from the writer thread, not from processes.
 * @throws Error with a message for the operator when the value is not valid, or above 1 on SQLite.
 */
export function workerCount(env: NodeJS.ProcessEnv, databaseUrl: string | undefined): number {
  const text = env[WORKERS_ENV]?.trim() ?? '';
  let count: number;
  if (text === '') count = 1;
  else if (text === 'auto') count = Math.min(MAX_WORKERS, availableParallelism());
  else if (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= MAX_WORKERS) count = Number(text);
  else throw new Error(`${WORKERS_ENV} is a whole number of processes from 1 to ${MAX_WORKERS}, or "auto"; got ${JSON.stringify(text)}.`);
  if (count > 1 && !databaseUrl) {
    throw new Error(
      `${WORKERS_ENV}=${text} needs PostgreSQL: set DATABASE_URL. On SQLite one process writes the database file ` +
        '(its money writer holds the write lock), so more processes would only wait for it; run one, or move to PostgreSQL.',
    );
  }
  return count;
}

/** Options of {@link superviseWorkers}. */
export interface SuperviseOptions {
  /** Print what happens to the workers. @defaultValue true */
  log?: boolean;
  /** The least wait before a worker that died is replaced; doubles while they keep dying young. @defaultValue 500 */
  restartDelayMs?: number;
}

/** The primary process's view of its workers (see {@link superviseWorkers}). */
export interface Supervisor {
  /** The workers running now, oldest first. */
  workers(): Worker[];
  /** Those of them that listen (serve requests) already. */
  listening(): Worker[];
  /** Workers started to replace one that died. */
  readonly restarts: number;
  /** Resolves once the first worker listens (the others are started after it). */
  readonly ready: Promise<void>;
  /**
   * Asks every worker to stop (SIGTERM: they drain and close), kills those still running after
   * the grace, and resolves when all exited. With `signalAfterMs`, workers are first given that
   * long to exit by themselves (they got the signal too, from the terminal) and none is replaced.
   */
  stop(signalAfterMs?: number): Promise<void>;
}

/**
 * Runs `count` worker processes of this same command (node:cluster): they share the listening
 * port, and the primary only watches them, replacing any that dies.
 *
 * @remarks The first worker is started alone and the others once it listens, so that the
 * first start of an empty database (migrations, keys, demo data) happens in one process while
 * the others wait. Every worker is a whole platform (its pool, group commit, sweeper turn,
 * consumers, live streams); what they share lives in PostgreSQL (see docs/operations.md,
 * "Several processes"). A worker that exits while the platform is not stopping is replaced,
 * after a delay that doubles (to 30 s) while workers keep dying within 10 s of their start.
 * @example
 * ```ts
 * if (cluster.isPrimary && count > 1) {
 *   const supervisor = superviseWorkers(count);
 *   process.once('SIGTERM', () => void supervisor.stop());
 * }
 * ```
 */
export function superviseWorkers(count: number, options: SuperviseOptions = {}): Supervisor {
  const log = options.log === false ? () => {} : (message: string) => console.log(`[workers] ${message}`);
  const baseDelayMs = options.restartDelayMs ?? 500;
  let delayMs = baseDelayMs;
  let stopping = false;
  let restarts = 0;
  const startedAt = new Map<Worker, number>();
  const listening = new Set<Worker>();
  const replacing = new Set<NodeJS.Timeout>();
  const exits: Array<() => void> = [];

  const fork = (): Worker => {
    const worker = cluster.fork();
    startedAt.set(worker, performance.now());
    worker.once('listening', () => listening.add(worker));
    worker.once('exit', (code, signal) => {
      listening.delete(worker);
      const lived = performance.now() - (startedAt.get(worker) ?? 0);
      startedAt.delete(worker);
      if (startedAt.size === 0) for (const resolve of exits.splice(0)) resolve();
      if (stopping) return;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      delayMs = lived < 10_000 ? Math.min(delayMs * 2, 30_000) : baseDelayMs;
      log(`worker ${worker.process.pid} ${how}; starting another in ${Math.round(delayMs)} ms`);
      const timer = setTimeout(() => {
        replacing.delete(timer);
        if (stopping) return;
        restarts++;
        fork();
      }, delayMs);
      replacing.add(timer);
    });
    return worker;
  };

  const ready = new Promise<void>((resolve, reject) => {
    const first = fork();
    const onExit = () => reject(new Error('the first worker stopped before it listened; see its messages above'));
    first.once('exit', onExit);
    first.once('listening', () => {
      first.off('exit', onExit);
      resolve();
      for (let i = 1; i < count && !stopping; i++) fork();
      log(`${count} worker processes started (${[...startedAt.keys()].map((w) => w.process.pid).join(', ')})`);
    });
  });
  // A first worker that fails is reported through `ready`; nothing else waits on it here.
  ready.catch(() => {});

  return {
    workers: () => [...startedAt.keys()],
    listening: () => [...startedAt.keys()].filter((worker) => listening.has(worker)),
    get restarts() {
      return restarts;
    },
    ready,
    async stop(signalAfterMs = 0) {
      stopping = true;
      for (const timer of replacing) clearTimeout(timer);
      replacing.clear();
      if (startedAt.size === 0) return;
      const allExited = new Promise<void>((resolve) => exits.push(resolve));
      if (signalAfterMs > 0) {
        let waited: NodeJS.Timeout | undefined;
        await Promise.race([allExited, new Promise((resolve) => (waited = setTimeout(resolve, signalAfterMs)))]);
        clearTimeout(waited);
        if (startedAt.size === 0) return;
      }
      for (const worker of startedAt.keys()) worker.process.kill('SIGTERM');
      const kill = setTimeout(() => {
        for (const worker of startedAt.keys()) {
          log(`worker ${worker.process.pid} did not stop within ${STOP_GRACE_MS / 1000} s; killing it`);
          worker.process.kill('SIGKILL');
        }
      }, STOP_GRACE_MS);
      kill.unref();
      await allExited;
      clearTimeout(kill);
    },
  };
}

/**
 * Lets a worker process exit once it has stopped: call it in each worker when it starts.
 *
 * @remarks A worker's IPC channel to its primary keeps its event loop alive for ever, so a
 * worker that drained and closed everything on SIGTERM or SIGINT would never exit. On either
 * signal the channel stops counting (the platform's own handler does the draining), and the
 * process exits as soon as its work is done, as a single process does. The listeners stay: a
 * worker often gets the signal twice (from the terminal or systemd's whole control group, and
 * from its primary), and a second one must not kill it mid-drain; the primary kills a worker
 * that has not stopped after its grace.
 */
export function exitWhenStopped(): void {
  if (!cluster.isWorker) return;
  const release = () => process.channel?.unref();
  process.on('SIGTERM', release);
  process.on('SIGINT', release);
}

/**
 * What `diamonds start` does in the primary process when asked for several workers: starts and
 * watches them until SIGTERM or SIGINT, then stops them and returns the exit code.
 *
 * @remarks On SIGTERM (systemd's `stop` with `KillMode=mixed`, a container runtime) each worker
 * is sent SIGTERM and drains. On SIGINT (Ctrl-C in a terminal) the workers got the signal
 * themselves, from the terminal; any still running a moment later (the primary alone was
 * signalled) is sent SIGTERM.
 */
export async function runPrimary(count: number): Promise<number> {
  const supervisor = superviseWorkers(count);
  try {
    await supervisor.ready;
  } catch (error) {
    console.error(`diamonds: ${(error as Error).message}`);
    await supervisor.stop();
    return 1;
  }
  const signalAfterMs = await new Promise<number>((resolve) => {
    process.once('SIGTERM', () => resolve(0));
    process.once('SIGINT', () => resolve(2_000));
  });
  await supervisor.stop(signalAfterMs);
  console.log('[workers] every worker stopped.');
  return 0;
}
