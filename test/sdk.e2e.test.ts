// The SDK in real Chromium, across two origins: the platform on localhost, a creator's page on
// 127.0.0.1 running the SDK bundle. A fan signs in through the popup, sends a gift within the
// allowance, one beyond it (approved, declined, popup closed), tops up with the test card,
// unlocks content and pays an order whose receipt the site's backend verifies. Each step checks
// what the page shows and what the server holds.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, type RunningServer } from '@diamonds/server';
import { createDiamondsServer } from '@diamonds/sdk/server';
import {
  listCreatorContent,
  seedDemo,
  type DemoData,
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
import { bundleSdk, startSdkPage, type SdkPageServer } from './sdk-page.js';

const SCREENSHOTS = new URL('../test-results/', import.meta.url).pathname;

/** The page's outputs of the SDK's stores. */
type Output = 'session' | 'wallet' | 'allowance' | 'pending';

/** What the page's `window` carries for the test (see test/sdk-page.ts). */
interface PageWindow {
  opened: { url: string; inClick: boolean }[];
  lastReceipt: string | null | undefined;
}

// Skipped only outside CI, loudly, when Debian's Chromium is not installed or (for the
// PostgreSQL run) PostgreSQL is unreachable; under CI=true either throws instead.
const noBrowser = chromiumMissing('the SDK end-to-end test');
// One bundle for both databases: the page reads its keys from its own config.
const bundle = noBrowser ? '' : await bundleSdk();

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = noBrowser || (await skipUnlessPostgres(kind));
  describe(`the SDK in Chromium, across two origins, on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let platform: RunningServer;
    let demo: DemoData;
    let contentId: string;
    let site: SdkPageServer;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    /** Every page the browser opened (popups), in order. */
    const popups: Page[] = [];

    /** The fan's wallet on the server: posted balance, held Diamonds, and what is spendable. */
    async function wallet(): Promise<{ balance: number; held: number; spendable: number }> {
      const [row] = await t.db.query<{ balance: number; pending_debits: number }>(
        `SELECT balance, pending_debits FROM accounts WHERE owner_id = ? AND kind = 'wallet'`,
        [demo.fan.userId],
      );
      const balance = Number(row?.balance ?? 0);
      const held = Number(row?.pending_debits ?? 0);
      return { balance, held, spendable: balance - held };
    }

    /** The creator's earnings on the server. */
    async function earnings(): Promise<number> {
      const [row] = await t.db.query<{ balance: number }>(`SELECT balance FROM accounts WHERE owner_id = ? AND kind = 'earnings'`, [
        demo.creator.userId,
      ]);
      return Number(row?.balance ?? 0);
    }

    /** The newest confirmation's status on the server. */
    async function lastConfirmation(): Promise<{ id: string; status: string; amount: number; kind: string; subjectId: string }> {
      const [row] = await t.db.query<{ id: string; status: string; amount: number; kind: string; subject_id: string }>(
        'SELECT id, status, amount, kind, subject_id FROM confirmations ORDER BY id DESC LIMIT 1',
      );
      assert.ok(row, 'the server holds no confirmation');
      return { id: row.id, status: row.status, amount: Number(row.amount), kind: row.kind, subjectId: row.subject_id };
    }

    /** Clicks a page button and waits for the outcome it writes to `#result`. */
    async function click(name: string): Promise<string> {
      await page.getByRole('button', { name, exact: true }).click();
      return outcome();
    }

    /** Waits for the running action to settle; returns what `#result` says. */
    async function outcome(): Promise<string> {
      await page.waitForFunction(() => document.getElementById('result')?.dataset.state === 'done');
      return (await page.textContent('#result')) ?? '';
    }

    /** Clicks a page button that must open a popup in the click; returns the popup. */
    async function clickForPopup(name: string): Promise<Page> {
      const before = (await page.evaluate(() => (window as unknown as PageWindow).opened.length)) as number;
      const [popup] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name, exact: true }).click()]);
      const opened = await page.evaluate(() => (window as unknown as PageWindow).opened);
      // Opened blank, synchronously inside the click handler: no popup blocker can stop it.
      assert.deepEqual(opened.slice(before), [{ url: 'about:blank', inClick: true }]);
      return popup;
    }

    /** What the page's stores show. */
    const shown = async (id: Output) => (await page.textContent(`#${id}`)) ?? '';

    /** Waits until the page's `#id` output reads `text`. */
    async function waitShown(id: Output, text: string): Promise<void> {
      await page.waitForFunction(([id, text]) => document.getElementById(id!)?.textContent === text, [id, text] as const);
    }

    /** Opens a confirmation popup with `button`, checks the hosted page, and answers it. */
    async function confirmIn(button: string, answer: 'Approve' | 'Decline' | 'close', amount: number, screenshot?: string) {
      const popup = await clickForPopup(button);
      await popup.waitForURL(/\/confirm\/cnf_/, { waitUntil: 'commit' });
      assert.equal(new URL(popup.url()).origin, new URL(platform.url).origin, 'the confirmation is on the platform');
      await popup.getByRole('heading', { name: `Approve ${amount} Diamonds?` }).waitFor();
      const main = (await popup.textContent('main')) ?? '';
      assert.match(main, /Demo site/, 'the page names the site, as the server holds it');
      if (screenshot) await popup.screenshot({ path: `${SCREENSHOTS}${screenshot}-${kind}.png` });
      // While the fan decides, the Diamonds are held on the server.
      const pending = await lastConfirmation();
      assert.equal(pending.status, 'pending');
      assert.equal(pending.amount, amount);
      // The SDK's confirmations store lists it while the popup is open.
      await page.waitForFunction(
        (prefix) => document.getElementById('pending')?.textContent?.startsWith(prefix),
        `1 waiting: ${amount} for `,
      );
      if (answer === 'close') await popup.close();
      else await popup.getByRole('button', { name: answer === 'Approve' ? `Approve ${amount} Diamonds` : 'Decline', exact: true }).click();
      return { popup, confirmation: pending };
    }

    before(async () => {
      browser = await launchChromium();
      t = await createTestDatabase(kind);
      // The platform on localhost, the creator's page on 127.0.0.1: two origins.
      platform = await startServer({ port: 0, db: t.db });
      const seeded = await seedDemo(t.db, t.settings.dataDir);
      assert.ok(seeded.demo);
      demo = seeded.demo;
      await seedDemoMoney(t.db, platform.ledger, demo);
      const priced = (await listCreatorContent(t.db, demo.creator.userId)).find((content) => content.priceDiamonds === 50);
      assert.ok(priced, 'the demo has content priced at 50 Diamonds');
      contentId = priced.id;
      site = await startSdkPage(bundle, {
        publishableKey: demo.site.publishableKey,
        apiBase: platform.url,
        creatorId: demo.creator.userId,
        contentId,
      });
      context = await browser.newContext();
      context.setDefaultTimeout(15_000);
      context.on('page', (opened) => popups.push(opened));
      mkdirSync(SCREENSHOTS, { recursive: true });
      page = await context.newPage();
      popups.length = 0;
      await page.goto(site.url);
      await page.waitForFunction(() => document.getElementById('ready')?.textContent?.startsWith('8 gifts'));
    });

    after(async () => {
      await browser?.close();
      await site?.close();
      await platform?.close();
      if (t) await t.drop();
    });

    it('signs the fan in through the popup, choosing the 50-a-day allowance', async () => {
      assert.notEqual(new URL(site.url).origin, new URL(platform.url).origin);
      assert.equal(await shown('session'), 'signed_out');
      const popup = await clickForPopup('Sign in');
      await popup.waitForURL(/\/signin\?/, { waitUntil: 'commit' });
      await popup.getByLabel('Email').fill(demo.fan.email);
      await popup.getByLabel('Password').fill(demo.fan.password);
      await popup.getByRole('button', { name: /sign in/i }).click();
      await popup.waitForURL(/\/signin\/authorize/, { waitUntil: 'commit' });
      assert.match((await popup.textContent('main')) ?? '', /Demo site/);
      await popup.screenshot({ path: `${SCREENSHOTS}sdk-consent-${kind}.png` });
      await popup.getByLabel('50 Diamonds a day').check();
      await popup.getByRole('button', { name: 'Connect' }).click();

      assert.equal(await outcome(), 'signin: welcome Demo Fan');
      assert.equal(await shown('session'), 'signed in as Demo Fan');
      assert.equal(await shown('wallet'), 'balance 1000, held 0');
      assert.equal(await shown('allowance'), '50 of 50 left today');
      assert.equal(await shown('pending'), '0 waiting');
      const [connection] = await t.db.query<{ allowance_per_day: number }>(
        'SELECT allowance_per_day FROM connections WHERE user_id = ? AND site_id = ?',
        [demo.fan.userId, demo.site.id],
      );
      assert.equal(Number(connection?.allowance_per_day), 50, 'the server holds the allowance the fan chose');
    });

    it('sends a rose within the allowance: no popup, the wallet store and the ledger move 5', async () => {
      const popupsBefore = popups.length;
      const result = await click('Send rose');
      const match = /^rose: sent 5 succeeded (gift_\w+)$/.exec(result);
      assert.ok(match, result);
      assert.equal(popups.length, popupsBefore, 'a gift within the allowance opens no popup');
      await waitShown('wallet', 'balance 995, held 0');
      await waitShown('allowance', '45 of 50 left today');

      const [gift] = await t.db.query<{ status: string; amount: number; transfer_id: string | null }>(
        'SELECT status, amount, transfer_id FROM gifts WHERE id = ?',
        [match[1] ?? ''],
      );
      assert.equal(gift?.status, 'sent');
      assert.equal(Number(gift?.amount), 5);
      const [transfer] = await t.db.query<{ code: string; state: string; amount: number }>(
        'SELECT code, state, amount FROM transfers WHERE id = ?',
        [gift!.transfer_id],
      );
      assert.deepEqual({ ...transfer, amount: Number(transfer?.amount) }, { code: 'gift', state: 'posted', amount: 5 });
      assert.deepEqual(await wallet(), { balance: 995, held: 0, spendable: 995 });
      assert.equal(await earnings(), 4, '5 less the 20% fee');
    });

    it('sends two stars beyond the allowance: the confirmation popup opens in the click, and approving moves 100', async () => {
      const { confirmation } = await confirmIn('Send 2 stars', 'Approve', 100, 'sdk-confirmation');
      assert.equal(confirmation.kind, 'gift');
      assert.match(await outcome(), /^stars: sent 100 succeeded gift_\w+$/);
      assert.equal(await shown('pending'), '0 waiting', 'settled spends leave the confirmations store');
      await waitShown('wallet', 'balance 895, held 0');
      assert.equal((await lastConfirmation()).status, 'approved');
      const [gift] = await t.db.query<{ status: string }>('SELECT status FROM gifts WHERE id = ?', [confirmation.subjectId]);
      assert.equal(gift?.status, 'sent');
      assert.deepEqual(await wallet(), { balance: 895, held: 0, spendable: 895 });
      assert.equal(await earnings(), 4 + 80);
    });

    it('declining in the popup rejects with confirmation_declined and releases the hold', async () => {
      await confirmIn('Send 2 stars', 'Decline', 100);
      assert.equal(await outcome(), 'stars: error confirmation_declined ConfirmationDeclinedError');
      assert.equal((await lastConfirmation()).status, 'declined');
      assert.deepEqual(await wallet(), { balance: 895, held: 0, spendable: 895 });
      await waitShown('wallet', 'balance 895, held 0');
    });

    it('closing the popup rejects with popup_closed; the hold stays until the confirmation expires', async () => {
      const { confirmation } = await confirmIn('Send 2 stars', 'close', 100);
      assert.equal(await outcome(), 'stars: error popup_closed PopupClosedError');
      assert.equal(await shown('pending'), '0 waiting');
      assert.equal((await lastConfirmation()).status, 'pending');
      assert.deepEqual(await wallet(), { balance: 895, held: 100, spendable: 795 });
      await waitShown('wallet', 'balance 795, held 100');

      assert.equal(await expireConfirmations(platform.writer, t.db, Date.now() + CONFIRMATION_TTL_MS + 1), 1);
      assert.equal((await lastConfirmation()).status, 'expired');
      const [gift] = await t.db.query<{ status: string }>('SELECT status FROM gifts WHERE id = ?', [confirmation.subjectId]);
      assert.equal(gift?.status, 'expired');
      assert.deepEqual(await wallet(), { balance: 895, held: 0, spendable: 895 });
      assert.equal(await click('Refresh wallet'), 'refresh: refreshed 895');
      await waitShown('wallet', 'balance 895, held 0');
    });

    it('a crown the wallet cannot pay is refused with insufficient_funds, with no popup and nothing held', async () => {
      const popupsBefore = popups.length;
      const transfersBefore = await t.db.query('SELECT id FROM transfers');
      assert.equal(await click('Send crown'), 'crown: error insufficient_funds InsufficientFundsError');
      assert.equal(popups.length, popupsBefore, 'the SDK knew the wallet was short and opened no popup');
      assert.deepEqual(await wallet(), { balance: 895, held: 0, spendable: 895 });
      assert.equal((await t.db.query('SELECT id FROM transfers')).length, transfersBefore.length);
    });

    it('tops up 500 with the test card: the hosted page closes itself and the page shows +500', async () => {
      const popup = await clickForPopup('Top up 500');
      await popup.waitForURL(/\/topup\/tu_/, { waitUntil: 'commit' });
      await popup.getByLabel('Card number').fill('4242 4242 4242 4242');
      await popup.screenshot({ path: `${SCREENSHOTS}sdk-topup-${kind}.png` });
      const closed = popup.waitForEvent('close');
      await popup.getByRole('button', { name: /^Pay / }).click();
      await closed;

      assert.equal(await outcome(), 'topup: topped up 500 succeeded');
      await waitShown('wallet', 'balance 1395, held 0');
      assert.deepEqual(await wallet(), { balance: 1395, held: 0, spendable: 1395 });
      const topups = await t.db.query<{ status: string; diamonds: number; transfer_id: string | null }>(
        'SELECT status, diamonds, transfer_id FROM topups WHERE user_id = ?',
        [demo.fan.userId],
      );
      assert.equal(topups.length, 1);
      assert.equal(topups[0]?.status, 'succeeded');
      const [transfer] = await t.db.query<{ code: string; amount: number }>('SELECT code, amount FROM transfers WHERE id = ?', [
        topups[0]!.transfer_id,
      ]);
      assert.deepEqual({ code: transfer?.code, amount: Number(transfer?.amount) }, { code: 'purchase', amount: 500 });
    });

    it('unlocks the priced content (beyond what is left of the allowance): the body shows, with a receipt', async () => {
      const { confirmation } = await confirmIn('Unlock the making-of', 'Approve', 50);
      assert.deepEqual([confirmation.kind, confirmation.subjectId], ['unlock', contentId]);
      assert.equal(await outcome(), 'unlock: unlocked active');
      // The body, inserted as HTML from the platform's sanitised Markdown.
      assert.equal(await page.textContent('#content-body h2'), 'Storyboards');
      assert.equal(await page.textContent('#content-body li strong'), 'Camera:');
      const receipt = (await page.textContent('#receipt')) ?? '';
      assert.match(receipt, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a compact JWT');
      await waitShown('wallet', 'balance 1345, held 0');
      const [entitlement] = await t.db.query<{ status: string; amount: number; receipt: string }>(
        'SELECT status, amount, receipt FROM entitlements WHERE user_id = ? AND content_id = ?',
        [demo.fan.userId, contentId],
      );
      assert.deepEqual({ ...entitlement, amount: Number(entitlement?.amount) }, { status: 'active', amount: 50, receipt });
      assert.deepEqual(await wallet(), { balance: 1345, held: 0, spendable: 1345 });
    });

    it('pays an order made by the site backend; the receipt verifies in Node', async () => {
      const [product] = await t.db.query<{ id: string }>('SELECT id FROM products WHERE site_id = ? AND name = ?', [
        demo.site.id,
        'Sticker pack',
      ]);
      assert.ok(product);
      // The site's backend makes the order with its secret key.
      const created = await fetch(`${platform.url}/v1/orders`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${demo.site.secretKey}`,
          'Content-Type': 'application/json',
          'Idempotency-Key': `e2e-order-${kind}`,
        },
        body: JSON.stringify({ lines: [{ productId: product.id, quantity: 1 }], reference: 'cart-e2e' }),
      });
      const order = (await created.json()) as { id: string; status: string; totalDiamonds: number };
      assert.equal(created.status, 201, JSON.stringify(order));
      assert.deepEqual([order.status, order.totalDiamonds], ['open', 80]);

      await page.getByLabel('Order').fill(order.id);
      assert.equal(await click('Check out'), 'checkout: order total 80 open');
      const { confirmation } = await confirmIn('Pay order', 'Approve', 80);
      assert.deepEqual([confirmation.kind, confirmation.subjectId], ['order', order.id]);
      assert.equal(await outcome(), 'pay: paid 80 paid');
      await waitShown('wallet', 'balance 1265, held 0');

      const receipt = await page.evaluate(() => (window as unknown as PageWindow).lastReceipt);
      assert.ok(typeof receipt === 'string' && receipt !== '', 'the page hands the receipt over');
      const backend = createDiamondsServer({ secretKey: demo.site.secretKey, apiBase: platform.url, siteId: demo.site.id });
      const claims = await backend.verifyReceipt(receipt);
      assert.equal(claims.sub, demo.fan.userId);
      assert.equal(claims.aud, demo.site.id);
      assert.equal(claims.kind, 'order');
      assert.equal(claims.subjectId, order.id);
      assert.equal(claims.amountDiamonds, 80);
      const [stored] = await t.db.query<{ status: string; user_id: string; transfer_id: string | null }>(
        'SELECT status, user_id, transfer_id FROM orders WHERE id = ?',
        [order.id],
      );
      assert.deepEqual(stored, { status: 'paid', user_id: demo.fan.userId, transfer_id: claims.transferId });
      assert.deepEqual(await wallet(), { balance: 1265, held: 0, spendable: 1265 });
    });

    it('leaves a ledger that verifies clean', async () => {
      await page.screenshot({ path: `${SCREENSHOTS}sdk-page-${kind}.png`, fullPage: true });
      const report = await verifyLedger(t.db);
      assert.ok(report.ok, formatVerifyReport(report));
      // 1,000 seeded, less 5 + 100 in gifts, 50 for the unlock, 80 for the order, plus 500 bought.
      assert.equal((await wallet()).balance, 1000 - 5 - 100 - 50 - 80 + 500);
    });
  });
}
