import { resolve } from 'node:path';
import { checkProduction } from './production.js';

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
  /**
   * The platform's fee on every spend, in basis points of the amount (2,000 = 20%).
   * `DIAMONDS_PLATFORM_FEE_BPS`, default 2000.
   */
  platformFeeBps: number;
  /**
   * The platform's public origin, the only source of the links it hands out (sign-in,
   * confirmation and top-up pages, gift art). `DIAMONDS_PUBLIC_URL`; required with
   * `NODE_ENV=production` (and https there; `production.ts` has what else production needs).
   * Unset, in development, links use the address a request came to, and only requests to
   * `localhost`, `127.0.0.1` or `[::1]` are served.
   */
  publicUrl: string | undefined;
  /** Which payment provider sells Diamonds. `DIAMONDS_PAYMENTS`: `test` (default) or `stripe`. */
  paymentProvider: 'test' | 'stripe';
  /** Stripe's secret API key (`sk_test_…`), when the provider is `stripe`. `STRIPE_SECRET_KEY`. */
  stripeSecretKey: string | undefined;
  /** The signing secret of the Stripe webhook endpoint (`whsec_…`). `STRIPE_WEBHOOK_SECRET`. */
  stripeWebhookSecret: string | undefined;
  /**
   * The signing secret of the Stripe **Connect** webhook endpoint (`whsec_…`, the endpoint that
   * listens to events on connected accounts, `/v1/payouts/stripe/webhook`).
   * `STRIPE_CONNECT_WEBHOOK_SECRET`. Setting it turns Stripe Connect (Express) payouts on: the
   * payouts page offers Stripe and payouts to it are sent with `STRIPE_SECRET_KEY` (required
   * with it). It is the switch, rather than the key alone, because a platform may sell Diamonds
   * through Stripe without having Connect, and Connect payouts cannot settle without their
   * webhook. See docs/payouts-stripe.md.
   */
  stripeConnectWebhookSecret?: string | undefined;
  /**
   * Where the Stripe API is reached; only tests point it elsewhere (a local stand-in).
   * `STRIPE_API_BASE`, default Stripe's own.
   */
  stripeApiBase: string | undefined;
  /**
   * Where fans' spends are written on SQLite: `thread` (default), a writer thread with its own
   * connection, so that statements and each commit's fsync do not stop the event loop; or
   * `inline`, on the main thread. `DIAMONDS_SQLITE_WRITER`. PostgreSQL is always inline.
   */
  sqliteWriter: 'thread' | 'inline';
  /**
   * Whether this process delivers webhooks (dispatches events to endpoints and posts them):
   * `on` (default) or `off` (tests that do not want it; a process that only serves the API
   * while others deliver). `DIAMONDS_WEBHOOKS`.
   */
  webhookDelivery: 'on' | 'off';
  /**
   * The SMTP server that sends the platform's emails (sign-up codes, password resets, address
   * verification), such as `smtp://user:pass@mail.example:587` (STARTTLS) or
   * `smtps://user:pass@mail.example:465`. `DIAMONDS_SMTP_URL`. Unset, emails are written to
   * `mail/` in the data folder and their links printed (development).
   */
  smtpUrl?: string | undefined;
  /** The sender of those emails, `Name <address>`. `DIAMONDS_MAIL_FROM`, default `Diamonds <no-reply@…>` of the public URL's host. */
  mailFrom?: string | undefined;
  /**
   * The bearer token Prometheus sends to read `/metrics`. `DIAMONDS_METRICS_TOKEN`; unset,
   * `/metrics` answers 404 (see docs/operations.md).
   */
  metricsToken?: string | undefined;
}

/** The money settings' defaults, for code that builds {@link Settings} by hand (tests). */
export const DEFAULT_MONEY_SETTINGS = {
  platformFeeBps: 2000,
  publicUrl: undefined,
  paymentProvider: 'test',
  stripeSecretKey: undefined,
  stripeWebhookSecret: undefined,
  stripeConnectWebhookSecret: undefined,
  stripeApiBase: undefined,
} as const satisfies Partial<Settings>;

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
  const feeText = env.DIAMONDS_PLATFORM_FEE_BPS?.trim() || '2000';
  const platformFeeBps = Number(feeText);
  if (!Number.isInteger(platformFeeBps) || platformFeeBps < 0 || platformFeeBps > 10_000) {
    throw new Error(`DIAMONDS_PLATFORM_FEE_BPS must be whole basis points from 0 to 10000; got "${feeText}".`);
  }
  const publicUrl = env.DIAMONDS_PUBLIC_URL?.trim().replace(/\/+$/, '') || undefined;
  if (publicUrl && !/^https?:\/\/[^/]+$/.test(publicUrl)) {
    throw new Error(`DIAMONDS_PUBLIC_URL must be an origin such as https://diamonds.example; got "${publicUrl}".`);
  }
  const paymentProvider = env.DIAMONDS_PAYMENTS?.trim() || 'test';
  if (paymentProvider !== 'test' && paymentProvider !== 'stripe') {
    throw new Error(`DIAMONDS_PAYMENTS must be "test" or "stripe"; got "${paymentProvider}".`);
  }
  const stripeSecretKey = env.STRIPE_SECRET_KEY?.trim() || undefined;
  const stripeWebhookSecret = env.STRIPE_WEBHOOK_SECRET?.trim() || undefined;
  if (paymentProvider === 'stripe' && (!stripeSecretKey || !stripeWebhookSecret)) {
    throw new Error('DIAMONDS_PAYMENTS=stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET.');
  }
  const stripeConnectWebhookSecret = env.STRIPE_CONNECT_WEBHOOK_SECRET?.trim() || undefined;
  if (stripeConnectWebhookSecret && !stripeSecretKey) {
    throw new Error('STRIPE_CONNECT_WEBHOOK_SECRET (Stripe Connect payouts) needs STRIPE_SECRET_KEY, the platform’s secret key.');
  }
  // Production mode: an https public URL, a secret key, real payments (see production.ts).
  checkProduction({ publicUrl, paymentProvider, stripeConnectWebhookSecret }, env);
  const sqliteWriter = env.DIAMONDS_SQLITE_WRITER?.trim() || 'thread';
  if (sqliteWriter !== 'thread' && sqliteWriter !== 'inline') {
    throw new Error(`DIAMONDS_SQLITE_WRITER must be "thread" or "inline"; got "${sqliteWriter}".`);
  }
  const webhookDelivery = env.DIAMONDS_WEBHOOKS?.trim() || 'on';
  if (webhookDelivery !== 'on' && webhookDelivery !== 'off') {
    throw new Error(`DIAMONDS_WEBHOOKS must be "on" or "off"; got "${webhookDelivery}".`);
  }
  const smtpUrl = env.DIAMONDS_SMTP_URL?.trim() || undefined;
  if (smtpUrl !== undefined && !URL.canParse(smtpUrl))
    throw new Error('DIAMONDS_SMTP_URL must be a URL such as smtp://user:pass@mail.example:587.');
  if (smtpUrl !== undefined && !/^smtps?:$/.test(new URL(smtpUrl).protocol)) {
    throw new Error(`DIAMONDS_SMTP_URL must be an smtp:// or smtps:// URL; got "${new URL(smtpUrl).protocol}//…".`);
  }
  const mailFrom = env.DIAMONDS_MAIL_FROM?.trim() || undefined;
  if (mailFrom !== undefined && /[\r\n]/.test(mailFrom))
    throw new Error('DIAMONDS_MAIL_FROM must be one line, such as Diamonds <no-reply@diamonds.example>.');
  return {
    port,
    host: env.HOST?.trim() || undefined,
    dataDir: resolve(env.DIAMONDS_DATA_DIR?.trim() || '.diamonds'),
    databaseUrl,
    platformFeeBps,
    publicUrl,
    paymentProvider,
    stripeSecretKey,
    stripeWebhookSecret,
    stripeConnectWebhookSecret,
    stripeApiBase: env.STRIPE_API_BASE?.trim() || undefined,
    sqliteWriter,
    webhookDelivery,
    smtpUrl,
    mailFrom,
    metricsToken: env.DIAMONDS_METRICS_TOKEN?.trim() || undefined,
  };
}
