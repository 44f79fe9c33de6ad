// A small shop's backend on @diamonds/sdk/server. GET / shows the browser's open order, made
// once per browser session with the shop's secret key (the price comes from the platform, never
// from the page) and kept in a cookie, so a reload shows the same order instead of making another;
// <diamond-checkout> shows it. When the fan has paid, the page posts the receipt to POST
// /thank-you, which verifies it here, on the server, before it says thank you; the next visit
// starts a new order.
//
// How the shop learns for sure that an order was paid or refunded: on start it registers a
// webhook endpoint (POST /diamonds/webhooks) for `order.paid` and `order.refunded`; each delivery
// is verified with `verifyWebhook` and handled once per event id (deliveries come at least once).
// The fallback, should deliveries stop (the shop was down for days, the endpoint got disabled):
// `reconcile()` reads each order it has not settled from the platform (`GET /v1/orders/{id}`).
// A receipt alone is never the last word: a refunded order's receipt still verifies.
//
// Run alone: DIAMONDS_SECRET_KEY=sk_… DIAMONDS_PUBLISHABLE_KEY=pk_… node examples/shop/server.mjs
// (or with no variables after `npm start`: it reads .diamonds/demo.json).
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createDiamondsServer, isReceiptVerificationError, isWebhookVerificationError, verifyWebhook } from '@diamonds/sdk/server';

const page = readFileSync(new URL('./index.html', import.meta.url), 'utf8');
const script = readFileSync(new URL('./shop.js', import.meta.url), 'utf8');
const stylesheet = readFileSync(new URL('./shop.css', import.meta.url), 'utf8');
/** The cookie that keeps a browser session's open order. */
const ORDER_COOKIE = 'shop_order';
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Where the platform posts the shop's events. */
export const WEBHOOK_PATH = '/diamonds/webhooks';
/** The events the shop asks for. */
const WEBHOOK_EVENTS = ['order.paid', 'order.refunded'];
/** The largest webhook body read (real events are a few KB). */
const MAX_WEBHOOK_BYTES = 1024 * 1024;

/**
 * The shop's request handler, for `http.createServer`, with `registerWebhooks(shopUrl)` to call
 * once it listens, `reconcile()` for the fallback, and `orderState(id)` (what the shop knows).
 */
export function createShop({ secretKey, publishableKey, apiBase = 'http://localhost:8787', siteId }) {
  const diamonds = createDiamondsServer({ secretKey, siteId, apiBase });
  const csp = `default-src 'none'; script-src 'self' ${apiBase}; connect-src 'self' ${apiBase}; img-src ${apiBase} data:; style-src 'self'; require-trusted-types-for 'script'; trusted-types lit-html; frame-ancestors 'none'`;
  // What a real shop keeps in its database: its orders (by id) with what it learned of each, and
  // the ids of the events it handled (a unique column), to drop a delivery that comes twice.
  const orders = new Map();
  const handledEvents = new Set();
  const stats = { delivered: 0, duplicates: 0, refused: 0 };
  let webhookSecret; // whsec_…: shown once by the platform, when the endpoint is made or its secret rolled

  /** Records what the shop learned about an order, from a verified event or from reading it. */
  function learn(orderId, status, source) {
    const known = orders.get(orderId);
    if (!known) return; // not an order of this shop's
    if (known.status === 'refunded' && status !== 'refunded') return; // final: a late "paid" does not undo it
    if (known.learned.some((entry) => entry.status === status && entry.source === source)) return;
    // Kept even when another source told it first: the page's receipt often comes before the
    // webhook, and the webhook is what confirms the payment.
    known.learned.push({ status, source, at: Date.now() });
    if (known.status === status) return; // shipped (or taken back) once
    known.status = status;
    if (status === 'paid') console.log(`shop: order ${orderId} is paid (${source}): ship it.`);
    if (status === 'refunded') console.log(`shop: order ${orderId} was refunded (${source}): do not ship it, or take it back.`);
  }

  /** The order this browser's cookie names, if this shop made it and it can still be paid. */
  async function openOrderOf(request) {
    const id = /(?:^|;\s*)shop_order=(ord_[\w-]+)/.exec(request.headers.cookie ?? '')?.[1];
    if (!id || !orders.has(id)) return undefined;
    if (orders.get(id).status !== 'open') return undefined; // a webhook said it is paid (or refunded)
    const order = await diamonds.orders.get(id); // as the platform holds it now
    if (order.status === 'open' || order.status === 'pending_confirmation') return order;
    return undefined;
  }

  async function shop(request, response) {
    const send = (status, type, body, headers = {}) => response.writeHead(status, { 'Content-Type': type, ...headers }).end(body);
    try {
      if (request.method === 'GET' && request.url === '/') {
        let order = await openOrderOf(request);
        const headers = { 'Content-Security-Policy': csp, 'Cache-Control': 'no-store' };
        if (!order) {
          const { data: products } = await diamonds.products.list({ limit: 10 });
          const product = products.find((p) => p.active && (p.stock === null || p.stock > 0));
          if (!product) return send(503, 'text/plain; charset=utf-8', 'The shop has no product on sale.\n');
          order = await diamonds.orders.create({ lines: [{ productId: product.id, quantity: 1 }], reference: `demo-${Date.now()}` });
          orders.set(order.id, { id: order.id, totalDiamonds: order.totalDiamonds, status: 'open', thanked: false, learned: [] });
          // A session cookie: this browser sees this order until it is paid or closed.
          headers['Set-Cookie'] = `${ORDER_COOKIE}=${order.id}; Path=/; HttpOnly; SameSite=Lax`;
        }
        const html = page
          .replaceAll('{{PRODUCT}}', escape(order.lines[0]?.name ?? 'Your order'))
          .replaceAll('{{ORDER_ID}}', escape(order.id))
          .replaceAll('{{PUBLISHABLE_KEY}}', escape(publishableKey))
          .replaceAll('http://localhost:8787', escape(apiBase));
        return send(200, 'text/html; charset=utf-8', html, headers);
      }
      if (request.method === 'GET' && request.url === '/shop.js') return send(200, 'text/javascript; charset=utf-8', script);
      if (request.method === 'GET' && request.url === '/shop.css') return send(200, 'text/css; charset=utf-8', stylesheet);
      if (request.method === 'POST' && request.url === '/thank-you') {
        let body = '';
        for await (const chunk of request) if ((body += chunk).length > 10_000) return send(413, 'text/plain', 'Too large\n');
        const { orderId, receipt } = JSON.parse(body);
        const order = orders.get(orderId);
        if (!order || order.thanked) return send(404, 'application/json', JSON.stringify({ error: 'This shop has no such open order.' }));
        // The page's word is not proof: the receipt must be signed by Diamonds, for this shop, this order and its total.
        const claims = await diamonds.verifyReceipt(String(receipt), { maxAgeMs: 60 * 60_000 });
        if (claims.kind !== 'order' || claims.subjectId !== order.id || claims.amountDiamonds !== order.totalDiamonds) {
          return send(400, 'application/json', JSON.stringify({ error: 'The receipt is for something else.' }));
        }
        // The receipt says "paid" now; the webhook (or reconcile) is what settles the order, and
        // tells of a refund later.
        order.thanked = true; // thank once
        learn(order.id, 'paid', 'receipt');
        return send(
          200,
          'application/json',
          JSON.stringify({ message: `Thank you! Order ${order.id} is paid: ${claims.amountDiamonds} Diamonds.` }),
        );
      }
      const status = request.method === 'GET' ? /^\/orders\/(ord_[\w-]+)\/status$/.exec(request.url ?? '') : null;
      if (status) {
        // What this backend knows of one of its orders (the page shows it once a webhook confirmed
        // the payment). The order id, random and known only to its buyer, is the key.
        const known = orders.get(status[1]);
        if (!known) return send(404, 'application/json', JSON.stringify({ error: 'This shop made no such order.' }));
        return send(200, 'application/json', JSON.stringify({ ...known, webhooks: { ...stats } }), { 'Cache-Control': 'no-store' });
      }
      if (request.method === 'POST' && request.url === WEBHOOK_PATH) {
        // The raw bytes: the signature covers them exactly, so nothing parses the body first.
        const chunks = [];
        let size = 0;
        for await (const chunk of request) {
          if ((size += chunk.length) > MAX_WEBHOOK_BYTES) return send(413, 'text/plain', 'Too large\n');
          chunks.push(chunk);
        }
        // Not registered yet (just started): not 2xx, so the platform retries.
        if (!webhookSecret) return send(503, 'text/plain; charset=utf-8', 'Starting\n');
        let event;
        try {
          event = await verifyWebhook(Buffer.concat(chunks), request.headers, webhookSecret);
        } catch (error) {
          if (!isWebhookVerificationError(error)) throw error;
          stats.refused++;
          console.warn(`shop: refused a webhook delivery (${error.reason}): ${error.message}`);
          return send(400, 'text/plain; charset=utf-8', `Refused: ${error.reason}\n`);
        }
        // At least once: a retry or a replay brings the same event id again. Handle it once.
        if (handledEvents.has(event.id)) {
          stats.duplicates++;
          return send(200, 'text/plain; charset=utf-8', 'Already handled\n');
        }
        handledEvents.add(event.id);
        stats.delivered++;
        if (event.type === 'order.paid') learn(event.data.orderId, 'paid', 'webhook');
        if (event.type === 'order.refunded') learn(event.data.orderId, 'refunded', 'webhook');
        return send(200, 'text/plain; charset=utf-8', 'OK\n');
      }
      return send(404, 'text/plain; charset=utf-8', 'Not found\n');
    } catch (error) {
      if (isReceiptVerificationError(error))
        return send(400, 'application/json', JSON.stringify({ error: `Refused receipt: ${error.reason}.` }));
      if (error instanceof SyntaxError) return send(400, 'application/json', JSON.stringify({ error: 'Send JSON.' }));
      console.error('shop:', error);
      return send(500, 'text/plain; charset=utf-8', 'The shop could not do that.\n');
    }
  }

  /**
   * Registers (or takes back) the shop's webhook endpoint at `shopUrl` + WEBHOOK_PATH. Its secret
   * is shown only when made or rolled, so an endpoint an earlier run made has its secret rolled:
   * the old one keeps signing for 24 hours, then only the new one does.
   */
  shop.registerWebhooks = async (shopUrl) => {
    const url = new URL(WEBHOOK_PATH, shopUrl).href;
    const { data } = await diamonds.webhookEndpoints.list();
    const existing = data.find((endpoint) => endpoint.url === url);
    if (existing) {
      webhookSecret = (await diamonds.webhookEndpoints.rollSecret(existing.id)).secret;
      if (!existing.enabled) await diamonds.webhookEndpoints.update(existing.id, { enabled: true });
      return existing;
    }
    const created = await diamonds.webhookEndpoints.create({ url, eventTypes: WEBHOOK_EVENTS, description: 'The example shop' });
    webhookSecret = created.secret;
    return created;
  };

  /**
   * The fallback: asks the platform about every order the shop has not settled (open, or paid
   * without a refund seen), as `GET /v1/orders/{id}` holds it. Run it now and then, and after
   * downtime; webhooks make it rarely find anything.
   */
  shop.reconcile = async () => {
    for (const known of orders.values()) {
      if (known.status === 'refunded') continue;
      const order = await diamonds.orders.get(known.id);
      if (order.status === 'paid' || order.status === 'refunded') learn(known.id, order.status, 'reconcile');
    }
  };

  /** What the shop knows of one of its orders (status and how it learned it), or undefined. */
  shop.orderState = (orderId) => orders.get(orderId);
  /** Webhook deliveries handled, dropped as duplicates, and refused. */
  shop.webhookStats = () => ({ ...stats });
  return shop;
}

// Run directly: keys from the environment, else from the demo data `npm start` writes.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const demoFile = new URL('../../.diamonds/demo.json', import.meta.url);
  const demo = existsSync(demoFile) ? JSON.parse(readFileSync(demoFile, 'utf8')) : { site: {} };
  const shop = createShop({
    secretKey: process.env.DIAMONDS_SECRET_KEY ?? demo.site.secretKey,
    publishableKey: process.env.DIAMONDS_PUBLISHABLE_KEY ?? demo.site.publishableKey,
    apiBase: process.env.DIAMONDS_API_BASE,
    siteId: process.env.DIAMONDS_SITE_ID ?? demo.site.id,
  });
  const port = Number(process.env.PORT ?? 8789);
  createServer(shop).listen(port, async () => {
    const shopUrl = process.env.SHOP_URL ?? `http://localhost:${port}`;
    console.log(`The shop is at ${shopUrl}`);
    try {
      const endpoint = await shop.registerWebhooks(shopUrl);
      console.log(`Webhooks: ${endpoint.url} (${endpoint.id}) receives order.paid and order.refunded.`);
    } catch (error) {
      console.error('shop: could not register the webhook endpoint; reconciling by reading instead.', error);
    }
    // The fallback, every 5 minutes.
    setInterval(() => shop.reconcile().catch((error) => console.error('shop: reconcile', error)), 5 * 60_000).unref();
  });
}
