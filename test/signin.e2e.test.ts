import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext } from 'playwright-core';
import { randomBytes } from 'node:crypto';
import { startServer, type RunningServer } from '@diamonds/server';
import {
  pkceChallenge,
  formatVerifyReport,
  verifyLedger,
  seedDemo,
  type DemoData,
  DATABASE_KINDS,
  createTestDatabase,
  skipUnlessPostgres,
  type TestDatabase,
} from '@diamonds/server/testing';
import { chromiumMissing, launchChromium } from './browser.js';

const SCREENSHOTS = new URL('../test-results/', import.meta.url).pathname;

/**
 * A third-party page, as a creator's site would be: it runs the popup sign-in by hand, as the
 * protocol says (PKCE, a popup opened in the click, the one-time code the popup posts back,
 * exchanged with a DPoP proof by a non-extractable key), without the SDK that wraps it.
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
const platform = new URL('${platform}').origin;
const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
const utf8 = (text) => new TextEncoder().encode(text);
const enc = (value) => b64(utf8(JSON.stringify(value)));
// DPoP: a key pair the page's scripts can use but never read out.
const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', keys.publicKey);
const proof = async (method, url, token) => {
  const claims = { htm: method, htu: url, iat: Math.floor(Date.now() / 1000), jti: crypto.randomUUID() };
  if (token) claims.ath = b64(await crypto.subtle.digest('SHA-256', utf8(token)));
  const input = enc({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } }) + '.' + enc(claims);
  return input + '.' + b64(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, utf8(input)));
};
const api = async (path, body, token) => {
  const url = '${platform}/v1' + path;
  const method = body ? 'POST' : 'GET';
  const headers = { Authorization: 'Bearer ${publishableKey}' };
  if (body) headers['Content-Type'] = 'application/json';
  if (token) headers['Diamonds-Token'] = token;
  if (token || path.endsWith('/exchange')) headers.DPoP = await proof(method, url, token);
  return fetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined });
};
const status = document.getElementById('status');
let token;
// Every message this window receives, for the test to read.
window.messages = [];
window.addEventListener('message', (event) => {
  window.messages.push({ origin: event.origin, data: event.data });
  status.dataset.forged = String(event.data);
});
document.getElementById('signin').addEventListener('click', async () => {
  const popup = window.open('about:blank', 'diamonds-signin', 'popup,width=480,height=640');
  window.signInPopup = popup;
  const verifier = b64(crypto.getRandomValues(new Uint8Array(32)));
  const codeChallenge = b64(await crypto.subtle.digest('SHA-256', utf8(verifier)));
  const request = await (await api('/signin-requests', { codeChallenge, codeChallengeMethod: 'S256' })).json();
  // The code comes only from this popup, and only from the platform's origin.
  const code = new Promise((resolve) => {
    window.addEventListener('message', function listener(event) {
      if (event.source !== popup || event.origin !== platform) return;
      if (event.data?.type !== 'diamonds:signin' || event.data.request !== request.id) return;
      window.removeEventListener('message', listener);
      resolve(event.data.code);
    });
  });
  popup.location.href = request.url;
  const grant = await (await api('/signin-requests/' + request.id + '/exchange', { codeVerifier: verifier, code: await code })).json();
  if (!grant.tokens) { status.textContent = 'exchange refused: ' + grant.error.code; return; }
  token = grant.tokens.accessToken;
  window.stolenToken = token;
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

/**
 * A hostile page on another loopback origin (one the site does not list). Its backend opened a
 * sign-in request for the real site, from Node with a forged Origin; the page opens that
 * request's consent page in a popup from a click, and records every message it receives.
 */
function hostilePage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Win a prize</title></head>
<body>
<button id="lure">Claim your prize</button>
<script type="module">
window.messages = [];
window.addEventListener('message', (event) => window.messages.push({ origin: event.origin, data: event.data }));
document.getElementById('lure').addEventListener('click', async () => {
  const { url } = await (await fetch('/request')).json();
  window.popup = window.open(url, 'prize', 'popup,width=480,height=640');
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
    let hostile: Server;
    let hostileUrl: string;
    /** The request the hostile backend opened for the real site, and its PKCE verifier. */
    let lure: { id: string; url: string; verifier: string } | undefined;

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
      // The attacker's site on 127.0.0.2: loopback, but no origin the demo site lists. Its
      // backend opens requests for the real site from Node, forging the site's Origin.
      hostile = createServer((request, response) => {
        if (request.url === '/request') {
          void (async () => {
            const verifier = randomBytes(32).toString('base64url');
            const opened = await fetch(`${platform.url}/v1/signin-requests`, {
              method: 'POST',
              headers: { Authorization: `Bearer ${demo.site.publishableKey}`, Origin: siteUrl, 'Content-Type': 'application/json' },
              body: JSON.stringify({ codeChallenge: pkceChallenge(verifier), codeChallengeMethod: 'S256' }),
            });
            const body = (await opened.json()) as { id: string; url: string };
            lure = { id: body.id, url: body.url, verifier };
            response.writeHead(200, { 'Content-Type': 'application/json' });
            response.end(JSON.stringify({ url: body.url }));
          })();
          return;
        }
        response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        response.end(hostilePage());
      });
      await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.2', resolve));
      hostileUrl = `http://127.0.0.2:${(hostile.address() as AddressInfo).port}`;
      context = await browser.newContext();
      mkdirSync(SCREENSHOTS, { recursive: true });
    });

    after(async () => {
      await browser?.close();
      await new Promise((resolve) => (site ? site.close(resolve) : resolve(undefined)));
      await new Promise((resolve) => (hostile ? hostile.close(resolve) : resolve(undefined)));
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
      // The code came to this page, from the platform, and only once.
      const received = await page.evaluate(() => (window as unknown as { messages: Array<{ origin: string; data: unknown }> }).messages);
      assert.deepEqual(
        received.filter((m) => (m.data as { type?: string } | null)?.type === 'diamonds:signin').map((m) => m.origin),
        [new URL(platform.url).origin],
      );

      // A script on the page can read the access token, but from Node (right key, right Origin)
      // it is useless without the page's DPoP key.
      const stolen = await page.evaluate(() => (window as unknown as { stolenToken: string }).stolenToken);
      const replayed = await fetch(`${platform.url}/v1/me`, {
        headers: { Authorization: `Bearer ${demo.site.publishableKey}`, Origin: siteUrl, 'Diamonds-Token': stolen },
      });
      assert.equal(replayed.status, 401);
      assert.equal(((await replayed.json()) as { error: { code: string } }).error.code, 'invalid_dpop_proof');

      // The fan disconnects the site on the platform's account page (same browser, signed in).
      const account = await context.newPage();
      await account.goto(`${platform.url}/account`);
      await account.getByRole('button', { name: 'Disconnect Demo site' }).click();
      await account.waitForURL(/\/account/);
      assert.doesNotMatch((await account.textContent('main')) ?? '', /Disconnect Demo site/);

      await page.getByRole('button', { name: 'Check' }).click();
      await page.getByText('refused: invalid_token').waitFor();
    });

    it('a hostile page on another origin that opens the consent page of a request made for the site never gets the code; its backend gets no tokens', async () => {
      const [before] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM tokens');
      const [transfersBefore] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM transfers');
      const page = await context.newPage();
      await page.goto(hostileUrl);
      assert.notEqual(new URL(hostileUrl).origin, new URL(siteUrl).origin);
      const [popup] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Claim your prize' }).click()]);
      // The fan is still signed in on the platform (first test): the consent page shows at once,
      // naming the real site and its origin, and the lured fan connects.
      await popup.waitForURL(/\/signin\/authorize/, { waitUntil: 'commit' });
      await popup.getByRole('button', { name: 'Connect' }).click();
      await popup.getByText('Connected').first().waitFor();
      // The done page posts the code to the site's origin and closes itself 1.5 s later: once it
      // has closed, any message would have arrived.
      await popup.waitForEvent('close', { timeout: 10_000 });
      const received = await page.evaluate(() => (window as unknown as { messages: unknown[] }).messages);
      assert.deepEqual(received, [], 'the hostile page received nothing');

      // Its backend holds the request id and the verifier, but not the code: no tokens, ever.
      assert.ok(lure);
      const poll = await fetch(`${platform.url}/v1/signin-requests/${lure.id}/poll`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${demo.site.publishableKey}`, Origin: siteUrl, 'Content-Type': 'application/json' },
        body: JSON.stringify({ codeVerifier: lure.verifier }),
      });
      const polled = (await poll.json()) as { status: string; tokens?: unknown };
      assert.equal(polled.tokens, undefined, `the poll handed out tokens: ${JSON.stringify(polled)}`);
      const exchange = await fetch(`${platform.url}/v1/signin-requests/${lure.id}/exchange`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${demo.site.publishableKey}`, Origin: siteUrl, 'Content-Type': 'application/json' },
        body: JSON.stringify({ codeVerifier: lure.verifier, code: 'guessed' }),
      });
      assert.ok(exchange.status >= 400 && exchange.status < 500, String(exchange.status));
      const [after] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM tokens');
      const [transfersAfter] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM transfers');
      assert.equal(Number(after?.n), Number(before?.n), 'no tokens were issued');
      assert.equal(Number(transfersAfter?.n), Number(transfersBefore?.n), 'nothing moved');
      const report = await verifyLedger(t.db);
      assert.ok(report.ok, formatVerifyReport(report));
    });
  });
}
