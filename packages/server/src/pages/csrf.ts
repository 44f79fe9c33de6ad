import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { ApiError } from '../errors.js';
import { csrfMatches, type Session } from '../identity/sessions.js';
import { isHttps } from './session.js';
import { configuredPublicOrigin, usesHostCookies } from '../production.js';

/*
 * CSRF defence of the hosted pages, in three layers:
 * - every POST whose Origin header is present must come from the platform's own origin (the
 *   request URL's, or the configured DIAMONDS_PUBLIC_URL's behind a proxy), and a browser that says Sec-Fetch-Site: cross-site is refused too;
 * - signed-in forms carry the session's synchronizer token (`csrfMatches`);
 * - signed-out forms (sign in, sign up) carry a double-submit token equal to a random
 *   `diamonds_csrf` cookie (httpOnly, SameSite=Strict).
 * Any failure is `permission_denied`, rendered as a 403 page.
 */

/** The double-submit cookie of signed-out forms (`__Host-diamonds_csrf` in production, see `usesHostCookies`). */
export const CSRF_COOKIE = 'diamonds_csrf';

function csrfCookieName(c: Context): string {
  return usesHostCookies(c) ? `__Host-${CSRF_COOKIE}` : CSRF_COOKIE;
}

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32}$/;

function refused(message: string): ApiError {
  return new ApiError('permission_denied', message);
}

/**
 * Refuses a cross-origin POST: an `Origin` header other than the request's own origin, or
 * `Sec-Fetch-Site: cross-site`.
 *
 * @throws {@link ApiError} `permission_denied`
 */
export function checkSameOrigin(c: Context): void {
  const origin = c.req.header('Origin');
  if (origin !== undefined && origin !== new URL(c.req.url).origin && origin !== configuredPublicOrigin(c)) {
    throw refused('This form can only be sent from the Diamonds site itself. Go back, reload the page and try again.');
  }
  if (c.req.header('Sec-Fetch-Site')?.toLowerCase() === 'cross-site') {
    throw refused('This form can only be sent from the Diamonds site itself. Go back, reload the page and try again.');
  }
}

/** The double-submit token for a signed-out form: the browser's cookie, or a new one (set now). */
export function signedOutToken(c: Context): string {
  const existing = getCookie(c, csrfCookieName(c));
  if (existing !== undefined && TOKEN_PATTERN.test(existing)) return existing;
  const token = randomBytes(24).toString('base64url');
  setCookie(c, csrfCookieName(c), token, { httpOnly: true, sameSite: 'Strict', path: '/', secure: isHttps(c) });
  return token;
}

/** Checks a signed-out form's token against the cookie. @throws {@link ApiError} `permission_denied` */
export function checkSignedOutToken(c: Context, submitted: unknown): void {
  const cookie = getCookie(c, csrfCookieName(c));
  if (cookie === undefined || !TOKEN_PATTERN.test(cookie) || typeof submitted !== 'string') {
    throw refused('This form has expired or was not sent from this site. Reload the page and try again.');
  }
  const a = Buffer.from(cookie);
  const b = Buffer.from(submitted);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw refused('This form has expired or was not sent from this site. Reload the page and try again.');
  }
}

/** Checks a signed-in form's token against the session's. @throws {@link ApiError} `permission_denied` */
export function checkSessionToken(session: Session, submitted: unknown): void {
  if (!csrfMatches(session, submitted)) {
    throw refused('This form has expired or was not sent from this site. Reload the page and try again.');
  }
}
