// A new fan signs up from a site's sign-in popup, in real Chromium, across two origins (the
// platform on localhost, the creator's page on 127.0.0.1 running the SDK bundle): sign-in,
// "Create an account", the emailed 6-digit code, then the consent of the same sign-in request,
// and the page is signed in. While the fan is busy in the popup the page never says the window
// was closed. On SQLite only: the database plays no part the pages' suite does not run on both.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startServer, type RunningServer } from '@diamonds/server';
import { seedDemo, type DemoData, findConnection, findUserByEmail, createTestDatabase, type TestDatabase } from '@diamonds/server/testing';
import { chromiumMissing, launchChromium } from './browser.js';
import { bundleSdk, startSdkPage, type SdkPageServer } from './sdk-page.js';

// Skipped only outside CI when Debian's Chromium is missing (a loud warning; under CI=true a failure).
const noBrowser = chromiumMissing('the sign-up popup end-to-end test');

// noBrowser (above): skipped only outside CI, loudly, when Chromium is missing.
describe('signing up from a site’s sign-in popup, in Chromium', { skip: noBrowser }, () => {
  let t: TestDatabase;
  let platform: RunningServer;
  let demo: DemoData;
  let site: SdkPageServer;
  let browser: Browser;
  const mailDir = mkdtempSync(join(tmpdir(), 'diamonds-signup-popup-mail-'));

  /** The code in the newest email to `to`, once it is there. */
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
    throw new Error(`no code mailed to ${to}`);
  }

  /** What the page's `#result` says (test/sdk-page.ts): `signin: working` until the SDK's call ends. */
  const result = (page: Page) => page.locator('#result').textContent();

  before(async () => {
    browser = await launchChromium();
    t = await createTestDatabase('sqlite');
    platform = await startServer({ port: 0, db: t.db, mailDir });
    demo = (await seedDemo(t.db, t.settings.dataDir)).demo as DemoData;
    const [content] = await t.db.query<{ id: string }>('SELECT id FROM content WHERE site_id = ? LIMIT 1', [demo.site.id]);
    site = await startSdkPage(await bundleSdk(), {
      publishableKey: demo.site.publishableKey,
      apiBase: platform.url,
      creatorId: demo.creator.userId,
      contentId: content?.id ?? 'ct_none',
    });
  });

  after(async () => {
    await browser?.close();
    await site?.close();
    await platform?.close();
    if (t) await t.drop();
    rmSync(mailDir, { recursive: true, force: true });
  });

  it('creates the account, confirms the emailed code and connects the site in the same popup; the page never says closed', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(site.url);
    const [popup] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
    await popup.waitForURL(/\/signin\?next=/);

    await popup.getByRole('link', { name: 'Create an account' }).click();
    await popup.waitForURL(/\/signup\?next=/);
    await popup.getByLabel('Email').fill('newcomer@example.com');
    await popup.getByLabel('Password').fill('a long enough password');
    await popup.getByLabel('Display name').fill('Newcomer');
    await popup.getByLabel('Fan: I spend Diamonds').check();
    await popup.getByRole('button', { name: 'Create account' }).click();
    await popup.getByRole('heading', { name: 'Check your email' }).waitFor();
    assert.equal(await result(page), 'signin: working', 'the popup is open and the page still waits for it');

    await popup.getByLabel('Code').fill(await codeMailedTo('newcomer@example.com'));
    await popup.getByRole('button', { name: 'Create account' }).click();
    // The same sign-in request, now for the new fan: its consent, in the same popup.
    await popup.waitForURL(/\/signin\/authorize\?request=sir_/);
    await popup.getByRole('heading', { name: `Connect ${demo.site.name}?` }).waitFor();
    assert.equal(await result(page), 'signin: working', 'still waiting, not "closed"');
    assert.equal(await popup.evaluate(() => window.opener !== null), true, 'the popup kept its opener');

    await popup.getByRole('button', { name: 'Connect' }).click();
    await page.getByText('signin: welcome Newcomer').waitFor({ timeout: 15_000 });
    await page.locator('#session', { hasText: 'signed in as Newcomer' }).waitFor();
    const user = await findUserByEmail(t.db, 'newcomer@example.com');
    assert.ok(user, 'the account exists');
    assert.ok(await findConnection(t.db, user.id, demo.site.id), 'the site is connected');
    await context.close();
  });
});
