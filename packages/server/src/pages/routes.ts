import { Hono } from 'hono';
import { newId } from '@diamonds/protocol';
import { ApiError } from '../errors.js';
import { isDatabaseUnavailable } from '../ops/http.js';
import type { AppContext } from '../context.js';
import { accountRoutes } from './account.js';
import { authRoutes } from './auth.js';
import { passwordResetRoutes } from './password-reset.js';
import { verifyEmailRoutes } from './verify-email.js';
import { consentRoutes } from './consent.js';
import { confirmationRoutes } from './confirm.js';
import { guardRoutes } from './guard.js';
import { stepUpRoutes } from './step-up.js';
import { topUpRoutes } from './topup.js';
import { walletRoutes } from './wallet.js';
import { creatorContentRoutes } from './creator-content.js';
import { dashboardRoutes } from './dashboard.js';
import { payoutPages } from './payouts.js';
import { livePages } from './live.js';
import { fundPages } from './fund.js';
import { boostsPages } from './boosts.js';
import { collabsPages } from './collabs.js';
import { stripeConnectOnboarding } from '../payouts/stripe-connect.js';
import type { PagesEnv } from './forms.js';
import { HOSTED_CSS } from './hosted.css.js';
import { errorPage } from './layout.js';
import { securityHeaders } from './security-headers.js';

/** The platform's icon: the diamond, as `<diamond-amount>` draws it. */
const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="#5b3df5" d="M6.5 3h11L22 9.2 12 21 2 9.2z"/><path fill="#fff" fill-opacity=".35" d="M6.5 3h11L22 9.2H2z"/></svg>';

/** The paths the hosted pages answer; the security headers apply to these and nothing else. */
const PAGE_PATHS = [
  '/signup',
  '/signup/verify',
  '/signin',
  '/signin/authorize',
  '/signin/authorize/*',
  '/signin/again',
  '/signin/forgot',
  '/signin/reset',
  '/verify-email',
  '/signout',
  '/account',
  '/account/*',
  '/dashboard',
  '/dashboard/*',
  '/hosted.css',
  '/hosted/close.js',
  '/hosted/guard.js',
  '/confirm/*',
  '/topup',
  '/topup/*',
  '/wallet',
  '/wallet/*',
] as const;

const ERROR_TITLES: Record<number, string> = {
  400: 'That did not work',
  403: 'Not allowed',
  404: 'Not found',
  413: 'Too much data',
  415: 'Unsupported form',
};

/**
 * The platform's hosted pages, rendered on the server: sign up, sign in, sign out and the
 * account page (connected sites and their allowances; a creator's sites and keys).
 *
 * @remarks Mount at `/` (`app.route('/', hostedPages({ db }))`). Every page sends a strict CSP
 * without script, `frame-ancestors 'none'`, COOP `same-origin` and `no-store`; every POST is
 * CSRF-checked (see `csrf.ts`); errors render as HTML pages with their status, never JSON.
 */
export function hostedPages(context: AppContext): Hono<PagesEnv> {
  const { db } = context;
  const pages = new Hono<PagesEnv>();
  for (const path of PAGE_PATHS) pages.use(path, securityHeaders());

  // Browsers ask for it on every hosted page; the diamond, rather than a 404 in the console.
  pages.get('/favicon.ico', (c) => {
    c.header('Cache-Control', 'public, max-age=86400');
    return c.body(FAVICON_SVG, 200, { 'Content-Type': 'image/svg+xml' });
  });

  pages.get('/hosted.css', (c) => {
    c.header('Cache-Control', 'public, max-age=31536000, immutable');
    return c.body(HOSTED_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8' });
  });

  authRoutes(pages, db, {
    mailer: context.mailer,
    publicUrl: context.settings.publicUrl,
    development: process.env.NODE_ENV !== 'production',
  });
  passwordResetRoutes(pages, db, {
    mailer: context.mailer,
    publicUrl: context.settings.publicUrl,
    development: process.env.NODE_ENV !== 'production',
  });
  verifyEmailRoutes(pages, db, { mailer: context.mailer, publicUrl: context.settings.publicUrl });
  accountRoutes(pages, db, context.settings.publicUrl);
  stepUpRoutes(pages, db);
  guardRoutes(pages);
  consentRoutes(pages, db);
  confirmationRoutes(pages, context);
  topUpRoutes(pages, context);
  walletRoutes(pages, context);
  creatorContentRoutes(pages, context);
  dashboardRoutes(pages, context);
  payoutPages(pages, context, stripeConnectOnboarding(context));
  livePages(pages, context);
  fundPages(pages, context);
  boostsPages(pages, context);
  collabsPages(pages, context);

  pages.onError((caught, c) => {
    if (caught instanceof ApiError && caught.status < 500) {
      if (caught.status === 429) c.header('Retry-After', '60');
      return c.html(errorPage(ERROR_TITLES[caught.status] ?? 'That did not work', caught.message), caught.status as 400);
    }
    // The platform app sets `requestId` (see app.ts); mounted elsewhere, make one up.
    const requestId = (c.var as unknown as { requestId?: string }).requestId ?? newId('req');
    if (caught instanceof ApiError && caught.code === 'database_busy') c.header('Retry-After', '1');
    // The database unreachable, or its file lost (see ops/http.ts): 503, to be retried, not a bug.
    if (isDatabaseUnavailable(caught) || (caught instanceof ApiError && caught.code === 'service_unavailable')) {
      c.header('Retry-After', '5');
      return c.html(
        errorPage('Temporarily unavailable', 'The platform cannot reach its database right now. Please try again in a moment.'),
        503,
      );
    }
    console.error(`[${requestId}] unexpected error on a hosted page`, caught);
    return c.html(errorPage('Something went wrong', 'Something went wrong on our side. Please try again in a moment.'), 500);
  });

  return pages;
}
