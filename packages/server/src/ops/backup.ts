import BetterSqlite3 from 'better-sqlite3';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/*
 * `diamonds backup FILE` and `diamonds restore FILE` for SQLite, with SQLite's online backup
 * API (through better-sqlite3): a copy taken while the platform runs is one consistent snapshot,
 * because every page is copied in one step, inside one read transaction, which in WAL mode
 * does not stop the platform's writers. PostgreSQL is backed up with pg_dump instead (see
 * docs/operations.md).
 */

/** The most pages one backup step may copy: all of them, so the copy is one snapshot. */
const ALL_PAGES = 0x7fffffff;

/** What a backup or a restore did. */
export interface BackupResult {
  /** The file written. */
  file: string;
  /** Its size in bytes. */
  bytes: number;
  /** The schema version it holds. */
  schemaVersion: number;
  /** How many ledger transfers it holds (a figure to compare with the live platform). */
  transfers: number;
}

/** Reads what a database file holds (schema version, transfers) and checks its integrity. */
function describe(file: string): Omit<BackupResult, 'file' | 'bytes'> {
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') throw new Error(`${file} fails SQLite's integrity check: ${String(integrity)}`);
    const hasMigrations = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).get();
    if (!hasMigrations) throw new Error(`${file} is an SQLite file but not a Diamonds database (no schema_migrations table).`);
    const version = db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_migrations').get() as { v: number };
    const hasTransfers = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'transfers'`).get();
    const transfers = hasTransfers ? (db.prepare('SELECT count(*) AS n FROM transfers').get() as { n: number }).n : 0;
    return { schemaVersion: version.v, transfers };
  } finally {
    db.close();
  }
}

/**
 * Copies the live database `source` into `destination` (a new file), consistently, while the
 * platform may be writing to it.
 *
 * @throws Error when `source` does not exist or `destination` already does.
 */
export async function backupSqlite(source: string, destination: string): Promise<BackupResult> {
  const target = resolve(destination);
  if (!existsSync(source)) throw new Error(`There is no database at ${source} (check DIAMONDS_DATA_DIR).`);
  if (existsSync(target)) throw new Error(`${target} already exists; choose a new file name (a backup never overwrites).`);
  mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.partial`;
  rmSync(partial, { force: true });
  const db = new BetterSqlite3(source, { fileMustExist: true, timeout: 10_000 });
  try {
    await db.backup(partial, { progress: () => ALL_PAGES });
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  } finally {
    db.close();
  }
  // The backup is a rollback-journal database file on its own, complete only once renamed.
  const described = describe(partial);
  renameSync(partial, target);
  return { file: target, bytes: statSync(target).size, ...described };
}

/**
 * Restores `backup` as the database file `destination`, which must not exist yet unless `force`
 * (then the platform must be stopped: a running one would keep writing to the file it opened).
 *
 * @throws Error when the backup is not a sound Diamonds database, or the destination exists.
 */
export async function restoreSqlite(backup: string, destination: string, options: { force?: boolean } = {}): Promise<BackupResult> {
  const source = resolve(backup);
  if (!existsSync(source)) throw new Error(`There is no backup at ${source}.`);
  const described = describe(source);
  const target = resolve(destination);
  if (existsSync(target) && !options.force) {
    throw new Error(
      `A database already exists at ${target}. Restore into a new DIAMONDS_DATA_DIR, or stop the platform and pass --force to replace it.`,
    );
  }
  mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.restoring`;
  rmSync(partial, { force: true });
  const db = new BetterSqlite3(source, { readonly: true, fileMustExist: true });
  try {
    await db.backup(partial, { progress: () => ALL_PAGES });
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  } finally {
    db.close();
  }
  // The old file's WAL and shared memory belong to the old file: they must not be replayed onto this one.
  for (const suffix of ['-wal', '-shm']) rmSync(`${target}${suffix}`, { force: true });
  renameSync(partial, target);
  return { file: target, bytes: statSync(target).size, ...described };
}
