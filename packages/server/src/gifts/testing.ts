// Test helpers of the gift and confirmation suites: money counters, and a browser over real HTTP.
import assert from 'node:assert/strict';
import type { Hono } from 'hono';
import type { Gift } from '@diamonds/protocol';
import { createSession } from '../identity/sessions.js';
import { findUser } from '../identity/users.js';
import { Browser } from '../pages/testing.js';
import type { MoneyHarness, TestFan } from '../testing/money.js';

/** The platform fee account's balance (0 before the first fee). */
export async function feesBalance(h: MoneyHarness): Promise<number> {
  const [row] = await h.t.db.query<{ balance: number }>(`SELECT balance FROM accounts WHERE owner_id IS NULL AND kind = 'fees'`);
  return Number(row?.balance ?? 0);
}

/** How many gift rows exist. */
export async function giftCount(h: MoneyHarness): Promise<number> {
  const [row] = await h.t.db.query<{ n: number }>('SELECT count(*) AS n FROM gifts');
  return Number(row?.n ?? 0);
}

/** Everything a refused request must leave as it was: transfers, gifts, and a fan's balances. */
export async function snapshot(h: MoneyHarness, ...userIds: string[]): Promise<unknown> {
  return {
    transfers: await h.transferCount(),
    gifts: await giftCount(h),
    fees: await feesBalance(h),
    balances: await Promise.all(userIds.map((id) => h.balances(id))),
  };
}

/** Sends a gift as `fan` and returns the response (not yet read). */
export function postGift(
  h: MoneyHarness,
  fan: TestFan,
  body: Record<string, unknown>,
  options: { idempotencyKey?: string | null } = {},
): Promise<Response> {
  return h.call('/gifts', { body, fan, ...options });
}

/** Sends a gift as `fan`, asserting the status, and returns the gift. */
export async function sendOk(h: MoneyHarness, fan: TestFan, body: Record<string, unknown>, status: 201 | 202): Promise<Gift> {
  const res = await postGift(h, fan, body);
  const json = (await res.json()) as Gift;
  assert.equal(res.status, status, JSON.stringify(json));
  return json;
}

/**
 * A browser talking to the harness's server over real HTTP (the pages' {@link Browser}, with
 * `fetch` underneath instead of `app.request`): cookies in a jar, redirects not followed.
 */
export function httpBrowser(h: MoneyHarness): Browser {
  const base = h.server.url;
  const transport = {
    request(url: string, init: RequestInit): Promise<Response> {
      const target = new URL(url);
      return fetch(`${base}${target.pathname}${target.search}`, { ...init, redirect: 'manual' });
    },
  };
  return new Browser(transport as unknown as Hono, '127.0.0.1');
}

/** A browser signed in on the platform as `fan` (a session made directly, as sign-in would). */
export async function signedInBrowser(h: MoneyHarness, fan: { id: string }): Promise<Browser> {
  const user = await findUser(h.t.db, fan.id);
  assert.ok(user, 'the fan exists');
  const { token } = await createSession(h.t.db, user);
  const browser = httpBrowser(h);
  browser.jar.set('diamonds_session', token);
  return browser;
}

/** The fan's email, for signing in through the sign-in page. */
export async function emailOf(h: MoneyHarness, userId: string): Promise<string> {
  const user = await findUser(h.t.db, userId);
  assert.ok(user);
  return user.email;
}
