import { Hono, type MiddlewareHandler } from 'hono';
import type { AppContext, AppEnv, EarningsRules, LiveRuntime, MoneySettings } from './context.js';
import { earningsHoldMs } from './earnings/summary.js';
import { fundApi } from './fund/routes.js';
import { collabsApi } from './collabs/routes.js';
import { boostsApi } from './boosts/routes.js';
import { liveApi } from './live/routes.js';
import { overlayRoutes } from './live/overlay-page.js';
import { payoutMinimumDiamonds } from './payouts/payouts.js';
import { newId, type ErrorBody } from '@diamonds/protocol';
import { ApiError } from './errors.js';
import type { Database } from './db/types.js';
import type { Ledger } from './ledger/ledger.js';
import { headersFromNode } from './http/node-headers.js';
import { jsonBody } from './http/body.js';
import { corsByPublishableKey } from './http/cors.js';
import { allowedOriginCandidates } from './http/origins.js';
import { findSiteByKey } from './identity/sites.js';
import { hostedPages } from './pages/routes.js';
import { errorPage } from './pages/layout.js';
import { SECURITY_HEADERS } from './pages/security-headers.js';
import { identityApi } from './identity/routes.js';
import { ratesApi } from './money/rates-routes.js';
import { openApiRoutes } from './http/openapi.js';
import { walletApi } from './money/wallet-routes.js';
import { paymentsApi } from './payments/routes.js';
import { giftArtRoutes, giftsApi } from './gifts/routes.js';
import { confirmationsApi } from './money/confirmations-routes.js';
import { contentApi } from './content/routes.js';
import { ordersApi } from './orders/routes.js';
import { siteCreatorsApi } from './identity/site-creators-routes.js';
import { eventsApi } from './events/routes.js';
import { webhooksApi } from './webhooks/routes.js';
import { stripeConnectApi } from './payouts/stripe-connect.js';
import { dropInRoutes } from './http/drop-in.js';
import { jwks } from './money/receipts.js';
import { GroupCommit, withAfterCommit } from './ledger/group-commit.js';
import { inlineMoneyWriter, type MoneyWriter } from './money/writer.js';
import { platformMoney } from './features.js';
import { DEFAULT_MONEY_SETTINGS } from './config.js';
import { productionMode } from './production.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { developmentMailer, type Mailer } from './mail/mailer.js';
import { quietLogger, type Logger } from './ops/logging.js';
import { chooseRequestId, isDatabaseUnavailable, requestLogging, routePattern } from './ops/http.js';
import { opsRoutes } from './ops/health.js';
import type { PlatformMetrics } from './ops/metrics.js';

export { VERSION } from './version.js';
export type { AppContext, AppEnv, EarningsRules, LiveRuntime, MoneySettings } from './context.js';
export { publicBaseUrl } from './context.js';

/**
 * API paths that need no key: the OpenAPI document, and Stripe's webhooks, of top-ups and of
 * Connect payouts (signed by Stripe, verified over their raw body by the routes themselves).
 */
export const KEYLESS_API_PATHS: ReadonlySet<string> = new Set(['/v1/openapi.json', '/v1/webhooks/stripe', '/v1/payouts/stripe/webhook']);

/** What {@link createApp} needs: a database and its ledger; the rest has defaults. */
export interface AppOptions {
  db: Database;
  ledger: Ledger;
  /** Where the default money writer group-commits. @defaultValue a new one on `ledger` */
  commits?: GroupCommit;
  /** @defaultValue the platform's money operations run on `commits`, on this thread */
  writer?: MoneyWriter;
  settings?: Partial<MoneySettings>;
  /** @defaultValue a development mailer writing to the system's temporary folder, quietly */
  mailer?: Mailer;
  /** Production rules (webhook URLs). @defaultValue `NODE_ENV === 'production'` */
  production?: boolean;
  /** The clock, hold and payout minimum; each defaults to `Date.now` and the environment's settings. */
  earnings?: Partial<EarningsRules>;
  /** Where the live streams will be bound (`startServer` binds them once started). */
  live?: LiveRuntime;
  /** Request and error logs (one JSON line each). @defaultValue warnings and errors only, to standard output */
  logger?: Logger;
  /** The metrics requests are counted in and `/metrics` serves. @defaultValue none (`/metrics` answers 404) */
  metrics?: PlatformMetrics;
  /** The bearer token of `/metrics` (`DIAMONDS_METRICS_TOKEN`); unset, `/metrics` answers 404. */
  metricsToken?: string;
  /** Whether the platform is shutting down: `/readyz` then answers 503. */
  draining?: () => boolean;
}

/** The hosts a platform without `DIAMONDS_PUBLIC_URL` answers to. */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Without a configured public origin, serves only requests made to a loopback host.
 *
 * @remarks Links the platform hands out (a confirmation URL, a sign-in URL, gift art) are built
 * from the request's address when no public origin is configured. A request whose `Host`
 * names another host (a DNS-rebinding page, a proxy passing an attacker's header) would make
 * the platform hand out links to that host, so it is refused with 421 `host_not_allowed`. In
 * production `DIAMONDS_PUBLIC_URL` is required (see `readSettings`) and links come only from it.
 */
function loopbackHostsOnly(settings: MoneySettings): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (settings.publicUrl !== undefined) return next();
    const { hostname } = new URL(c.req.url);
    if (LOOPBACK_HOSTS.has(hostname)) return next();
    throw new ApiError(
      'host_not_allowed',
      `This platform has no DIAMONDS_PUBLIC_URL, so it answers only at localhost, 127.0.0.1 or [::1], not at "${hostname.slice(0, 100)}". Set DIAMONDS_PUBLIC_URL to the origin fans reach it at.`,
    );
  };
}

/**
 * Whether any site with a live publishable key lists `origin`: what a preflight without a key
 * is answered by (the actual request is then held to its own key's origins).
 */
async function isOriginRegistered(db: Database, origin: string): Promise<boolean> {
  const candidates = allowedOriginCandidates(origin);
  if (candidates.length === 0) return false;
  // sites.origins is a JSON array of canonical origins: match a whole quoted element.
  const matches = candidates.map(() => `s.origins LIKE ? ESCAPE '!'`).join(' OR ');
  const rows = await db.query(
    `SELECT 1 AS one FROM sites s WHERE (${matches}) AND EXISTS (SELECT 1 FROM site_keys k
       WHERE k.site_id = s.id AND k.kind = 'publishable' AND k.revoked_at IS NULL) LIMIT 1`,
    candidates.map((candidate) => `%${JSON.stringify(candidate).replace(/[!%_]/g, '!$&')}%`),
  );
  return rows.length > 0;
}

/** Renders an error as the protocol's error body. */
function errorBody(error: ApiError, requestId: string): ErrorBody {
  return {
    error: {
      type: error.type,
      code: error.code,
      message: error.message,
      ...(error.param === undefined ? {} : { param: error.param }),
      requestId,
    },
  };
}

/**
 * The bare application every part of the platform shares: request ids, the JSON 404 and the
 * one error handler, with no routes. {@link createApp} builds the platform on it; tests mount
 * single middleware on it.
 *
 * @remarks Every response carries `Request-Id` (and `X-Request-Id`); every request is logged on
 * one JSON line and counted in the metrics (see ops/http.ts); every error is the protocol's error
 * body with a stable code; a database that cannot be reached is answered 503
 * `service_unavailable` with `Retry-After`; anything unexpected is logged with its stack and
 * answered as `internal_error` without its details.
 */
export function createBaseApp(options: Pick<AppOptions, 'logger' | 'metrics'> = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const logger = options.logger ?? quietLogger;

  app.use('*', headersFromNode());
  app.use('*', async (c, next) => {
    // A proxy's or client's own id is kept (when sane), so one id follows a request end to end.
    const requestId = chooseRequestId(c.req.header('x-request-id'), () => newId('req'));
    c.set('requestId', requestId);
    c.header('Request-Id', requestId);
    c.header('X-Request-Id', requestId);
    await next();
  });
  app.use('*', requestLogging({ logger, metrics: options.metrics }));

  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    // Someone who typed or followed a wrong address outside the API (a hosted page's, say) is
    // shown a page with a way back; the API and every program that does not ask for HTML get JSON.
    if (c.req.method === 'GET' && !path.startsWith('/v1/') && (c.req.header('Accept') ?? '').includes('text/html')) {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
      return c.html(errorPage('Page not found', `There is no page at ${path}. Check the address, or start again from your account.`), 404);
    }
    const error = new ApiError('not_found', `No route ${c.req.method} ${path}. See /v1/openapi.json for what exists.`);
    return c.json(errorBody(error, c.get('requestId') ?? newId('req')), 404);
  });

  app.onError((caught, c) => {
    const requestId = c.get('requestId') ?? newId('req');
    if (caught instanceof ApiError) {
      if (caught.code === 'database_busy') c.header('Retry-After', '1');
      if (caught.code === 'service_unavailable') c.header('Retry-After', '5');
      return c.json(errorBody(caught, requestId), caught.status as 400);
    }
    if (isDatabaseUnavailable(caught)) {
      // PostgreSQL refusing connections, restarting, or a statement cancelled by its timeout:
      // the client can retry (with the same idempotency key); this is no bug of ours.
      logger.warn({ requestId, route: routePattern(c), err: caught }, 'database unavailable');
      c.header('Retry-After', '5');
      const unavailable = new ApiError(
        'service_unavailable',
        'The database cannot be reached right now. Retry shortly with the same idempotency key.',
      );
      return c.json(errorBody(unavailable, requestId), 503);
    }
    logger.error({ requestId, route: routePattern(c), err: caught }, 'unexpected error');
    const internal = new ApiError('internal_error', 'Something went wrong on our side. It is safe to retry with the same idempotency key.');
    return c.json(errorBody(internal, requestId), 500);
  });

  return app;
}

/**
 * Builds the platform's HTTP application (no listening socket; see `startServer`): the API
 * under `/v1`, the hosted pages, and `/healthz`.
 */
export function createApp(options: AppOptions): Hono<AppEnv> {
  const commits = options.commits ?? new GroupCommit(options.ledger);
  const context: AppContext = {
    // Events appended in a plain transaction are published once it commits (see appendEvent).
    db: withAfterCommit(options.db),
    ledger: options.ledger,
    writer: options.writer ?? inlineMoneyWriter(platformMoney(), options.ledger, commits),
    settings: { ...DEFAULT_MONEY_SETTINGS, ...options.settings },
    mailer: options.mailer ?? developmentMailer({ dir: join(tmpdir(), 'diamonds-mail'), log: false }),
    production: options.production ?? process.env.NODE_ENV === 'production',
    earnings: {
      now: options.earnings?.now ?? Date.now,
      holdMs: options.earnings?.holdMs ?? earningsHoldMs(),
      minimumPayoutDiamonds: options.earnings?.minimumPayoutDiamonds ?? payoutMinimumDiamonds(),
    },
    live: options.live ?? { hub: undefined },
  };
  const app = createBaseApp({ logger: options.logger, metrics: options.metrics });
  // Production: HSTS on every response, __Host- cookies (see production.ts).
  app.use('*', productionMode(context.production, context.settings.publicUrl));
  app.use('*', loopbackHostsOnly(context.settings));
  // /healthz, /readyz and /metrics (see ops/health.ts).
  app.route('/', opsRoutes({ db: options.db, metrics: options.metrics, metricsToken: options.metricsToken, draining: options.draining }));

  // The API: CORS decided by the publishable key's origins, then JSON bodies within limits.
  // The few key-less routes (the OpenAPI document, Stripe's webhook with its raw body) skip both.
  const byKey = corsByPublishableKey({
    lookupPublishableKey: async (key) => {
      const found = await findSiteByKey(context.db, key);
      return found?.kind === 'publishable' ? { siteId: found.site.id, origins: found.site.origins } : undefined;
    },
    lookupSecretKey: async (key) => {
      const found = await findSiteByKey(context.db, key);
      return found?.kind === 'secret' ? { siteId: found.site.id } : undefined;
    },
    isOriginRegistered: (origin) => isOriginRegistered(context.db, origin),
  }) as unknown as MiddlewareHandler<AppEnv>;
  const json = jsonBody() as unknown as MiddlewareHandler<AppEnv>;
  app.use('/v1/*', (c, next) => (KEYLESS_API_PATHS.has(c.req.path) ? next() : byKey(c, next)));
  app.use('/v1/*', (c, next) => (KEYLESS_API_PATHS.has(c.req.path) ? next() : json(c, next)));
  app.route('/v1', identityApi(context.db, context.settings.publicUrl));
  app.route('/v1', ratesApi(context.db));
  app.route('/v1', openApiRoutes(app));
  app.route('/v1', walletApi(context));
  app.route('/v1', paymentsApi(context));
  app.route('/v1', giftsApi(context));
  app.route('/v1', confirmationsApi(context));
  app.route('/v1', contentApi(context));
  app.route('/v1', ordersApi(context));
  app.route('/v1', siteCreatorsApi(context));
  app.route('/v1', eventsApi(context));
  app.route('/v1', webhooksApi(context));
  app.route('/v1', liveApi(context));
  app.route('/v1', stripeConnectApi(context));
  app.route('/v1', fundApi(context));
  app.route('/v1', collabsApi(context));
  app.route('/v1', boostsApi(context));

  // The gifts' art: public, so an <img> on any site can show it.
  app.route('/', giftArtRoutes(context));

  // The creator's stream-alerts overlay for OBS, at a secret URL (the token is the credential).
  app.route('/', overlayRoutes(context));

  // The drop-in script (the elements' bundle) for any site's <script type="module">.
  app.route('/', dropInRoutes());

  // Receipts' public keys, for sites' backends to verify receipts offline.
  app.get('/.well-known/jwks.json', async (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    c.header('Access-Control-Allow-Origin', '*');
    return c.json(await jwks(context.db));
  });

  // Hosted pages on the platform's own origin: sign-up, sign-in, account, confirmations, top-up.
  app.route('/', hostedPages(context));

  // Someone opening the address `npm start` prints lands on their account (or sign-in).
  app.get('/', (c) => c.redirect('/account', 303));

  return app;
}
