import type { Context } from 'hono';
import type { Settings } from './config.js';
import type { Database } from './db/types.js';
import type { JsonBodyVariables } from './http/body.js';
import type { CallerVariables } from './http/cors.js';
import type { Ledger } from './ledger/ledger.js';
import type { LiveHub } from './live/hub.js';
import type { Mailer } from './mail/mailer.js';
import type { MoneyWriter } from './money/writer.js';

/*
 * What every route and page reaches, apart from the app that assembles it (`app.ts`): routes
 * import this, never `app.ts`, so nothing imports back up.
 */

/** The settings the money flows read (see {@link Settings}). */
export type MoneySettings = Pick<
  Settings,
  | 'platformFeeBps'
  | 'publicUrl'
  | 'paymentProvider'
  | 'stripeSecretKey'
  | 'stripeWebhookSecret'
  | 'stripeApiBase'
  | 'stripeConnectWebhookSecret'
>;

/** The rules of creators' money the pages apply: the clock, the hold, the smallest payout. */
export interface EarningsRules {
  /** The platform's clock (tests move it past the hold). */
  now: () => number;
  /** The hold before earnings are available, in milliseconds (see `earningsHoldMs`). */
  holdMs: number;
  /** The smallest payout, in Diamonds (see `payoutMinimumDiamonds`). */
  minimumPayoutDiamonds: number;
}

/**
 * The live streams of this process, bound once the platform has started them (`startServer`);
 * `hub` is undefined in an app built without them (the stream answers 503).
 */
export interface LiveRuntime {
  hub: LiveHub | undefined;
}

/** What every request handler can reach. */
export interface AppContext {
  db: Database;
  ledger: Ledger;
  /**
   * The one writer of money: every write that moves Diamonds or changes a spend's state goes
   * through it as a registered operation (see `money/writer.ts`, `features.ts`).
   */
  writer: MoneyWriter;
  settings: MoneySettings;
  /** Where the platform's emails go (sign-up codes…). */
  mailer: Mailer;
  /** Production rules (NODE_ENV=production): webhook endpoints must be https and public. */
  production: boolean;
  /** The clock, hold and payout minimum of creators' earnings. */
  earnings: EarningsRules;
  /** This process's live streams. */
  live: LiveRuntime;
}

/** Hono's per-request variables. */
export interface AppEnv {
  Variables: { requestId: string } & CallerVariables & JsonBodyVariables;
}

/**
 * The platform's public origin for links it hands out: the configured one, or, in development
 * without one, the loopback address the request came to (see {@link loopbackHostsOnly}).
 */
export function publicBaseUrl(c: Context<AppEnv>, settings: MoneySettings): string {
  return settings.publicUrl ?? new URL(c.req.url).origin;
}
