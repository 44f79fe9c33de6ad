/**
 * The Diamonds platform: the HTTP API, the double-entry ledger on SQLite or PostgreSQL, and
 * the `diamonds` command line.
 *
 * @packageDocumentation
 */
export { startServer } from './server.js';
export type { RunningServer, StartOptions } from './server.js';
export { createApp, VERSION } from './app.js';
export type { AppContext, AppEnv, MoneySettings } from './context.js';
export { readSettings, sqliteFile } from './config.js';
export type { Settings } from './config.js';
export { ApiError, isApiError } from './errors.js';
export type { ApiErrorOptions } from './errors.js';
export type { Database, DatabaseKind, SqlClient, SqlValue, TransactionOptions } from './db/types.js';
export { openSqlite } from './db/sqlite.js';
export type { SqliteOptions } from './db/sqlite.js';
export { openPostgres } from './db/postgres.js';
export type { PostgresOptions } from './db/postgres.js';
export { openDatabase } from './db/open.js';
export { MIGRATIONS, LATEST_SCHEMA_VERSION, migrate, schemaVersion } from './db/migrations.js';
export type { Migration } from './db/migrations.js';
export { Ledger, validateTransfer, MAX_POSTINGS, MAX_IDEMPOTENCY_KEY_LENGTH, MAX_RESERVATION_MS } from './ledger/ledger.js';
export type {
  Account,
  BatchItemResult,
  LedgerOptions,
  PostingInput,
  ResolveRequest,
  TransferRequest,
  TransferResult,
} from './ledger/ledger.js';
export { GroupCommit } from './ledger/group-commit.js';
export type { GroupCommitOptions } from './ledger/group-commit.js';
export { allocate, splitFee, BASIS_POINTS } from './ledger/allocate.js';
export { verifyLedger, formatVerifyReport } from './ledger/verify.js';
export type { VerifyReport } from './ledger/verify.js';
export { main } from './cli.js';
