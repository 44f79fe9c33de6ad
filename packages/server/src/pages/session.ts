import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Database } from '../db/types.js';
import { SESSION_TTL_MS, createSession, findSession, revokeSession, type Session } from '../identity/sessions.js';
import type { User } from '../identity/users.js';
import { usesHostCookies } from '../production.js';

/** The first-party session cookie of the hosted pages (in production, {@link HOST_SESSION_COOKIE}). */
export const SESSION_COOKIE = 'diamonds_session';
/** The session cookie's name in production: a `__Host-` cookie (Secure, `Path=/`, no `Domain`). */
export const HOST_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;

/** The session cookie's name for this request: `__Host-` in production (see `usesHostCookies`). */
export function sessionCookieName(c: Context): string {
  return usesHostCookies(c) ? HOST_SESSION_COOKIE : SESSION_COOKIE;
}

/**
 * Whether cookies should be `Secure`: when the request reached us over https.
 *
 * @remarks Only the request URL's scheme counts. `X-Forwarded-Proto` is deliberately not
 * trusted (any client can send it); behind a TLS-terminating proxy, have the proxy pass the
 * original https URL through (or the cookies go out without `Secure`, which is still correct
 * for the plain-http hop, and browsers send them only where they were set).
 */
export function isHttps(c: Context): boolean {
  // In production the public origin is https (a proxy in front terminates TLS): always Secure.
  return usesHostCookies(c) || new URL(c.req.url).protocol === 'https:';
}

/** The live session of the request, or `undefined`. */
export async function currentSession(c: Context, db: Database): Promise<Session | undefined> {
  return findSession(db, getCookie(c, sessionCookieName(c)));
}

/** Starts a session for `user` and sets its cookie, revoking any session the browser had. */
export async function startSession(c: Context, db: Database, user: User): Promise<Session> {
  const previous = getCookie(c, sessionCookieName(c));
  if (previous && previous.length <= 100) await revokeSession(db, previous);
  const { token, session } = await createSession(db, user);
  setCookie(c, sessionCookieName(c), token, {
    httpOnly: true,
    sameSite: 'Lax',
    path: '/',
    secure: isHttps(c),
    maxAge: Math.floor(SESSION_TTL_MS / 1000),
  });
  return session;
}

/** Revokes the request's session (if any) and clears its cookie. */
export async function endSession(c: Context, db: Database): Promise<void> {
  const token = getCookie(c, sessionCookieName(c));
  if (token && token.length <= 100) await revokeSession(db, token);
  deleteCookie(c, sessionCookieName(c), { path: '/', httpOnly: true, sameSite: 'Lax', secure: isHttps(c) });
}
