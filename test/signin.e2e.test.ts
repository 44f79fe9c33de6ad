import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext } from 'playwright-core';
import { startServer, type RunningServer } from '@diamonds/server';
import { seedDemo, type DemoData } from '../packages/server/src/identity/demo.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../packages/server/src/testing/databases.js';
import { chromiumMissing, launchChromium } from './browser.js';

const SCREENSHOTS = new URL('../test-results/', import.meta.url).pathname;

/**
 * A third-party page, as a creator's site would be: it runs the popup sign-in by hand (PKCE,
 * a popup opened in the click, long polling), since the SDK that wraps it has its own issue.
 */
function thirdPartyPage(platform: string, publishableKey: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A creator's page</title></head>
<body>
<button id="signin">Sign in with Diamonds</button>
<button id="check">Check</button>
<output id="status">signed out</output>
<iframe id="framed" title="framed sign-in" src="${platform}/signin" width="300" height="200"></iframe>
<script type="module">
const api = (path, body, token) => fetch('${platform}/v1' + path, {
  method: body ? 'POST' : 'GET',
  headers: { Authorization: 'Bearer ${publishableKey}', ...(body ? { 'Content-Type': 'application/json' } : {}), ...(token ? { 'Diamonds-Token': token } : {}) },
  body: body ? JSON.stringify(body) : undefined,
});
const status = document.getElementById('status');
let token;
// A page must not trust messages; the popup sends none.
window.addEventListener('message', (event) => { status.dataset.forged = String(event.data); });
document.getElementById('signin').addEventListener('click', async () => {
  const popup = window.open('about:blank', 'diamonds-signin', 'popup,width=480,height=640');
  window.signInPopup = popup;
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const verifier = b64(bytes);
  const codeChallenge = b64(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const request = await (await api('/signin-requests', { codeChallenge, codeChallengeMethod: 'S256' })).json();
  popup.location.href = request.url;
  for (let i = 0; i < 60; i++) {
    const poll = await (await api('/signin-requests/' + request.id + '/poll', { codeVerifier: verifier, waitMs: 2000 })).json();
    if (poll.status === 'approved') { token = poll.tokens.accessToken; break; }
    if (poll.status !== 'pending') { status.textContent = poll.status; return; }
  }
  const me = await (await api('/me', null, token)).json();
  status.textContent = 'signed in as ' + me.fan.displayName + ', allowance ' + me.allowancePerDay;
});
document.getElementById('check').addEventListener('click', async () => {
  const response = await api('/me', null, token);
  const body = await response.json();
  status.textContent = response.ok ? 'still signed in' : 'refused: ' + body.error.code;
});
</script>
</body></html>`;
}

// Skipped only outside CI, loudly, when Debian's Chromium is not installed or (for the
// PostgreSQL run) PostgreSQL is unreachable; under CI=true either throws instead.
const noBrowser = chromiumMissing('the browser end-to-end test');

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = noBrowser || (await skipUnlessPostgres(kind));
  describe(`popup sign-in in Chromium, across two origins, on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let platform: RunningServer;
    let site: Server;
    let siteUrl: string;
    let demo: DemoData;
    let browser: Browser;
    let context: BrowserContext;

    before(async () => {
      browser = await launchChromium();
      t = await createTestDatabase(kind);
      // The platform on localhost, the creator's page on 127.0.0.1: two origins.
      platform = await startServer({ port: 0, db: t.db });
      const seeded = await seedDemo(t.db, t.settings.dataDir);
      assert.ok(seeded.demo);
      demo = seeded.demo;
      site = createServer((_request, response) => {
        response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        response.end(thirdPartyPage(platform.url, demo.site.publishableKey));
      });
      await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
      siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
      context = await browser.newContext();
      mkdirSync(SCREENSHOTS, { recursive: true });
    });

    after(async () => {
      await browser?.close();
      await new Promise((resolve) => (site ? site.close(resolve) : resolve(undefined)));
      await platform?.close();
      if (t) await t.drop();
    });

    it('signs a fan in through the popup with an allowance; disconnecting on the account page stops the token', async () => {
      assert.notEqual(new URL(siteUrl).origin, new URL(platform.url).origin);
      const page = await context.newPage();
      await page.goto(siteUrl);

      // The hosted page refuses to be framed: the frame holds no sign-in form.
      const framed = page.frames().find((frame) => frame !== page.mainFrame());
      assert.ok(framed);
      assert.equal(await framed.locator('input[name="email"]').count(), 0, 'the sign-in page rendered inside a frame');

      const [popup] = await Promise.all([
        context.waitForEvent('page'),
        page.getByRole('button', { name: 'Sign in with Diamonds' }).click(),
      ]);
      // The popup starts blank in the click (so no blocker stops it), then goes to the platform.
      await popup.waitForURL(/\/signin\?/, { waitUntil: 'commit' });
      // The page keeps its handle (COOP unsafe-none on popup pages), so it can tell when the fan
      // closes the popup, and nothing more: the platform's page stays unreadable to it.
      assert.equal(await page.evaluate(() => (window as unknown as { signInPopup: Window }).signInPopup.closed), false);
      assert.equal(
        await page.evaluate(() => {
          try {
            return (window as unknown as { signInPopup: Window }).signInPopup.document.title;
          } catch {
            return 'unreadable';
          }
        }),
        'unreadable',
      );
      await popup.getByLabel('Email').fill(demo.fan.email);
      await popup.getByLabel('Password').fill(demo.fan.password);
      await popup.getByRole('button', { name: /sign in/i }).click();
      await popup.waitForURL(/\/signin\/authorize/, { waitUntil: 'commit' });
      const consent = await popup.textContent('main');
      assert.match(consent ?? '', /Demo site/);
      assert.match(consent ?? '', new RegExp(siteUrl.replace(/[.:/]/g, '\\$&')), 'the consent screen names the requesting origin');
      await popup.screenshot({ path: `${SCREENSHOTS}signin-consent-${kind}.png` });
      await popup.getByLabel('50 Diamonds a day').check();
      await popup.getByRole('button', { name: 'Connect' }).click();

      await page.getByText('signed in as Demo Fan, allowance 50').waitFor({ timeout: 15_000 });
      await page.screenshot({ path: `${SCREENSHOTS}signin-signed-in-${kind}.png` });
      // A forged message changes nothing the page relies on.
      await page.evaluate(() => window.postMessage({ status: 'approved', token: 'dat_forged' }, '*'));
      await page.getByRole('button', { name: 'Check' }).click();
      await page.getByText('still signed in').waitFor();

      // The fan disconnects the site on the platform's account page (same browser, signed in).
      const account = await context.newPage();
      await account.goto(`${platform.url}/account`);
      await account.getByRole('button', { name: 'Disconnect Demo site' }).click();
      await account.waitForURL(/\/account/);
      assert.doesNotMatch((await account.textContent('main')) ?? '', /Disconnect Demo site/);

      await page.getByRole('button', { name: 'Check' }).click();
      await page.getByText('refused: invalid_token').waitFor();
    });
  });
}
