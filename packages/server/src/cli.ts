import { parseArgs } from 'node:util';
import { readSettings, sqliteFile, type Settings } from './config.js';
import { asksForHelp, commandHelp, commandsUnder, groupHelp } from './cli-help.js';
import type { Database } from './db/types.js';
import type { KeyKind } from './identity/sites.js';
import type { RunningExamples } from './examples.js';
import type { Rate } from '@diamonds/protocol';
import type { ReversalReason } from './payments/disputes.js';
import { GIFT_COMMAND_SUMMARIES } from './gifts/command-summaries.js';
import { WEBHOOK_COMMAND_SUMMARIES, type WebhookCommand } from './webhooks/command-summaries.js';
import { PAYOUT_COMMAND_SUMMARIES, type PayoutCommand } from './payouts/command-summaries.js';
import { FUND_COMMAND_SUMMARIES, type FundCommand } from './fund/command-summaries.js';
import { LIVE_COMMAND_SUMMARIES, type LiveCommand } from './live/command-summaries.js';

// Each command loads the code it runs when it runs (`await import`), not this module: `diamonds
// --help`, a command's `--help` and a mistyped command answer without the platform (0.15 s
// rather than 0.75 s on a 2-core machine, nearly all of it module loading), and a command loads
// its own part of it (`rates list` 0.4 s rather than 0.65 s). The summaries live apart from the
// commands' code for the same reason (`*/command-summaries.ts`).

interface Command {
  name: string;
  summary: string;
  /** What follows the options in its usage line, such as `FILE` (see cli-help.ts). */
  usage?: string;
  /** Its options and what each does; else `--help` reads them from the summary. */
  options?: Readonly<Record<string, string>>;
  run(settings: Settings, args: string[]): Promise<number>;
}

const COMMANDS: Command[] = [
  {
    name: 'start',
    summary: 'Start the platform (HTTP API and hosted pages); applies migrations first.',
    async run(settings) {
      const [{ default: cluster }, { exitWhenStopped, runPrimary, workerCount }, { createLogger, logConsoleThrough }] = await Promise.all([
        import('node:cluster'),
        import('./cluster/workers.js'),
        import('./ops/logging.js'),
      ]);
      // DIAMONDS_WORKERS=N (PostgreSQL only): this process supervises N workers, each of which runs what follows.
      const workers = workerCount(process.env, settings.databaseUrl);
      if (workers > 1 && cluster.isPrimary) return runPrimary(workers);
      exitWhenStopped();
      // JSON logs (ops/logging.ts): requests, and the background work's warnings and errors.
      const logger = createLogger();
      const plainConsole = logConsoleThrough(logger);
      // A platform that cannot start (a wrong DIAMONDS_SECRET_KEY, a database it cannot open) says
      // why on stderr in plain words, where a person starting it looks, besides the JSON log.
      const [
        { startServer },
        { startExamples },
        { seedDemo, demoFile, formatDemo },
        { addDemoMoney, describeDemoMoney },
        { seedDemoBoost },
      ] = await Promise.all([
        import('./server.js'),
        import('./examples.js'),
        import('./identity/demo.js'),
        import('./money/demo.js'),
        import('./boosts/demo.js'),
      ]);
      const server = await startServer({ ...settings, log: true, logger }).catch((error: unknown) => {
        logger.fatal({ err: error }, 'the platform could not start');
        plainConsole();
        throw error;
      });
      let examples: RunningExamples | undefined;
      if (process.env.NODE_ENV !== 'production') {
        // One transaction under a lock: processes starting together on one database seed once.
        const { demo, created } = await seedDemo(server.db, settings.dataDir, (tx, seeded) => addDemoMoney(tx, server.ledger, seeded));
        if (demo) {
          const money = await describeDemoMoney(server.db, demo);
          if (created) console.log(`${formatDemo(demo, demoFile(settings.dataDir))}\n${money.join('\n')}`);
          // The examples on their own origins, as a creator's and a shop's sites would be.
          examples = await startExamples({ platformUrl: server.url, demo, log: true }).catch((error: unknown) => {
            console.warn(`Examples not served: ${(error as Error).message}`);
            return undefined;
          });
          // A boosted post for the shop's <diamond-discover>, leading to the creator's site (first start only).
          if (created && examples) {
            const boosted = await seedDemoBoost(server, demo, `${examples.creatorSiteUrl}/`).catch((error: unknown) => {
              console.warn(`Demo boost not made: ${(error as Error).message}`);
              return undefined;
            });
            if (boosted) console.log(boosted);
          }
        }
      }
      console.log(`Diamonds is running at ${server.url} (${server.db.description}). Press Ctrl-C to stop.`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          console.log(`\n${signal}: finishing requests in flight, then closing the database…`);
          void (examples?.close() ?? Promise.resolve()).then(() => server.close()).then(resolve);
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
    summary: 'Bring the database schema to the latest version this build knows.',
    async run(settings) {
      const [{ openDatabase }, { migrate, schemaVersion }] = await Promise.all([import('./db/open.js'), import('./db/migrations.js')]);
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
      const [{ openDatabase }, { schemaVersion }, { formatVerifyReport, verifyLedger }] = await Promise.all([
        import('./db/open.js'),
        import('./db/migrations.js'),
        import('./ledger/verify.js'),
      ]);
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
  {
    name: 'backup',
    summary:
      'Copy the SQLite database to FILE, consistently, even while the platform runs (PostgreSQL: use pg_dump, see docs/operations.md).',
    usage: 'FILE',
    run: (settings, args) => backupCommand(settings, args),
  },
  {
    name: 'restore',
    summary: 'Restore an SQLite backup FILE as the database of DIAMONDS_DATA_DIR (a new folder; --force replaces one, platform stopped).',
    usage: 'FILE',
    options: { force: 'Replace an existing database (stop the platform first).' },
    run: (settings, args) => restoreCommand(settings, args),
  },
  {
    name: 'seed-demo',
    summary: 'Create the demo creator, fan and site (development only) and print them.',
    async run(settings) {
      if (process.env.NODE_ENV === 'production') {
        console.error('seed-demo: refused with NODE_ENV=production; demo accounts are for development.');
        return 2;
      }
      const [{ Ledger }, { DEMO_CREATOR_EMAIL, demoFile, formatDemo, seedDemo }, { addDemoMoney, describeDemoMoney }] = await Promise.all([
        import('./ledger/ledger.js'),
        import('./identity/demo.js'),
        import('./money/demo.js'),
      ]);
      return withMigratedDatabase(settings, async (db) => {
        const ledger = new Ledger(db);
        const { demo, created } = await seedDemo(db, settings.dataDir, (tx, seeded) => addDemoMoney(tx, ledger, seeded));
        const file = demoFile(settings.dataDir);
        if (!demo) {
          console.log(`seed-demo: the demo exists (${DEMO_CREATOR_EMAIL}) but ${file} is gone; its password cannot be shown again.`);
          return 0;
        }
        const money = await describeDemoMoney(db, demo);
        const shown = `${formatDemo(demo, file)}\n${money.join('\n')}`;
        console.log(created ? shown : `seed-demo: already seeded.\n${shown}`);
        return 0;
      });
    },
  },
  {
    name: 'sites create',
    summary: 'Register a site: --name NAME --origin ORIGIN (repeatable) [--owner EMAIL]; prints its keys.',
    async run(settings, args) {
      const { values } = parseArgs({
        args,
        options: { name: { type: 'string' }, origin: { type: 'string', multiple: true }, owner: { type: 'string' } },
        strict: true,
      });
      const [{ DEMO_CREATOR_EMAIL }, { findUserByEmail }, { createSite }] = await Promise.all([
        import('./identity/demo.js'),
        import('./identity/users.js'),
        import('./identity/sites.js'),
      ]);
      return withMigratedDatabase(settings, async (db) => {
        const ownerEmail = values.owner ?? DEMO_CREATOR_EMAIL;
        const owner = await findUserByEmail(db, ownerEmail);
        if (!owner) {
          console.error(`sites create: no account ${ownerEmail}; pass --owner with the email of the site's owner.`);
          return 2;
        }
        const { site, publishableKey, secretKey } = await createSite(db, {
          ownerId: owner.id,
          name: values.name,
          origins: values.origin ?? [],
        });
        console.log(
          [
            `Site ${site.name} (${site.id}) for ${owner.email}`,
            `  origins      ${site.origins.join(', ')}`,
            `  publishable  ${publishableKey}`,
            `  secret       ${secretKey}`,
            'The secret key is shown this once; store it in your backend.',
          ].join('\n'),
        );
        return 0;
      });
    },
  },
  {
    name: 'sites roll-key',
    summary: 'Replace a key: --site SITE_ID --kind publishable|secret; the old key stops working at once.',
    async run(settings, args) {
      const { values } = parseArgs({ args, options: { site: { type: 'string' }, kind: { type: 'string' } }, strict: true });
      if (values.kind !== 'publishable' && values.kind !== 'secret') {
        console.error('sites roll-key: --kind is "publishable" or "secret".');
        return 2;
      }
      const kind: KeyKind = values.kind;
      const { rollKey } = await import('./identity/sites.js');
      return withMigratedDatabase(settings, async (db) => {
        const key = await rollKey(db, values.site ?? '', kind);
        console.log(`New ${kind} key for ${values.site ?? ''}: ${key}`);
        return 0;
      });
    },
  },
  {
    name: 'sites list',
    summary: "List a person's sites with their origins and keys: [--owner EMAIL].",
    async run(settings, args) {
      const { values } = parseArgs({ args, options: { owner: { type: 'string' } }, strict: true });
      const [{ DEMO_CREATOR_EMAIL }, { findUserByEmail }, { listKeys, listSites }] = await Promise.all([
        import('./identity/demo.js'),
        import('./identity/users.js'),
        import('./identity/sites.js'),
      ]);
      return withMigratedDatabase(settings, async (db) => {
        const ownerEmail = values.owner ?? DEMO_CREATOR_EMAIL;
        const owner = await findUserByEmail(db, ownerEmail);
        if (!owner) {
          console.error(`sites list: no account ${ownerEmail}; pass --owner with the email of the sites' owner.`);
          return 2;
        }
        const lines: string[] = [];
        for (const site of await listSites(db, owner.id)) {
          lines.push(`${site.id}  ${site.name}  (${site.origins.join(', ')})`);
          for (const key of await listKeys(db, site.id)) {
            const shown = key.publishableKey ?? `sk_…${key.last4}`;
            lines.push(`  ${key.id}  ${key.kind.padEnd(11)}  ${shown}${key.revokedAt === null ? '' : '  (revoked)'}`);
          }
        }
        console.log(lines.length > 0 ? lines.join('\n') : `${owner.email} has no sites.`);
        return 0;
      });
    },
  },
  {
    name: 'sites revoke-key',
    summary: 'Revoke one key: --site SITE_ID --key KEY_ID (from "sites list"); it stops working at once.',
    async run(settings, args) {
      const { values } = parseArgs({ args, options: { site: { type: 'string' }, key: { type: 'string' } }, strict: true });
      const { revokeKey } = await import('./identity/sites.js');
      return withMigratedDatabase(settings, async (db) => {
        await revokeKey(db, values.site ?? '', values.key ?? '');
        console.log(`Revoked ${values.key ?? ''} of ${values.site ?? ''}.`);
        return 0;
      });
    },
  },
  {
    name: 'sites creators',
    summary: "List a site's creators, whom fans' allowances for it pay, and its invitations: --site SITE_ID.",
    async run(settings, args) {
      const { values } = parseArgs({ args, options: { site: { type: 'string' } }, strict: true });
      const [{ findSite }, { findUser }, { listSiteCreatorListings }] = await Promise.all([
        import('./identity/sites.js'),
        import('./identity/users.js'),
        import('./identity/site-creators.js'),
      ]);
      return withMigratedDatabase(settings, async (db) => {
        const site = await findSite(db, values.site ?? '');
        if (!site) {
          console.error(`sites creators: no site ${JSON.stringify(values.site ?? '')}; pass --site with an id from "sites list".`);
          return 2;
        }
        const owner = await findUser(db, site.ownerId);
        const lines = [`${site.id}  ${site.name}`, `  ${site.ownerId}  ${'owner'.padEnd(8)}  ${owner?.displayName ?? ''}`];
        for (const listing of await listSiteCreatorListings(db, site.id)) {
          const when = new Date(listing.decidedAt ?? listing.createdAt).toISOString();
          lines.push(`  ${listing.creatorId}  ${listing.status.padEnd(8)}  ${listing.creatorName}  (${when})`);
        }
        lines.push("Fans' allowances pay the owner and the accepted creators; any other spend waits for the fan's confirmation.");
        console.log(lines.join('\n'));
        return 0;
      });
    },
  },
  {
    name: 'sites invite',
    summary: 'Invite a creator to be listed on a site: --site SITE_ID --creator EMAIL|USR_ID; they accept on their account page.',
    async run(settings, args) {
      const { values } = parseArgs({ args, options: { site: { type: 'string' }, creator: { type: 'string' } }, strict: true });
      const { inviteCreator } = await import('./identity/site-creators.js');
      return withMigratedDatabase(settings, async (db) => {
        const { listing, created } = await inviteCreator(db, { siteId: values.site ?? '', creator: values.creator, invitedBy: null });
        console.log(
          created
            ? `Invited ${listing.creatorName} (${listing.creatorId}) to ${listing.siteId}: they accept or decline on their account page.`
            : `${listing.creatorName} (${listing.creatorId}) is already ${listing.status} on ${listing.siteId}; nothing changed.`,
        );
        return 0;
      });
    },
  },
  {
    name: 'sites remove-creator',
    summary: 'Remove a listed creator or withdraw an invitation: --site SITE_ID --creator EMAIL|USR_ID; allowances stop paying them.',
    async run(settings, args) {
      const { values } = parseArgs({ args, options: { site: { type: 'string' }, creator: { type: 'string' } }, strict: true });
      const { findInvitee, removeSiteCreator } = await import('./identity/site-creators.js');
      return withMigratedDatabase(settings, async (db) => {
        const creator = await findInvitee(db, values.creator);
        const listing = await removeSiteCreator(db, values.site ?? '', creator.id);
        console.log(`Removed ${listing.creatorName} (${listing.creatorId}) from ${listing.siteId}: fans' allowances no longer pay them.`);
        return 0;
      });
    },
  },
  {
    name: 'rates set',
    summary:
      'Set a rate: --currency USD --price-per-1000 1299 --payout-per-1000 800 (minor units per 1,000 Diamonds) [--effective-at ISO].',
    async run(settings, args) {
      const { values } = parseArgs({
        args,
        options: {
          currency: { type: 'string' },
          'price-per-1000': { type: 'string' },
          'payout-per-1000': { type: 'string' },
          'effective-at': { type: 'string' },
        },
        strict: true,
      });
      const price = wholeNumber(values['price-per-1000']);
      const payout = wholeNumber(values['payout-per-1000']);
      if (price === undefined || payout === undefined) {
        console.error('rates set: --price-per-1000 and --payout-per-1000 are whole numbers of minor units (cents; yen for JPY).');
        return 2;
      }
      let effectiveAt: number | undefined;
      if (values['effective-at'] !== undefined) {
        effectiveAt = Date.parse(values['effective-at']);
        if (!Number.isSafeInteger(effectiveAt)) {
          console.error('rates set: --effective-at is an ISO 8601 time, such as 2030-01-01T00:00:00Z.');
          return 2;
        }
      }
      const [{ setRate }, formatRate] = await Promise.all([import('./money/rates.js'), rateFormatter()]);
      return withMigratedDatabase(settings, async (db) => {
        const rate = await setRate(db, {
          currency: values.currency ?? '',
          priceMinorPer1000Diamonds: price,
          payoutMinorPer1000Diamonds: payout,
          ...(effectiveAt === undefined ? {} : { effectiveAt }),
        });
        console.log(`rates set: ${formatRate(rate)}`);
        return 0;
      });
    },
  },
  {
    name: 'rates list',
    summary: 'List the rate in force for each currency, and any scheduled ones.',
    async run(settings, args) {
      parseArgs({ args, options: {}, strict: true });
      const [{ currentRates, rateHistory }, { CurrencyCode }, formatRate] = await Promise.all([
        import('./money/rates.js'),
        import('@diamonds/protocol'),
        rateFormatter(),
      ]);
      return withMigratedDatabase(settings, async (db) => {
        const now = Date.now();
        const current = new Map((await currentRates(db, now)).map((rate) => [rate.currency, rate]));
        const lines: string[] = [];
        for (const currency of CurrencyCode.options) {
          const scheduled = (await rateHistory(db, currency, { limit: 100 })).data.filter((r) => r.effectiveAt > now).reverse();
          const rate = current.get(currency);
          if (rate) lines.push(formatRate(rate));
          else if (scheduled.length > 0) lines.push(`${currency}  no rate in force yet`);
          for (const later of scheduled) lines.push(`  scheduled: ${formatRate(later)}`);
        }
        if (lines.length === 0) {
          console.log('No rates set yet: add one with "diamonds rates set".');
          return 0;
        }
        console.log(lines.join('\n'));
        return 0;
      });
    },
  },
  {
    name: 'gifts list',
    summary: GIFT_COMMAND_SUMMARIES['gifts list'],
    run: async (settings) => {
      const { giftsListCommand } = await import('./gifts/commands.js');
      return withMigratedDatabase(settings, (db) => giftsListCommand(db));
    },
  },
  {
    name: 'gifts add',
    summary: GIFT_COMMAND_SUMMARIES['gifts add'],
    run: async (settings, args) => {
      const { giftsAddCommand } = await import('./gifts/commands.js');
      return withMigratedDatabase(settings, (db) => giftsAddCommand(db, args));
    },
  },
  {
    name: 'gifts disable',
    summary: GIFT_COMMAND_SUMMARIES['gifts disable'],
    run: async (settings, args) => {
      const { giftsSetActiveCommand } = await import('./gifts/commands.js');
      return withMigratedDatabase(settings, (db) => giftsSetActiveCommand(db, args, false));
    },
  },
  {
    name: 'gifts enable',
    summary: GIFT_COMMAND_SUMMARIES['gifts enable'],
    run: async (settings, args) => {
      const { giftsSetActiveCommand } = await import('./gifts/commands.js');
      return withMigratedDatabase(settings, (db) => giftsSetActiveCommand(db, args, true));
    },
  },
  ...(Object.keys(WEBHOOK_COMMAND_SUMMARIES) as WebhookCommand[]).map((name): Command => ({
    name,
    summary: WEBHOOK_COMMAND_SUMMARIES[name],
    run: async (settings, args) => {
      const { webhooksCommand } = await import('./webhooks/commands.js');
      return withMigratedDatabase(settings, (db) => webhooksCommand(db, name, args));
    },
  })),
  ...(Object.keys(LIVE_COMMAND_SUMMARIES) as LiveCommand[]).map((name): Command => ({
    name,
    summary: LIVE_COMMAND_SUMMARIES[name],
    run: async (settings, args) => {
      const { liveCommand } = await import('./live/commands.js');
      return withMigratedDatabase(settings, (db) => liveCommand(db, name, args));
    },
  })),
  ...(Object.keys(PAYOUT_COMMAND_SUMMARIES) as PayoutCommand[]).map((name): Command => ({
    name,
    summary: PAYOUT_COMMAND_SUMMARIES[name],
    run: async (settings, args) => {
      const { payoutsCommand } = await import('./payouts/commands.js');
      return withMigratedDatabase(settings, (db) => payoutsCommand(db, name, args));
    },
  })),
  ...(Object.keys(FUND_COMMAND_SUMMARIES) as FundCommand[]).map((name): Command => ({
    name,
    summary: FUND_COMMAND_SUMMARIES[name],
    run: async (settings, args) => {
      const { fundCommand } = await import('./fund/commands.js');
      return withMigratedDatabase(settings, (db) => fundCommand(db, name, args));
    },
  })),
  ...(['dispute', 'refund'] as const).map((reason) => ({
    name: `topups ${reason}`,
    summary:
      reason === 'dispute'
        ? 'Open a card dispute on a test-provider top-up: TOPUP_ID; its Diamonds are taken back (the rest as the fan’s debt).'
        : 'Refund a test-provider top-up in full: TOPUP_ID; its Diamonds are taken back (the rest as the fan’s debt).',
    run: (settings: Settings, args: string[]) => topUpsReverseCommand(settings, reason, args),
  })),
  {
    name: 'keys rotate',
    summary: 'Start signing receipts with a new key; receipts signed before still verify (the old key stays published).',
    async run(settings, args) {
      parseArgs({ args, options: {}, strict: true });
      const { rotateSigningKey } = await import('./money/receipts.js');
      return withMigratedDatabase(settings, async (db) => {
        const kid = await rotateSigningKey(db);
        console.log(`keys rotate: new receipts are signed with ${kid}; earlier keys stay in /.well-known/jwks.json.`);
        return 0;
      });
    },
  },
  {
    name: 'keys list',
    summary: 'List the receipt signing keys published at /.well-known/jwks.json, newest first.',
    async run(settings, args) {
      parseArgs({ args, options: {}, strict: true });
      const { jwks } = await import('./money/receipts.js');
      return withMigratedDatabase(settings, async (db) => {
        const { keys } = await jwks(db);
        console.log(
          keys.length === 0 ? 'No signing key yet: the first receipt creates one.' : keys.map((key) => `${key.kid}  ${key.alg}`).join('\n'),
        );
        return 0;
      });
    },
  },
];

/** `diamonds backup FILE`: SQLite's online backup of the live database (see ops/backup.ts). */
async function backupCommand(settings: Settings, args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, options: {}, allowPositionals: true, strict: true });
  if (positionals.length !== 1) {
    console.error('Usage: diamonds backup FILE');
    return 2;
  }
  if (settings.databaseUrl) {
    console.error('backup: DATABASE_URL is set: back PostgreSQL up with pg_dump -Fc (see docs/operations.md).');
    return 2;
  }
  const { backupSqlite } = await import('./ops/backup.js');
  try {
    const result = await backupSqlite(sqliteFile(settings.dataDir), positionals[0]!);
    console.log(`backup: wrote ${result.file} (${result.bytes} bytes, schema ${result.schemaVersion}, ${result.transfers} transfers).`);
    return 0;
  } catch (error) {
    console.error(`backup: ${(error as Error).message}`);
    return 2;
  }
}

/** `diamonds restore FILE [--force]`: a backup becomes the database of the data folder. */
async function restoreCommand(settings: Settings, args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args, options: { force: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (positionals.length !== 1) {
    console.error('Usage: diamonds restore FILE [--force]');
    return 2;
  }
  if (settings.databaseUrl) {
    console.error('restore: DATABASE_URL is set: restore PostgreSQL with pg_restore (see docs/operations.md).');
    return 2;
  }
  const { restoreSqlite } = await import('./ops/backup.js');
  try {
    const result = await restoreSqlite(positionals[0]!, sqliteFile(settings.dataDir), { force: values.force ?? false });
    console.log(
      `restore: ${result.file} now holds the backup (schema ${result.schemaVersion}, ${result.transfers} transfers). Run "diamonds ledger verify", then start the platform.`,
    );
    return 0;
  } catch (error) {
    console.error(`restore: ${(error as Error).message}`);
    return 2;
  }
}

/** A whole non-negative number written in decimal digits, or `undefined`. */
function wholeNumber(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

/** Formats one rate on one line: "USD  1,000 Diamonds = 12.99 (payout 8.00)  effective 2026-…". */
async function rateFormatter(): Promise<(rate: Rate) => string> {
  const { formatMajorUnits } = await import('@diamonds/protocol');
  return (rate) => {
    const price = formatMajorUnits({ amountMinor: rate.priceMinorPer1000Diamonds, currency: rate.currency });
    const payout = formatMajorUnits({ amountMinor: rate.payoutMinorPer1000Diamonds, currency: rate.currency });
    return `${rate.currency}  1,000 Diamonds = ${price} (payout ${payout})  effective ${new Date(rate.effectiveAt).toISOString()}`;
  };
}

/** Opens the database, migrates it, runs `work`, closes it; API errors become exit code 2. */
async function withMigratedDatabase(settings: Settings, work: (db: Database) => Promise<number>): Promise<number> {
  const [{ openDatabase }, { migrate }, { isApiError }] = await Promise.all([
    import('./db/open.js'),
    import('./db/migrations.js'),
    import('./errors.js'),
  ]);
  const db = openDatabase(settings);
  try {
    await migrate(db);
    return await work(db);
  } catch (error) {
    if (isApiError(error)) {
      console.error(`diamonds: ${error.message} (${error.code})`);
      return 2;
    }
    throw error;
  } finally {
    await db.close();
  }
}

/**
 * `diamonds topups dispute|refund TOPUP_ID`: takes a test-provider top-up's Diamonds back
 * through the money writer, as a card dispute or the operator's refund would. A Stripe
 * top-up's dispute or refund comes from Stripe's webhook instead (the money moves there).
 */
async function topUpsReverseCommand(settings: Settings, reason: ReversalReason, args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, options: {}, allowPositionals: true, strict: true });
  const [topUpId] = positionals;
  if (positionals.length !== 1 || topUpId === undefined) {
    console.error(`Usage: diamonds topups ${reason} TOPUP_ID`);
    return 2;
  }
  const [{ Ledger }, { inlineMoneyWriter }, { platformMoney }, { GroupCommit }, { reverseTopUpOperation }] = await Promise.all([
    import('./ledger/ledger.js'),
    import('./money/writer.js'),
    import('./features.js'),
    import('./ledger/group-commit.js'),
    import('./payments/disputes.js'),
  ]);
  return withMigratedDatabase(settings, async (db) => {
    const [row] = await db.query<{ provider: string }>('SELECT provider FROM topups WHERE id = ?', [topUpId]);
    if (row && row.provider !== 'test') {
      console.error(
        `topups ${reason}: ${topUpId} was paid with ${row.provider}; ${reason === 'refund' ? 'refund it' : 'its disputes arrive'} in the provider's dashboard: its webhook takes the Diamonds back.`,
      );
      return 2;
    }
    const ledger = new Ledger(db);
    const writer = inlineMoneyWriter(platformMoney(), ledger, new GroupCommit(ledger));
    try {
      const result = await writer.run(reverseTopUpOperation, { topUpId, reason, source: 'operator' });
      console.log(
        `topups ${reason}: ${result.amountDiamonds} Diamonds of ${result.topUpId} taken back: ${result.fromWalletDiamonds} from the wallet, ` +
          `${result.shortfallDiamonds} already spent (${result.reversedDiamonds} reversed from pending earnings); the fan owes ${result.debtDiamonds}.`,
      );
      return 0;
    } finally {
      await writer.close();
    }
  });
}

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
    '  HOST               interface to listen on (default: all)',
    '  DIAMONDS_DATA_DIR  folder of the embedded SQLite file (default .diamonds)',
    '  DATABASE_URL       postgres:// URL; when set, PostgreSQL is used instead of SQLite',
    '  DIAMONDS_PLATFORM_FEE_BPS  the platform fee on spends, in basis points (default 2000 = 20%)',
    "  DIAMONDS_PUBLIC_URL        the platform origin used in links it hands out (default: the request's)",
    '  DIAMONDS_PAYMENTS          payment provider: test (default) or stripe',
    '  DIAMONDS_SECRET_KEY        32 bytes, base64: encrypts signing keys and webhook secrets at rest (required in production)',
    '  DIAMONDS_SECRET_KEYS_PREVIOUS  earlier secret keys, comma-separated, while rows are re-encrypted',
    '  DIAMONDS_ALLOW_TEST_PAYMENTS   1: take test cards and test payouts even with NODE_ENV=production (staging)',
    '  STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET  for DIAMONDS_PAYMENTS=stripe',
    '  DIAMONDS_SQLITE_WRITER     where spends are written on SQLite: thread (default) or inline',
    '  DIAMONDS_WEBHOOKS          whether this process delivers webhooks: on (default) or off',
    '  DIAMONDS_EARNINGS_HOLD_DAYS  days before earnings can be paid out (default 7)',
    '  DIAMONDS_PAYOUT_MINIMUM    the smallest payout, in Diamonds (default 1000)',
    '  DIAMONDS_METRICS_TOKEN     bearer token of /metrics (unset: /metrics answers 404)',
    '  DIAMONDS_LOG_LEVEL         level of the JSON logs (default info for start)',
    '  DIAMONDS_PG_STATEMENT_TIMEOUT_MS, DIAMONDS_PG_LOCK_TIMEOUT_MS  PostgreSQL timeouts (defaults 30000, 10000)',
  ].join('\n');
}

/** The name of every command (`rates set`, `backup`…), for tests and tooling. */
export function commandNames(): string[] {
  return COMMANDS.map((command) => command.name);
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
  // Every command and group answers --help (see cli-help.ts), before settings are read.
  if (command && asksForHelp(argv.slice(command.name.split(' ').length))) {
    console.log(commandHelp(command));
    return 0;
  }
  const groupWords = argv.filter((arg) => arg !== '--help' && arg !== '-h');
  const group = command ? [] : commandsUnder(COMMANDS, groupWords);
  if (group.length > 0 && groupWords.length === argv.length - (asksForHelp(argv) ? 1 : 0)) {
    const text = groupHelp(groupWords.join(' '), group);
    if (asksForHelp(argv)) {
      console.log(text);
      return 0;
    }
    console.error(`diamonds: "${groupWords.join(' ')}" needs a command.\n\n${text}`);
    return 2;
  }
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
