// The fan's wallet on the platform, in real Chromium against a real server (issue 14): a fan
// whose gift to a creator who is not one of the site's creators waits for their approval signs
// in, opens /wallet, sees the Diamonds held, releases them, and the balance comes back; the page
// passes axe on a phone and on a desktop, in light and in dark.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { sendOk, startMoneyHarness, type MoneyHarness } from '@diamonds/server/testing';
import { axeViolations, chromiumMissing, describeViolation, launchChromium } from './browser.js';

/** Where to save screenshots of the wallet (for the docs), when set. */
const SHOTS = process.env.DIAMONDS_SHOTS_DIR;

// Skipped only outside CI when Debian's Chromium is not installed (chromiumMissing warns loudly).
const skip = chromiumMissing('the wallet e2e test');

describe('a fan releases a held spend from the platform wallet (Chromium)', { skip }, () => {
  let h: MoneyHarness;
  let browser: Browser;
  let outsider: { id: string; displayName: string };
  let contentId = '';

  before(async () => {
    browser = await launchChromium();
    h = await startMoneyHarness('sqlite');
    // Not one of the test site's creators: the fan's allowance never pays her, so a gift waits.
    outsider = await h.newCreator('Mallory');
    const published = await h.call('/content', {
      key: 'secret',
      body: { title: 'Behind the scenes', teaser: 'How it was made', body: 'It rained.', priceDiamonds: 100 },
    });
    assert.equal(published.status, 201);
    contentId = ((await published.json()) as { id: string }).id;
  });
  after(async () => {
    await browser?.close();
    await h?.verifyClean();
    await h?.close();
  });

  const viewports = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } };
  for (const [device, viewport] of Object.entries(viewports))
    for (const colorScheme of ['dark', 'light'] as const)
      it(`signs in, releases 15 held Diamonds and sees them back, on a ${device} in ${colorScheme}`, async () => {
        const fan = await h.fan({ allowance: 500, balance: 100, name: `Fan on a ${device}` });
        const gift = await sendOk(h, fan, { creatorId: outsider.id, giftId: 'rose', quantity: 3 }, 202);
        assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 15, earnings: 0 });
        const [row] = await h.t.db.query<{ email: string }>('SELECT email FROM users WHERE id = ?', [fan.id]);
        assert.ok(row);

        // axe is injected as a script, which the page's strict CSP would rightly refuse.
        const context = await browser.newContext({ colorScheme, viewport, bypassCSP: true });
        try {
          const page = await context.newPage();
          await page.goto(`${h.server.url}/wallet`);
          await page.waitForURL(/\/signin/);
          await page.getByLabel('Email').fill(row.email);
          await page.getByLabel('Password').fill('a long password');
          await page.getByRole('button', { name: /sign in/i }).click();
          await page.waitForURL(/\/wallet$/);

          assert.equal(await page.locator('#available').textContent(), '85 Diamonds');
          assert.equal(await page.locator('#held').textContent(), '15 Diamonds');
          const held = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: '15 Diamonds to Mallory' }) });
          await held.waitFor();
          const approve = held.getByRole('link', { name: 'Review and approve 15 Diamonds' });
          assert.equal(await approve.getAttribute('href'), `/confirm/${gift.confirmation!.id}`);
          const history = page.getByRole('table', { name: /history/ });
          assert.match((await history.textContent()) ?? '', /3 × Rose for Mallory\s*Waiting for your approval\s*−15 Diamonds/);
          assert.deepEqual(
            (await axeViolations(page)).map(describeViolation),
            [],
            `the wallet with a held spend, ${device} ${colorScheme}`,
          );
          if (SHOTS) await page.screenshot({ path: `${SHOTS}/wallet-held-${device}-${colorScheme}.png`, fullPage: true });

          await held.getByRole('button', { name: 'Release 15 Diamonds' }).click();
          await page.getByRole('status').filter({ hasText: 'Released 15 Diamonds' }).waitFor();
          assert.equal(await page.locator('#available').textContent(), '100 Diamonds');
          assert.equal(await page.locator('#held').textContent(), '0 Diamonds');
          assert.ok(await page.getByText('Nothing is waiting for your approval.').isVisible());
          assert.match((await history.textContent()) ?? '', /3 × Rose for Mallory\s*Declined: nothing was charged\s*−15 Diamonds/);
          assert.deepEqual((await axeViolations(page)).map(describeViolation), [], `the wallet after a release, ${device} ${colorScheme}`);

          // On a phone the page fits the width: only the history table scrolls sideways.
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
          assert.ok(overflow <= 0, `the page is ${overflow} px wider than the ${device} screen`);
          if (device === 'phone') {
            // And on the narrowest phones (320 px): a long term of the balance wraps (it pushed the page 5 px wide).
            const size = page.viewportSize()!;
            await page.setViewportSize({ width: 320, height: size.height });
            const narrow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
            assert.ok(narrow <= 0, `the page is ${narrow} px wider than a 320 px screen`);
            await page.setViewportSize(size);
          }

          // An unlock within the allowance: its signed receipt, one link away.
          assert.equal((await h.call(`/content/${contentId}/unlock`, { fan, body: {} })).status, 201);
          await page.goto(`${h.server.url}/wallet`);
          await page.getByRole('link', { name: 'Receipt of Unlock' }).first().click();
          await page.waitForURL(/\/wallet\/receipts\/ct_/);
          assert.match((await page.locator('main').textContent()) ?? '', /Unlock of “Behind the scenes”[\s\S]*100 Diamonds/);
          assert.match(await page.getByLabel('The signed receipt').inputValue(), /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
          assert.deepEqual((await axeViolations(page)).map(describeViolation), [], `a receipt, ${device} ${colorScheme}`);
        } finally {
          await context.close();
        }
        assert.deepEqual(await h.balances(fan.id), { wallet: 0, held: 0, earnings: 0 }, 'released, then 100 unlocked');
        assert.deepEqual(await h.balances(outsider.id), { wallet: 0, held: 0, earnings: 0 });
      });
});
