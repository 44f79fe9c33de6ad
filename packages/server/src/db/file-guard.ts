import { statSync } from 'node:fs';
import { ApiError } from '../errors.js';
import { quietLogger } from '../ops/logging.js';

/** How often the file is looked at between writes, so that health checks fail without one. */
const CHECK_INTERVAL_MS = 1_000;

/**
 * Watches that an SQLite database file is still the one that was opened.
 *
 * @remarks
 * An open SQLite connection keeps writing to its file even after the file (or its whole
 * folder) was removed or replaced: the writes land in an unlinked inode and vanish when the
 * process exits, and the next start creates an empty database. So every commit (and every
 * write outside a transaction) first checks that the path still names the same file (device
 * and inode), and a timer checks every second; once it does not, the guard stays tripped: every
 * later write is refused with 503 `service_unavailable`, one loud log line says why, and the
 * health checks fail, until an operator restores the file and restarts the platform.
 */
export class FileGuard {
  readonly #file: string;
  readonly #dev: number;
  readonly #ino: number;
  #lost: string | undefined;
  readonly #timer: NodeJS.Timeout;

  /** Starts watching `file`, which must exist (it was just opened). */
  constructor(file: string) {
    this.#file = file;
    const stat = statSync(file);
    this.#dev = stat.dev;
    this.#ino = stat.ino;
    this.#timer = setInterval(() => this.#look(), CHECK_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Why writes are refused, or undefined while the file is the one opened. */
  get lost(): string | undefined {
    return this.#lost ?? this.#look();
  }

  /**
   * Throws 503 `service_unavailable` unless the file is still the one opened: called before
   * every commit, so nothing is acknowledged once it is gone.
   */
  check(): void {
    const lost = this.lost;
    if (lost !== undefined) {
      throw new ApiError('service_unavailable', `The platform cannot store anything: ${lost} Nothing was saved.`);
    }
  }

  /** Stops the timer. */
  close(): void {
    clearInterval(this.#timer);
  }

  #look(): string | undefined {
    if (this.#lost !== undefined) return this.#lost;
    let reason: string | undefined;
    try {
      const stat = statSync(this.#file);
      if (stat.dev !== this.#dev || stat.ino !== this.#ino) reason = `the database file ${this.#file} was replaced by another file.`;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      reason =
        code === 'ENOENT' || code === 'ENOTDIR'
          ? `the database file ${this.#file} (or its folder) was removed.`
          : `the database file ${this.#file} cannot be checked (${code ?? String(error)}).`;
    }
    if (reason !== undefined) {
      this.#lost = reason;
      clearInterval(this.#timer);
      quietLogger.fatal(
        { file: this.#file, event: 'database_file_lost' },
        `DATABASE FILE LOST: ${reason} Writes are refused from now on (503). Restore the file from a backup (diamonds restore) and restart; do not restart before, or an empty database is created.`,
      );
    }
    return reason;
  }
}
