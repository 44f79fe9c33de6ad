import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate } from '../db/migrations.js';
import { openPostgres } from '../db/postgres.js';
import { openSqlite } from '../db/sqlite.js';
import type { Database, DatabaseKind } from '../db/types.js';
import { sqliteFile } from '../config.js';

/** Both engines: every suite that touches the database runs on each. */
export const DATABASE_KINDS: readonly DatabaseKind[] = ['sqlite', 'postgres'];

/** The PostgreSQL server tests use; each test database is created on it and dropped after. */
export const TEST_POSTGRES_URL = process.env.DIAMONDS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A throw-away database for one suite. */
export interface TestDatabase {
  kind: DatabaseKind;
  /** Open and migrated. */
  db: Database;
  /** The settings (and environment variables) that reach this same database from another process. */
  settings: { dataDir: string; databaseUrl: string | undefined };
  env: Record<string, string>;
  /** Opens a second, independent connection to the same database. */
  reopen(): Database;
  /** Closes `db` and deletes the database. */
  drop(): Promise<void>;
}

let postgresReachable: Promise<string | undefined> | undefined;

/**
 * Whether PostgreSQL can be used: `undefined` when it can, otherwise why not.
 *
 * @remarks Under `CI=true` an unreachable PostgreSQL is an error, not a skip.
 */
export function postgresUnavailable(): Promise<string | undefined> {
  postgresReachable ??= (async () => {
    // A busy machine (two test files creating and dropping databases at once) can make a
    // connection slow; only a refusal, or three slow attempts, count as unreachable.
    let reason = '';
    for (let attempt = 1; attempt <= 3; attempt++) {
      const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 20_000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return undefined;
      } catch (error) {
        reason = `PostgreSQL at ${TEST_POSTGRES_URL} is unreachable: ${(error as Error).message}`;
        if ((error as { code?: string }).code === 'ECONNREFUSED') return reason;
      } finally {
        await client.end().catch(() => {});
      }
    }
    return reason;
  })();
  return postgresReachable;
}

/**
 * The reason to skip a PostgreSQL suite, or `false` to run it. Says so loudly; under `CI=true`
 * throws instead, so a missing database fails the run rather than hiding.
 */
export async function skipUnlessPostgres(kind: DatabaseKind): Promise<string | false> {
  if (kind !== 'postgres') return false;
  const reason = await postgresUnavailable();
  if (!reason) return false;
  if (process.env.CI === 'true') throw new Error(`${reason}. PostgreSQL suites are mandatory under CI=true.`);
  console.warn(`\n*** SKIPPING PostgreSQL suite: ${reason} ***\n`);
  return reason;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Creates a fresh, migrated database of `kind`: a temporary SQLite file, or a new PostgreSQL database. */
export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dataDir = mkdtempSync(join(tmpdir(), 'diamonds-test-'));
    const open = () => openSqlite({ file: sqliteFile(dataDir) });
    const db = open();
    await migrate(db);
    return {
      kind,
      db,
      settings: { dataDir, databaseUrl: undefined },
      // An empty DATABASE_URL keeps a child process from following an inherited one to PostgreSQL.
      env: { DIAMONDS_DATA_DIR: dataDir, DATABASE_URL: '' },
      reopen: open,
      async drop() {
        await db.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const name = `diamonds_test_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const databaseUrl = withDatabase(TEST_POSTGRES_URL, name);
  const open = () => openPostgres({ connectionString: databaseUrl });
  const db = open();
  await migrate(db);
  const dataDir = mkdtempSync(join(tmpdir(), 'diamonds-test-'));
  return {
    kind,
    db,
    settings: { dataDir, databaseUrl },
    env: { DATABASE_URL: databaseUrl },
    reopen: open,
    async drop() {
      await db.close();
      const dropper = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await dropper.connect();
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}
