// The Vue 3 recipe (docs/guides/vue.md, whose code is examples/vue/) built as its reader would:
// `vite build` with the example's own vite.config.js (@vitejs/plugin-vue, `isCustomElement`),
// then run in Chromium. Vue leaves the <diamond-…> tags to the browser (a development build of
// Vue warns "Failed to resolve component" otherwise), `:quantity.prop` sets the element's
// property (a number) and follows the Vue state, and `@diamond-…` listeners receive the
// elements' events. Uses the built @diamonds/elements (`npm test` builds first).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launchChromium } from './browser.js';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;

// Skipped only outside CI when Debian's Chromium is missing (a loud warning; under CI=true a failure).
const noBrowser = chromiumMissing('the Vue recipe test');

// noBrowser (above): skipped only outside CI, loudly, when Chromium is missing.
describe('the Vue 3 recipe (examples/vue, built by vite) in Chromium', { skip: noBrowser }, () => {
  let out: string;
  let server: Server;
  let browser: Browser;
  let page: Page;
  const console: string[] = [];
  const errors: string[] = [];

  before(async () => {
    assert.ok(
      existsSync(join(ROOT, 'packages/elements/dist/define-all.js')),
      'packages/elements/dist is missing: run `npm run build` first',
    );
    out = mkdtempSync(join(tmpdir(), 'diamonds-vue-'));
    // NODE_ENV=development: Vue's development build, which warns about tags it cannot resolve.
    await run(
      process.execPath,
      [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'],
      {
        cwd: join(ROOT, 'examples/vue'),
        env: { ...process.env, NODE_ENV: 'development' },
      },
    );
    server = createServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      const file = join(out, path === '/' ? 'index.html' : path);
      if (!file.startsWith(out) || !existsSync(file)) return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': extname(file) === '.js' ? 'text/javascript' : 'text/html' }).end(readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('console', (message) => console.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => document.querySelector('diamond-gift-button')?.shadowRoot);
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it("is Vue's development build, and Vue leaves every <diamond-…> tag to the browser", async () => {
    const built = readdirSync(join(out, 'assets'))
      .filter((name) => name.endsWith('.js'))
      .map((name) => readFileSync(join(out, 'assets', name), 'utf8'))
      .join('\n');
    assert.ok(built.includes('[Vue warn]'), "the bundle is Vue's development build, which warns");
    const upgraded = await page.evaluate(() =>
      ['diamond-provider', 'diamond-wallet', 'diamond-gift-button'].map((tag) => {
        const element = document.querySelector(tag);
        return `${tag}: ${element instanceof (customElements.get(tag) ?? class {}) && element.shadowRoot !== null}`;
      }),
    );
    assert.deepEqual(upgraded, ['diamond-provider: true', 'diamond-wallet: true', 'diamond-gift-button: true']);
    assert.deepEqual(
      console.filter((line) => line.includes('[Vue warn]')),
      [],
    );
    assert.deepEqual(errors, []);
  });

  it('`:quantity.prop` sets the property (a number, no attribute), and follows the Vue state', async () => {
    const read = () =>
      page.evaluate(() => {
        const button = document.querySelector('diamond-gift-button') as HTMLElement & { quantity: unknown };
        return { quantity: button.quantity, attribute: button.getAttribute('quantity'), creatorName: button.getAttribute('creator-name') };
      });
    assert.deepEqual(await read(), { quantity: 1, attribute: null, creatorName: 'Ada' });
    await page.getByLabel('Roses').fill('7');
    await page.waitForFunction(() => (document.querySelector('diamond-gift-button') as HTMLElement & { quantity: number }).quantity === 7);
    assert.deepEqual(await read(), { quantity: 7, attribute: null, creatorName: 'Ada' });
  });

  it('`@diamond-gift-sent` and `@diamond-error` listeners receive the element’s events', async () => {
    await page.evaluate(() => {
      const button = document.querySelector('diamond-gift-button')!;
      // What the element dispatches when the ledger accepted a gift (bubbling, composed, with the gift).
      button.dispatchEvent(
        new CustomEvent('diamond-gift-sent', { detail: { quantity: 7, giftName: 'Rose' }, bubbles: true, composed: true }),
      );
    });
    await page.getByText('Thank you for 7 × Rose!').waitFor();
    await page.evaluate(() => {
      const error = Object.assign(new Error('declined'), { code: 'confirmation_declined' });
      document
        .querySelector('diamond-gift-button')!
        .dispatchEvent(new CustomEvent('diamond-error', { detail: { error }, bubbles: true, composed: true }));
    });
    await page.getByText('Not sent: confirmation_declined').waitFor();
    assert.deepEqual(errors, []);
  });
});
