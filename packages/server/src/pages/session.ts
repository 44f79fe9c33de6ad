import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Database } from '../db/types.js';
import { SESSION_TTL_MS, createSession, findSession, revokeSession, type Session } from '../identity/sessions.js';
import type { User } from '../identity/users.js';

/** The first-party session cookie of the hosted pages. */
export const SESSION_COOKIE = 'diamonds_session';

/**
 * Whether cookies should be `Secure`: when the request reached us over https.
 *
 * @remarks Only the request URL's scheme counts. `X-Forwarded-Proto` is deliberately not
 * trusted (any client can send it); behind a TLS-terminating proxy, have the proxy pass the
 * original https URL through (or the cookies go out without `Secure`, which is still correct
 * for the plain-http hop, and browsers send them only where they were set).
 */
export function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:';
}

/** The live session of the request, or `undefined`. */
export async function currentSession(c: Context, db: Database): Promise<Session | undefined> {
  return findSession(db, getCookie(c, SESSION_COOKIE));
}

/** Starts a session for `user` and sets its cookie, revoking any session the browser had. */
export async function startSession(c: Context, db: Database, user: User): Promise<Session> {
  const previous = getCookie(c, SESSION_COOKIE);
  if (previous && previous.length <= 100) await revokeSession(db, previous);
  const { token, session } = await createSession(db, user);
  setCookie(c, SESSION_COOKIE, token, {
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
  const token = getCookie(c, SESSION_COOKIE);
  if (token && token.length <= 100) await revokeSession(db, token);
  deleteCookie(c, SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'Lax', secure: isHttps(c) });
}
