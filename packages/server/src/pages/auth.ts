import type { Context, Hono } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { html } from 'hono/html';
import { ApiError, isApiError } from '../errors.js';
import type { Database } from '../db/types.js';
import { hitRateLimit, type RateLimitVerdict } from '../identity/rate-limit.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, authenticate, createUser, type Role } from '../identity/users.js';
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
function refusal(c: Context, verdicts: readonly RateLimitVerdict[], what: string): string | undefined {
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
        ${field({ id: 'email', name: 'email', label: 'Email', type: 'email', autocomplete: 'email', value: values.email, required: true, maxLength: 254, problem })}
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
          <input type="checkbox" id="role-fan" name="fan" value="yes" ${values.fan ? html` checked` : ''}${invalid} />
          <label for="role-fan">Fan: I spend Diamonds</label>
          <input type="checkbox" id="role-creator" name="creator" value="yes" ${values.creator ? html` checked` : ''}${invalid} />
          <label for="role-creator">Creator: I earn Diamonds</label>
          ${rolesInvalid ? html`<p class="field-error" id="roles-error">${problem.message}</p>` : ''}
        </fieldset>
        <button type="submit">Create account</button>
      </form>
      <p>Already have an account? <a href="/signin">Sign in</a></p>`,
  );
}

function signinPage(csrf: string, values: { email: string; next: string }, problem?: FormProblem) {
  return page(
    'Sign in',
    html`<h1>Sign in</h1>
      ${alertBox(problem)}
      <form method="post" action="/signin" novalidate>
        ${csrfField(csrf)}
        <input type="hidden" name="next" value="${values.next}" />
        ${field({ id: 'email', name: 'email', label: 'Email', type: 'email', autocomplete: 'email', value: values.email, required: true, maxLength: 254, problem })}
        ${field({
          id: 'password',
          name: 'password',
          label: 'Password',
          type: 'password',
          autocomplete: 'current-password',
          required: true,
          maxLength: MAX_PASSWORD_LENGTH,
          problem,
        })}
        <button type="submit">Sign in</button>
      </form>
      <p>New here? <a href="/signup">Create an account</a></p>`,
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

/** Adds sign-up, sign-in and sign-out to the hosted pages. */
export function authRoutes(pages: Hono<PagesEnv>, db: Database): void {
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
      const user = await createUser(db, { email: values.email, password: text(form, 'password'), displayName: values.displayName, roles });
      await startSession(c, db, user);
      return c.redirect(values.next, 303);
    } catch (error) {
      if (!isApiError(error) || (error.code !== 'invalid_request' && error.code !== 'email_taken')) throw error;
      return c.html(signupPage(csrf, values, problemFor(error, SIGNUP_FIELDS)), error.status as 400 | 409);
    }
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
