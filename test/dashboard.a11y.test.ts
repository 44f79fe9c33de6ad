import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { createSession, findUser, SESSION_COOKIE, seedRates, sendOk, startMoneyHarness, type MoneyHarness } from '@diamonds/server/testing';
import { axeViolations, chromiumMissing, launchChromium, type AxeViolation } from './browser.js';

// Skipped only outside CI when Debian's Chromium is not installed (a failure under CI=true).
const skip = chromiumMissing('the dashboard accessibility check');

describe('the creator dashboard passes axe-core in light and dark, on a desktop and a phone', { skip }, () => {
  let h: MoneyHarness;
  let browser: Browser;

  before(async () => {
    browser = await launchChromium();
    h = await startMoneyHarness('sqlite');
    await seedRates(h);
    const fan = await h.fan({ allowance: 10_000, balance: 1_000, name: 'Grace' });
    await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'rose', quantity: 3, message: 'Loved the stream <3' }, 201);
    await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'heart', quantity: 1 }, 201);
  });
  after(async () => {
    await browser?.close();
    await h?.verifyClean();
    await h?.close();
  });

  const viewports = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
  for (const [device, viewport] of Object.entries(viewports))
    for (const colorScheme of ['light', 'dark'] as const)
      it(`/dashboard (30 and 90 days) in ${colorScheme} on a ${device}`, async () => {
        // axe is injected as a script, which the page's strict CSP would rightly refuse.
        const context = await browser.newContext({ colorScheme, viewport, bypassCSP: true });
        try {
          const user = await findUser(h.t.db, h.creator.id);
          assert.ok(user);
          const { token } = await createSession(h.t.db, user);
          await context.addCookies([{ name: SESSION_COOKIE, value: token, url: h.server.url }]);
          const page = await context.newPage();
          // The aggregates follow the outbox a moment after the commit: wait for the supporter.
          const deadline = Date.now() + 15_000;
          for (;;) {
            await page.goto(`${h.server.url}/dashboard`);
            if ((await page.content()).includes('Grace')) break;
            assert.ok(Date.now() < deadline, 'the gifts reached the dashboard');
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          // The chart's scale (its highest value and its first and last day) is readable at this size.
          const scale = await page.evaluate(() => {
            const shown = [...document.querySelectorAll('.chart-label, .chart-scale')].filter((e) => e.getClientRects().length > 0);
            return {
              texts: shown.map((e) => e.textContent?.trim()),
              lowest: Math.min(...shown.map((e) => e.getBoundingClientRect().height)),
            };
          });
          assert.ok(scale.texts.length > 0, 'the chart’s scale is shown');
          assert.ok(scale.lowest >= 12, `the chart’s scale is ${scale.lowest.toFixed(1)} px high: ${scale.texts.join(' | ')}`);
          const found: Record<string, AxeViolation[]> = { '/dashboard': await axeViolations(page) };
          await page.getByRole('link', { name: 'Last 90 days' }).click();
          await page.waitForURL(/days=90/);
          found['/dashboard?days=90'] = await axeViolations(page);
          const report = Object.entries(found).flatMap(([path, list]) =>
            list.map((v) => `${path}: ${v.id} (${v.impact ?? 'n/a'}) ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`),
          );
          assert.deepEqual(report, []);
        } finally {
          await context.close();
        }
      });
});
