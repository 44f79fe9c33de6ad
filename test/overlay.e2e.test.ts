// Stream alerts for OBS in real Chromium (issue 15), with two platform processes on one
// PostgreSQL database: the creator makes the overlay URL and sets its options on their live page
// (served by the first process; axe clean, light and dark); the overlay page, in another browser
// context as OBS would hold it, is opened on the SECOND process; fans' gifts sent through the
// first process's API show there one at a time: the fan's name, the gift's art, "×3" as a combo
// grows, the goal bar advancing; a test alert from the live page goes the same way; the page says
// "Connected" (the overlay's process stamped the database); regenerating the URL ends the old
// overlay, which then shows it was replaced. With DIAMONDS_SHOTS_DIR set, it saves the overlay's
// screenshot for docs/live.md (docs/guides/images/live-overlay.png).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { openPostgres, startServer, type RunningServer } from '@diamonds/server';
import {
  createSession,
  findUser,
  sendOk,
  SESSION_COOKIE,
  skipUnlessPostgres,
  startMoneyHarness,
  type MoneyHarness,
  type TestFan,
} from '@diamonds/server/testing';
import { assertAxeClean, chromiumMissing, launchChromium } from './browser.js';

const SHOTS = process.env.DIAMONDS_SHOTS_DIR;

// Skipped only outside CI when Chromium or PostgreSQL is missing (a failure under CI=true).
const skip = chromiumMissing('the stream alerts end-to-end test') || (await skipUnlessPostgres('postgres'));

describe('stream alerts in OBS: a gift through one process, shown by the overlay on another (Chromium, PostgreSQL)', { skip }, () => {
  let h: MoneyHarness;
  let other: RunningServer | undefined;
  let closeOtherDb: (() => Promise<void>) | undefined;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let grace: TestFan;
  let alan: TestFan;

  before(async () => {
    browser = await launchChromium();
    h = await startMoneyHarness('postgres');
    const url = h.t.settings.databaseUrl;
    assert.ok(url);
    const otherDb = openPostgres({ connectionString: url });
    closeOtherDb = () => otherDb.close();
    other = await startServer({ port: 0, host: '127.0.0.1', db: otherDb, databaseUrl: url });
    [grace, alan] = await Promise.all([
      h.fan({ allowance: 100_000, balance: 10_000, name: 'Grace' }),
      h.fan({ allowance: 100_000, balance: 10_000, name: 'Alan' }),
    ]);
  });
  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await other?.close();
    await closeOtherDb?.();
    await h?.verifyClean();
    await h?.close();
  });

  /** The creator signed in on the first process (axe is injected: CSP bypassed in this context only). */
  async function creatorPage(colorScheme: 'light' | 'dark'): Promise<Page> {
    const user = await findUser(h.t.db, h.creator.id);
    assert.ok(user);
    const { token } = await createSession(h.t.db, user);
    const context = await browser.newContext({ colorScheme, viewport: { width: 1280, height: 900 }, bypassCSP: true });
    contexts.push(context);
    await context.addCookies([{ name: SESSION_COOKIE, value: token, url: h.server.url, httpOnly: true, sameSite: 'Lax' }]);
    const page = await context.newPage();
    await page.goto(`${h.server.url}/account/live`);
    return page;
  }

  it('shows the alerts, the combo, the goal and a test alert; says "Connected"; a regenerated URL shows it was replaced', async () => {
    const live = await creatorPage('light');
    // The goal, and short alerts for the test.
    await live.getByLabel('Goal', { exact: true }).fill('New microphone');
    await live.getByLabel('Target (Diamonds)').fill('300');
    await live.getByRole('button', { name: 'Set goal' }).click();
    await live.waitForURL(/\/account\/live$/);
    await live.getByLabel('Alert duration (seconds)').fill('3');
    await live.getByLabel('Gap between alerts (seconds)').fill('0');
    await live.getByLabel('Play a chime with each alert').check();
    await live.getByLabel('Read messages aloud (text-to-speech)').check();
    await live.getByRole('button', { name: 'Save overlay options' }).click();
    await live.getByText('Overlay options saved').waitFor();
    await live.getByRole('button', { name: 'Create overlay URL' }).click();
    const overlayUrl = await live.getByLabel('Overlay URL', { exact: true }).inputValue();
    assert.match(overlayUrl, /\/live\/overlay\/ov_[\w-]{32}$/);
    await assertAxeClean(live, 'the live page with the overlay URL shown (light)');

    // OBS: a 1920×1080 browser source, on the other process, with the page's own CSP.
    const obs = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    contexts.push(obs);
    const overlay = await obs.newPage();
    const errors: string[] = [];
    overlay.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    assert.ok(other);
    await overlay.goto(overlayUrl.replace(h.server.url, other.url));
    await overlay.locator('body[data-connected="on"]').waitFor();
    await overlay.locator('#goal').waitFor();
    assert.equal(await overlay.locator('#goal-count').textContent(), '0 / 300');
    assert.equal(await overlay.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgba(0, 0, 0, 0)', 'transparent');

    // Three roses from Grace within the combo window: one alert, its count growing to ×3.
    for (let i = 0; i < 3; i++) await sendOk(h, grace, { creatorId: h.creator.id, giftId: 'rose', quantity: 1 }, 201);
    // Then a cake from Alan, with a message: the next alert, after the roses'.
    await sendOk(h, alan, { creatorId: h.creator.id, giftId: 'cake', quantity: 1, message: 'Play the new song!' }, 201);
    const alert = overlay.locator('#alert');
    await alert.waitFor();
    assert.equal(await overlay.locator('#alert-fan').textContent(), 'Grace');
    assert.equal(await overlay.locator('#alert-gift').textContent(), 'Rose');
    assert.match((await overlay.locator('#alert-art').getAttribute('src')) ?? '', /\/gifts\/rose\.svg$/);
    assert.equal(await alert.getAttribute('data-animation'), 'float');
    await overlay.locator('#alert-combo', { hasText: '×3' }).waitFor();
    assert.equal(await overlay.locator('body').getAttribute('data-shown'), '1', 'the combo updated the alert, not queued new ones');
    assert.ok(
      await overlay
        .locator('#alert-art')
        .evaluate((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0),
      'the art loaded',
    );
    // The goal bar advances with every gift (3 × 5 + 100 of 300 Diamonds).
    await overlay.locator('#goal-count', { hasText: /^115 \/ 300$/ }).waitFor();
    assert.equal(await overlay.locator('#goal-bar').getAttribute('aria-valuenow'), '38');
    assert.equal(await overlay.locator('#goal-fill').evaluate((fill) => (fill as HTMLElement).style.width), '38%');
    if (SHOTS) {
      // For the docs: the preview's checkerboard stands for the stream behind the transparent page.
      await overlay.evaluate(() => document.body.classList.add('preview'));
      await overlay.waitForTimeout(700);
      await overlay.screenshot({ path: join(SHOTS, 'live-overlay.png') });
      await overlay.evaluate(() => document.body.classList.remove('preview'));
    }

    // Alan's cake comes next, with its message; the goal moves on.
    await overlay.locator('#alert-fan', { hasText: 'Alan' }).waitFor({ timeout: 15_000 });
    assert.equal(await overlay.locator('#alert-message').textContent(), 'Play the new song!');
    assert.equal(await alert.getAttribute('data-animation'), 'burst');
    assert.equal(await overlay.locator('#alert-combo').textContent(), '');
    assert.equal(await overlay.locator('body').getAttribute('data-chimes'), '2');
    assert.equal(await overlay.locator('body').getAttribute('data-spoken'), '1', 'the message read aloud (Grace sent none)');

    // The creator's page, on the first process, sees the overlay connected to the second.
    await live.goto(`${h.server.url}/account/live`);
    assert.match((await live.locator('#overlay-status').textContent()) ?? '', /Connected/);

    // A test alert: through the outbox and the fold, to the overlay, marked as a test.
    await live.getByLabel('Gift', { exact: true }).selectOption('star');
    await live.getByLabel('Message (optional)').fill('Testing, one, two');
    await live.getByRole('button', { name: 'Send a test alert' }).click();
    await live.getByText('Test alert sent').waitFor();
    await overlay.locator('#alert-fan', { hasText: 'Test fan' }).waitFor({ timeout: 15_000 });
    assert.equal(await overlay.locator('#alert-message').textContent(), 'Testing, one, two');
    assert.ok(await overlay.locator('.test-badge').isVisible(), 'marked as a test');
    assert.equal(await overlay.locator('#goal-count').textContent(), '115 / 300', 'a test alert counts nothing');

    // Dark mode, the page with its status and forms; the creator's preview shows a sample alert.
    const dark = await creatorPage('dark');
    await assertAxeClean(dark, 'the live page (dark)');
    await dark.getByRole('link', { name: 'Preview the overlay' }).click();
    await dark.locator('body.preview #alert-combo', { hasText: '×3' }).waitFor();
    assert.equal(await dark.locator('#alert-fan').textContent(), 'A fan');

    // Regenerating: the open overlay's stream ends at its next beat; it then shows it was replaced.
    await live.getByRole('button', { name: 'Regenerate overlay URL' }).click();
    const newUrl = await live.getByLabel('Overlay URL', { exact: true }).inputValue();
    assert.notEqual(newUrl, overlayUrl);
    await overlay.getByRole('heading', { name: 'This overlay URL was replaced' }).waitFor({ timeout: 30_000 });
    assert.deepEqual(
      errors.filter((e) => !/410|Failed to load resource/.test(e)),
      [],
      'no script errors on the overlay',
    );
  });
});
