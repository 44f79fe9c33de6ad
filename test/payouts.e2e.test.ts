// From the first gift to money in the bank, in real Chromium against a real platform (issue 14):
// a creator signs up (the emailed code proves the address), is listed on a site, receives gifts
// and an unlock from fans, sees them pending on the dashboard; a test clock passes the hold and
// they become available; the creator chooses the test provider's account that is paid, gets a
// locked price, confirms, and sees "Paid"; then an account whose bank returns the payout shows
// the failure and the Diamonds back. axe checks each new page, on a desktop and a phone, light and
// dark. With DIAMONDS_SHOTS_DIR set, it saves the screenshots of docs/guides/creator-earnings.md.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import {
  answerInvitation,
  createContent,
  createSession,
  findUser,
  findUserByEmail,
  inviteCreator,
  reverseTopUpOperation,
  seedRates,
  sendOk,
  SESSION_COOKIE,
  startMoneyHarness,
  startTopUp,
  verifyLedger,
  type MoneyHarness,
} from '@diamonds/server/testing';
import { assertAxeClean, chromiumMissing, launchChromium } from './browser.js';

const SHOTS = process.env.DIAMONDS_SHOTS_DIR;
const DAY_MS = 24 * 60 * 60 * 1000;
const HOLD_MS = 7 * DAY_MS;

// Skipped only outside CI when Debian's Chromium is not installed (a failure under CI=true).
const skip = chromiumMissing('the payouts end-to-end test');

describe('a creator’s first gift to money in the bank (Chromium)', { skip }, () => {
  let h: MoneyHarness;
  let browser: Browser;
  /** The test clock: how far the platform's clock of creators' money is ahead of the real one. */
  let offset = 0;
  const mailDir = mkdtempSync(join(tmpdir(), 'diamonds-payouts-e2e-mail-'));

  before(async () => {
    browser = await launchChromium();
    h = await startMoneyHarness('sqlite', {
      mailDir,
      clock: () => Date.now() + offset,
      earnings: { holdMs: HOLD_MS, releaseIntervalMs: 0 },
      payouts: { tickMs: 250, minimumDiamonds: 1000 },
    });
    await seedRates(h);
  });
  after(async () => {
    await browser?.close();
    await h?.verifyClean();
    await h?.close();
    rmSync(mailDir, { recursive: true, force: true });
  });

  /** The newest sign-up code mailed to `to`. */
  async function codeMailedTo(to: string): Promise<string> {
    for (let tries = 0; tries < 100; tries++) {
      const mail = readdirSync(mailDir)
        .sort()
        .map((name) => readFileSync(join(mailDir, name), 'utf8'))
        .filter((eml) => eml.includes(`\r\nTo: ${to}\r\n`))
        .at(-1);
      const code = mail && /Your code is (\d{6})/.exec(mail)?.[1];
      if (code) return code;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no sign-up code mailed to ${to}`);
  }

  /** Reloads `page` until `text` shows (the processor pays within a tick or two). */
  async function reloadUntil(page: Page, text: RegExp): Promise<void> {
    for (let tries = 0; tries < 60; tries++) {
      if (text.test((await page.locator('main').textContent()) ?? '')) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
      await page.reload();
    }
    assert.match((await page.locator('main').textContent()) ?? '', text);
  }

  const viewports = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
  for (const [device, viewport] of Object.entries(viewports))
    for (const colorScheme of ['light', 'dark'] as const)
      it(`signs up, earns, waits out the hold, cashes out and sees "Paid", then a returned payout (${device}, ${colorScheme})`, async () => {
        offset = 0;
        const shots = SHOTS && device === 'desktop' && colorScheme === 'light' ? SHOTS : undefined;
        const email = `maker-${device}-${colorScheme}@example.com`;
        // axe is injected as a script, which the pages' strict CSP would rightly refuse.
        const context = await browser.newContext({ colorScheme, viewport, bypassCSP: true });
        try {
          const page = await context.newPage();
          await page.goto(`${h.server.url}/signup`);
          await page.getByLabel('Email').fill(email);
          await page.getByLabel('Password').fill('a long enough password');
          await page.getByLabel('Display name').fill('Maker');
          await page.getByLabel('Creator: I earn Diamonds').check();
          await page
            .getByRole('button', { name: /sign up|create/i })
            .first()
            .click();
          await page.getByLabel('Code').fill(await codeMailedTo(email));
          await page.getByRole('button', { name: 'Create account' }).click();
          await page.waitForURL(/\/account/);
          const creator = await findUserByEmail(h.t.db, email);
          assert.ok(creator);

          // The world: the site lists the creator; two fans give; one unlocks a post.
          await inviteCreator(h.t.db, { siteId: h.site.id, creator: creator.id, invitedBy: h.creator.id });
          await answerInvitation(h.t.db, { siteId: h.site.id, creatorId: creator.id, accept: true });
          const [grace, alan] = await Promise.all([
            h.fan({ allowance: 100_000, balance: 10_000, name: 'Grace' }),
            h.fan({ allowance: 100_000, balance: 10_000, name: 'Alan' }),
          ]);
          await sendOk(h, grace, { creatorId: creator.id, giftId: 'crown', quantity: 1, message: 'For the next video!' }, 201);
          await sendOk(h, alan, { creatorId: creator.id, giftId: 'cake', quantity: 3 }, 201);
          const post = await h.t.db.transaction((tx) =>
            createContent(
              tx,
              { siteId: h.site.id, creatorId: creator.id },
              { title: 'Studio notes', teaser: 'How I mix', body: 'Quietly.', priceDiamonds: 500 },
            ),
          );
          assert.equal((await h.call(`/content/${post.id}/unlock`, { fan: alan, body: {} })).status, 201);
          // Net of the 20% fee: (1,000 + 300 + 500) × 0.8 = 1,440 Diamonds.

          await page.getByRole('link', { name: 'Earnings' }).click();
          await page.waitForURL(/\/dashboard$/);
          await reloadUntil(page, /For the next video!/);
          assert.equal(
            await page
              .locator('dd[aria-labelledby="stat-pending"]')
              .first()
              .textContent()
              .then((t) => t?.includes('1,440 ◆')),
            true,
          );
          assert.match((await page.locator('dd[aria-labelledby="stat-available"]').textContent()) ?? '', /^0 ◆/);
          await assertAxeClean(page, `the dashboard with pending earnings (${device}, ${colorScheme})`);

          // The test clock passes the hold.
          offset = HOLD_MS + 60_000;
          await page.reload();
          assert.match((await page.locator('dd[aria-labelledby="stat-available"]').textContent()) ?? '', /^1,440 ◆/);
          assert.match((await page.locator('dd[aria-labelledby="stat-pending"]').textContent()) ?? '', /^0 ◆/);

          await page.getByRole('link', { name: 'Cash out available earnings' }).click();
          await page.waitForURL(/\/account\/payouts$/);
          await page.getByRole('heading', { name: 'Payouts' }).waitFor();
          await assertAxeClean(page, `the payouts page without an account (${device}, ${colorScheme})`);
          await page.getByLabel('Test account that is paid').check();
          await page.getByLabel('Currency').selectOption('USD');
          await page.getByRole('button', { name: 'Save payout account' }).click();
          await page.getByText('Your payout account was saved.').waitFor();
          assert.match((await page.locator('main').textContent()) ?? '', /Test account that is paid, paid in USD:\s*ready/);
          if (shots) await page.screenshot({ path: `${shots}/payouts-ready.png`, fullPage: true });

          // Below the minimum: the field says so; then everything available.
          await page.getByLabel('Diamonds to cash out').fill('999');
          await page.getByRole('button', { name: 'Get a price' }).click();
          await page.getByRole('alert').filter({ hasText: 'The smallest payout is 1000 Diamonds.' }).waitFor();
          assert.equal(await page.getByLabel('Diamonds to cash out').getAttribute('aria-invalid'), 'true');
          await assertAxeClean(page, `the payouts page with a refused amount (${device}, ${colorScheme})`);
          await page.getByLabel('Diamonds to cash out').fill('1440');
          await page.getByRole('button', { name: 'Get a price' }).click();
          await page.getByRole('heading', { name: 'Confirm your payout' }).waitFor();
          assert.match((await page.locator('main').textContent()) ?? '', /1,440 ◆\s*You receive\s*US\$11\.52/);
          await assertAxeClean(page, `the payout quote (${device}, ${colorScheme})`);
          if (shots) await page.screenshot({ path: `${shots}/payout-confirm.png`, fullPage: true });
          await page.getByRole('button', { name: 'Confirm payout' }).click();
          await page
            .getByRole('status')
            .filter({ hasText: /Your payout (is on its way|of US\$11\.52 was paid)/ })
            .waitFor();
          await reloadUntil(page, /1,440 ◆\s*US\$11\.52\s*Paid/);
          assert.match((await page.locator('dd[aria-labelledby="payout-available"]').textContent()) ?? '', /^0 ◆/);
          await assertAxeClean(page, `the payouts page with a paid payout (${device}, ${colorScheme})`);
          if (shots) await page.screenshot({ path: `${shots}/payout-paid.png`, fullPage: true });
          // On a phone the page fits the width: only the tables scroll sideways.
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
          assert.ok(overflow <= 0, `the payouts page is ${overflow} px wider than the ${device} screen`);

          // More gifts, past the hold; an account whose bank returns the payout.
          await sendOk(h, grace, { creatorId: creator.id, giftId: 'crown', quantity: 2 }, 201);
          offset = 2 * HOLD_MS;
          await page.getByLabel('Test account whose bank returns the payout').check();
          await page.getByRole('button', { name: 'Change payout account' }).click();
          await page.getByText('Your payout account was saved.').waitFor();
          await page.getByLabel('Diamonds to cash out').fill('1600');
          await page.getByRole('button', { name: 'Get a price' }).click();
          await page.getByRole('button', { name: 'Confirm payout' }).click();
          await reloadUntil(page, /1,600 ◆\s*US\$12\.80\s*Failed: Diamonds returned\s*The bank returned the payout/);
          await page.getByRole('status').filter({ hasText: 'Your payout did not go through' }).waitFor();
          assert.match((await page.locator('dd[aria-labelledby="payout-available"]').textContent()) ?? '', /^1,600 ◆/);
          await assertAxeClean(page, `the payouts page with a failed payout (${device}, ${colorScheme})`);
          if (shots) await page.screenshot({ path: `${shots}/payout-failed.png`, fullPage: true });
          assert.deepEqual(await h.balances(creator.id), { wallet: 0, held: 0, earnings: 1600 });
        } finally {
          await context.close();
        }
      });

  it('a fan disputes a top-up after spending it: the fan’s wallet, the creator’s dashboard and the ledger agree', async () => {
    offset = 0;
    const creator = await h.newCreator('Dee', { listed: true });
    const fan = await h.fan({ allowance: 100_000, name: 'Eve' });
    const topUp = await startTopUp(h, fan);
    const sessionOf = async (userId: string) => {
      const user = await findUser(h.t.db, userId);
      assert.ok(user);
      return (await createSession(h.t.db, user)).token;
    };
    const context = await browser.newContext({ bypassCSP: true });
    try {
      await context.addCookies([{ name: SESSION_COOKIE, value: await sessionOf(fan.id), url: h.server.url }]);
      const fanPage = await context.newPage();
      // The fan pays for 500 Diamonds with the test card that succeeds.
      await fanPage.goto(`${h.server.url}/topup/${topUp.id}`);
      await fanPage.getByLabel('Card number').fill('4242 4242 4242 4242');
      await fanPage.getByRole('button', { name: /^Pay / }).click();
      await fanPage.getByRole('heading', { name: 'Payment complete' }).waitFor();
      assert.equal((await h.balances(fan.id)).wallet, 500);
      // Spent on the creator: four cakes (400 Diamonds, 320 to the creator), two of them a little
      // earlier: with the 1-second hold the dispute is judged by below, those two are released.
      for (let i = 0; i < 2; i++) await sendOk(h, fan, { creatorId: creator.id, giftId: 'cake', quantity: 1 }, 201);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      for (let i = 0; i < 2; i++) await sendOk(h, fan, { creatorId: creator.id, giftId: 'cake', quantity: 1 }, 201);
      const before = await h.balances(creator.id);
      assert.equal(before.earnings, 320);

      // The card's owner disputes the payment (what Stripe's charge.dispute.created does).
      const reversal = (await h.server.writer.run(reverseTopUpOperation, {
        topUpId: topUp.id,
        reason: 'dispute',
        source: 'operator',
        now: Date.now(),
        holdMs: 1000,
      })) as { debtDiamonds: number; reversedDiamonds: number };
      // 100 Diamonds were left in the wallet; of the 400 spent, the two pending cakes are reversed
      // (200: 160 from the creator, 40 of fee) and the two released ones are owed.
      assert.equal(reversal.reversedDiamonds, 200, JSON.stringify(reversal));
      assert.equal(reversal.debtDiamonds, 200, JSON.stringify(reversal));

      // The fan's wallet on the platform: nothing to spend, the debt said in words.
      await fanPage.goto(`${h.server.url}/wallet`);
      assert.equal(await fanPage.locator('#available').textContent(), '0 Diamonds');
      const [debt] = await h.t.db.query<{ balance: number }>(`SELECT balance FROM accounts WHERE owner_id = ? AND kind = 'debt'`, [fan.id]);
      const owed = -Number(debt?.balance ?? 0);
      assert.equal(owed, reversal.debtDiamonds);
      assert.match((await fanPage.locator('#debt').textContent()) ?? '', /You owe 200 Diamonds/);
      await assertAxeClean(fanPage, 'the wallet of a fan in debt');
      // A gift while in debt is refused, and nothing moves.
      await h.refused(await h.call('/gifts', { fan, body: { creatorId: creator.id, giftId: 'rose', quantity: 1 } }), 402, 'wallet_in_debt');

      // The creator's dashboard: the pending earnings lost what was reversed, as the ledger says.
      await context.clearCookies();
      await context.addCookies([{ name: SESSION_COOKIE, value: await sessionOf(creator.id), url: h.server.url }]);
      const creatorPage = await context.newPage();
      await creatorPage.goto(`${h.server.url}/dashboard`);
      const after = await h.balances(creator.id);
      assert.equal(after.earnings, before.earnings - 160);
      assert.match(
        (await creatorPage.locator('dd[aria-labelledby="stat-pending"]').textContent()) ?? '',
        new RegExp(`^${after.earnings} ◆`),
      );
      assert.match((await creatorPage.locator('dd[aria-labelledby="stat-total"]').textContent()) ?? '', new RegExp(`^${after.earnings} ◆`));
      await assertAxeClean(creatorPage, 'the dashboard after a dispute');
      const report = await verifyLedger(h.t.db);
      assert.ok(report.ok, JSON.stringify(report));
    } finally {
      await context.close();
    }
  });
});
