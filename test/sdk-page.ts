// A creator's page on its own origin, running the real SDK bundle: what test/sdk.e2e.test.ts
// drives in Chromium. Every button calls the SDK straight from its click handler (so popups
// open inside the user gesture) and writes the outcome, or the error's code and name, to the
// `#result` output, where the test reads it.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** What the page needs to know about the platform and the demo data. */
export interface SdkPageConfig {
  /** The demo site's publishable key. */
  publishableKey: string;
  /** The platform's origin (another origin than the page's). */
  apiBase: string;
  /** The creator gifts go to (`usr_…`). */
  creatorId: string;
  /** The priced content the Unlock button unlocks (`ct_…`). */
  contentId: string;
}

/** A running page server: where the page is, and how to stop it. */
export interface SdkPageServer {
  /** The page's URL, on `127.0.0.1` (so its origin differs from a platform on `localhost`). */
  url: string;
  /** Stops the server. */
  close(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Bundles the SDK for the browser, as a site's build would: the entry makes one client from the
 * page's config and puts it on `window.diamonds`.
 *
 * @remarks Built from the sources (`conditions: ['source']`), so the test needs no `npm run build`.
 * @example
 * ```ts
 * const bundle = await bundleSdk();
 * ```
 */
export async function bundleSdk(): Promise<string> {
  const result = await build({
    stdin: {
      contents: `import { createDiamonds } from '@diamonds/sdk';
const { publishableKey, apiBase } = window.PAGE_CONFIG;
window.diamonds = createDiamonds({ publishableKey, apiBase });`,
      resolveDir: ROOT,
      sourcefile: 'sdk-page-entry.js',
      loader: 'js',
    },
    bundle: true,
    format: 'esm',
    write: false,
    conditions: ['source'],
    define: { 'process.env.NODE_ENV': '"production"' },
    platform: 'browser',
    logLevel: 'silent',
  });
  const [file] = result.outputFiles;
  if (!file) throw new Error('esbuild produced no bundle for the SDK page');
  return file.text;
}

/** The page's own script: runs after the SDK bundle has set `window.diamonds`. */
const PAGE_SCRIPT = `
const { diamonds, PAGE_CONFIG: config } = window;
const $ = (id) => document.getElementById(id);
const result = $('result');

// Records every window.open with whether it ran inside a click handler: the SDK looks
// window.open up at the moment of use, so this sees its calls.
let inClick = false;
window.opened = [];
const realOpen = window.open.bind(window);
window.open = (url, target, features) => {
  window.opened.push({ url: String(url), inClick });
  return realOpen(url, target, features);
};

diamonds.session.subscribe((session) => {
  $('session').textContent = session.status === 'signed_in' ? 'signed in as ' + session.fan.displayName : session.status;
});
diamonds.wallet.subscribe((wallet) => {
  $('wallet').textContent = wallet.status === 'ready' ? 'balance ' + wallet.balanceDiamonds + ', held ' + wallet.heldDiamonds : wallet.status;
});
diamonds.confirmations.subscribe((pending) => {
  $('pending').textContent = pending.length + ' waiting' + pending.map((item) => ': ' + item.amountDiamonds + ' for ' + item.description).join('');
});
diamonds.allowance.subscribe((allowance) => {
  $('allowance').textContent = allowance ? allowance.remaining + ' of ' + allowance.perDay + ' left today' : 'unknown';
});

// The prices the SDK needs in the click, loaded before any click.
Promise.all([diamonds.gifts.catalog(), diamonds.content.get(config.contentId)]).then(
  ([gifts, content]) => ($('ready').textContent = gifts.length + ' gifts, content at ' + content.priceDiamonds),
  (error) => ($('ready').textContent = 'error ' + error.code),
);

/** Wires a button: the SDK call runs synchronously in the click; the outcome goes to #result. */
function act(id, call) {
  $(id).addEventListener('click', () => {
    result.dataset.state = 'working';
    result.textContent = id + ': working';
    inClick = true;
    let promise;
    try {
      promise = call();
    } finally {
      inClick = false;
    }
    promise.then(
      (text) => {
        result.textContent = id + ': ' + text;
        result.dataset.state = 'done';
      },
      (error) => {
        result.textContent = id + ': error ' + error.code + ' ' + error.name;
        result.dataset.state = 'done';
      },
    );
  });
}

act('signin', async () => {
  const fan = await diamonds.signIn();
  await diamonds.wallet.refresh();
  return 'welcome ' + fan.displayName;
});
const send = (giftId, quantity) => async () => {
  const gift = await diamonds.gifts.send({ creatorId: config.creatorId, giftId, quantity });
  return 'sent ' + gift.amountDiamonds + ' ' + gift.status + ' ' + gift.id;
};
act('rose', send('rose', 1));
act('stars', send('star', 2));
act('crown', send('crown', 1));
act('topup', async () => {
  const topUp = await diamonds.topUp({ diamonds: 500, currency: 'USD' });
  return 'topped up ' + topUp.diamonds + ' ' + topUp.status;
});
act('unlock', async () => {
  const unlocked = await diamonds.content.unlock(config.contentId);
  const body = await diamonds.content.body(config.contentId);
  // Sanitised by the platform, meant to be inserted as HTML.
  $('content-body').innerHTML = body.html ?? '';
  $('receipt').textContent = unlocked.receipt;
  window.lastReceipt = unlocked.receipt;
  return 'unlocked ' + unlocked.entitlement.status;
});
act('checkout', async () => {
  const order = await diamonds.orders.get($('order-id').value);
  return 'order total ' + order.totalDiamonds + ' ' + order.status;
});
act('pay', async () => {
  const order = await diamonds.orders.pay($('order-id').value);
  $('receipt').textContent = order.receipt ?? '';
  window.lastReceipt = order.receipt;
  return 'paid ' + order.totalDiamonds + ' ' + order.status;
});
act('refresh', async () => {
  const wallet = await diamonds.wallet.refresh();
  return 'refreshed ' + wallet.balanceDiamonds;
});
`;

/**
 * The creator's page: the SDK bundle, the buttons, and the outputs the test reads.
 *
 * @example
 * ```ts
 * const html = creatorPage({ publishableKey, apiBase, creatorId, contentId });
 * ```
 */
export function creatorPage(config: SdkPageConfig): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A creator's page</title>
<style>#receipt { word-break: break-all; }</style></head>
<body>
<h1>A creator's page</h1>
<p>Session: <output id="session">loading</output></p>
<p>Wallet: <output id="wallet">loading</output></p>
<p>Allowance: <output id="allowance">loading</output></p>
<p>Confirmations: <output id="pending">loading</output></p>
<p>Prices: <output id="ready">loading</output></p>
<p>
  <button id="signin">Sign in</button>
  <button id="rose">Send rose</button>
  <button id="stars">Send 2 stars</button>
  <button id="crown">Send crown</button>
  <button id="topup">Top up 500</button>
  <button id="unlock">Unlock the making-of</button>
  <button id="refresh">Refresh wallet</button>
</p>
<p>
  <label>Order <input id="order-id"></label>
  <button id="checkout">Check out</button>
  <button id="pay">Pay order</button>
</p>
<p>Result: <output id="result" data-state="idle">idle</output></p>
<article id="content-body"></article>
<p>Receipt: <output id="receipt"></output></p>
<script>window.PAGE_CONFIG = ${JSON.stringify(config).replace(/</g, '\\u003c')};</script>
<script type="module" src="/sdk.js"></script>
<script type="module">${PAGE_SCRIPT}</script>
</body></html>`;
}

/**
 * Serves the creator's page and the SDK bundle on `127.0.0.1` on a free port.
 *
 * @example
 * ```ts
 * const site = await startSdkPage(await bundleSdk(), { publishableKey, apiBase, creatorId, contentId });
 * await page.goto(site.url);
 * await site.close();
 * ```
 */
export async function startSdkPage(bundle: string, config: SdkPageConfig): Promise<SdkPageServer> {
  const html = creatorPage(config);
  const server = createServer((request, response) => {
    if (request.url === '/sdk.js') {
      response.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
      response.end(bundle);
    } else if (request.url === '/' || request.url?.startsWith('/?')) {
      response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      response.end(html);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
