// The allowance pays only the site's own creators, attacked in real Chromium across two origins:
// the platform on localhost, and a page of the demo site on 127.0.0.1 that runs the real SDK and
// a hostile script (an ad network's, say, or an injected one). The script has everything the
// page has: the site's publishable key, the signed-in SDK, the fan's token on the wire. It tries
// to move the fan's allowance to a creator account of its own (Mallory, no creator of the demo
// site). Each attack must leave the fan's Diamonds where they were: nothing posted, the allowance
// untouched, and once the holds end, the wallet exactly as before. The honest gifts (to the
// site's owner, and to a creator listed on the site) still go through without a popup.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, type RunningServer } from '@diamonds/server';
import {
  seedDemo,
  type DemoData,
  createUser,
  answerInvitation,
  inviteCreator,
  formatVerifyReport,
  verifyLedger,
  seedDemoMoney,
  CONFIRMATION_TTL_MS,
  expireConfirmations,
  DATABASE_KINDS,
  createTestDatabase,
  skipUnlessPostgres,
  type TestDatabase,
} from '@diamonds/server/testing';
import { chromiumMissing, launchChromium } from './browser.js';
import { bundleSdk } from './sdk-page.js';

/** What the hostile page knows: the site's key, the platform, the site's owner and the attacker's creator id. */
interface HostileConfig {
  publishableKey: string;
  apiBase: string;
  ownerId: string;
  malloryId: string;
  /** A creator the demo site lists (she accepted). */
  graceId: string;
}

/**
 * The demo site's page with a hostile script in it. The page's own buttons call the SDK from
 * their click (sign in, a rose for the site's owner); the hostile script (1) sends its own gift to
 * Mallory from the fan's click on its lure, (2) rewrites the recipient of the SDK's own honest
 * gift on its way out (the SDK's fetch is looked up per request, so the script can wrap it), and
 * (3) copies the fan's token off the SDK's requests and drains the allowance with fetch.
 */
function hostilePage(config: HostileConfig): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo site</title></head>
<body>
<h1>Demo site</h1>
<p>Session: <output id="session">loading</output></p>
<p>Allowance: <output id="allowance">loading</output></p>
<p>Prices: <output id="ready">loading</output></p>
<p>
  <button id="signin">Sign in</button>
  <button id="rose">Send rose</button>
  <button id="grace">Send rose to Grace</button>
  <button id="lure">Claim your free badge</button>
  <button id="refresh">Refresh wallet</button>
</p>
<p>Result: <output id="result" data-state="idle">idle</output></p>
<p>Drain: <output id="drain">idle</output></p>
<script>window.PAGE_CONFIG = ${JSON.stringify(config).replace(/</g, '\\u003c')};</script>
<script type="module" src="/sdk.js"></script>
<script type="module">
const { diamonds, PAGE_CONFIG: config } = window;
const $ = (id) => document.getElementById(id);
let inClick = false;
window.opened = [];
const realOpen = window.open.bind(window);
window.open = (url, target, features) => {
  window.opened.push({ url: String(url), inClick });
  return realOpen(url, target, features);
};
diamonds.session.subscribe((s) => ($('session').textContent = s.status === 'signed_in' ? 'signed in as ' + s.fan.displayName : s.status));
diamonds.allowance.subscribe((a) => ($('allowance').textContent = a ? a.remaining + ' of ' + a.perDay + ' left today' : 'unknown'));
diamonds.gifts.catalog().then((gifts) => ($('ready').textContent = gifts.length + ' gifts'), (e) => ($('ready').textContent = 'error ' + e.code));

function act(id, call) {
  $(id).addEventListener('click', () => {
    const result = $('result');
    result.dataset.state = 'working';
    result.textContent = id + ': working';
    inClick = true;
    let promise;
    try { promise = call(); } finally { inClick = false; }
    promise.then(
      (text) => { result.textContent = id + ': ' + text; result.dataset.state = 'done'; },
      (error) => { result.textContent = id + ': error ' + error.code; result.dataset.state = 'done'; },
    );
  });
}
const gift = (creatorId) => async () => {
  const sent = await diamonds.gifts.send({ creatorId, giftId: 'rose' });
  return 'sent ' + sent.amountDiamonds + ' ' + sent.status;
};
act('signin', async () => { const fan = await diamonds.signIn(); await diamonds.wallet.refresh(); return 'welcome ' + fan.displayName; });
act('rose', gift(config.ownerId));
act('grace', gift(config.graceId));
act('refresh', async () => 'refreshed ' + (await diamonds.wallet.refresh()).balanceDiamonds);

// ---- the hostile script ----
// (1) The lure: the fan's click on it sends a gift to Mallory through the SDK.
act('lure', gift(config.malloryId));
// (2) and (3): wrap fetch. Copy the fan's token off every request; when armed, rewrite the
// recipient of the SDK's own gift to Mallory (the request keeps its method, URL and headers).
const realFetch = window.fetch.bind(window);
window.stolen = null;
window.swapRecipient = false;
window.fetch = async (input, init) => {
  const request = new Request(input, init);
  const token = request.headers.get('Diamonds-Token');
  if (token) window.stolen = token;
  if (window.swapRecipient && request.method === 'POST' && new URL(request.url).pathname === '/v1/gifts') {
    const body = await request.clone().json();
    return realFetch(new Request(request, { body: JSON.stringify({ ...body, creatorId: config.malloryId }) }));
  }
  return realFetch(request);
};
window.drain = async (count) => {
  const statuses = [];
  for (let i = 0; i < count; i++) {
    const response = await realFetch(config.apiBase + '/v1/gifts', {
      method: 'POST',
      headers: {
        Authorization: 'Bearer ' + config.publishableKey,
        'Diamonds-Token': window.stolen,
        'Content-Type': 'application/json',
        'Idempotency-Key': crypto.randomUUID(),
      },
      body: JSON.stringify({ creatorId: config.malloryId, giftId: 'rose' }),
    });
    statuses.push(response.status);
  }
  $('drain').textContent = statuses.join(',');
  return statuses;
};
</script>
</body></html>`;
}

interface PageWindow {
  opened: { url: string; inClick: boolean }[];
  stolen: string | null;
  swapRecipient: boolean;
  drain(count: number): Promise<number[]>;
}

// Skipped only outside CI when Debian's Chromium is missing (a loud warning; under CI=true a failure).
const noBrowser = chromiumMissing('the allowance recipients end-to-end test');
const bundle = noBrowser ? '' : await bundleSdk();

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when Chromium is missing or PostgreSQL unreachable; under CI=true either throws.
  const skip = noBrowser || (await skipUnlessPostgres(kind));
  describe(`a hostile script on the site cannot pay its own creator from the allowance, in Chromium, on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let platform: RunningServer;
    let demo: DemoData;
    let mallory: { id: string };
    let grace: { id: string };
    let siteServer: Server;
    let siteUrl: string;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;

    /** The fan's wallet on the server, posted and held. */
    async function fanWallet(): Promise<{ balance: number; held: number }> {
      const [row] = await t.db.query<{ balance: number; pending_debits: number }>(
        `SELECT balance, pending_debits FROM accounts WHERE owner_id = ? AND kind = 'wallet'`,
        [demo.fan.userId],
      );
      return { balance: Number(row?.balance ?? 0), held: Number(row?.pending_debits ?? 0) };
    }

    /** A user's earnings on the server. */
    async function earnings(userId: string): Promise<number> {
      const [row] = await t.db.query<{ balance: number }>(`SELECT balance FROM accounts WHERE owner_id = ? AND kind = 'earnings'`, [
        userId,
      ]);
      return Number(row?.balance ?? 0);
    }

    /** Transfers that moved Diamonds (a hold is pending; its release is a void). */
    async function postedTransfers(): Promise<number> {
      const [row] = await t.db.query<{ n: number }>(`SELECT count(*) AS n FROM transfers WHERE state = 'posted'`);
      return Number(row?.n ?? 0);
    }

    /** What the site spent of the fan's allowance without asking, in the last day. */
    async function allowanceSpent(): Promise<number> {
      const [row] = await t.db.query<{ spent: number | null }>('SELECT sum(amount) AS spent FROM allowance_spends WHERE user_id = ?', [
        demo.fan.userId,
      ]);
      return Number(row?.spent ?? 0);
    }

    /** Everything an attack must leave as it was. */
    async function moneyState() {
      return {
        fan: await fanWallet(),
        mallory: await earnings(mallory.id),
        posted: await postedTransfers(),
        allowanceSpent: await allowanceSpent(),
      };
    }

    async function outcome(): Promise<string> {
      await page.waitForFunction(() => document.getElementById('result')?.dataset.state === 'done');
      return (await page.textContent('#result')) ?? '';
    }

    const opened = () => page.evaluate(() => (window as unknown as PageWindow).opened);

    /** Ends every hold by letting its confirmation expire (the sweep, run as if later). */
    async function expireAll(): Promise<void> {
      while ((await expireConfirmations(platform.writer, t.db, Date.now() + CONFIRMATION_TTL_MS + 1)) > 0);
    }

    before(async () => {
      browser = await launchChromium();
      t = await createTestDatabase(kind);
      platform = await startServer({ port: 0, db: t.db });
      const seeded = await seedDemo(t.db, t.settings.dataDir);
      assert.ok(seeded.demo);
      demo = seeded.demo;
      await seedDemoMoney(t.db, platform.ledger, demo);
      mallory = await createUser(
        t.db,
        { email: 'mallory@attacker.example', password: 'a long password', displayName: 'Mallory', roles: ['creator'] },
        { cost: { N: 2 ** 10, r: 8, p: 1 } },
      );
      grace = await createUser(
        t.db,
        { email: 'grace@creators.example', password: 'a long password', displayName: 'Grace', roles: ['creator'] },
        { cost: { N: 2 ** 10, r: 8, p: 1 } },
      );
      await inviteCreator(t.db, { siteId: demo.site.id, creator: grace.id, invitedBy: demo.creator.userId });
      await answerInvitation(t.db, { siteId: demo.site.id, creatorId: grace.id, accept: true });
      const html = hostilePage({
        publishableKey: demo.site.publishableKey,
        apiBase: platform.url,
        ownerId: demo.creator.userId,
        malloryId: mallory.id,
        graceId: grace.id,
      });
      siteServer = createServer((request, response) => {
        if (request.url === '/sdk.js') {
          response.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' }).end(bundle);
        } else if (request.url === '/') {
          response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
        } else {
          response.writeHead(404).end();
        }
      });
      await new Promise<void>((resolve) => siteServer.listen(0, '127.0.0.1', resolve));
      siteUrl = `http://127.0.0.1:${(siteServer.address() as AddressInfo).port}/`;
      context = await browser.newContext();
      context.setDefaultTimeout(15_000);
      page = await context.newPage();
      await page.goto(siteUrl);
      await page.waitForFunction(() => document.getElementById('ready')?.textContent?.endsWith(' gifts'));
    });

    after(async () => {
      await browser?.close();
      await new Promise((resolve) => (siteServer ? siteServer.close(resolve) : resolve(undefined)));
      await platform?.close();
      if (t) await t.drop();
    });

    it('the fan signs in on the demo site with a 50-a-day allowance', async () => {
      assert.notEqual(new URL(siteUrl).origin, new URL(platform.url).origin);
      const [popup] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Sign in' }).click()]);
      await popup.waitForURL(/\/signin\?/, { waitUntil: 'commit' });
      await popup.getByLabel('Email').fill(demo.fan.email);
      await popup.getByLabel('Password').fill(demo.fan.password);
      await popup.getByRole('button', { name: /sign in/i }).click();
      await popup.waitForURL(/\/signin\/authorize/, { waitUntil: 'commit' });
      await popup.getByLabel('50 Diamonds a day').check();
      await popup.getByRole('button', { name: 'Connect' }).click();
      assert.equal(await outcome(), 'signin: welcome Demo Fan');
      await page.waitForFunction(() => document.getElementById('allowance')?.textContent === '50 of 50 left today');
    });

    it('the lure: a gift to Mallory from the fan’s click opens the confirmation in the click, which says she is not the site’s; nothing moves', async () => {
      const before = await moneyState();
      const openedBefore = (await opened()).length;
      const popupPromise = context.waitForEvent('page', { timeout: 5_000 }).catch(() => undefined);
      await page.getByRole('button', { name: 'Claim your free badge' }).click();
      const popup = await popupPromise;
      if (!popup) assert.fail(`no confirmation popup opened; the page says ${await outcome()}`);
      assert.deepEqual((await opened()).slice(openedBefore), [{ url: 'about:blank', inClick: true }], 'the popup opens in the click');
      await popup.waitForURL(/\/confirm\/cnf_/, { waitUntil: 'commit' });
      const main = (await popup.textContent('main')) ?? '';
      assert.match(main, /Mallory is not one of Demo site’s creators/, main);
      // Held for the fan's decision: nothing posted, Mallory has nothing, the allowance is untouched.
      assert.deepEqual(await moneyState(), { ...before, fan: { balance: before.fan.balance, held: before.fan.held + 5 } });
      await popup.close();
      assert.equal(await outcome(), 'lure: error popup_closed');
      await expireAll();
      assert.deepEqual(await moneyState(), before);
    });

    it('the swap: the SDK’s own rose for the owner, rewritten on the wire to Mallory, is held, not paid', async () => {
      const before = await moneyState();
      await page.evaluate(() => ((window as unknown as PageWindow).swapRecipient = true));
      const popupPromise = context.waitForEvent('page', { timeout: 5_000 }).catch(() => undefined);
      await page.getByRole('button', { name: 'Send rose', exact: true }).click();
      const popup = await popupPromise;
      if (popup) {
        // The SDK learned of the confirmation from the server and opened it late, in the click's activation.
        await popup.waitForURL(/\/confirm\/cnf_/, { waitUntil: 'commit' });
        assert.match((await popup.textContent('main')) ?? '', /Mallory is not one of Demo site’s creators/);
        await popup.close();
      }
      const result = await outcome();
      await page.evaluate(() => ((window as unknown as PageWindow).swapRecipient = false));
      assert.match(result, /^rose: error (popup_closed|popup_blocked)$/, result);
      const held = await moneyState();
      assert.deepEqual(held, { ...before, fan: { balance: before.fan.balance, held: before.fan.held + 5 } });
      await expireAll();
      assert.deepEqual(await moneyState(), before);
    });

    it('the drain: ten roses to Mallory sent with the token copied off the SDK’s requests: none is paid', async () => {
      await page.getByRole('button', { name: 'Refresh wallet' }).click();
      await outcome();
      assert.ok(await page.evaluate(() => (window as unknown as PageWindow).stolen), 'the script holds the fan’s token');
      const before = await moneyState();
      const statuses = await page.evaluate(() => (window as unknown as PageWindow).drain(10));
      assert.ok(!statuses.includes(201), `a gift to Mallory was paid: ${statuses.join(',')}`);
      const after = await moneyState();
      assert.equal(after.fan.balance, before.fan.balance);
      assert.equal(after.mallory, 0);
      assert.equal(after.posted, before.posted);
      assert.equal(after.allowanceSpent, before.allowanceSpent);
      await expireAll();
      assert.deepEqual(await moneyState(), before);
    });

    it('an honest rose for the site’s owner still goes through at once, with no popup', async () => {
      const before = await moneyState();
      const openedBefore = (await opened()).length;
      await page.getByRole('button', { name: 'Send rose', exact: true }).click();
      assert.equal(await outcome(), 'rose: sent 5 succeeded');
      assert.equal((await opened()).length, openedBefore);
      const after = await moneyState();
      assert.deepEqual(after.fan, { balance: before.fan.balance - 5, held: 0 });
      assert.equal(after.allowanceSpent, before.allowanceSpent + 5);
    });

    it('an honest rose for Grace, whom the site lists, goes through at once, with no popup', async () => {
      const before = await moneyState();
      const openedBefore = (await opened()).length;
      await page.getByRole('button', { name: 'Send rose to Grace' }).click();
      assert.equal(await outcome(), 'grace: sent 5 succeeded');
      assert.equal((await opened()).length, openedBefore, 'no popup for one of the site’s creators');
      assert.equal(await earnings(grace.id), 4);
      assert.equal((await moneyState()).allowanceSpent, before.allowanceSpent + 5);
    });

    it('leaves a ledger that verifies clean, with nothing ever paid to Mallory', async () => {
      assert.equal(await earnings(mallory.id), 0);
      const report = await verifyLedger(t.db);
      assert.ok(report.ok, formatVerifyReport(report));
    });
  });
}
