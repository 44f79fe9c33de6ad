import type { Context, Hono } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { html } from 'hono/html';
import { ApiError, isApiError } from '../errors.js';
import type { Database } from '../db/types.js';
import { forgiveRateLimitHit, hitRateLimit, type RateLimitVerdict } from '../identity/rate-limit.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, authenticate, type Role } from '../identity/users.js';
import { finishedSignUpEmail, finishSignUp, startSignUp, SIGNUP_TTL_MS, type PendingSignUp } from '../identity/signups.js';
import type { Mailer } from '../mail/mailer.js';
import { checkSameOrigin, checkSessionToken, checkSignedOutToken, signedOutToken } from './csrf.js';
import { problemFor, readForm, safeNext, text, type PagesEnv } from './forms.js';
import { alertBox, csrfField, field, page, type FormProblem } from './layout.js';
import { currentSession, endSession, startSession } from './session.js';

/** Sign-in attempts allowed per account (lowercased email) per window. */
export const SIGNIN_LIMIT_PER_EMAIL = 5;
/** Sign-in attempts allowed per client IP per window. */
export const SIGNIN_LIMIT_PER_IP = 20;
/** The sign-in rate-limit window: 15 minutes. */
export const SIGNIN_WINDOW_MS = 15 * 60 * 1000;
/** Sign-up attempts allowed per client IP per hour (each one costs a scrypt hash). */
export const SIGNUP_LIMIT_PER_IP = 10;
const SIGNUP_WINDOW_MS = 60 * 60 * 1000;

/** Answers 429 with `Retry-After` (seconds) and returns the message to show, or `undefined` when allowed. */
export function refusal(c: Context, verdicts: readonly RateLimitVerdict[], what: string): string | undefined {
  const refused = verdicts.filter((v) => !v.allowed);
  if (refused.length === 0) return undefined;
  const seconds = Math.max(1, Math.ceil(Math.max(...refused.map((v) => v.retryAfterMs)) / 1000));
  const minutes = Math.ceil(seconds / 60);
  c.header('Retry-After', String(seconds));
  return `Too many ${what} attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
}

const SIGNUP_FIELDS = {
  email: ['email', 'Email'],
  password: ['password', 'Password'],
  displayName: ['displayName', 'Display name'],
  roles: ['role-fan', 'Roles'],
  fan: ['role-fan', 'Fan'],
  creator: ['role-creator', 'Creator'],
} as const;

const SIGNIN_FIELDS = {
  email: ['email', 'Email'],
  password: ['password', 'Password'],
} as const;

interface SignupValues {
  email: string;
  displayName: string;
  fan: boolean;
  creator: boolean;
  next: string;
}

/**
 * `path` with `?next=` when `next` is not the default: a sign-in popup goes from sign-in to
 * sign-up and back (and through the emailed code) without losing the sign-in request it serves.
 */
function withNext(path: string, next: string): string {
  return next === '/account' ? path : `${path}?${new URLSearchParams({ next }).toString()}`;
}

function signupPage(csrf: string, values: SignupValues, problem?: FormProblem) {
  const rolesInvalid = problem?.fieldId === 'role-fan' || problem?.fieldId === 'role-creator';
  const invalid = rolesInvalid ? html` aria-invalid="true" aria-describedby="roles-error"` : '';
  return page(
    'Create an account',
    html`<h1>Create an account</h1>
      ${alertBox(problem)}
      <form method="post" action="/signup" novalidate>
        ${csrfField(csrf)}
        <input type="hidden" name="next" value="${values.next}" />
        ${field({ id: 'email', name: 'email', label: 'Email', type: 'email', autocomplete: 'email', value: values.email, required: true, maxLength: 254, problem, autofocus: true })}
        ${field({
          id: 'password',
          name: 'password',
          label: 'Password',
          type: 'password',
          autocomplete: 'new-password',
          required: true,
          maxLength: MAX_PASSWORD_LENGTH,
          hint: `At least ${MIN_PASSWORD_LENGTH} characters.`,
          problem,
        })}
        ${field({
          id: 'displayName',
          name: 'displayName',
          label: 'Display name',
          type: 'text',
          autocomplete: 'name',
          value: values.displayName,
          required: true,
          maxLength: 60,
          problem,
        })}
        <fieldset>
          <legend>I am a… (choose at least one)</legend>
          <div class="choice">
            <input type="checkbox" id="role-fan" name="fan" value="yes" ${values.fan ? html` checked` : ''}${invalid} />
            <label for="role-fan">Fan: I spend Diamonds</label>
          </div>
          <div class="choice">
            <input type="checkbox" id="role-creator" name="creator" value="yes" ${values.creator ? html` checked` : ''}${invalid} />
            <label for="role-creator">Creator: I earn Diamonds</label>
          </div>
          ${rolesInvalid ? html`<p class="field-error" id="roles-error">${problem.message}</p>` : ''}
        </fieldset>
        <button type="submit">Create account</button>
      </form>
      <p>Already have an account? <a href="${withNext('/signin', values.next)}">Sign in</a></p>`,
  );
}

function signinPage(csrf: string, values: { email: string; next: string }, problem?: FormProblem) {
  // Refused with the email kept (a wrong password, said alike for an unknown email): the
  // password is what to type again.
  const retry = problem !== undefined && values.email !== '';
  return page(
    'Sign in',
    html`<h1>Sign in</h1>
      ${alertBox(problem)}
      <form method="post" action="/signin" novalidate>
        ${csrfField(csrf)}
        <input type="hidden" name="next" value="${values.next}" />
        ${field({ id: 'email', name: 'email', label: 'Email', type: 'email', autocomplete: 'email', value: values.email, required: true, maxLength: 254, problem, autofocus: !retry })}
        ${currentPasswordField(problem, retry)}
        <button type="submit">Sign in</button>
      </form>
      <p><a href="${withNext('/signin/forgot', values.next)}">Forgot password?</a></p>
      <p>New here? <a href="${withNext('/signup', values.next)}">Create an account</a></p>`,
  );
}

/** The client's IP address from the Node connection, or `'unknown'` (tests, other adapters). */
export function clientIp(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function checkbox(form: Record<string, string>, name: 'fan' | 'creator'): boolean {
  if (!Object.hasOwn(form, name)) return false;
  if (form[name] === 'yes') return true;
  throw new ApiError('invalid_request', `${name} is a checkbox: checked or not.`, { param: name });
}

/** The password field of a form that checks who the person is (sign-in, the password again). */
export function currentPasswordField(problem: FormProblem | undefined, autofocus = false) {
  return field({
    autofocus,
    id: 'password',
    name: 'password',
    label: 'Password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    maxLength: MAX_PASSWORD_LENGTH,
    problem,
  });
}

/** Where the emailed sign-up code is entered (and where the email's link points). */
export const SIGNUP_VERIFY_PATH = '/signup/verify';

/**
 * The page after every well-formed sign-up, whether or not the address has an account: it asks
 * for the code and says nothing else about the address.
 */
function codePage(csrf: string, signupId: string, email: string, next: string, problem?: FormProblem, development = false) {
  return page(
    'Check your email',
    html`<h1>Check your email</h1>
      ${alertBox(problem)}
      <p>
        We sent a 6-digit code to <strong>${email}</strong>. Enter it here to finish creating your account. It works for
        ${Math.round(SIGNUP_TTL_MS / 60_000)} minutes.
      </p>
      ${development ? html`<p class="muted">Development: emails are not sent; the platform prints them on its console and saves them under <code>.diamonds/mail/</code>.</p>` : ''}
      <form method="post" action="${SIGNUP_VERIFY_PATH}" novalidate>
        ${csrfField(csrf)}
        <input type="hidden" name="signup" value="${signupId}" />
        <input type="hidden" name="email" value="${email}" />
        <input type="hidden" name="next" value="${next}" />
        ${field({ id: 'code', name: 'code', label: 'Code', type: 'text', autocomplete: 'one-time-code', required: true, maxLength: 12, problem, autofocus: true })}
        <button type="submit">Create account</button>
      </form>
      <p>
        No email? Check the address, then <a href="${withNext('/signup', next)}">start again</a>. Already have an account?
        <a href="${withNext('/signin', next)}">Sign in</a>
      </p>`,
  );
}

/** The one email a sign-up sends: the code for a new address, a notice for a known one. */
function signUpMail(pending: PendingSignUp, baseUrl: string, next: string) {
  if (pending.code === undefined) {
    const signIn = `${baseUrl}/signin`;
    return {
      to: pending.email,
      subject: 'You already have a Diamonds account',
      text: `Someone (perhaps you) tried to create a Diamonds account with this address, which already has one.\n\nSign in instead: ${signIn}\n\nIf it was not you, you can ignore this email: nothing was changed.\n`,
      links: [signIn],
    };
  }
  const link = `${baseUrl}${SIGNUP_VERIFY_PATH}?${new URLSearchParams({ signup: pending.id, code: pending.code, next }).toString()}`;
  return {
    to: pending.email,
    subject: `Your Diamonds code: ${pending.code}`,
    text: `Your code is ${pending.code}. Enter it on the sign-up page, or open this link:\n\n${link}\n\nIt works for ${Math.round(SIGNUP_TTL_MS / 60_000)} minutes. If you did not sign up, ignore this email.\n`,
    links: [link],
  };
}

/** What the auth pages need besides the database. */
export interface AuthOptions {
  mailer: Mailer;
  /** The configured public origin; without it, links in emails use the request's (loopback) origin. */
  publicUrl: string | undefined;
  /** Say on the code page that emails are only printed and saved (development). */
  development: boolean;
}

/** Adds sign-up, sign-in and sign-out to the hosted pages. */
export function authRoutes(pages: Hono<PagesEnv>, db: Database, options: AuthOptions): void {
  pages.get('/signup', (c) => {
    const next = safeNext(c.req.query('next'));
    return c.html(signupPage(signedOutToken(c), { email: '', displayName: '', fan: false, creator: false, next }));
  });

  pages.post('/signup', async (c) => {
    checkSameOrigin(c);
    const read = await readForm(c);
    const csrf = signedOutToken(c);
    if (!read.ok) {
      return c.html(
        signupPage(
          csrf,
          { email: '', displayName: '', fan: false, creator: false, next: '/account' },
          problemFor(read.error, SIGNUP_FIELDS),
        ),
        400,
      );
    }
    const form = read.form;
    checkSignedOutToken(c, form.csrf);
    const values: SignupValues = {
      email: text(form, 'email'),
      displayName: text(form, 'displayName'),
      fan: form.fan === 'yes',
      creator: form.creator === 'yes',
      next: safeNext(form.next),
    };
    const limited = refusal(c, [await hitRateLimit(db, `signup:ip:${clientIp(c)}`, SIGNUP_LIMIT_PER_IP, SIGNUP_WINDOW_MS)], 'sign-up');
    if (limited !== undefined) return c.html(signupPage(csrf, values, { message: limited }), 429);
    try {
      const roles: Role[] = [];
      if (checkbox(form, 'fan')) roles.push('fan');
      if (checkbox(form, 'creator')) roles.push('creator');
      if (roles.length === 0) throw new ApiError('invalid_request', 'Choose at least one: fan or creator.', { param: 'roles' });
      // The same answer, after the same work, whether or not the address has an account.
      const pending = await startSignUp(db, {
        email: values.email,
        password: text(form, 'password'),
        displayName: values.displayName,
        roles,
      });
      await options.mailer.send(signUpMail(pending, options.publicUrl ?? new URL(c.req.url).origin, values.next));
      return c.html(codePage(csrf, pending.id, pending.email, values.next, undefined, options.development));
    } catch (error) {
      if (!isApiError(error, 'invalid_request')) throw error;
      return c.html(signupPage(csrf, values, problemFor(error, SIGNUP_FIELDS)), 400);
    }
  });

  /** Finishes a sign-up: from the code form (POST) or the emailed link (GET). */
  const verify = async (c: Context<PagesEnv>, input: { signup: string; code: string; email: string; next: string }, csrf: string) => {
    const outcome = await finishSignUp(db, input.signup, input.code);
    if (outcome.status === 'created') {
      await startSession(c, db, outcome.user);
      return c.redirect(input.next, 303);
    }
    if (outcome.status === 'taken') {
      return c.html(
        signinPage(csrf, { email: input.email, next: input.next }, { message: 'This address has an account now: sign in.' }),
        409,
      );
    }
    // Finished already in this browser (the emailed link, in another tab): carry on to `next`,
    // the consent of the sign-in request when this is the sign-in popup.
    const session = await currentSession(c, db);
    if (session && session.user.email === (await finishedSignUpEmail(db, input.signup))) return c.redirect(input.next, 303);
    const problem = { message: 'That code is not right, or it expired. Check the newest email from us, or start again.', fieldId: 'code' };
    return c.html(codePage(csrf, input.signup, input.email, input.next, problem, options.development), 400);
  };

  pages.post(SIGNUP_VERIFY_PATH, async (c) => {
    checkSameOrigin(c);
    const read = await readForm(c);
    const csrf = signedOutToken(c);
    if (!read.ok)
      return c.html(
        signupPage(
          csrf,
          { email: '', displayName: '', fan: false, creator: false, next: '/account' },
          problemFor(read.error, SIGNUP_FIELDS),
        ),
        400,
      );
    checkSignedOutToken(c, read.form.csrf);
    const form = read.form;
    const limited = refusal(c, [await hitRateLimit(db, `signup-code:ip:${clientIp(c)}`, SIGNIN_LIMIT_PER_IP, SIGNIN_WINDOW_MS)], 'code');
    const input = {
      signup: text(form, 'signup'),
      code: text(form, 'code'),
      email: text(form, 'email').slice(0, 254),
      next: safeNext(form.next),
    };
    if (limited !== undefined)
      return c.html(codePage(csrf, input.signup, input.email, input.next, { message: limited }, options.development), 429);
    return verify(c, input, csrf);
  });

  pages.get(SIGNUP_VERIFY_PATH, async (c) => {
    const limited = refusal(c, [await hitRateLimit(db, `signup-code:ip:${clientIp(c)}`, SIGNIN_LIMIT_PER_IP, SIGNIN_WINDOW_MS)], 'code');
    const csrf = signedOutToken(c);
    const input = { signup: c.req.query('signup') ?? '', code: c.req.query('code') ?? '', email: '', next: safeNext(c.req.query('next')) };
    if (limited !== undefined)
      return c.html(codePage(csrf, input.signup, input.email, input.next, { message: limited }, options.development), 429);
    return verify(c, input, csrf);
  });

  pages.get('/signin', (c) => {
    const next = safeNext(c.req.query('next'));
    return c.html(signinPage(signedOutToken(c), { email: '', next }));
  });

  pages.post('/signin', async (c) => {
    checkSameOrigin(c);
    const read = await readForm(c);
    const csrf = signedOutToken(c);
    if (!read.ok) return c.html(signinPage(csrf, { email: '', next: '/account' }, problemFor(read.error, SIGNIN_FIELDS)), 400);
    const form = read.form;
    checkSignedOutToken(c, form.csrf);
    const email = text(form, 'email');
    const password = text(form, 'password');
    const values = { email, next: safeNext(form.next) };
    const invalid = (message: string, fieldId: string) => c.html(signinPage(csrf, values, { message, fieldId }), 400);
    if (email.trim() === '') return invalid('Enter your email address.', 'email');
    if (email.length > 254) return invalid('Email may have at most 254 characters.', 'email');
    if (password === '') return invalid('Enter your password.', 'password');

    const byIp = await hitRateLimit(db, `signin:ip:${clientIp(c)}`, SIGNIN_LIMIT_PER_IP, SIGNIN_WINDOW_MS);
    const byEmail = await hitRateLimit(db, `signin:email:${email.trim().toLowerCase()}`, SIGNIN_LIMIT_PER_EMAIL, SIGNIN_WINDOW_MS);
    const limited = refusal(c, [byIp, byEmail], 'sign-in');
    if (limited !== undefined) return c.html(signinPage(csrf, values, { message: limited }), 429);
    try {
      const user = await authenticate(db, email, password);
      // An honest sign-in is no guess: only failures use up the limits (a fan signing in on
      // several sites must not be locked out).
      await forgiveRateLimitHit(db, byIp);
      await forgiveRateLimitHit(db, byEmail);
      await startSession(c, db, user);
      return c.redirect(values.next, 303);
    } catch (error) {
      if (!isApiError(error, 'invalid_credentials')) throw error;
      return c.html(signinPage(csrf, values, { message: error.message }), 401);
    }
  });

  pages.post('/signout', async (c) => {
    checkSameOrigin(c);
    const session = await currentSession(c, db);
    if (!session) return c.redirect('/signin', 303);
    const read = await readForm(c);
    if (!read.ok) throw read.error;
    checkSessionToken(session, read.form.csrf);
    await endSession(c, db);
    return c.redirect('/signin', 303);
  });
}
