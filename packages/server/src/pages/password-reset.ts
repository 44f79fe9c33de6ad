import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { isApiError } from '../errors.js';
import type { Database } from '../db/types.js';
import { peekEmailToken } from '../identity/email-tokens.js';
import { PASSWORD_RESET_TTL_MS, requestPasswordReset, resetPassword, type PasswordResetRequest } from '../identity/password-reset.js';
import { hitRateLimit } from '../identity/rate-limit.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../identity/users.js';
import type { Mail, Mailer } from '../mail/mailer.js';
import { SIGNIN_LIMIT_PER_IP, SIGNIN_WINDOW_MS, clientIp, refusal } from './auth.js';
import { checkSameOrigin, checkSignedOutToken, signedOutToken } from './csrf.js';
import { problemFor, readForm, safeNext, text, type PagesEnv } from './forms.js';
import { alertBox, csrfField, field, page, type FormProblem, type Html } from './layout.js';
import { endSession } from './session.js';

/*
 * "Forgot your password?": the address → always the same page (an email goes out either way:
 * a link for an account, a note for an address without one) → the emailed one-time link → a new
 * password → every platform session of the account ended, and the person signs in again. Under
 * /signin/ so that the sign-in popup of a site keeps its opener on the way (security-headers.ts).
 */

/** The page that asks for the address (linked from the sign-in page). */
export const FORGOT_PASSWORD_PATH = '/signin/forgot';
/** The page the emailed link opens, where the new password is set. */
export const RESET_PASSWORD_PATH = '/signin/reset';

/** Reset emails per address per hour: enough for a lost email or two, too few to flood an inbox. */
export const PASSWORD_RESET_LIMIT_PER_EMAIL = 3;
/** Reset requests per client IP per hour. */
export const PASSWORD_RESET_LIMIT_PER_IP = 10;
/** The window of both reset-request limits: 1 hour. */
export const PASSWORD_RESET_WINDOW_MS = 60 * 60 * 1000;

const minutes = Math.round(PASSWORD_RESET_TTL_MS / 60_000);

function withNext(path: string, next: string): string {
  return next === '/account' ? path : `${path}?${new URLSearchParams({ next }).toString()}`;
}

function forgotPage(csrf: string, values: { email: string; next: string }, problem?: FormProblem): Html {
  return page(
    'Forgot your password?',
    html`<h1>Forgot your password?</h1>
      ${alertBox(problem)}
      <p>Enter the email address of your account. We will email you a link to set a new password.</p>
      <form method="post" action="${FORGOT_PASSWORD_PATH}" novalidate>
        ${csrfField(csrf)}
        <input type="hidden" name="next" value="${values.next}" />
        ${field({ id: 'email', name: 'email', label: 'Email', type: 'email', autocomplete: 'email', value: values.email, required: true, maxLength: 254, problem, autofocus: true })}
        <button type="submit">Email me a link</button>
      </form>
      <p><a href="${withNext('/signin', values.next)}">Back to sign in</a></p>`,
  );
}

/** The one answer to every well-formed request, whether or not the address has an account. */
function sentPage(email: string, next: string, development: boolean): Html {
  return page(
    'Check your email',
    html`<h1>Check your email</h1>
      <p role="status">
        If <strong>${email}</strong> is the address of a Diamonds account, we sent it a link to set a new password. The link works once, for
        ${minutes} minutes.
      </p>
      ${development ? html`<p class="muted">Development: emails are not sent; the platform prints them on its console and saves them under <code>.diamonds/mail/</code>.</p>` : ''}
      <p>
        No email after a few minutes? Check your spam folder and the address, then
        <a href="${withNext(FORGOT_PASSWORD_PATH, next)}">ask again</a>.
      </p>
      <p><a href="${withNext('/signin', next)}">Back to sign in</a></p>`,
  );
}

function newPasswordPage(csrf: string, token: string, email: string, problem?: FormProblem): Html {
  return page(
    'Set a new password',
    html`<h1>Set a new password</h1>
      ${alertBox(problem)}
      <p>For the account of <strong>${email}</strong>. Setting it signs you out everywhere; then sign in with the new password.</p>
      <form method="post" action="${RESET_PASSWORD_PATH}" novalidate>
        ${csrfField(csrf)}
        <input type="hidden" name="token" value="${token}" />
        ${field({
          id: 'password',
          name: 'password',
          label: 'New password',
          type: 'password',
          autocomplete: 'new-password',
          required: true,
          maxLength: MAX_PASSWORD_LENGTH,
          hint: `At least ${MIN_PASSWORD_LENGTH} characters.`,
          problem,
          autofocus: true,
        })}
        <button type="submit">Set new password</button>
      </form>`,
  );
}

const LINK_PROBLEMS = {
  used: { status: 410, title: 'This link was already used', text: 'Each link works once, and setting a new password ends all the others.' },
  expired: { status: 410, title: 'This link has expired', text: `A link to set a new password works for ${minutes} minutes.` },
  unknown: {
    status: 400,
    title: 'This link does not work',
    text: 'Check that you opened the whole link from the newest email, or ask for a new one.',
  },
} as const;

/** The page of a link that cannot set a password: what happened, and the way to ask again. */
function linkProblemPage(c: Context, status: keyof typeof LINK_PROBLEMS): Response | Promise<Response> {
  const problem = LINK_PROBLEMS[status];
  return c.html(
    page(
      problem.title,
      html`<h1>${problem.title}</h1>
        <div class="alert" role="alert"><p>${problem.text}</p></div>
        <p><a href="${FORGOT_PASSWORD_PATH}">Ask for a new link</a> · <a href="/signin">Sign in</a></p>`,
    ),
    problem.status,
  );
}

function donePage(sessionsEnded: number): Html {
  return page(
    'Your password is changed',
    html`<h1>Your password is changed</h1>
      <p class="notice" role="status">
        ${sessionsEnded > 0 ? 'You were signed out everywhere, this browser included.' : 'Nobody was signed in with the old password.'} Sign
        in with your new password.
      </p>
      <p><a href="/signin">Sign in</a></p>`,
  );
}

/** The email of a reset request: the link for an account, a note for an address without one. */
function resetMail(request: PasswordResetRequest, baseUrl: string): Mail {
  if (request.token === undefined) {
    const signUp = `${baseUrl}/signup`;
    return {
      to: request.email,
      subject: 'Diamonds password reset',
      text: `Someone (perhaps you) asked to reset the password of a Diamonds account at this address, but this address has no account.\n\nCreate one: ${signUp}\n\nIf it was not you, you can ignore this email: nothing was changed.\n`,
      links: [signUp],
    };
  }
  const link = `${baseUrl}${RESET_PASSWORD_PATH}?${new URLSearchParams({ token: request.token }).toString()}`;
  return {
    to: request.email,
    subject: 'Set a new Diamonds password',
    text: `Someone (perhaps you) asked to reset the password of your Diamonds account. To set a new one, open this link:\n\n${link}\n\nIt works once, for ${minutes} minutes. Setting a new password signs you out everywhere.\n\nIf it was not you, ignore this email: your password stays as it is.\n`,
    links: [link],
  };
}

/** What the reset pages need besides the database. */
export interface PasswordResetOptions {
  mailer: Mailer;
  /** The configured public origin; without it, links in emails use the request's (loopback) origin. */
  publicUrl: string | undefined;
  /** Say on the "check your email" page that emails are only printed and saved (development). */
  development: boolean;
}

/** Adds "Forgot your password?" and the page of its emailed link to the hosted pages. */
export function passwordResetRoutes(pages: Hono<PagesEnv>, db: Database, options: PasswordResetOptions): void {
  pages.get(FORGOT_PASSWORD_PATH, (c) => c.html(forgotPage(signedOutToken(c), { email: '', next: safeNext(c.req.query('next')) })));

  pages.post(FORGOT_PASSWORD_PATH, async (c) => {
    checkSameOrigin(c);
    const read = await readForm(c);
    const csrf = signedOutToken(c);
    if (!read.ok)
      return c.html(forgotPage(csrf, { email: '', next: '/account' }, problemFor(read.error, { email: ['email', 'Email'] })), 400);
    checkSignedOutToken(c, read.form.csrf);
    const values = { email: text(read.form, 'email').slice(0, 254), next: safeNext(read.form.next) };
    if (values.email.trim() === '')
      return c.html(forgotPage(csrf, values, { message: 'Enter your email address.', fieldId: 'email' }), 400);
    // Both limits count every address alike, known or not, so a refusal says nothing about it.
    const byIp = await hitRateLimit(db, `reset:ip:${clientIp(c)}`, PASSWORD_RESET_LIMIT_PER_IP, PASSWORD_RESET_WINDOW_MS);
    const byEmail = await hitRateLimit(
      db,
      `reset:email:${values.email.trim().toLowerCase()}`,
      PASSWORD_RESET_LIMIT_PER_EMAIL,
      PASSWORD_RESET_WINDOW_MS,
    );
    const limited = refusal(c, [byIp, byEmail], 'password reset');
    if (limited !== undefined) return c.html(forgotPage(csrf, values, { message: limited }), 429);
    let request: PasswordResetRequest;
    try {
      request = await requestPasswordReset(db, values.email);
    } catch (error) {
      if (!isApiError(error, 'invalid_request')) throw error;
      return c.html(forgotPage(csrf, values, problemFor(error, { email: ['email', 'Email'] })), 400);
    }
    // One email either way, and the same page: the answer does not tell who has an account.
    await options.mailer.send(resetMail(request, options.publicUrl ?? new URL(c.req.url).origin));
    return c.html(sentPage(request.email, values.next, options.development));
  });

  pages.get(RESET_PASSWORD_PATH, async (c) => {
    const token = c.req.query('token') ?? '';
    const state = await peekEmailToken(db, 'reset_password', token);
    if (state.status !== 'valid') return linkProblemPage(c, state.status);
    return c.html(newPasswordPage(signedOutToken(c), token, state.email));
  });

  pages.post(RESET_PASSWORD_PATH, async (c) => {
    checkSameOrigin(c);
    const read = await readForm(c);
    if (!read.ok) return linkProblemPage(c, 'unknown');
    const csrf = signedOutToken(c);
    checkSignedOutToken(c, read.form.csrf);
    const token = text(read.form, 'token');
    // Each try hashes a password (scrypt): bounded per client like sign-in.
    const limited = refusal(c, [await hitRateLimit(db, `reset-set:ip:${clientIp(c)}`, SIGNIN_LIMIT_PER_IP, SIGNIN_WINDOW_MS)], 'password');
    const state = await peekEmailToken(db, 'reset_password', token);
    if (state.status !== 'valid') return linkProblemPage(c, state.status);
    if (limited !== undefined) return c.html(newPasswordPage(csrf, token, state.email, { message: limited }), 429);
    try {
      const outcome = await resetPassword(db, token, text(read.form, 'password'));
      if (outcome.status !== 'reset') return linkProblemPage(c, outcome.status);
      // The sessions are ended in the database already; this drops this browser's cookie too.
      await endSession(c, db);
      return c.html(donePage(outcome.sessionsEnded));
    } catch (error) {
      if (!isApiError(error, 'invalid_request')) throw error;
      return c.html(newPasswordPage(csrf, token, state.email, problemFor(error, { password: ['password', 'New password'] })), 400);
    }
  });
}
