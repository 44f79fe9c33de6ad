import { sqliteFile, type Settings } from '../config.js';
import { openPostgres } from './postgres.js';
import { openSqlite } from './sqlite.js';
import type { Database } from './types.js';

/** Opens the database the settings name: PostgreSQL when `databaseUrl` is set, else SQLite. */
export function openDatabase(settings: Pick<Settings, 'dataDir' | 'databaseUrl'>): Database {
  return settings.databaseUrl
    ? openPostgres({ connectionString: settings.databaseUrl })
    : openSqlite({ file: sqliteFile(settings.dataDir) });
}
