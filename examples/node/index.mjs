// The SDK from code, in Node: what a developer's script or backend does with Diamonds.
// - with the publishable key (the same client as in a page): exchange rates, the gift catalog;
// - with the secret key (@diamonds/sdk/server): products, an order, the site's sales.
//
// Run after `npm start` (it reads the demo keys from .diamonds/demo.json):
//   node examples/node/index.mjs
// or with your own: DIAMONDS_PUBLISHABLE_KEY=pk_… DIAMONDS_SECRET_KEY=sk_… DIAMONDS_API_BASE=https://… node examples/node/index.mjs
import { existsSync, readFileSync } from 'node:fs';
import { createDiamonds, isDiamondsError } from '@diamonds/sdk';
import { createDiamondsServer } from '@diamonds/sdk/server';

const demoFile = new URL('../../.diamonds/demo.json', import.meta.url);
const demo = existsSync(demoFile) ? JSON.parse(readFileSync(demoFile, 'utf8')) : { site: {} };
const apiBase = process.env.DIAMONDS_API_BASE ?? 'http://localhost:8787';
const publishableKey = process.env.DIAMONDS_PUBLISHABLE_KEY ?? demo.site.publishableKey;
const secretKey = process.env.DIAMONDS_SECRET_KEY ?? demo.site.secretKey;
if (!publishableKey || !secretKey) {
  console.error('Set DIAMONDS_PUBLISHABLE_KEY and DIAMONDS_SECRET_KEY, or run `npm start` once to make .diamonds/demo.json.');
  process.exit(2);
}

try {
  // Public things, with the publishable key.
  const diamonds = createDiamonds({ publishableKey, apiBase });
  const rates = await diamonds.rates();
  console.log('Rates (price of 1,000 Diamonds):');
  for (const rate of rates) {
    const money = new Intl.NumberFormat('en', { style: 'currency', currency: rate.currency });
    const minorDigits = money.resolvedOptions().maximumFractionDigits ?? 2;
    console.log(`  ${money.format(rate.priceMinorPer1000Diamonds / 10 ** minorDigits)}`);
  }
  const gifts = await diamonds.gifts.catalog();
  console.log(`Gift catalog: ${gifts.map((gift) => `${gift.name} (${gift.priceDiamonds})`).join(', ')}`);

  // The site's backend, with the secret key: never in a page.
  const server = createDiamondsServer({ secretKey, apiBase, siteId: demo.site.id });
  const { data: products } = await server.products.list({ limit: 5 });
  console.log(`Products: ${products.map((p) => `${p.name} ${p.priceDiamonds} (${p.stock ?? '∞'} left)`).join(', ')}`);
  const order = await server.orders.create({
    lines: [{ productId: products[0].id, quantity: 1 }],
    reference: `node-example-${Date.now()}`,
  });
  console.log(
    `Created ${order.id}: ${order.totalDiamonds} Diamonds, ${order.status}. A fan pays it with <diamond-checkout order="${order.id}">.`,
  );
  let count = 0;
  let earned = 0;
  for await (const sale of server.sales.each()) {
    count += 1;
    earned += sale.totalDiamonds;
  }
  console.log(`Sales so far: ${count}, ${earned} Diamonds.`);
} catch (error) {
  if (!isDiamondsError(error)) throw error;
  console.error(`Diamonds said no: ${error.code}: ${error.message}`);
  process.exitCode = 1;
}
