// Test helpers of the payments suites: quotes, top-ups, and a signed-in browser on the hosted pages.
import assert from 'node:assert/strict';
import type { Quote, TopUp } from '@diamonds/protocol';
import { createSession } from '../identity/sessions.js';
import { findUser } from '../identity/users.js';
import { seedDefaultRates } from '../money/rates.js';
import { SESSION_COOKIE } from '../pages/session.js';
import type { MoneyHarness, TestFan } from '../testing/money.js';

/** Seeds the demo rates (1,000 Diamonds for US$12.99…) once per harness. */
export async function seedRates(h: MoneyHarness): Promise<void> {
  await seedDefaultRates(h.t.db);
}

/** A fresh quote (500 Diamonds in USD by default: US$6.50). */
export async function newQuote(h: MoneyHarness, diamonds = 500, currency = 'USD'): Promise<Quote> {
  const res = await h.call('/quotes', { body: { diamonds, currency } });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as Quote;
}

/** Starts a top-up for the fan and asserts it was created. */
export async function startTopUp(h: MoneyHarness, fan: TestFan, quoteId?: string): Promise<TopUp> {
  const res = await h.call('/topups', { body: { quoteId: quoteId ?? (await newQuote(h)).id }, fan });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as TopUp;
}

/** Reads a top-up as its fan sees it. */
export async function readTopUp(h: MoneyHarness, fan: TestFan, id: string): Promise<TopUp> {
  const res = await h.call(`/topups/${id}`, { fan });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as TopUp;
}

/** How many top-ups the database holds. */
export async function topUpCount(h: MoneyHarness): Promise<number> {
  const [row] = await h.t.db.query<{ n: number }>('SELECT count(*) AS n FROM topups');
  return Number(row?.n ?? 0);
}

/** A fan signed in on the platform's hosted pages (a session cookie and its CSRF token), over real HTTP. */
export interface PageBrowser {
  get(path: string): Promise<Response>;
  /** POSTs a form with the session's CSRF token (unless the form names its own). */
  post(path: string, form: Record<string, string>): Promise<Response>;
}

/** Signs the fan in on the platform (a session made directly, as the sign-in page would). */
export async function signedIn(h: MoneyHarness, fan: TestFan): Promise<PageBrowser> {
  const user = await findUser(h.t.db, fan.id);
  assert.ok(user);
  const { token, session } = await createSession(h.t.db, user);
  const headers = { Cookie: `${SESSION_COOKIE}=${token}` };
  return {
    get: (path) => fetch(`${h.server.url}${path}`, { headers, redirect: 'manual' }),
    post: (path, form) =>
      fetch(`${h.server.url}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { ...headers, Origin: h.server.url, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: session.csrfToken, ...form }).toString(),
      }),
  };
}
