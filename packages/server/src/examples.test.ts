import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { startServer, type RunningServer } from './server.js';
import { seedDemo, type DemoData } from './identity/demo.js';
import { seedDemoMoney } from './money/demo.js';
import { connect } from './identity/connections.js';
import { issueTokens, newFamilyId } from './identity/tokens.js';
import { createTestDatabase, type TestDatabase } from './testing/databases.js';
import { newDpopKey } from './testing/dpop.js';
import { EXAMPLES_DIR, startExamples, type RunningExamples } from './examples.js';

const run = promisify(execFile);
const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** A receipt with every right claim, signed by a key that is not the platform's. */
function forgedReceipt(claims: Record<string, unknown>): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const input = `${b64(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: 'forged' }))}.${b64(JSON.stringify(claims))}`;
  return `${input}.${b64(sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }))}`;
}

// The examples read nothing that differs between engines (they call the platform over HTTP):
// one database (SQLite) is enough.
describe('the examples served by npm start, on origins of their own', () => {
  let t: TestDatabase;
  let platform: RunningServer;
  let examples: RunningExamples;
  let demo: DemoData;

  before(async () => {
    t = await createTestDatabase('sqlite');
    platform = await startServer({ port: 0, host: '127.0.0.1', db: t.db });
    const seeded = await seedDemo(t.db, t.settings.dataDir);
    assert.ok(seeded.demo);
    demo = seeded.demo;
    await seedDemoMoney(t.db, platform.ledger, demo);
    examples = await startExamples({ platformUrl: platform.url, demo, port: 0, host: '127.0.0.1' });
  });

  after(async () => {
    await examples?.close();
    await platform?.close();
    await t?.drop();
  });

  /** Creates an order through the shop's backend (GET /): the order id its page shows. */
  async function shopOrder(): Promise<{ orderId: string; response: Response; html: string }> {
    const response = await fetch(`${examples.shopUrl}/`);
    const html = await response.text();
    assert.equal(response.status, 200, html);
    const orderId = /order="(ord_[A-Za-z0-9]+)"/.exec(html)?.[1];
    assert.ok(orderId, 'the page shows <diamond-checkout order="ord_…">');
    return { orderId, response, html };
  }

  const thankYou = (body: unknown) =>
    fetch(`${examples.shopUrl}/thank-you`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  it('serves each example on an origin other than the platform’s', () => {
    const origins = new Set([platform.url, examples.creatorSiteUrl, examples.shopUrl].map((url) => new URL(url).origin));
    assert.equal(origins.size, 3);
  });

  it('serves the creator’s page with the demo keys filled in and the script tag on the platform', async () => {
    const response = await fetch(`${examples.creatorSiteUrl}/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
    const html = await response.text();
    assert.doesNotMatch(html, /\{\{/, 'every placeholder is filled');
    assert.doesNotMatch(html, /localhost:8787/, 'the platform address is the real one');
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map(([tag]) => tag);
    assert.deepEqual(scripts, [`<script type="module" src="${platform.url}/sdk/diamonds.js">`], 'one script tag, the drop-in');
    for (const tag of ['diamond-wallet', 'diamond-gift-button', 'diamond-paywall']) assert.match(html, new RegExp(`<${tag}\\b`));
    assert.equal(html.split(`publishable-key="${demo.site.publishableKey}"`).length - 1, 4);
    assert.doesNotMatch(html, /api-base=/, 'the drop-in script makes its own origin the API base');
    assert.match(html, new RegExp(`creator="${demo.creator.userId}"`));
    const contentId = /content="(ct_[A-Za-z0-9]+)"/.exec(html)?.[1];
    assert.ok(contentId, 'the paywall names the demo creator’s priced post');
    const content = await fetch(`${platform.url}/v1/content/${contentId}`, {
      headers: { Authorization: `Bearer ${demo.site.publishableKey}` },
    });
    assert.equal(((await content.json()) as { priceDiamonds: number }).priceDiamonds, 50);
    assert.ok(html.includes(`href="${examples.shopUrl}"`), 'it links to the shop');
    assert.doesNotMatch(html, new RegExp(demo.site.secretKey), 'never the secret key');

    const css = await fetch(`${examples.creatorSiteUrl}/style.css`);
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.match(await css.text(), /--diamond-color-accent/);
    for (const path of ['/../shop/server.mjs', '/%2e%2e/shop/server.mjs', '/server.mjs']) {
      assert.equal((await fetch(`${examples.creatorSiteUrl}${path}`)).status, 404, path);
    }
  });

  it('the shop’s backend creates an order for a product with its secret key and shows <diamond-checkout>', async () => {
    const { orderId, response, html } = await shopOrder();
    assert.match(response.headers.get('content-security-policy') ?? '', /require-trusted-types-for 'script'/);
    assert.ok(html.includes(`<script type="module" src="${platform.url}/sdk/diamonds.js">`));
    assert.ok(html.includes(`publishable-key="${demo.site.publishableKey}"`));
    assert.doesNotMatch(html, new RegExp(demo.site.secretKey));
    // The platform holds it, priced from the product.
    const order = await fetch(`${platform.url}/v1/orders/${orderId}`, { headers: { Authorization: `Bearer ${demo.site.secretKey}` } });
    const body = (await order.json()) as { status: string; totalDiamonds: number; siteId: string };
    assert.equal(order.status, 200);
    assert.equal(body.status, 'open');
    assert.equal(body.siteId, demo.site.id);
    assert.ok(body.totalDiamonds > 0);
    assert.match(await (await fetch(`${examples.shopUrl}/shop.js`)).text(), /diamond-paid/);
  });

  it('refuses a forged receipt, a receipt for another order, garbage, and orders it did not make', async () => {
    const { orderId } = await shopOrder();
    const order = (await (
      await fetch(`${platform.url}/v1/orders/${orderId}`, { headers: { Authorization: `Bearer ${demo.site.secretKey}` } })
    ).json()) as { totalDiamonds: number };
    const now = Math.floor(Date.now() / 1000);
    const forged = forgedReceipt({
      iss: platform.url,
      aud: demo.site.id,
      sub: demo.fan.userId,
      kind: 'order',
      subjectId: orderId,
      amountDiamonds: order.totalDiamonds,
      transferId: 'txn_01JD3S9ZK4W8Q2V7C5XH6RTB0M',
      jti: 'rcpt_01JD3S9ZK4W8Q2V7C5XH6RTB0M',
      iat: now,
    });
    const refused = await thankYou({ orderId, receipt: forged });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: string }).error, /^Refused receipt: /);
    const garbage = await thankYou({ orderId, receipt: 'not.a.receipt' });
    assert.equal(garbage.status, 400);
    assert.equal((await thankYou({ orderId: 'ord_01JD3S9ZK4W8Q2V7C5XH6RTB0M', receipt: forged })).status, 404);
    const notJson = await fetch(`${examples.shopUrl}/thank-you`, { method: 'POST', body: '{' });
    assert.equal(notJson.status, 400);
  });

  /** The demo fan, signed in on the shop's origin with an allowance, pays `orderId`: its receipt. */
  async function payAsFan(orderId: string): Promise<string> {
    const origin = new URL(examples.shopUrl).origin;
    await connect(t.db, demo.fan.userId, demo.site.id, 1_000);
    const dpop = newDpopKey();
    const { accessToken } = await issueTokens(t.db, {
      userId: demo.fan.userId,
      siteId: demo.site.id,
      origin,
      familyId: newFamilyId(),
      jkt: dpop.jkt,
    });
    const payUrl = `${platform.url}/v1/orders/${orderId}/pay`;
    const paid = await fetch(payUrl, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${demo.site.publishableKey}`,
        'Diamonds-Token': accessToken,
        DPoP: dpop.proof('POST', payUrl, accessToken),
        Origin: origin,
        'Idempotency-Key': randomUUID(),
        'Content-Type': 'application/json',
      },
      body: '{}',
    });
    const payment = (await paid.json()) as { status: string; receipt: string | null };
    assert.equal(paid.status, 200, JSON.stringify(payment));
    assert.equal(payment.status, 'paid');
    assert.ok(payment.receipt);
    return payment.receipt;
  }

  /** Calls the platform's API as the shop's backend (its secret key): the JSON answer, or fails. */
  async function asShop(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${platform.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${demo.site.secretKey}`, 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer: unknown = await response.json();
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  }

  /** What the shop's backend knows of `orderId` (GET /orders/{id}/status). */
  async function shopKnows(orderId: string): Promise<{ status: string; learned: { status: string; source: string }[] }> {
    const response = await fetch(`${examples.shopUrl}/orders/${orderId}/status`);
    assert.equal(response.status, 200);
    return (await response.json()) as { status: string; learned: { status: string; source: string }[] };
  }

  it('thanks the fan once for a genuine receipt of its order, verified on its server', async () => {
    const [first, second] = [await shopOrder(), await shopOrder()];
    const receipt = await payAsFan(first.orderId);

    // A genuine receipt, but for the other order: refused.
    const mismatched = await thankYou({ orderId: second.orderId, receipt });
    assert.equal(mismatched.status, 400);
    const thanked = await thankYou({ orderId: first.orderId, receipt });
    assert.equal(thanked.status, 200);
    assert.match(((await thanked.json()) as { message: string }).message, new RegExp(`Thank you! Order ${first.orderId} is paid`));
    // Shipped once: the same receipt again finds no open order.
    assert.equal((await thankYou({ orderId: first.orderId, receipt })).status, 404);
  });

  it('records the webhook’s confirmation of a payment whose receipt the page brought first', async () => {
    // The page's receipt usually comes after the webhook, but not on a busy machine: hold the
    // deliveries back until the receipt is in, then let the event through.
    const endpoints = (await asShop('GET', '/v1/webhook-endpoints')) as { data: { id: string; url: string }[] };
    const endpoint = endpoints.data.find((one) => one.url === `${examples.shopUrl}/diamonds/webhooks`);
    assert.ok(endpoint, 'the shop registered its webhook endpoint');
    const { orderId } = await shopOrder();
    await asShop('PATCH', `/v1/webhook-endpoints/${endpoint.id}`, { enabled: false });
    try {
      const receipt = await payAsFan(orderId);
      assert.equal((await thankYou({ orderId, receipt })).status, 200);
      assert.deepEqual(
        (await shopKnows(orderId)).learned.map((entry) => [entry.status, entry.source]),
        [['paid', 'receipt']],
      );
    } finally {
      await asShop('PATCH', `/v1/webhook-endpoints/${endpoint.id}`, { enabled: true });
    }
    const events = (await asShop('GET', '/v1/events?type=order.paid&limit=100')) as { data: { id: string; data: { orderId: string } }[] };
    const paidEvent = events.data.find((event) => event.data.orderId === orderId);
    assert.ok(paidEvent, 'the platform recorded order.paid');
    await asShop('POST', `/v1/webhook-endpoints/${endpoint.id}/replay`, { eventId: paidEvent.id });
    const deadline = Date.now() + 15_000;
    let known = await shopKnows(orderId);
    while (!known.learned.some((entry) => entry.source === 'webhook') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      known = await shopKnows(orderId);
    }
    assert.deepEqual(
      known.learned.map((entry) => [entry.status, entry.source]),
      [
        ['paid', 'receipt'],
        ['paid', 'webhook'],
      ],
      'the webhook confirms what the receipt told first',
    );
    assert.equal(known.status, 'paid');
  });

  it('runs the Node example against the platform: rates, catalog, products, an order, sales', async () => {
    const { stdout } = await run(process.execPath, ['--conditions=source', '--import', 'tsx', `${EXAMPLES_DIR}node/index.mjs`], {
      env: {
        ...process.env,
        DIAMONDS_API_BASE: platform.url,
        DIAMONDS_PUBLISHABLE_KEY: demo.site.publishableKey,
        DIAMONDS_SECRET_KEY: demo.site.secretKey,
      },
      timeout: 60_000,
    });
    assert.match(stdout, /Rates \(price of 1,000 Diamonds\):\n {2}\S+/);
    assert.match(stdout, /Gift catalog: .*Rose \(\d+\)/);
    assert.match(stdout, /Products: .*Sticker pack/);
    assert.match(stdout, /Created ord_\w+: \d+ Diamonds, open\./);
    // The order paid in the test above is a sale.
    assert.match(stdout, /Sales so far: [1-9]\d*, \d+ Diamonds\./);
  });
});
