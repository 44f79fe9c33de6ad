import type { DatabaseKind } from '../db/types.js';
import type { Migration } from '../db/migrations.js';

/**
 * The shop tables.
 *
 * - `products`: what a site sells. `stock` NULL is unlimited; otherwise it is taken by one
 *   conditional update per order line (`stock >= ?`), and the CHECK stands behind it so even a
 *   bug cannot sell a unit that is not there.
 * - `orders`: created by the shop's backend, paid once by one fan. `owner_id` is the site's
 *   owner when the order was made (who the Diamonds go to); `user_id` the fan, set when they pay
 *   (or hold it pending confirmation). The status moves by conditional updates
 *   (`WHERE status = 'open'`), so two payments of one order can never both win. `attempts`
 *   counts payment attempts: a declined confirmation reopens the order, and each attempt needs
 *   its own ledger idempotency key. `issuer` is the platform origin the receipt names, kept from
 *   the paying request for a receipt issued later on approval. The CHECKs tie each status to
 *   the facts it needs.
 * - `order_lines`: the order's items with the price taken from the product when the order was
 *   created, so a later price change never alters an order. An explicit-total order has one
 *   line without a product.
 */
function ordersV10(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  return [
    `CREATE TABLE products (
      id TEXT PRIMARY KEY,
      site_id TEXT NOT NULL REFERENCES sites (id),
      name TEXT NOT NULL,
      price_diamonds ${int} NOT NULL CHECK (price_diamonds > 0),
      stock ${int} CHECK (stock >= 0),
      image_url TEXT,
      active ${int} NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
      created_at ${int} NOT NULL
    )${strict}`,
    `CREATE INDEX products_site ON products (site_id, id)`,
    `CREATE TABLE orders (
      id TEXT PRIMARY KEY,
      site_id TEXT NOT NULL REFERENCES sites (id),
      owner_id TEXT NOT NULL REFERENCES users (id),
      user_id TEXT REFERENCES users (id),
      status TEXT NOT NULL CHECK (status IN ('open', 'pending_confirmation', 'paid', 'refunded', 'canceled')),
      total_diamonds ${int} NOT NULL CHECK (total_diamonds > 0),
      reference TEXT CHECK (length(reference) <= 200),
      metadata TEXT NOT NULL,
      attempts ${int} NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      issuer TEXT,
      confirmation_id TEXT,
      transfer_id TEXT REFERENCES transfers (id),
      refund_transfer_id TEXT REFERENCES transfers (id),
      receipt TEXT,
      created_at ${int} NOT NULL,
      paid_at ${int},
      refunded_at ${int},
      CHECK (status IN ('open', 'canceled') OR user_id IS NOT NULL),
      CHECK (status NOT IN ('paid', 'refunded') OR (transfer_id IS NOT NULL AND receipt IS NOT NULL AND paid_at IS NOT NULL)),
      CHECK (status <> 'refunded' OR (refund_transfer_id IS NOT NULL AND refunded_at IS NOT NULL))
    )${strict}`,
    `CREATE INDEX orders_site ON orders (site_id, id)`,
    `CREATE INDEX orders_site_status ON orders (site_id, status, id)`,
    `CREATE TABLE order_lines (
      order_id TEXT NOT NULL REFERENCES orders (id),
      line_no ${int} NOT NULL CHECK (line_no >= 1),
      product_id TEXT REFERENCES products (id),
      name TEXT NOT NULL,
      unit_price ${int} NOT NULL CHECK (unit_price > 0),
      quantity ${int} NOT NULL CHECK (quantity >= 1),
      amount ${int} NOT NULL CHECK (amount = unit_price * quantity),
      PRIMARY KEY (order_id, line_no)
    )${strict}`,
  ];
}

/** Migration 10: products, orders and their lines. */
export const ordersMigration: Migration = {
  version: 10,
  name: 'orders',
  statements: { sqlite: ordersV10('sqlite'), postgres: ordersV10('postgres') },
};
