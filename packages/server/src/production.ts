import type { MiddlewareHandler } from 'hono';
import type { Context } from 'hono';
import type { Settings } from './config.js';
import { readSecretKeyring, SECRET_KEY_ENV } from './db/secrets.js';

/**
 * Production mode (`NODE_ENV=production`): what the platform refuses to run without, and what
 * it does differently on every response. In development none of it applies, so that
 * `npm install && npm start` works on http://localhost as it is.
 */

/** The environment variable that lets a production platform take test payments anyway (a staging server). */
export const ALLOW_TEST_PAYMENTS_ENV = 'DIAMONDS_ALLOW_TEST_PAYMENTS';

/** `Strict-Transport-Security` of a production platform: two years, subdomains included. */
export const HSTS = 'max-age=63072000; includeSubDomains';

/** Whether the environment asks for production mode. */
export function isProduction(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NODE_ENV === 'production';
}

/**
 * What a production platform lacks in `settings` and `env`, as one message per problem (none
 * outside production): an https `DIAMONDS_PUBLIC_URL`, a `DIAMONDS_SECRET_KEY`, and real
 * payments (Stripe top-ups and Stripe Connect payouts) unless `DIAMONDS_ALLOW_TEST_PAYMENTS=1`.
 */
export function productionProblems(
  settings: Partial<Pick<Settings, 'publicUrl' | 'paymentProvider' | 'stripeConnectWebhookSecret'>>,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  if (!isProduction(env)) return [];
  const problems: string[] = [];
  if (!settings.publicUrl?.startsWith('https://')) {
    // Links handed to fans (sign-in, confirmation and top-up pages) must never come from a
    // request's Host header, and fans must reach those pages over TLS.
    problems.push(
      `NODE_ENV=production needs DIAMONDS_PUBLIC_URL, the platform's https origin (such as https://diamonds.example); got ${settings.publicUrl ? `"${settings.publicUrl}"` : 'none'}.`,
    );
  }
  try {
    if (!readSecretKeyring(env)) {
      problems.push(
        `NODE_ENV=production needs ${SECRET_KEY_ENV}, 32 random bytes in base64 (openssl rand -base64 32), which encrypts the signing keys and webhook secrets stored in the database.`,
      );
    }
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (env[ALLOW_TEST_PAYMENTS_ENV] !== '1') {
    if ((settings.paymentProvider ?? 'test') === 'test') {
      problems.push(
        `NODE_ENV=production refuses test payments (fake cards that "pay"): set DIAMONDS_PAYMENTS=stripe with its keys, or ${ALLOW_TEST_PAYMENTS_ENV}=1 on a staging server.`,
      );
    }
    if (!settings.stripeConnectWebhookSecret) {
      problems.push(
        `NODE_ENV=production refuses test payouts (a "bank" that pays nobody): set STRIPE_CONNECT_WEBHOOK_SECRET for Stripe Connect payouts, or ${ALLOW_TEST_PAYMENTS_ENV}=1 on a staging server.`,
      );
    }
  }
  return problems;
}

/**
 * Throws when production mode lacks something (see {@link productionProblems}).
 *
 * @throws Error whose message lists every problem, one a line.
 */
export function checkProduction(
  settings: Partial<Pick<Settings, 'publicUrl' | 'paymentProvider' | 'stripeConnectWebhookSecret'>>,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const problems = productionProblems(settings, env);
  if (problems.length > 0) throw new Error(problems.join('\n'));
}

/**
 * The production mode of every response: `Strict-Transport-Security`, and the `__Host-` cookie
 * names (see {@link usesHostCookies}). Does nothing else in development, but for noting the
 * public origin when one is configured (see {@link configuredPublicOrigin}).
 */
export function productionMode(production: boolean, publicUrl?: string): MiddlewareHandler {
  const publicOrigin = publicUrl === undefined ? undefined : new URL(publicUrl).origin;
  return async (c, next) => {
    if (publicOrigin !== undefined) c.set('publicOrigin' as never, publicOrigin as never);
    if (!production) return next();
    c.set('hostCookies' as never, true as never);
    await next();
    c.res.headers.set('Strict-Transport-Security', HSTS);
  };
}

/**
 * The platform's configured public origin (`DIAMONDS_PUBLIC_URL`), when there is one: a form
 * posted from it is the platform's own, even when a TLS-terminating proxy hands the request on
 * over plain http (so the request's own URL says `http://`).
 */
export function configuredPublicOrigin(c: Context): string | undefined {
  return c.get('publicOrigin' as never) as string | undefined;
}

/**
 * Whether the hosted pages' cookies are `__Host-` cookies (Secure, `Path=/`, no `Domain`): in
 * production. A sibling subdomain cannot set or shadow them, and they never go over plain http.
 */
export function usesHostCookies(c: Context): boolean {
  return (c.get('hostCookies' as never) as boolean | undefined) === true;
}
