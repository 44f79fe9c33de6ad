// The end-to-end journey on the example pages (examples/, served as `npm start` does), in real
// Chromium, across three origins: the platform on localhost, the creator's static page and the
// shop on 127.0.0.1 (two ports). A fan signs in through the popup with a 50-a-day allowance, tops
// up with the test card, sends a gift within the allowance and one beyond it (approved in the
// popup), unlocks the paywalled post, and pays an order the shop's backend created, whose receipt
// the backend verifies before the page says "thank you"; the shop's backend then learns that the
// order was paid, and later refunded, by webhooks it verifies with the SDK (a replayed delivery
// dropped as a duplicate, a forged one refused). Each step checks what the page shows and what
// the server holds; the ledger verifies clean at the end. Screenshots go to test-results/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { startServer, type RunningServer } from '@diamonds/server';
import { createDiamondsServer, signWebhook } from '@diamonds/sdk/server';
import {
  seedDemo,
  type DemoData,
  DROP_IN_FILE,
  formatVerifyReport,
  verifyLedger,
  DEMO_FAN_DIAMONDS,
  seedDemoMoney,
  startExamples,
  type RunningExamples,
  DATABASE_KINDS,
  createTestDatabase,
  skipUnlessPostgres,
  type TestDatabase,
} from '@diamonds/server/testing';
import { chromiumMissing, launchChromium } from './browser.js';

const SCREENSHOTS = new URL('../test-results/', import.meta.url).pathname;

// Skipped only outside CI, loudly, when Debian's Chromium is not installed or (for the
// PostgreSQL run) PostgreSQL is unreachable; under CI=true either throws instead.
const noBrowser = chromiumMissing('the examples end-to-end journey');

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when Chromium is missing or PostgreSQL is unreachable; under CI=true it throws.
  const skip = noBrowser || (await skipUnlessPostgres(kind));
  describe(`the example pages in Chromium: a fan's journey on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let platform: RunningServer;
    let demo: DemoData;
    let examples: RunningExamples;
    let browser: Browser;
    let context: BrowserContext;
    /** The creator's static page. */
    let page: Page;
    /** Every page the browser opened after the creator's page (popups, the shop), in order. */
    const opened: Page[] = [];
    /** Uncaught errors and console errors of every page, for the report. */
    const problems: string[] = [];
    /** The shop's order the fan paid in step 6. */
    let paidOrderId = '';

    /** What the shop's backend knows of one of its orders (examples/shop/server.mjs). */
    interface ShopOrderState {
      status: string;
      learned: { status: string; source: string }[];
      webhooks: { delivered: number; duplicates: number; refused: number };
    }
    async function shopState(orderId: string): Promise<ShopOrderState> {
      const response = await fetch(`${examples.shopUrl}/orders/${orderId}/status`);
      assert.equal(response.status, 200);
      return (await response.json()) as ShopOrderState;
    }
    /** Waits until the shop's backend knows what `done` looks for (webhooks come within a second or so). */
    async function shopLearns(orderId: string, done: (state: ShopOrderState) => boolean): Promise<ShopOrderState> {
      // Generous: on a machine under heavy load a first attempt can time out and wait for its retry.
      const deadline = Date.now() + 60_000;
      let state = await shopState(orderId);
      while (!done(state) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        state = await shopState(orderId);
      }
      assert.ok(done(state), `the shop's backend knows: ${JSON.stringify(state)}`);
      return state;
    }

    const shot = (target: Page, name: string) => target.screenshot({ path: `${SCREENSHOTS}examples-${name}-${kind}.png` });

    /** The fan's wallet on the server: posted balance and held Diamonds. */
    async function wallet(): Promise<{ balance: number; held: number }> {
      const [row] = await t.db.query<{ balance: number; pending_debits: number }>(
        `SELECT balance, pending_debits FROM accounts WHERE owner_id = ? AND kind = 'wallet'`,
        [demo.fan.userId],
      );
      return { balance: Number(row?.balance ?? 0), held: Number(row?.pending_debits ?? 0) };
    }

    /** The newest row of `table` (ids sort by time). */
    async function newest<T>(table: 'gifts' | 'confirmations' | 'topups' | 'orders'): Promise<T> {
      const [row] = await t.db.query<T>(`SELECT * FROM ${table} ORDER BY id DESC LIMIT 1`);
      assert.ok(row, `the server holds no row in ${table}`);
      return row;
    }

    /**
     * A transfer's code, amount and state, a reservation resolved: a spend the fan confirmed is
     * a pending transfer, then posted by a second one (`post_pending`) that points back to it.
     */
    async function transfer(id: string | null): Promise<{ code: string; state: string; amount: number }> {
      const [row] = await t.db.query<{ code: string; state: string; amount: number }>(
        'SELECT code, state, amount FROM transfers WHERE id = ?',
        [id],
      );
      assert.ok(row, `no transfer ${id}`);
      let state = row.state;
      if (state === 'pending') {
        const [resolution] = await t.db.query<{ state: string }>('SELECT state FROM transfers WHERE pending_id = ?', [id]);
        state = resolution?.state === 'post_pending' ? 'posted' : resolution?.state === 'void_pending' ? 'voided' : 'pending';
      }
      return { code: row.code, state, amount: Number(row.amount) };
    }

    /** Clicks `target`, which must open a popup (in the click); returns the popup. */
    async function popupFrom(target: Locator): Promise<Page> {
      const [popup] = await Promise.all([context.waitForEvent('page'), target.click()]);
      return popup;
    }

    /** In the sign-in popup: signs in if the platform asks (no session there yet), picks 50 a day, connects. */
    async function signInThrough(popup: Page, name: string): Promise<void> {
      const password = popup.getByLabel('Password');
      const connect = popup.getByRole('button', { name: 'Connect', exact: true });
      await password.or(connect).first().waitFor();
      if (await password.isVisible()) {
        await popup.getByLabel('Email').fill(demo.fan.email);
        await password.fill(demo.fan.password);
        await popup.getByRole('button', { name: /sign in/i }).click();
        await connect.waitFor();
      }
      assert.match(new URL(popup.url()).pathname, /^\/signin\/authorize$/);
      assert.equal(new URL(popup.url()).origin, new URL(platform.url).origin, 'the consent screen is on the platform');
      assert.match((await popup.textContent('main')) ?? '', /Demo site/);
      await popup.getByLabel('50 Diamonds a day').check();
      await shot(popup, `consent-${name}`);
      const closed = popup.waitForEvent('close');
      await connect.click();
      await closed; // the "done" page closes itself
    }

    /** In the confirmation popup: checks the hosted page and the hold on the server, then approves. */
    async function approveIn(popup: Page, amount: number, name: string): Promise<{ id: string; kind: string; subject_id: string }> {
      await popup.waitForURL(/\/confirm\/cnf_/, { waitUntil: 'commit' });
      assert.equal(new URL(popup.url()).origin, new URL(platform.url).origin, 'the confirmation is on the platform');
      await popup.getByRole('heading', { name: `Approve ${amount} Diamonds?` }).waitFor();
      assert.match((await popup.textContent('main')) ?? '', /Demo site/);
      const pending = await newest<{ id: string; kind: string; subject_id: string; status: string; amount: number }>('confirmations');
      assert.deepEqual([pending.status, Number(pending.amount)], ['pending', amount]);
      assert.equal((await wallet()).held, amount, 'the Diamonds are held while the fan decides');
      await shot(popup, `confirm-${name}`);
      // The SDK (or the "done" page itself) closes the popup once the fan has answered.
      const closed = popup.waitForEvent('close');
      await popup.getByRole('button', { name: `Approve ${amount} Diamonds`, exact: true }).click();
      await closed;
      return pending;
    }

    /** Waits until `locator`'s text (whitespace collapsed) matches `expected`; returns it. */
    async function waitText(locator: Locator, expected: RegExp, timeoutMs = 15_000): Promise<string> {
      let seen = '';
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        seen = ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();
        if (expected.test(seen)) return seen;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.fail(`expected ${expected} but the page shows ${JSON.stringify(seen)}; problems: ${JSON.stringify(problems)}`);
    }

    function watch(target: Page, name: string): void {
      target.on('pageerror', (error) => problems.push(`${name}: uncaught ${error.message}`));
      target.on('console', (message) => {
        if (message.type() === 'error') problems.push(`${name}: console.error ${message.text()}`);
      });
      target.on('response', (response) => {
        if (response.status() >= 400) problems.push(`${name}: HTTP ${response.status()} ${response.request().method()} ${response.url()}`);
      });
    }

    before(async () => {
      assert.ok(existsSync(DROP_IN_FILE), `${DROP_IN_FILE} is missing: run \`npm run build\` first`);
      browser = await launchChromium();
      t = await createTestDatabase(kind);
      platform = await startServer({ port: 0, db: t.db });
      const seeded = await seedDemo(t.db, t.settings.dataDir);
      assert.ok(seeded.demo);
      demo = seeded.demo;
      await seedDemoMoney(t.db, platform.ledger, demo);
      examples = await startExamples({ platformUrl: platform.url, demo, port: 0, shopPort: 0, host: '127.0.0.1' });
      mkdirSync(SCREENSHOTS, { recursive: true });
      context = await browser.newContext({ locale: 'en-US' });
      context.setDefaultTimeout(15_000);
      page = await context.newPage();
      watch(page, 'creator-site');
      context.on('page', (other) => {
        opened.push(other);
        watch(other, `page ${opened.length}`);
      });
      await page.goto(examples.creatorSiteUrl);
    });

    after(async () => {
      if (problems.length > 0) console.warn(`Console problems during the journey on ${kind}:\n  ${problems.join('\n  ')}`);
      await browser?.close();
      await examples?.close();
      await platform?.close();
      if (t) await t.drop();
    });

    it('serves the examples on origins of their own', () => {
      const origins = new Set([platform.url, examples.creatorSiteUrl, examples.shopUrl].map((url) => new URL(url).origin));
      assert.equal(origins.size, 3, 'the platform, the creator’s site and the shop are three origins');
    });

    it('1. signs the fan in from the wallet through the popup, with the 50-a-day allowance', async () => {
      const shown = page.locator('diamond-wallet');
      const signIn = shown.getByRole('button', { name: 'Sign in with Diamonds' });
      await signIn.waitFor();
      await shot(page, 'signed-out');
      const popup = await popupFrom(signIn);
      await signInThrough(popup, 'creator-site');

      // Compact layout: the pill shows the balance and opens the panel.
      const pill = shown.locator('[part~="pill"]');
      await waitText(pill, /^1,000 Diamonds$/);
      await pill.click();
      await waitText(shown.locator('[part~="name"]'), /^Demo Fan$/);
      await waitText(shown.locator('[part~="balance"]'), /^Balance 1,000 Diamonds$/);
      await waitText(shown.locator('[part~="allowance"]'), /^50 of 50 left today on this site$/);
      await shot(page, 'signed-in');

      const [connection] = await t.db.query<{ allowance_per_day: number }>(
        'SELECT allowance_per_day FROM connections WHERE user_id = ? AND site_id = ?',
        [demo.fan.userId, demo.site.id],
      );
      assert.equal(Number(connection?.allowance_per_day), 50, 'the server holds the allowance the fan chose');
    });

    it('2. tops up 500 with the test card: the hosted page closes itself and the wallet shows +500', async () => {
      const shown = page.locator('diamond-wallet');
      const pack = shown.locator('[part~="pack"]', { hasText: /^\s*Buy 500 Diamonds for / });
      const popup = await popupFrom(pack);
      await popup.waitForURL(/\/topup\/tu_/, { waitUntil: 'commit' });
      assert.equal(new URL(popup.url()).origin, new URL(platform.url).origin);
      await popup.getByLabel('Card number').fill('4242 4242 4242 4242');
      await shot(popup, 'topup');
      const closed = popup.waitForEvent('close');
      await popup.getByRole('button', { name: /^Pay / }).click();
      await closed;

      await waitText(shown.locator('[part~="status"]'), /^500 Diamonds added to your wallet\.$/);
      await waitText(shown.locator('[part~="balance"]'), /^Balance 1,500 Diamonds$/);
      await waitText(shown.locator('[part~="history"]'), /\+500 Diamonds/);
      await shot(page, 'topped-up');
      // The pill closes the compact panel again (it lies over the page).
      await shown.locator('[part~="pill"]').click();
      await waitText(shown.locator('[part~="pill"]'), /^1,500 Diamonds$/);
      assert.equal(await shown.getAttribute('open'), null);
      const topup = await newest<{ user_id: string; status: string; diamonds: number; transfer_id: string | null }>('topups');
      assert.deepEqual([topup.user_id, topup.status, Number(topup.diamonds)], [demo.fan.userId, 'succeeded', 500]);
      assert.deepEqual(await transfer(topup.transfer_id), { code: 'purchase', state: 'posted', amount: 500 });
      assert.deepEqual(await wallet(), { balance: 1500, held: 0 });
    });

    it('3. sends a rose within the allowance: no popup, success announced, the gift sent on the server', async () => {
      const button = page.locator('diamond-gift-button[gift="rose"]');
      const before = opened.length;
      await waitText(button.locator('[part~="button"]'), /^Send Rose for 5 Diamonds$/);
      // The page's two gift buttons side by side, their tops on one line.
      const tops = await page
        .locator('diamond-gift-button [part~="button"]')
        .evaluateAll((buttons) => buttons.map((each) => Math.round(each.getBoundingClientRect().top)));
      assert.equal(new Set(tops).size, 1, `the gift buttons’ tops: ${tops.join(', ')} px`);
      await button.locator('[part~="button"]').click();
      // The creator as the platform names them (the confirmation popup too), not the page's creator-name.
      await waitText(button.locator('[part~="status"]'), /^Rose sent to Demo Creator\. Thank you!$/);
      assert.equal(opened.length, before, 'a gift within the allowance opens no popup');
      await shot(page, 'rose-sent');

      const gift = await newest<{ user_id: string; gift_type: string; amount: number; status: string; transfer_id: string | null }>(
        'gifts',
      );
      assert.deepEqual([gift.user_id, gift.gift_type, Number(gift.amount), gift.status], [demo.fan.userId, 'rose', 5, 'sent']);
      assert.deepEqual(await transfer(gift.transfer_id), { code: 'gift', state: 'posted', amount: 5 });
      assert.deepEqual(await wallet(), { balance: 1495, held: 0 });
      await waitText(page.locator('diamond-wallet [part~="allowance"]'), /^45 of 50 left today on this site$/);
    });

    it('3b. the Live page: the drop-in loads its live file, the feed shows that rose with its art, the top gifters name the fan', async () => {
      // A visitor of its own (another context): the live elements need no sign-in.
      const visitor = await browser.newContext({ locale: 'en-US' });
      try {
        const live = await visitor.newPage();
        watch(live, 'live page');
        const liveFile = live.waitForResponse((response) => response.url().endsWith('/sdk/diamonds-live.js'));
        await live.goto(`${examples.creatorSiteUrl}/live.html`);
        assert.equal((await liveFile).status(), 200, 'diamonds.js loaded diamonds-live.js');
        await waitText(live.locator('diamond-live-feed [part~="gift"]').first(), /^Demo Fan Rose · 5 Diamonds$/);
        assert.equal(await live.locator('diamond-live-feed [part~="art"]').first().getAttribute('alt'), 'Rose');
        await waitText(live.locator('diamond-top-gifters[scope="all_time"] [part~="list"]'), /Demo Fan/);
        await waitText(live.locator('diamond-goal [part~="base"]'), /No goal right now\.|Diamonds/);
        await shot(live, 'live-page');
        // The index page, without a live tag, never loads the live file.
        const index = await visitor.newPage();
        const loaded: string[] = [];
        index.on('request', (request) => loaded.push(request.url()));
        await index.goto(examples.creatorSiteUrl);
        await index.locator('diamond-wallet').waitFor();
        await index.waitForLoadState('networkidle');
        assert.ok(!loaded.some((url) => url.includes('diamonds-live')), 'no live file without a live tag');
      } finally {
        await visitor.close();
      }
    });

    it('4. sends a star beyond the allowance: the confirmation popup, approved, the transfer posted', async () => {
      const button = page.locator('diamond-gift-button:not([gift])');
      await button.locator('[part~="button"]').click();
      const picker = button.locator('[part~="picker"]');
      await picker.locator('input[value="star"]').check();
      const popup = await popupFrom(picker.locator('[part~="send"]'));
      const confirmation = await approveIn(popup, 50, 'star');
      assert.equal(confirmation.kind, 'gift');
      await waitText(button.locator('[part~="status"]'), /^Star sent to Demo Creator\. Thank you!$/);
      await shot(page, 'star-sent');

      const [approved] = await t.db.query<{ status: string; transfer_id: string | null }>(
        'SELECT status, transfer_id FROM confirmations WHERE id = ?',
        [confirmation.id],
      );
      assert.equal(approved?.status, 'approved');
      const [gift] = await t.db.query<{ status: string; gift_type: string; amount: number; transfer_id: string | null }>(
        'SELECT status, gift_type, amount, transfer_id FROM gifts WHERE id = ?',
        [confirmation.subject_id],
      );
      assert.deepEqual([gift?.status, gift?.gift_type, Number(gift?.amount)], ['sent', 'star', 50]);
      assert.deepEqual(await transfer(gift!.transfer_id), { code: 'gift', state: 'posted', amount: 50 });
      assert.deepEqual(await wallet(), { balance: 1445, held: 0 });
      await waitText(page.locator('diamond-wallet [part~="pill"]'), /^1,445 Diamonds$/);
    });

    it('5. unlocks the paywalled post (beyond what is left of the allowance): the body shows', async () => {
      const paywall = page.locator('diamond-paywall');
      const unlock = paywall.locator('[part~="button"]');
      await waitText(unlock, /^Unlock for 50 Diamonds$/);
      const contentId = (await paywall.getAttribute('content')) ?? '';
      const popup = await popupFrom(unlock);
      const confirmation = await approveIn(popup, 50, 'unlock');
      assert.deepEqual([confirmation.kind, confirmation.subject_id], ['unlock', contentId]);
      await waitText(paywall.locator('[part~="status"]'), /^Unlocked\. Enjoy!$/);
      assert.equal(await paywall.locator('[part~="body"] h2').textContent(), 'Storyboards');
      await shot(page, 'unlocked');

      const [entitlement] = await t.db.query<{ status: string; amount: number }>(
        'SELECT status, amount FROM entitlements WHERE user_id = ? AND content_id = ?',
        [demo.fan.userId, contentId],
      );
      assert.deepEqual([entitlement?.status, Number(entitlement?.amount)], ['active', 50]);
      assert.deepEqual(await wallet(), { balance: 1395, held: 0 });
    });

    it('6. pays the shop’s order on its own origin; "thank you" only once its backend verified the receipt', async () => {
      const shop = await context.newPage(); // counted in `opened`, watched
      const shopped = shop.waitForResponse((response) => response.url() === `${examples.shopUrl}/` && response.status() === 200);
      await shop.goto(examples.shopUrl);
      await shopped;
      const checkout = shop.locator('diamond-checkout');
      const orderId = (await checkout.getAttribute('order')) ?? '';
      assert.match(orderId, /^ord_/);
      const [created] = await t.db.query<{ status: string; site_id: string; total_diamonds: number }>(
        'SELECT status, site_id, total_diamonds FROM orders WHERE id = ?',
        [orderId],
      );
      assert.deepEqual([created?.status, created?.site_id], ['open', demo.site.id], 'the shop’s backend created the order');
      const total = Number(created?.total_diamonds);
      // The shop's own stylesheet: a card on a quiet page, not the browser's defaults.
      const card = await shop.locator('main').evaluate((main) => {
        const style = getComputedStyle(main);
        return { maxWidth: style.maxWidth, radius: style.borderTopLeftRadius };
      });
      assert.deepEqual(card, { maxWidth: '576px', radius: '12px' }, 'examples/shop/shop.css applies');
      // A reload in the same browser session shows the same open order: no new order per view.
      const [{ n: ordersBefore } = { n: 0 }] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM orders');
      await shop.reload();
      assert.equal(await checkout.getAttribute('order'), orderId, 'the same order after a reload');
      const [{ n: ordersAfter } = { n: 0 }] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM orders');
      assert.equal(Number(ordersAfter), Number(ordersBefore), 'no order made by the reload');

      // Another origin, another localStorage: the fan signs in again here (the platform knows
      // them). Signed out, the checkout already shows the order: one button signs in and pays.
      const signIn = checkout.getByRole('button', { name: `Sign in and pay ${total} Diamonds` });
      await signIn.waitFor();
      await shot(shop, 'shop-signed-out');
      await signInThrough(await popupFrom(signIn), 'shop');

      const pay = checkout.getByRole('button', { name: `Pay ${total} Diamonds` });
      await pay.waitFor();
      await waitText(checkout.locator('[part~="total"]'), new RegExp(`^${total} Diamonds$`));
      await shot(shop, 'shop-order');
      // On a 390 px phone the order fits: no sideways scroll, the table inside the checkout's frame.
      const desktop = shop.viewportSize();
      await shop.setViewportSize({ width: 390, height: 844 });
      const fit = await shop.evaluate(() => {
        const frame = document.querySelector('diamond-checkout')!.shadowRoot!.querySelector('[part~="base"]')!.getBoundingClientRect();
        const table = document.querySelector('diamond-checkout')!.shadowRoot!.querySelector('table')!.getBoundingClientRect();
        const main = document.querySelector('main')!.getBoundingClientRect();
        return { page: document.documentElement.scrollWidth, window: innerWidth, frame: frame.right, table: table.right, main: main.left };
      });
      assert.ok(fit.page <= fit.window, `the shop scrolls sideways on a phone: ${fit.page} px wide in ${fit.window}`);
      assert.ok(fit.table <= fit.frame, `the order table (right edge ${fit.table}) runs out of the checkout (${fit.frame})`);
      assert.ok(fit.main > 0, 'the shop’s card keeps a margin from the screen’s edge');
      await shot(shop, 'shop-order-phone');
      if (desktop) await shop.setViewportSize(desktop);
      const thanked = shop.waitForResponse((response) => response.url() === `${examples.shopUrl}/thank-you`);
      const popup = await popupFrom(pay);
      const confirmation = await approveIn(popup, total, 'order');
      assert.deepEqual([confirmation.kind, confirmation.subject_id], ['order', orderId]);

      const answer = await thanked;
      assert.equal(answer.status(), 200);
      const { message } = (await answer.json()) as { message: string };
      assert.equal(message, `Thank you! Order ${orderId} is paid: ${total} Diamonds.`);
      assert.equal(await waitText(shop.locator('#thanks'), /^Thank you!/), message, 'the page shows the backend’s answer');
      await waitText(checkout.locator('[part~="status"]'), /^Paid\. Thank you!$/);
      // The page waits for the backend to hear it from Diamonds itself, by a verified webhook.
      // (A webhook comes within a second or so; a machine under heavy load may take far longer.)
      await waitText(shop.locator('#confirmed'), /^Diamonds confirmed the payment to the shop/, 60_000);
      paidOrderId = orderId;
      await shot(shop, 'shop-paid');

      const [paid] = await t.db.query<{ status: string; user_id: string; transfer_id: string | null }>(
        'SELECT status, user_id, transfer_id FROM orders WHERE id = ?',
        [orderId],
      );
      assert.deepEqual([paid?.status, paid?.user_id], ['paid', demo.fan.userId]);
      assert.deepEqual(await transfer(paid!.transfer_id), { code: 'order', state: 'posted', amount: total });
      assert.deepEqual(await wallet(), { balance: 1395 - total, held: 0 });
      // Paid: the next visit starts a new order.
      await shop.reload();
      const next = (await checkout.getAttribute('order')) ?? '';
      assert.match(next, /^ord_/);
      assert.notEqual(next, orderId, 'a new order once the last one is paid');
    });

    it('7. the shop’s backend learns paid and refunded by webhook, drops a replayed delivery and refuses a forged one', async () => {
      assert.match(paidOrderId, /^ord_/, 'step 6 paid an order');
      const paid = await shopLearns(paidOrderId, (state) =>
        state.learned.some((entry) => entry.status === 'paid' && entry.source === 'webhook'),
      );
      assert.equal(paid.status, 'paid');
      const diamonds = createDiamondsServer({ secretKey: demo.site.secretKey, siteId: demo.site.id, apiBase: platform.url });
      const before = await diamonds.orders.get(paidOrderId);
      assert.equal(before.status, 'paid');

      // The shop owner refunds (their admin, with the secret key): the backend hears it by webhook…
      await diamonds.orders.refund(paidOrderId);
      const refunded = await shopLearns(paidOrderId, (state) => state.status === 'refunded');
      assert.deepEqual(refunded.learned.at(-1), { ...refunded.learned.at(-1), status: 'refunded', source: 'webhook' });
      // …and reading the order says so too, while its receipt still verifies: a receipt alone
      // cannot tell a refunded order from a paid one.
      const after = await diamonds.orders.get(paidOrderId);
      assert.equal(after.status, 'refunded');
      assert.ok(after.receipt, 'the order keeps its receipt');
      assert.equal((await diamonds.verifyReceipt(after.receipt)).subjectId, paidOrderId);
      const { data: events } = await diamonds.events.list({ type: 'order.refunded' });
      assert.ok(events.some((event) => event.type === 'order.refunded' && event.data.orderId === paidOrderId));

      // A replay of the paid event comes with the same event id: dropped, nothing changes.
      const [endpoint] = (await diamonds.webhookEndpoints.list()).data.filter((one) => one.url === `${examples.shopUrl}/diamonds/webhooks`);
      assert.ok(endpoint, 'the shop registered its endpoint on start');
      assert.deepEqual(endpoint.eventTypes, ['order.paid', 'order.refunded']);
      const paidEvent = (await diamonds.events.list({ type: 'order.paid', limit: 100 })).data.find(
        (event) => event.type === 'order.paid' && event.data.orderId === paidOrderId,
      );
      assert.ok(paidEvent);
      await diamonds.webhookEndpoints.replay(endpoint.id, { eventId: paidEvent.id });
      const replayed = await shopLearns(paidOrderId, (state) => state.webhooks.duplicates > refunded.webhooks.duplicates);
      assert.equal(replayed.status, 'refunded', 'a replayed "paid" does not undo the refund');
      const deliveries = await diamonds.webhookEndpoints.deliveries(endpoint.id);
      assert.ok(deliveries.data.some((delivery) => delivery.eventId === paidEvent.id && delivery.kind === 'replay'));
      assert.ok(deliveries.data.every((delivery) => delivery.status !== 'failed'));

      // A forged delivery (signed with a secret that is not the endpoint's) is refused.
      const forged = JSON.stringify({ ...paidEvent, id: 'evt_01JD3S9ZK4W8Q2V7C5XH6RTB0M' });
      const headers = await signWebhook(forged, `whsec_${Buffer.from('not the shop’s secret at all!').toString('base64')}`, {
        id: 'evt_01JD3S9ZK4W8Q2V7C5XH6RTB0M',
      });
      const answer = await fetch(`${examples.shopUrl}/diamonds/webhooks`, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: forged,
      });
      assert.equal(answer.status, 400);
      assert.equal(await answer.text(), 'Refused: bad_signature\n');
      const last = await shopState(paidOrderId);
      assert.equal(last.webhooks.refused, replayed.webhooks.refused + 1);
      assert.equal(last.status, 'refunded');
    });

    it('8. leaves a ledger that verifies clean', async () => {
      const report = await verifyLedger(t.db);
      assert.ok(report.ok, formatVerifyReport(report));
      // The second order (made by the last visit) is open; the first was paid, then refunded.
      assert.equal((await wallet()).balance, DEMO_FAN_DIAMONDS + 500 - 5 - 50 - 50);
      assert.deepEqual(
        problems.filter((problem) => problem.includes('uncaught')),
        [],
        'no page threw',
      );
    });
  });
}
