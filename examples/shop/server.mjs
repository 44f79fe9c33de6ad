// A small shop's backend on @diamonds/sdk/server. GET / shows the browser's open order, made
// once per browser session with the shop's secret key (the price comes from the platform, never
// from the page) and kept in a cookie, so a reload shows the same order instead of making another;
// <diamond-checkout> shows it. When the fan has paid, the page posts the receipt to POST
// /thank-you, which verifies it here, on the server, before it says thank you; the next visit
// starts a new order.
//
// Run alone: DIAMONDS_SECRET_KEY=sk_… DIAMONDS_PUBLISHABLE_KEY=pk_… node examples/shop/server.mjs
// (or with no variables after `npm start`: it reads .diamonds/demo.json).
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createDiamondsServer, isReceiptVerificationError } from '@diamonds/sdk/server';

const page = readFileSync(new URL('./index.html', import.meta.url), 'utf8');
const script = readFileSync(new URL('./shop.js', import.meta.url), 'utf8');
const stylesheet = readFileSync(new URL('./shop.css', import.meta.url), 'utf8');
/** The cookie that keeps a browser session's open order. */
const ORDER_COOKIE = 'shop_order';
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The shop's request handler, for `http.createServer`. */
export function createShop({ secretKey, publishableKey, apiBase = 'http://localhost:8787', siteId }) {
  const diamonds = createDiamondsServer({ secretKey, siteId, apiBase });
  const csp = `default-src 'none'; script-src 'self' ${apiBase}; connect-src 'self' ${apiBase}; img-src ${apiBase} data:; style-src 'self'; require-trusted-types-for 'script'; trusted-types lit-html; frame-ancestors 'none'`;
  const orders = new Map(); // the orders this shop created, by id (a real shop keeps them in its database)

  /** The order this browser's cookie names, if this shop made it and it can still be paid. */
  async function openOrderOf(request) {
    const id = /(?:^|;\s*)shop_order=(ord_[\w-]+)/.exec(request.headers.cookie ?? '')?.[1];
    if (!id || !orders.has(id)) return undefined;
    const order = await diamonds.orders.get(id); // as the platform holds it now
    if (order.status === 'open' || order.status === 'pending_confirmation') return order;
    return undefined;
  }

  return async function shop(request, response) {
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
          orders.set(order.id, order);
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
        if (!order) return send(404, 'application/json', JSON.stringify({ error: 'This shop made no such order.' }));
        // The page's word is not proof: the receipt must be signed by Diamonds, for this shop, this order and its total.
        const claims = await diamonds.verifyReceipt(String(receipt), { maxAgeMs: 60 * 60_000 });
        if (claims.kind !== 'order' || claims.subjectId !== order.id || claims.amountDiamonds !== order.totalDiamonds) {
          return send(400, 'application/json', JSON.stringify({ error: 'The receipt is for something else.' }));
        }
        orders.delete(order.id); // ship once
        return send(
          200,
          'application/json',
          JSON.stringify({ message: `Thank you! Order ${order.id} is paid: ${claims.amountDiamonds} Diamonds.` }),
        );
      }
      return send(404, 'text/plain; charset=utf-8', 'Not found\n');
    } catch (error) {
      if (isReceiptVerificationError(error))
        return send(400, 'application/json', JSON.stringify({ error: `Refused receipt: ${error.reason}.` }));
      if (error instanceof SyntaxError) return send(400, 'application/json', JSON.stringify({ error: 'Send JSON.' }));
      console.error('shop:', error);
      return send(500, 'text/plain; charset=utf-8', 'The shop could not do that.\n');
    }
  };
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
  createServer(shop).listen(port, () => console.log(`The shop is at http://localhost:${port}`));
}
