import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { isApiError } from '../errors.js';
import type { Database } from '../db/types.js';
import { forgiveRateLimitHit, hitRateLimit, type RateLimitVerdict } from '../identity/rate-limit.js';
import type { Session } from '../identity/sessions.js';
import { authenticate } from '../identity/users.js';
import { SIGNIN_LIMIT_PER_EMAIL, SIGNIN_LIMIT_PER_IP, SIGNIN_WINDOW_MS, clientIp, currentPasswordField } from './auth.js';
import { checkSameOrigin, checkSessionToken } from './csrf.js';
import { readForm, safeNext, text, type PagesEnv } from './forms.js';
import { alertBox, csrfField, page, type FormProblem, type Html } from './layout.js';
import { currentSession, startSession } from './session.js';

/*
 * Step-up: the password again before a decision that a stolen moment at the fan's computer, or
 * a lure that got past the button guard (pages/guard.ts), must not be enough for. A session lasts
 * a week; payment providers and app stores ask for the password again before a large or lasting
 * spend when the last sign-in is older than a few minutes, and so do we:
 *
 * - approving a spend of {@link STEP_UP_MIN_DIAMONDS} or more, and
 * - any allowance increase (connecting a site with more than it has now, 0 for a new one, on the
 *   consent screen; raising it on the account page), since an allowance spends without asking,
 *   every day, until the fan lowers it;
 *
 * when the session's sign-in is older than {@link STEP_UP_AFTER_MS}. The page keeps `next`; the
 * right password starts a new session (a new cookie and CSRF token, the old session revoked:
 * a privilege change gets a new session id) and goes back to `next`. Password checks count
 * against the sign-in page's own rate limits (the same buckets), so the two pages together allow
 * no more guesses than sign-in alone.
 */

/** Where the fan enters the password again. */
export const STEP_UP_PATH = '/signin/again';

/**
 * How old a sign-in may be for large or lasting decisions: 15 minutes, the App Store's default
 * for asking the password again before a purchase (Google Play's shortest choice is 30 minutes).
 */
export const STEP_UP_AFTER_MS = 15 * 60 * 1000;

/**
 * The smallest spend that needs a recent sign-in: 1,000 Diamonds (about US$13 at the default
 * rate). It is the largest daily allowance the consent screen offers, so a single spend this large
 * is more than the fan would let any site spend in a day without asking; below it, the button
 * guard alone stands, and every smaller spend still needs its own approval.
 */
export const STEP_UP_MIN_DIAMONDS = 1000;

/** Whether the session's sign-in is recent enough for a large or lasting decision. */
export function signedInRecently(session: Session, now = Date.now()): boolean {
  return now - session.authenticatedAt < STEP_UP_AFTER_MS;
}

/** The step-up page that comes back to `next` (a path on this site). */
export function stepUpUrl(next: string): string {
  return `${STEP_UP_PATH}?next=${encodeURIComponent(next)}`;
}

/** What the fan is about to do, from where they will go back to (never from the URL's own words). */
function reasonFor(next: string): string {
  if (next.startsWith('/confirm/'))
    return `You are about to approve a payment of ${STEP_UP_MIN_DIAMONDS.toLocaleString('en-US')} Diamonds or more.`;
  if (next.startsWith('/signin/authorize')) return 'You are about to let a site spend more of your Diamonds without asking.';
  if (next.startsWith('/account/payouts')) return 'You are about to cash out your earnings or change where they are paid.';
  if (next.startsWith('/account')) return 'You are about to raise what a site may spend without asking.';
  return 'You are about to make an important change.';
}

function stepUpPage(session: Session, next: string, problem?: FormProblem): Html {
  const minutes = Math.round(STEP_UP_AFTER_MS / 60_000);
  return page(
    'Enter your password again',
    html`<h1>Enter your password again</h1>
      ${alertBox(problem)}
      <p class="notice">
        ${reasonFor(next)} You signed in more than ${minutes} minutes ago, so Diamonds asks for your password first, to be sure it is you.
      </p>
      <p>Signed in as <strong>${session.user.displayName}</strong><br /><span class="muted">${session.user.email}</span></p>
      <form method="post" action="${STEP_UP_PATH}" novalidate>
        ${csrfField(session.csrfToken)}
        <input type="hidden" name="next" value="${next}" />
        <input type="email" name="username" autocomplete="username" value="${session.user.email}" hidden readonly />
        ${currentPasswordField(problem, true)}
        <button type="submit">Continue</button>
      </form>
      <p><a href="${next}">Go back</a></p>`,
  );
}

/** Answers 429 with `Retry-After` and returns the message, or `undefined` when allowed. */
function refusal(c: Context, verdicts: readonly RateLimitVerdict[]): string | undefined {
  const refused = verdicts.filter((v) => !v.allowed);
  if (refused.length === 0) return undefined;
  const seconds = Math.max(1, Math.ceil(Math.max(...refused.map((v) => v.retryAfterMs)) / 1000));
  const minutes = Math.ceil(seconds / 60);
  c.header('Retry-After', String(seconds));
  return `Too many password attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
}

/** Adds the step-up page (`/signin/again`) to the hosted pages. */
export function stepUpRoutes(pages: Hono<PagesEnv>, db: Database): void {
  pages.get(STEP_UP_PATH, async (c) => {
    const next = safeNext(c.req.query('next'));
    const session = await currentSession(c, db);
    // Signed out: a full sign-in is a fresh one.
    if (!session) return c.redirect(`/signin?next=${encodeURIComponent(next)}`, 303);
    return c.html(stepUpPage(session, next));
  });

  pages.post(STEP_UP_PATH, async (c) => {
    checkSameOrigin(c);
    const session = await currentSession(c, db);
    const read = await readForm(c);
    const next = safeNext(read.ok ? read.form.next : undefined);
    if (!session) return c.redirect(`/signin?next=${encodeURIComponent(next)}`, 303);
    if (!read.ok) return c.html(stepUpPage(session, next, { message: read.error.message }), 400);
    checkSessionToken(session, read.form.csrf);
    const password = text(read.form, 'password');
    if (password === '') return c.html(stepUpPage(session, next, { message: 'Enter your password.', fieldId: 'password' }), 400);

    const email = session.user.email;
    const byIp = await hitRateLimit(db, `signin:ip:${clientIp(c)}`, SIGNIN_LIMIT_PER_IP, SIGNIN_WINDOW_MS);
    const byEmail = await hitRateLimit(db, `signin:email:${email.trim().toLowerCase()}`, SIGNIN_LIMIT_PER_EMAIL, SIGNIN_WINDOW_MS);
    const limited = refusal(c, [byIp, byEmail]);
    if (limited !== undefined) return c.html(stepUpPage(session, next, { message: limited }), 429);
    try {
      const user = await authenticate(db, email, password);
      // An honest sign-in is no guess: only failures use up the limits (a fan signing in on
      // several sites must not be locked out).
      await forgiveRateLimitHit(db, byIp);
      await forgiveRateLimitHit(db, byEmail);
      await startSession(c, db, user);
      return c.redirect(next, 303);
    } catch (error) {
      if (!isApiError(error, 'invalid_credentials')) throw error;
      return c.html(stepUpPage(session, next, { message: 'That password is not right.', fieldId: 'password' }), 401);
    }
  });
}
