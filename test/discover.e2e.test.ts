// <diamond-discover> on the example shop (examples/shop, served as `npm start` does), in real
// Chromium: the demo creator boosts their post, whose page is on the creator's site; the shop's
// page shows it among boosted items; an impression is counted only once the card has been at
// least half visible for a second (not while it is below the fold); a click is counted and leads
// to the post on the creator's site. At 390×844, in light and dark, axe-clean (another browser:
// another viewer, whose impression counts too). The money side
// (budget, charges, return, both databases, two processes) is tested in
// packages/server/src/boosts/boosts.test.ts; this journey runs on SQLite.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, type RunningServer } from '@diamonds/server';
import {
  seedDemo,
  type DemoData,
  DROP_IN_FILE,
  formatVerifyReport,
  verifyLedger,
  seedDemoMoney,
  startExamples,
  type RunningExamples,
  createTestDatabase,
  listCreatorContent,
  createSession,
  findUser,
  SESSION_COOKIE,
  type TestDatabase,
} from '@diamonds/server/testing';
import { assertAxeClean, chromiumMissing, launchChromium } from './browser.js';

const SCREENSHOTS = new URL('../test-results/', import.meta.url).pathname;

// Skipped only outside CI, loudly, when Debian's Chromium is not installed; under CI=true it throws.
const noBrowser = chromiumMissing('the <diamond-discover> journey');

describe('<diamond-discover> on the example shop, in Chromium', { skip: noBrowser }, () => {
  let t: TestDatabase;
  let platform: RunningServer;
  let demo: DemoData;
  let examples: RunningExamples;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let boostId = '';
  let postTitle = '';

  async function stats(): Promise<{ impressions: number; clicks: number }> {
    const [row] = await t.db.query<{ impressions: number; clicks: number }>('SELECT impressions, clicks FROM boosts WHERE id = ?', [
      boostId,
    ]);
    return { impressions: Number(row?.impressions ?? 0), clicks: Number(row?.clicks ?? 0) };
  }

  /** Waits until the boost's figures satisfy `done` (views are counted in batches every 100 ms). */
  async function until(done: (s: { impressions: number; clicks: number }) => boolean): Promise<{ impressions: number; clicks: number }> {
    const deadline = Date.now() + 15_000;
    let seen = await stats();
    while (!done(seen) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen = await stats();
    }
    assert.ok(done(seen), `the boost's figures: ${JSON.stringify(seen)}`);
    return seen;
  }

  before(async () => {
    assert.ok(existsSync(DROP_IN_FILE), `${DROP_IN_FILE} is missing: run \`npm run build\` first`);
    assert.ok(existsSync(DROP_IN_FILE.replace(/diamonds\.js$/, 'diamonds-discover.js')), 'diamonds-discover.js is built');
    browser = await launchChromium();
    t = await createTestDatabase('sqlite');
    platform = await startServer({ port: 0, db: t.db });
    const seeded = await seedDemo(t.db, t.settings.dataDir);
    assert.ok(seeded.demo);
    demo = seeded.demo;
    await seedDemoMoney(t.db, platform.ledger, demo);
    examples = await startExamples({ platformUrl: platform.url, demo, port: 0, shopPort: 0, host: '127.0.0.1' });

    // The creator's earnings pay for the boost (a fund payment: available at once).
    await t.db.transaction(async (tx) => {
      const earnings = await platform.ledger.accountId({ ownerId: demo.creator.userId, kind: 'earnings' }, tx);
      const issuance = await platform.ledger.accountId({ ownerId: null, kind: 'issuance' }, tx);
      await platform.ledger.transferIn(tx, {
        idempotencyKey: `e2e-earnings:${randomUUID()}`,
        code: 'fund',
        postings: [
          { accountId: issuance, amountDiamonds: -500 },
          { accountId: earnings, amountDiamonds: 500 },
        ],
        metadata: { description: 'Earnings for the boost journey' },
      });
    });
    const [post] = (await listCreatorContent(t.db, demo.creator.userId)).filter((c) => c.priceDiamonds !== null);
    assert.ok(post, 'the demo creator has a priced post');
    postTitle = post.title;
    const created = await fetch(`${platform.url}/v1/boosts`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${demo.site.secretKey}`, 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() },
      body: JSON.stringify({ itemId: post.id, budgetDiamonds: 100, endsAt: Date.now() + 3_600_000, url: `${examples.creatorSiteUrl}/` }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    boostId = ((await created.json()) as { id: string }).id;

    mkdirSync(SCREENSHOTS, { recursive: true });
    context = await browser.newContext({ locale: 'en-US', viewport: { width: 390, height: 844 } });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await examples?.close();
    await platform?.close();
    if (t) {
      const report = await verifyLedger(t.db);
      assert.ok(report.ok, formatVerifyReport(report));
      await t.drop();
    }
  });

  it('shows the boosted post, and counts no impression while it is off screen', async () => {
    // A short window first: the element is below the fold.
    await page.setViewportSize({ width: 390, height: 240 });
    await page.goto(examples.shopUrl);
    const card = page.locator('diamond-discover [part~="item"]', { hasText: postTitle });
    await card.waitFor({ state: 'attached' });
    assert.match((await card.textContent()) ?? '', /by Demo Creator/);
    assert.equal(await card.isVisible(), true, 'rendered');
    const below = await card.evaluate((el) => el.getBoundingClientRect().top >= window.innerHeight);
    assert.ok(below, 'the card is below the fold');
    // Longer than the second it takes to count, and than a batch: still nothing counted.
    await page.waitForTimeout(1_600);
    assert.deepEqual(await stats(), { impressions: 0, clicks: 0 });
  });

  it('counts one impression once the card has been on screen for a second', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const card = page.locator('diamond-discover [part~="item"]', { hasText: postTitle });
    await card.scrollIntoViewIfNeeded();
    const seen = await until((s) => s.impressions === 1);
    assert.equal(seen.clicks, 0);
    await page.screenshot({ path: `${SCREENSHOTS}discover-shop-light.png`, fullPage: true });
  });

  it('a click is counted and leads to the post on the creator’s site', async () => {
    const link = page.locator('diamond-discover [part~="link"]', { hasText: postTitle });
    await Promise.all([page.waitForURL(`${examples.creatorSiteUrl}/`), link.click()]);
    await until((s) => s.clicks === 1);
    assert.equal((await stats()).impressions, 1, 'the same viewer is not counted twice');
    await page.locator('diamond-paywall').waitFor();
  });

  it('is accessible at 390×844 in light and dark (axe)', async () => {
    // axe is injected as a script, which the shop's CSP (Trusted Types) refuses: a page of its own, CSP bypassed.
    const axeContext = await browser.newContext({ locale: 'en-US', viewport: { width: 390, height: 844 }, bypassCSP: true });
    try {
      const axePage = await axeContext.newPage();
      await axePage.goto(examples.shopUrl);
      await axePage.locator('diamond-discover [part~="item"]', { hasText: postTitle }).waitFor();
      await assertAxeClean(axePage, 'the shop with <diamond-discover> (light)');
      await axePage.emulateMedia({ colorScheme: 'dark' });
      await axePage.screenshot({ path: `${SCREENSHOTS}discover-shop-dark.png`, fullPage: true });
      await assertAxeClean(axePage, 'the shop with <diamond-discover> (dark)');
    } finally {
      await axeContext.close();
    }
  });

  it('the creator’s boosts page and the discover page are accessible at 390×844, light and dark (axe)', async () => {
    const user = await findUser(t.db, demo.creator.userId);
    assert.ok(user);
    const { token } = await createSession(t.db, user);
    for (const colorScheme of ['light', 'dark'] as const) {
      // CSP bypassed only so that axe can be injected.
      const hosted = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme, bypassCSP: true });
      try {
        await hosted.addCookies([{ name: SESSION_COOKIE, value: token, url: platform.url }]);
        const hostedPage = await hosted.newPage();
        await hostedPage.goto(`${platform.url}/dashboard/boosts`);
        await hostedPage.locator(`[data-boost="${boostId}"]`).waitFor();
        assert.match((await hostedPage.locator(`[data-boost="${boostId}"] [data-stat="clicks"]`).textContent()) ?? '', /^1$/);
        await assertAxeClean(hostedPage, `/dashboard/boosts (${colorScheme})`);
        await hostedPage.screenshot({ path: `${SCREENSHOTS}discover-boosts-page-${colorScheme}.png`, fullPage: true });
        await hostedPage.goto(`${platform.url}/discover`);
        await hostedPage.locator(`[data-boost="${boostId}"]`).waitFor();
        await assertAxeClean(hostedPage, `/discover (${colorScheme})`);
      } finally {
        await hosted.close();
      }
    }
  });
});
