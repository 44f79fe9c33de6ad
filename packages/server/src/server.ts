import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createApp } from './app.js';
import { migrate } from './db/migrations.js';
import { openDatabase } from './db/open.js';
import type { Database } from './db/types.js';
import { Ledger } from './ledger/ledger.js';
import { GroupCommit, withAfterCommit } from './ledger/group-commit.js';
import { sweepExpired } from './money/sweeper.js';
import { forgetOldRateLimits } from './identity/rate-limit.js';
import { settleDueBoosts } from './boosts/boosts.js';
import { flushImpressions } from './boosts/impressions.js';
import { asLeader, SWEEPER_LOCK_ID } from './db/locks.js';
import { platformMoney } from './features.js';
import { openMoneyWriter, type MoneyWriter } from './money/writer.js';
import type { Settings } from './config.js';
import { join, resolve } from 'node:path';
import { developmentMailer, smtpMailer, type Mailer } from './mail/mailer.js';
import { localEvents, type WakeSource } from './events/bus.js';
import type { LiveRuntime } from './context.js';
import { PostgresEventListener } from './events/listener.js';
import { startWebhooks, type WebhookService, type WebhookSettings } from './webhooks/service.js';
import { ensureSigningKey, resealSigningKeys } from './money/receipts.js';
import { resealWebhookSecrets } from './webhooks/endpoints.js';
import { checkProduction } from './production.js';
import { startEarnings, type EarningsService, type EarningsSettings } from './earnings/service.js';
import { earningsHoldMs } from './earnings/summary.js';
import { startPayouts, type PayoutService, type PayoutSettings } from './payouts/service.js';
import { startLive, type LiveService, type LiveSettings } from './live/service.js';
import { stripeConnectProviders } from './payouts/stripe-connect.js';
import { createLogger, quietLogger, type Logger } from './ops/logging.js';
import { PlatformMetrics } from './ops/metrics.js';

/** How often expired reservations are voided. */
const SWEEP_INTERVAL_MS = 5_000;
/** At shutdown, how long after the last request was answered a connection may stay open. */
const SHUTDOWN_GRACE_MS = 2_000;
/** How long an idle HTTP connection is kept open for the client's next request. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** How often the sweeper deletes rate limits' dead counts (identity/rate-limit.ts). */
const RATE_LIMITS_FORGET_INTERVAL_MS = 60 * 60 * 1000;

/** A running platform (see {@link startServer}). */
export interface RunningServer {
  /** The base URL, such as `http://127.0.0.1:8787`. */
  url: string;
  port: number;
  db: Database;
  ledger: Ledger;
  /** This thread's group commit: where the money writer runs inline (PostgreSQL, in-memory SQLite). */
  commits: GroupCommit;
  /** The one writer of money: a writer thread on an SQLite file (see `money/writer.ts`). */
  writer: MoneyWriter;
  /**
   * What wakes event consumers (see `events/consumer.ts`): this process's bus, and on
   * PostgreSQL (given its URL) a `LISTEN`er woken by every process on the database.
   */
  events: { local: WakeSource; remote: PostgresEventListener | undefined; sources: readonly WakeSource[] };
  /** The webhook dispatcher and delivery worker; undefined with `webhookDelivery: 'off'`. */
  webhooks: WebhookService | undefined;
  /** The earnings aggregates consumer and release job (see `earnings/service.ts`). */
  earnings: EarningsService;
  /** The payout processor: submits payouts to their provider, makes the weekly automatic ones. */
  payouts: PayoutService;
  /** The live fold and this process's live streams. */
  live: LiveService;
  /** Where request and operations logs go (JSON lines). */
  logger: Logger;
  /** This platform's Prometheus metrics (served at `/metrics` with `DIAMONDS_METRICS_TOKEN`). */
  metrics: PlatformMetrics;
  /**
   * Stops accepting connections, lets requests in flight finish, lets webhook attempts in
   * flight finish, then closes the database.
   */
  close(): Promise<void>;
}

/** Options of {@link startServer}: the usual settings, any of them overridden. */
export type StartOptions = Partial<Settings> & {
  /** Use this database instead of opening one from the settings (tests share one). */
  db?: Database;
  /** Log the address and shutdown (and development mail) to the console. @defaultValue false */
  log?: boolean;
  /**
   * Where request and operations logs go. @defaultValue with `log`, every request at `info`
   * (or `DIAMONDS_LOG_LEVEL`) to standard output; without, warnings and errors only
   */
  logger?: Logger;
  /** Where development mail is written. @defaultValue `mail/` in the data folder */
  mailDir?: string;
  /** How webhooks are delivered (when `webhookDelivery` is not `off`): timeouts, clock… */
  webhooks?: WebhookSettings;
  /** The earnings' hold and release timer (tests set a hold and release by hand). */
  earnings?: EarningsSettings;
  /** The payout processor's providers, clock and timer (tests run it by hand). */
  payouts?: PayoutSettings;
  /** The live streams' heartbeat and per-address limit (tests lower them). */
  live?: LiveSettings;
  /**
   * The clock of creators' money (the dashboard, the release of earnings, payouts), for tests
   * that pass the hold without waiting a week. @defaultValue `Date.now`
   */
  clock?: () => number;
};

/**
 * Starts the platform: opens the database, applies migrations, voids reservations that
 * expired while it was down, and listens.
 *
 * @example
 * ```ts
 * const server = await startServer({ port: 0, dataDir: '/tmp/diamonds' });
 * console.log(server.url);
 * await server.close();
 * ```
 */
export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  // What `readSettings` refuses in production, refused here too for settings made by hand.
  checkProduction(options);
  const db = options.db ?? openDatabase({ dataDir: options.dataDir ?? '.diamonds', databaseUrl: options.databaseUrl });
  const ownsDb = options.db === undefined;
  try {
    await migrate(db);
    // The receipt key exists from the first start, so /.well-known/jwks.json is never empty.
    await ensureSigningKey(db);
    // Secrets stored in clear (or under a previous DIAMONDS_SECRET_KEY) are encrypted now.
    await resealSigningKeys(db);
    await resealWebhookSecrets(db);
  } catch (error) {
    if (ownsDb) await db.close();
    throw error;
  }
  const ledger = new Ledger(db);
  const commits = new GroupCommit(ledger);
  const metrics = new PlatformMetrics(db, { processMetrics: options.metricsToken !== undefined });
  let writer: MoneyWriter;
  try {
    // Each money operation's wait for the writer is timed for /metrics.
    writer = await openMoneyWriter(db, platformMoney(), ledger, commits, options.sqliteWriter, (operation, seconds) =>
      metrics.writerWait.observe({ operation }, seconds),
    );
  } catch (error) {
    if (ownsDb) await db.close();
    throw error;
  }
  try {
    // What expired while the platform was down, before the first request (unless another
    // process on the database is sweeping right now: one sweeper at a time, db/locks.ts).
    await asLeader(db, SWEEPER_LOCK_ID, () => sweepExpired(writer, db, ledger));
  } catch (error) {
    await writer.close();
    if (ownsDb) await db.close();
    throw error;
  }
  const { platformFeeBps, publicUrl, paymentProvider, stripeSecretKey, stripeWebhookSecret, stripeConnectWebhookSecret, stripeApiBase } =
    options;
  const settings = Object.fromEntries(
    Object.entries({
      platformFeeBps,
      publicUrl,
      paymentProvider,
      stripeSecretKey,
      stripeWebhookSecret,
      stripeConnectWebhookSecret,
      stripeApiBase,
    }).filter(([, value]) => value !== undefined),
  );
  // With an SMTP server configured, emails are sent; otherwise (development) they are written
  // under the data folder and their links printed.
  const smtp = options.smtpUrl
    ? smtpMailer({
        url: options.smtpUrl,
        from: options.mailFrom ?? `Diamonds <no-reply@${new URL(options.publicUrl ?? 'http://diamonds.invalid').hostname}>`,
      })
    : undefined;
  if (!smtp && process.env.NODE_ENV === 'production') {
    console.warn('DIAMONDS_SMTP_URL is not set: emails (sign-up codes, password resets) are only written to the data folder.');
  }
  const mailer: Mailer =
    smtp ??
    developmentMailer({
      dir: options.mailDir ?? join(resolve(options.dataDir ?? '.diamonds'), 'mail'),
      log: options.log ?? false,
    });
  let remote: PostgresEventListener | undefined;
  if (db.kind === 'postgres' && options.databaseUrl) {
    try {
      remote = await PostgresEventListener.start(options.databaseUrl);
    } catch (error) {
      await writer.close();
      if (ownsDb) await db.close();
      throw error;
    }
  }
  const production = options.webhooks?.production ?? process.env.NODE_ENV === 'production';
  const logger = options.logger ?? (options.log ? createLogger() : quietLogger);
  let draining = false;
  const clock = options.clock ?? Date.now;
  const holdMs = options.earnings?.holdMs ?? earningsHoldMs();
  // Bound to the routes now, filled once the live streams have started below.
  const liveRuntime: LiveRuntime = { hub: undefined };
  const app = createApp({
    db,
    ledger,
    commits,
    writer,
    settings,
    mailer,
    production,
    earnings: { now: clock, holdMs, minimumPayoutDiamonds: options.payouts?.minimumDiamonds },
    live: liveRuntime,
    logger,
    metrics,
    metricsToken: options.metricsToken,
    draining: () => draining,
  });
  const wakeSources: readonly WakeSource[] = remote ? [localEvents, remote] : [localEvents];
  let webhooks: WebhookService | undefined;
  if (options.webhookDelivery !== 'off') {
    try {
      webhooks = await startWebhooks(withAfterCommit(db), writer, wakeSources, { ...options.webhooks, production });
    } catch (error) {
      await remote?.close();
      await writer.close();
      if (ownsDb) await db.close();
      throw error;
    }
  }
  let earnings: EarningsService;
  try {
    earnings = await startEarnings(db, writer, wakeSources, { now: clock, ...options.earnings, holdMs });
  } catch (error) {
    await webhooks?.close();
    await remote?.close();
    await writer.close();
    if (ownsDb) await db.close();
    throw error;
  }
  // Stripe Connect payouts when configured (STRIPE_CONNECT_WEBHOOK_SECRET); a test's own providers win.
  const providers = { ...stripeConnectProviders(options), ...options.payouts?.providers };
  const payouts = startPayouts(writer, wakeSources, { now: clock, ...options.payouts, providers, holdMs });
  let live: LiveService;
  try {
    live = await startLive(db, writer, wakeSources, { now: clock, ...options.live });
  } catch (error) {
    await payouts.close();
    await earnings.close();
    await webhooks?.close();
    await remote?.close();
    await writer.close();
    if (ownsDb) await db.close();
    throw error;
  }
  liveRuntime.hub = live.hub;
  metrics.bind({
    writerStats: () => writer.stats(),
    webhookOutcomes: () => webhooks?.worker.stats.outcomes,
    liveSubscribers: () => live.hub.size,
  });

  // Requests still being handled: closing waits for them, even when their client went away
  // (the socket is gone, but the work, perhaps a spend in a group commit, is not).
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const countedFetch = async (request: Request, env?: unknown): Promise<Response> => {
    inFlight++;
    try {
      return await app.fetch(request, env);
    } finally {
      inFlight--;
      if (inFlight === 0) drained?.();
    }
  };

  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const listening = serve({ fetch: countedFetch, port: options.port ?? 8787, hostname: options.host }, () =>
        resolve(listening as Server),
      );
      (listening as Server).once('error', reject);
    });
  } catch (error) {
    // The port is taken, say: leave nothing running behind.
    await live.close();
    await payouts.close();
    await earnings.close();
    await webhooks?.close();
    await remote?.close();
    await writer.close();
    if (ownsDb) await db.close();
    throw error;
  }
  // Idle connections are kept longer than a load balancer keeps its own (60 s, commonly), so a
  // client never sends a request on a connection this server is closing at that very moment
  // (the request would be lost to a reset). Node's 5 s made that race easy to meet: a client
  // whose event loop was busy for 5 s met it on its next request.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  const address = server.address() as AddressInfo;
  const host = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : 'localhost';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  let sweeping: Promise<unknown> = Promise.resolve();
  let rateLimitsForgottenAt = 0;
  const sweeper = setInterval(() => {
    sweeping = sweeping
      .then(async () => {
        await asLeader(db, SWEEPER_LOCK_ID, async () => {
          await sweepExpired(writer, db, ledger);
          // Rate limits' dead counts, once an hour (not money: on the main connection).
          if (Date.now() - rateLimitsForgottenAt >= RATE_LIMITS_FORGET_INTERVAL_MS) {
            rateLimitsForgottenAt = Date.now();
            await forgetOldRateLimits(db);
          }
        });
        await settleDueBoosts(writer, db);
      })
      .catch((error: unknown) => logger.error({ err: error }, 'reservation sweep failed'));
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // /readyz fails from now on, so a balancer stops sending new requests here.
      draining = true;
      clearInterval(sweeper);
      // Live streams never end by themselves: end them first, or closing would wait for them.
      await live.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A connection is closed as soon as it has no request: Node closes only those idle when
      // asked, and would keep one whose answer ends later open for the keep-alive time (65 s).
      server.closeIdleConnections();
      const closeIdle = setInterval(() => server.closeIdleConnections(), 50);
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      // Every request is answered. A connection still open after a grace for the answers' last
      // bytes carries none (a stream whose client left without Node noticing): it is cut.
      const grace = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
      clearInterval(closeIdle);
      await sweeping;
      // Boost views accepted but not yet counted are counted before the writer closes.
      await flushImpressions(writer);
      // Attempts in flight finish and are recorded (or, killed, their leases lapse).
      await webhooks?.close();
      await payouts.close();
      await earnings.close();
      await remote?.close();
      await writer.close();
      await smtp?.close();
      if (ownsDb) await db.close();
    })();
    return closing;
  };

  const events = { local: localEvents, remote, sources: wakeSources };
  return { url, port: address.port, db, ledger, commits, writer, events, webhooks, earnings, payouts, live, logger, metrics, close };
}
