import { readSettings, type Settings } from './config.js';
import { LATEST_SCHEMA_VERSION, migrate, schemaVersion } from './db/migrations.js';
import { openDatabase } from './db/open.js';
import { formatVerifyReport, verifyLedger } from './ledger/verify.js';
import { startServer } from './server.js';

interface Command {
  name: string;
  summary: string;
  run(settings: Settings, args: string[]): Promise<number>;
}

const COMMANDS: Command[] = [
  {
    name: 'start',
    summary: 'Start the platform (HTTP API and hosted pages); applies migrations first.',
    async run(settings) {
      const server = await startServer({ ...settings, log: true });
      console.log(`Diamonds is running at ${server.url} (${server.db.description}). Press Ctrl-C to stop.`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          console.log(`\n${signal}: finishing requests in flight, then closing the database…`);
          void server.close().then(resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      console.log('Stopped cleanly.');
      return 0;
    },
  },
  {
    name: 'migrate',
    summary: `Bring the database schema to the latest version (${LATEST_SCHEMA_VERSION}).`,
    async run(settings) {
      const db = openDatabase(settings);
      try {
        const applied = await migrate(db);
        const version = await schemaVersion(db);
        console.log(
          applied.length === 0
            ? `migrate: ${db.description} is already at schema version ${version}.`
            : `migrate: applied ${applied.join(', ')}; ${db.description} is at schema version ${version}.`,
        );
        return 0;
      } finally {
        await db.close();
      }
    },
  },
  {
    name: 'ledger verify',
    summary: 'Recompute every balance from the journal and check every invariant; non-zero exit on any breach.',
    async run(settings) {
      const db = openDatabase(settings);
      try {
        if ((await schemaVersion(db)) === 0) {
          console.log(`ledger verify: ${db.description} has no ledger yet (run "diamonds migrate" or "diamonds start").`);
          return 0;
        }
        const report = await verifyLedger(db);
        (report.ok ? console.log : console.error)(formatVerifyReport(report));
        return report.ok ? 0 : 1;
      } finally {
        await db.close();
      }
    },
  },
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: diamonds <command>',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${'--help'.padEnd(width)}  Show this list.`,
    '',
    'Settings (the same for every command):',
    '  PORT               HTTP port (default 8787)',
    '  DIAMONDS_DATA_DIR  folder of the embedded SQLite file (default .diamonds)',
    '  DATABASE_URL       postgres:// URL; when set, PostgreSQL is used instead of SQLite',
  ].join('\n');
}

/**
 * Runs the `diamonds` command line with `argv` (without `node` and the script).
 *
 * @returns The exit code.
 */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    console.log(help());
    return argv.length === 0 ? 1 : 0;
  }
  const command = COMMANDS.find((c) => {
    const words = c.name.split(' ');
    return words.every((word, i) => argv[i] === word);
  });
  if (!command) {
    console.error(`diamonds: unknown command "${argv.join(' ')}".\n\n${help()}`);
    return 2;
  }
  let settings: Settings;
  try {
    settings = readSettings();
  } catch (error) {
    console.error(`diamonds: ${(error as Error).message}`);
    return 2;
  }
  return command.run(settings, argv.slice(command.name.split(' ').length));
}
