import type { Database, SqlClient } from '../db/types.js';
import { createContent, listCreatorContent } from '../content/content.js';
import type { DemoData } from '../identity/demo.js';
import type { Ledger } from '../ledger/ledger.js';
import { createProduct } from '../orders/orders.js';
import { walletOf } from './spends.js';

/** What the demo fan holds after seeding. */
export const DEMO_FAN_DIAMONDS = 1_000;

/** The demo creator's content: one priced post, one for supporters, one link. */
const DEMO_CONTENT = [
  {
    title: 'Behind the scenes: making of the spring video',
    teaser: 'Storyboards, the gear list, and the three takes that did not make it.',
    body: '## Storyboards\n\nEvery shot started as a sketch on a napkin.\n\n- **Camera:** a borrowed mirrorless\n- **Light:** one window and a white sheet\n\nThanks for unlocking this: it keeps the channel going.',
    priceDiamonds: 50,
  },
  {
    title: 'Supporters’ corner: the unreleased demo',
    teaser: 'For fans who have sent 100 Diamonds or more in gifts.',
    body: 'You are one of the people who made this possible.\n\n> The chorus came to me on a night bus.\n\nThe full story, and the lyrics, are below.',
    thresholdDiamonds: 100,
  },
  {
    title: 'Full-resolution wallpaper pack',
    teaser: 'Twelve wallpapers from this year’s shoots, 4K.',
    externalUrl: 'https://example.com/wallpapers.zip',
    priceDiamonds: 120,
  },
] as const;

/** The demo shop's products. */
const DEMO_PRODUCTS = [
  { name: 'Sticker pack', priceDiamonds: 80, stock: 100 },
  { name: 'Signed poster', priceDiamonds: 400, stock: 5 },
  { name: 'Digital art book', priceDiamonds: 250 },
] as const;

/**
 * Adds what makes the demo usable end to end, in the caller's transaction: the demo fan's
 * 1,000 Diamonds, the demo creator's content and the demo site's products. Safe to run again:
 * each part is only added when it is missing (run it under the demo's seed lock, see `seedDemo`,
 * or two processes could each find a part missing).
 */
export async function addDemoMoney(tx: SqlClient, ledger: Ledger, demo: DemoData): Promise<void> {
  const issuance = await ledger.platformAccount('issuance', tx);
  await ledger.transferIn(tx, {
    idempotencyKey: `demo:fan-credit:${demo.fan.userId}`,
    code: 'purchase',
    postings: [
      { accountId: issuance.id, amountDiamonds: -DEMO_FAN_DIAMONDS },
      { accountId: await walletOf(tx, ledger, demo.fan.userId), amountDiamonds: DEMO_FAN_DIAMONDS },
    ],
    metadata: { description: `Welcome gift: ${DEMO_FAN_DIAMONDS} Diamonds for the demo` },
  });
  if ((await listCreatorContent(tx, demo.creator.userId)).length === 0) {
    for (const content of DEMO_CONTENT) {
      await createContent(tx, { siteId: demo.site.id, creatorId: demo.creator.userId }, { ...content, teaser: content.teaser });
    }
  }
  const [products] = await tx.query<{ n: number }>('SELECT count(*) AS n FROM products WHERE site_id = ?', [demo.site.id]);
  if (Number(products?.n ?? 0) === 0) {
    for (const product of DEMO_PRODUCTS) await createProduct(tx, demo.site.id, product);
  }
}

/** The demo's money, content and products, as lines for the console. */
export async function describeDemoMoney(db: SqlClient, demo: DemoData): Promise<string[]> {
  const content = await listCreatorContent(db, demo.creator.userId);
  const products = await db.query<{ id: string; name: string; price_diamonds: number }>(
    'SELECT id, name, price_diamonds FROM products WHERE site_id = ? ORDER BY id',
    [demo.site.id],
  );
  return [
    `  fan wallet   ${DEMO_FAN_DIAMONDS} Diamonds to start with`,
    ...content.map((c) => `  content      ${c.id}  ${c.title}`),
    ...products.map((p) => `  product      ${p.id}  ${p.name} (${Number(p.price_diamonds)} Diamonds)`),
  ];
}

/**
 * Seeds the demo's money, content and products in a transaction of its own ({@link addDemoMoney}).
 *
 * @returns Lines for the console, describing what exists.
 */
export async function seedDemoMoney(db: Database, ledger: Ledger, demo: DemoData): Promise<string[]> {
  await db.transaction((tx) => addDemoMoney(tx, ledger, demo));
  return describeDemoMoney(db, demo);
}
