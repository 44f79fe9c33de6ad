// A creator pastes the drop-in script and the elements into a page on an origin their site does
// not list (here 127.0.0.2, loopback but not one of the demo site's origins), in real Chromium.
// The elements must say what is wrong and what to do (on the page and, for the site's owner, on
// the console) instead of "Cannot reach Diamonds", and the page must get none of the site's data.
// On SQLite only: no database work is involved beyond reading the key.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { startServer, type RunningServer } from '@diamonds/server';
import { seedDemo, type DemoData, DROP_IN_FILE, createTestDatabase, type TestDatabase } from '@diamonds/server/testing';
import { chromiumMissing, launchChromium } from './browser.js';

// Skipped only outside CI when Debian's Chromium is missing (a loud warning; under CI=true a failure).
const noBrowser = chromiumMissing('the unlisted-origin end-to-end test');

// noBrowser (above): skipped only outside CI, loudly, when Chromium is missing.
describe('the elements on an origin the site does not list, in Chromium', { skip: noBrowser }, () => {
  let t: TestDatabase;
  let platform: RunningServer;
  let demo: DemoData;
  let contentId: string;
  let page: Server;
  let pageUrl: string;
  let browser: Browser;

  before(async () => {
    assert.ok(existsSync(DROP_IN_FILE), `${DROP_IN_FILE} is missing: run npm run build first`);
    browser = await launchChromium();
    t = await createTestDatabase('sqlite');
    platform = await startServer({ port: 0, db: t.db });
    demo = (await seedDemo(t.db, t.settings.dataDir)).demo as DemoData;
    const [content] = await t.db.query<{ id: string }>('SELECT id FROM content WHERE site_id = ? LIMIT 1', [demo.site.id]);
    contentId = content?.id ?? 'ct_none';
    page = createServer((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      response.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A creator's page</title>
<script type="module" src="${platform.url}/sdk/diamonds.js"></script></head><body>
<diamond-gift-button publishable-key="${demo.site.publishableKey}" creator="${demo.creator.userId}" gift="rose"></diamond-gift-button>
<diamond-paywall publishable-key="${demo.site.publishableKey}" content="${contentId}"></diamond-paywall>
</body></html>`);
    });
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.2', resolve));
    pageUrl = `http://127.0.0.2:${(page.address() as AddressInfo).port}`;
    assert.ok(!demo.site.origins.some((origin) => origin.startsWith('http://127.0.0.2')), 'the page’s origin is not listed');
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (page ? page.close(resolve) : resolve(undefined)));
    await platform?.close();
    if (t) await t.drop();
  });

  it('says which origin to add and where, on the page and once on the console, and shows none of the site’s data', async () => {
    const context = await browser.newContext();
    const tab = await context.newPage();
    const consoleErrors: string[] = [];
    tab.on('console', (message) => {
      if (message.type() === 'error' && message.text().includes('[diamonds:')) consoleErrors.push(message.text());
    });
    await tab.goto(pageUrl);
    const expected = `Diamonds is not set up for ${pageUrl}. If this is your site, add it to its allowed origins on your Diamonds account page.`;
    for (const tag of ['diamond-gift-button', 'diamond-paywall']) {
      const alert = tab.locator(`${tag} [part~="error"]`);
      await alert.filter({ hasText: 'not set up' }).waitFor({ timeout: 10_000 });
      assert.equal((await alert.textContent())?.trim(), expected, tag);
    }
    assert.equal(consoleErrors.length, 1, `one console error for the owner: ${consoleErrors.join('\n')}`);
    assert.match(consoleErrors[0]!, /\[diamonds:origin_not_allowed\] The origin "http:\/\/127\.0\.0\.2:\d+" is not allowed/);
    assert.ok(consoleErrors[0]!.includes(`Add ${pageUrl} on ${platform.url}/account.`), consoleErrors[0]);
    // Nothing of the site came through: no teaser, no title, no gift price.
    assert.equal(await tab.locator('diamond-paywall [part~="title"]').count(), 0);
    assert.equal((await tab.locator('diamond-paywall [part~="teaser"]').textContent())?.trim(), '');
    assert.equal((await tab.locator('diamond-gift-button [part~="button"]').textContent())?.trim(), 'Send rose');
    await context.close();
  });
});
