import { resolve } from 'node:path';

/** Where the platform keeps its data and where it listens; read from the environment. */
export interface Settings {
  /** TCP port of the HTTP server. `PORT`, default 8787. */
  port: number;
  /** Interface to listen on. `HOST`, default all interfaces. */
  host: string | undefined;
  /** Folder of the embedded SQLite file. `DIAMONDS_DATA_DIR`, default `.diamonds`. */
  dataDir: string;
  /** PostgreSQL connection string; when set, used instead of SQLite. `DATABASE_URL`. */
  databaseUrl: string | undefined;
}

/** The SQLite file inside a data folder. */
export function sqliteFile(dataDir: string): string {
  return resolve(dataDir, 'diamonds.sqlite');
}

/**
 * Reads {@link Settings} from the environment, the same way for every command.
 *
 * @throws Error with a message naming the variable when one is malformed.
 */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const portText = env.PORT ?? '8787';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`PORT must be a port number from 0 to 65535; got "${portText}".`);
  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new Error('DATABASE_URL must be a postgres:// or postgresql:// connection string.');
  }
  return {
    port,
    host: env.HOST?.trim() || undefined,
    dataDir: resolve(env.DIAMONDS_DATA_DIR?.trim() || '.diamonds'),
    databaseUrl,
  };
}
