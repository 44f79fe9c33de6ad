import assert from 'node:assert/strict';
import { Order, Product } from '@diamonds/protocol';
import type { MoneyHarness } from '../testing/money.js';

/** Creates a product with the site's secret key and returns it parsed. */
export async function makeProduct(
  h: MoneyHarness,
  input: { name?: string; priceDiamonds: number; stock?: number | null; imageUrl?: string },
): Promise<Product> {
  const response = await h.call('/products', { key: 'secret', body: { name: 'T-shirt', ...input } });
  assert.equal(response.status, 201, await response.clone().text());
  return Product.parse(await response.json());
}

/** Creates an order with the site's secret key and returns it parsed. */
export async function makeOrder(h: MoneyHarness, body: Record<string, unknown>): Promise<Order> {
  const response = await h.call('/orders', { key: 'secret', body });
  assert.equal(response.status, 201, await response.clone().text());
  return Order.parse(await response.json());
}

/** The platform fee account's balance. */
export async function feeBalance(h: MoneyHarness): Promise<number> {
  const [row] = await h.t.db.query<{ balance: number }>(`SELECT balance FROM accounts WHERE kind = 'fees'`);
  return Number(row?.balance ?? 0);
}

/** A product's stock as stored (`null` for unlimited). */
export async function stockOf(h: MoneyHarness, productId: string): Promise<number | null> {
  const [row] = await h.t.db.query<{ stock: number | null }>('SELECT stock FROM products WHERE id = ?', [productId]);
  assert.ok(row, `no product ${productId}`);
  return row.stock === null ? null : Number(row.stock);
}
