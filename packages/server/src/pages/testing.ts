// Test helpers for the hosted pages: a browser over `app.request()`, and readers of the HTML.
import assert from 'node:assert/strict';
import type { Hono } from 'hono';
import type { SqlClient } from '../db/types.js';
import { findSession, type Session } from '../identity/sessions.js';
import { hashSecret } from '../identity/users.js';
import { DECISION_DELAY_MS, decisionStamp } from './guard.js';
import { SESSION_COOKIE } from './session.js';

/** The password of the users the page tests make. */
export const PASSWORD = 'a long enough password';

/** How a {@link Browser} request differs from a plain GET. */
export interface RequestOptions {
  /** The method; POST when there is a form, GET otherwise. */
  method?: string;
  /** A form body, URL-encoded (a string is sent as it is). */
  form?: Record<string, string> | string;
  /** Extra headers; an explicit `Cookie` or `Content-Type` wins over the browser's own. */
  headers?: Record<string, string>;
}

/** A browser: a cookie jar, a client IP, and `app.request()`. */
export class Browser {
  /** The cookies the pages have set, by name. */
  readonly jar = new Map<string, string>();
  constructor(
    private readonly app: Hono,
    readonly ip: string,
  ) {}

  /** Sends a request (a path, or an absolute URL) with the jar's cookies, and keeps the cookies the answer sets. */
  async request(path: string, options: RequestOptions = {}): Promise<Response> {
    const headers = new Headers(options.headers);
    if (this.jar.size > 0 && !headers.has('Cookie')) {
      headers.set('Cookie', [...this.jar].map(([name, value]) => `${name}=${value}`).join('; '));
    }
    let body: string | undefined;
    if (options.form !== undefined) {
      if (!headers.has('Content-Type')) headers.set('Content-Type', 'application/x-www-form-urlencoded');
      body = typeof options.form === 'string' ? options.form : new URLSearchParams(options.form).toString();
    }
    const url = path.startsWith('http') ? path : `http://localhost${path}`;
    const res = await this.app.request(
      url,
      { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, body: body ?? null },
      { incoming: { socket: { remoteAddress: this.ip } } },
    );
    for (const cookie of res.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (/max-age=0/i.test(cookie) || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return res;
  }

  /** GETs a page and returns its body, asserting 200. */
  async page(path: string): Promise<string> {
    const res = await this.request(path);
    const body = await res.text();
    assert.equal(res.status, 200, body);
    return body;
  }

  /** The CSRF token of the (first) form on a page. */
  async csrf(path: string): Promise<string> {
    return csrfOf(await this.page(path));
  }

  /**
   * Signs in through the sign-in page (with `next` if given), as a browser would: the form's
   * CSRF token and hidden `next` go back with the email and password. Returns the answer.
   */
  async signIn(email: string, { password = PASSWORD, next }: { password?: string; next?: string } = {}): Promise<Response> {
    const signin = await this.page(next === undefined ? '/signin' : `/signin?next=${encodeURIComponent(next)}`);
    const form: Record<string, string> = { csrf: csrfOf(signin), email, password };
    const hidden = /name="next" value="([^"]*)"/.exec(signin);
    if (hidden?.[1] !== undefined) form.next = unescapeHtml(hidden[1]);
    return this.request('/signin', { form });
  }
}

/** The CSRF token of the (first) form in a page's HTML; asserts there is one. */
export function csrfOf(body: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(body);
  assert.ok(match?.[1], `the page has a CSRF field:\n${body}`);
  return match[1];
}

/** Undoes the HTML escaping of an attribute value. */
export function unescapeHtml(value: string): string {
  return value.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

/** The live session of a browser's cookie, as the server sees it. */
export async function sessionOf(db: SqlClient, browser: Browser): Promise<Session> {
  const session = await findSession(db, browser.jar.get(SESSION_COOKIE));
  assert.ok(session, 'the browser is signed in');
  return session;
}

/**
 * The stamp of a decision form about `subject` (`confirm:cnf_…`, `consent:sir_…`) as if its page
 * had been rendered {@link DECISION_DELAY_MS} ago: what the honest fan's form holds by the time
 * they press (so that a test need not wait the delay for every decision).
 */
export async function agedStamp(db: SqlClient, browser: Browser, subject: string): Promise<string> {
  return decisionStamp(await sessionOf(db, browser), subject, Date.now() - DECISION_DELAY_MS);
}

/** Moves the browser's sign-in `ageMs` into the past (as if the fan signed in that long ago). */
export async function ageSignIn(db: SqlClient, browser: Browser, ageMs: number): Promise<void> {
  const token = browser.jar.get(SESSION_COOKIE);
  assert.ok(token, 'the browser is signed in');
  await db.run('UPDATE sessions SET created_at = created_at - ? WHERE token_hash = ?', [ageMs, hashSecret(token)]);
}
