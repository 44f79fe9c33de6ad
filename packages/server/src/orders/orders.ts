import {
  isId,
  MAX_TRANSFER_DIAMONDS,
  newId,
  type CheckoutOrder,
  type CreateOrder,
  type CreateProduct,
  type Metadata,
  type Order,
  type OrderLine,
  type OrderStatus,
  type Page,
  type PayOrderResult,
  type PageQuery,
  type Product,
  type Transfer,
  type UpdateProduct,
} from '@diamonds/protocol';
import type { SqlClient, SqlValue } from '../db/types.js';
import { Keyset } from '../db/keyset.js';
import { appendEvent } from '../events/outbox.js';
import { ApiError, isApiError } from '../errors.js';
import { findSite } from '../identity/sites.js';
import type { Ledger, PostingInput } from '../ledger/ledger.js';
import { issueReceipt } from '../money/receipts.js';
import { presentConfirmation, spend, type ConfirmationRecord } from '../money/spends.js';
import { productSplits, splitCredits, splitSpendRefunded } from '../collabs/collabs.js';
import { orderItemIds, recordBoostConversion } from '../boosts/boosts.js';
import type { StoredResponse } from '../money/idempotency.js';
import { moneyOperation, type MoneyFeature, type SpendSettlement } from '../money/operations.js';

/** The longest order description shown in the wallet history and on the confirmation page. */
const MAX_DESCRIPTION_LENGTH = 200;

interface ProductRow {
  id: string;
  site_id: string;
  name: string;
  price_diamonds: number;
  stock: number | null;
  image_url: string | null;
  active: number;
  created_at: number;
}

interface OrderRow {
  id: string;
  site_id: string;
  owner_id: string;
  user_id: string | null;
  status: OrderStatus;
  total_diamonds: number;
  reference: string | null;
  metadata: string;
  attempts: number;
  issuer: string | null;
  confirmation_id: string | null;
  transfer_id: string | null;
  refund_transfer_id: string | null;
  receipt: string | null;
  created_at: number;
  paid_at: number | null;
  refunded_at: number | null;
}

interface LineRow {
  line_no: number;
  product_id: string | null;
  name: string;
  unit_price: number;
  quantity: number;
  amount: number;
}

/** An order with its lines, as stored. */
export interface OrderRecord {
  row: OrderRow;
  lines: LineRow[];
}

function toProduct(row: ProductRow): Product {
  return {
    object: 'product',
    id: row.id as Product['id'],
    name: row.name,
    priceDiamonds: Number(row.price_diamonds),
    stock: row.stock === null ? null : Number(row.stock),
    imageUrl: row.image_url,
    active: Number(row.active) === 1,
    createdAt: Number(row.created_at),
  };
}

function toLine(row: LineRow): OrderLine {
  return {
    productId: row.product_id as OrderLine['productId'],
    name: row.name,
    unitPriceDiamonds: Number(row.unit_price),
    quantity: Number(row.quantity),
    amountDiamonds: Number(row.amount),
  };
}

/** The order as the fan's checkout shows it: no reference, no metadata. */
export function presentCheckoutOrder({ row, lines }: OrderRecord): CheckoutOrder {
  return {
    object: 'order',
    id: row.id as CheckoutOrder['id'],
    siteId: row.site_id as CheckoutOrder['siteId'],
    status: row.status,
    totalDiamonds: Number(row.total_diamonds),
    lines: lines.map(toLine),
    fanId: row.user_id as CheckoutOrder['fanId'],
    transferId: row.transfer_id as CheckoutOrder['transferId'],
    receipt: row.receipt,
    createdAt: Number(row.created_at),
    paidAt: row.paid_at === null ? null : Number(row.paid_at),
    refundedAt: row.refunded_at === null ? null : Number(row.refunded_at),
  };
}

/** The order as the shop's backend sees it: everything. */
export function presentOrder(record: OrderRecord): Order {
  return {
    ...presentCheckoutOrder(record),
    reference: record.row.reference,
    metadata: JSON.parse(record.row.metadata) as Metadata,
    refundTransferId: record.row.refund_transfer_id as Order['refundTransferId'],
  };
}

/** A shop's products page newest first, by id (ids sort by creation). */
const PRODUCTS = new Keyset<[string]>('products', [{ column: 'id', kind: 'id', prefix: 'prod' }], 'desc');

/** A shop's orders page newest first, by id. */
const ORDERS = new Keyset<[string]>('orders', [{ column: 'id', kind: 'id', prefix: 'ord' }], 'desc');

/** Creates a product of a site. */
export async function createProduct(tx: SqlClient, siteId: string, input: CreateProduct, now = Date.now()): Promise<Product> {
  const row: ProductRow = {
    id: newId('prod', now),
    site_id: siteId,
    name: input.name,
    price_diamonds: input.priceDiamonds,
    stock: input.stock ?? null,
    image_url: input.imageUrl ?? null,
    active: 1,
    created_at: now,
  };
  await tx.run(
    'INSERT INTO products (id, site_id, name, price_diamonds, stock, image_url, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [row.id, row.site_id, row.name, row.price_diamonds, row.stock, row.image_url, row.active, row.created_at],
  );
  return toProduct(row);
}

/**
 * A product of the site; inactive ones only when `includeInactive` (the secret key).
 *
 * @throws {@link ApiError} `product_not_found`
 */
export async function getProduct(db: SqlClient, siteId: string, id: string, includeInactive: boolean): Promise<Product> {
  const [row] = isId('prod', id) ? await db.query<ProductRow>('SELECT * FROM products WHERE id = ? AND site_id = ?', [id, siteId]) : [];
  if (!row || (!includeInactive && Number(row.active) !== 1)) {
    throw new ApiError('product_not_found', `No product ${JSON.stringify(id)} on this site.`, { param: 'id' });
  }
  return toProduct(row);
}

/** One page of a site's products, newest first; inactive ones only when `includeInactive`. */
export async function listProducts(db: SqlClient, siteId: string, page: PageQuery, includeInactive: boolean): Promise<Page<Product>> {
  const where = ['site_id = ?'];
  const params: SqlValue[] = [siteId];
  if (!includeInactive) where.push('active = 1');
  const after = PRODUCTS.after(page.cursor);
  if (after) {
    where.push(after.sql);
    params.push(...after.params);
  }
  const rows = await db.query<ProductRow>(`SELECT * FROM products WHERE ${where.join(' AND ')} ORDER BY ${PRODUCTS.orderBy} LIMIT ?`, [
    ...params,
    page.limit + 1,
  ]);
  return PRODUCTS.page(rows, page.limit, toProduct, (row) => [row.id]);
}

/**
 * Changes a product's fields. Orders already created keep their prices.
 *
 * @throws {@link ApiError} `product_not_found`
 */
export async function updateProduct(tx: SqlClient, siteId: string, id: string, changes: UpdateProduct): Promise<Product> {
  await getProduct(tx, siteId, id, true);
  const columns: [string, SqlValue][] = [];
  if (changes.name !== undefined) columns.push(['name', changes.name]);
  if (changes.priceDiamonds !== undefined) columns.push(['price_diamonds', changes.priceDiamonds]);
  if (changes.stock !== undefined) columns.push(['stock', changes.stock]);
  if (changes.imageUrl !== undefined) columns.push(['image_url', changes.imageUrl]);
  if (changes.active !== undefined) columns.push(['active', changes.active ? 1 : 0]);
  await tx.run(`UPDATE products SET ${columns.map(([column]) => `${column} = ?`).join(', ')} WHERE id = ? AND site_id = ?`, [
    ...columns.map(([, value]) => value),
    id,
    siteId,
  ]);
  return getProduct(tx, siteId, id, true);
}

/**
 * Creates an order for a site, priced from its products (never from the request), or with an
 * explicit total.
 *
 * @throws {@link ApiError} `product_not_found` (unknown, another site's, or inactive),
 * `amount_too_large` (the total passes {@link MAX_TRANSFER_DIAMONDS}).
 */
export async function createOrder(tx: SqlClient, siteId: string, input: CreateOrder, now = Date.now()): Promise<OrderRecord> {
  const site = await findSite(tx, siteId);
  if (!site) throw new ApiError('invalid_api_key', 'This key’s site no longer exists.');
  const lines: LineRow[] = [];
  if ('lines' in input) {
    const ids = [...new Set(input.lines.map((line) => line.productId))];
    const products = await tx.query<ProductRow>(
      `SELECT * FROM products WHERE site_id = ? AND active = 1 AND id IN (${ids.map(() => '?').join(', ')})`,
      [siteId, ...ids],
    );
    const byId = new Map(products.map((product) => [product.id, product]));
    input.lines.forEach((line, index) => {
      const product = byId.get(line.productId);
      if (!product) {
        throw new ApiError('product_not_found', `No product ${line.productId} on sale on this site.`, {
          param: `lines.${index}.productId`,
        });
      }
      const unitPrice = Number(product.price_diamonds);
      lines.push({
        line_no: index + 1,
        product_id: product.id,
        name: product.name,
        unit_price: unitPrice,
        quantity: line.quantity,
        amount: unitPrice * line.quantity,
      });
    });
  } else {
    lines.push({
      line_no: 1,
      product_id: null,
      name: input.description,
      unit_price: input.amountDiamonds,
      quantity: 1,
      amount: input.amountDiamonds,
    });
  }
  // Each line is at most 10^9 × 1,000 and there are at most 50: the sum stays exact.
  const total = lines.reduce((sum, line) => sum + line.amount, 0);
  if (total > MAX_TRANSFER_DIAMONDS) {
    throw new ApiError(
      'amount_too_large',
      `This order comes to ${total} Diamonds; one payment may move at most ${MAX_TRANSFER_DIAMONDS}. Split it into several orders.`,
      { param: 'lines' },
    );
  }
  const row: OrderRow = {
    id: newId('ord', now),
    site_id: siteId,
    owner_id: site.ownerId,
    user_id: null,
    status: 'open',
    total_diamonds: total,
    reference: input.reference ?? null,
    metadata: JSON.stringify(input.metadata ?? {}),
    attempts: 0,
    issuer: null,
    confirmation_id: null,
    transfer_id: null,
    refund_transfer_id: null,
    receipt: null,
    created_at: now,
    paid_at: null,
    refunded_at: null,
  };
  await tx.run(
    `INSERT INTO orders (id, site_id, owner_id, status, total_diamonds, reference, metadata, created_at)
     VALUES (?, ?, ?, 'open', ?, ?, ?, ?)`,
    [row.id, row.site_id, row.owner_id, row.total_diamonds, row.reference, row.metadata, row.created_at],
  );
  await tx.run(
    `INSERT INTO order_lines (order_id, line_no, product_id, name, unit_price, quantity, amount) VALUES ${lines.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    lines.flatMap((line) => [row.id, line.line_no, line.product_id, line.name, line.unit_price, line.quantity, line.amount]),
  );
  return { row, lines };
}

async function linesOf(db: SqlClient, orderId: string): Promise<LineRow[]> {
  return db.query<LineRow>(
    'SELECT line_no, product_id, name, unit_price, quantity, amount FROM order_lines WHERE order_id = ? ORDER BY line_no',
    [orderId],
  );
}

/** The lines of several orders in one query, by order id (a page of orders is one query, not one per order). */
async function linesOfOrders(db: SqlClient, orderIds: readonly string[]): Promise<Map<string, LineRow[]>> {
  const byOrder = new Map<string, LineRow[]>(orderIds.map((id) => [id, []]));
  if (orderIds.length === 0) return byOrder;
  const rows = await db.query<LineRow & { order_id: string }>(
    `SELECT order_id, line_no, product_id, name, unit_price, quantity, amount FROM order_lines
     WHERE order_id IN (${orderIds.map(() => '?').join(', ')}) ORDER BY order_id, line_no`,
    [...orderIds],
  );
  for (const { order_id: orderId, ...line } of rows) byOrder.get(orderId)?.push(line);
  return byOrder;
}

/** An order of the site with its lines, or `undefined`. */
export async function findOrder(db: SqlClient, siteId: string, id: string): Promise<OrderRecord | undefined> {
  if (!isId('ord', id)) return undefined;
  const [row] = await db.query<OrderRow>('SELECT * FROM orders WHERE id = ? AND site_id = ?', [id, siteId]);
  return row ? { row, lines: await linesOf(db, id) } : undefined;
}

function orderNotFound(id: string): ApiError {
  return new ApiError('order_not_found', `No order ${JSON.stringify(id)} on this site.`, { param: 'id' });
}

/**
 * An order of the site, as the shop or (`fanId` given) the fan sees it: a fan sees an open order
 * (to pay it) and orders they paid, never another fan's.
 *
 * @throws {@link ApiError} `order_not_found`
 */
export async function getOrder(db: SqlClient, siteId: string, id: string, fanId?: string): Promise<OrderRecord> {
  const record = await findOrder(db, siteId, id);
  if (!record || (fanId !== undefined && record.row.user_id !== null && record.row.user_id !== fanId)) throw orderNotFound(id);
  return record;
}

/** One page of a site's orders (its sales), newest first, optionally in one status. */
export async function listOrders(db: SqlClient, siteId: string, query: PageQuery & { status?: OrderStatus }): Promise<Page<Order>> {
  const where = ['site_id = ?'];
  const params: SqlValue[] = [siteId];
  if (query.status !== undefined) {
    where.push('status = ?');
    params.push(query.status);
  }
  const after = ORDERS.after(query.cursor);
  if (after) {
    where.push(after.sql);
    params.push(...after.params);
  }
  const rows = await db.query<OrderRow>(`SELECT * FROM orders WHERE ${where.join(' AND ')} ORDER BY ${ORDERS.orderBy} LIMIT ?`, [
    ...params,
    query.limit + 1,
  ]);
  const lines = await linesOfOrders(
    db,
    rows.map((row) => row.id),
  );
  const records: OrderRecord[] = rows.map((row) => ({ row, lines: lines.get(row.id) ?? [] }));
  return ORDERS.page(records, query.limit, presentOrder, (record) => [record.row.id]);
}

/** Why an order that is not open cannot be paid, as the error a client can act on. */
function notPayable(row: OrderRow): ApiError {
  switch (row.status) {
    case 'paid':
      return new ApiError('order_already_paid', `Order ${row.id} is already paid; nothing was charged again. Its receipt is on the order.`);
    case 'refunded':
      return new ApiError('order_already_paid', `Order ${row.id} was paid and then refunded; ask the shop for a new order.`);
    case 'pending_confirmation':
      return new ApiError(
        'order_pending_confirmation',
        `Order ${row.id} is waiting for the fan to approve the payment on the confirmation page; nothing was charged again.`,
      );
    case 'canceled':
      return new ApiError('order_canceled', `The shop canceled order ${row.id}; it can no longer be paid.`);
    default:
      return orderNotFound(row.id);
  }
}

/** "Order at Ada’s shop: 2 × T-shirt, 1 × Mug", capped so it fits the history and the confirmation page. */
function describeOrder(siteName: string, lines: readonly LineRow[]): string {
  const items = lines.map((line) => (line.product_id === null ? line.name : `${line.quantity} × ${line.name}`)).join(', ');
  const text = `Order at ${siteName}: ${items}`;
  const chars = [...text];
  return chars.length <= MAX_DESCRIPTION_LENGTH ? text : `${chars.slice(0, MAX_DESCRIPTION_LENGTH - 1).join('')}…`;
}

/**
 * Takes the units of every product line, or none: a line whose product has too few left
 * throws `out_of_stock` (the caller's savepoint then undoes the lines already taken).
 */
async function takeStock(tx: SqlClient, lines: readonly LineRow[]): Promise<void> {
  for (const line of lines) {
    if (line.product_id === null) continue;
    const taken = await tx.run('UPDATE products SET stock = stock - ? WHERE id = ? AND (stock IS NULL OR stock >= ?)', [
      line.quantity,
      line.product_id,
      line.quantity,
    ]);
    if (taken === 0) {
      throw new ApiError(
        'out_of_stock',
        `Not enough “${line.name}” left for this order (it needs ${line.quantity}); nothing was charged.`,
        {
          param: `lines.${line.line_no - 1}`,
        },
      );
    }
  }
}

/** Puts the units of every product line back (a declined confirmation, a refund). */
async function returnStock(tx: SqlClient, lines: readonly LineRow[]): Promise<void> {
  for (const line of lines) {
    if (line.product_id === null) continue;
    await tx.run('UPDATE products SET stock = stock + ? WHERE id = ? AND stock IS NOT NULL', [line.quantity, line.product_id]);
  }
}

async function markPaid(tx: SqlClient, row: OrderRow, userId: string, transferId: string, issuer: string, now: number): Promise<void> {
  const { jwt } = await issueReceipt(
    tx,
    {
      iss: issuer,
      sub: userId,
      aud: row.site_id,
      kind: 'order',
      subjectId: row.id,
      amountDiamonds: Number(row.total_diamonds),
      transferId,
    },
    now,
  );
  const changed = await tx.run(
    `UPDATE orders SET status = 'paid', transfer_id = ?, receipt = ?, paid_at = ?, confirmation_id = NULL
     WHERE id = ? AND status = 'pending_confirmation' AND user_id = ?`,
    [transferId, jwt, now, row.id, userId],
  );
  if (changed === 0) throw new Error(`order ${row.id} was not held for ${userId}`);
  await appendEvent(
    tx,
    {
      type: 'order.paid',
      siteId: row.site_id,
      creatorId: row.owner_id,
      fanId: userId,
      data: {
        orderId: row.id as `ord_${string}`,
        amountDiamonds: Number(row.total_diamonds),
        transferId: transferId as `txn_${string}`,
        reference: row.reference,
      },
    },
    now,
  );
  await recordBoostConversion(tx, userId, await orderItemIds(tx, row.id), now);
}

/** What paying an order answered: the order and, when the fan must approve, the confirmation. */
export interface PaymentOutcome {
  record: OrderRecord;
  confirmation: ConfirmationRecord | null;
}

/**
 * Pays an order from a fan's wallet, in the caller's transaction: claims the order, takes the
 * stock, and spends (at once within the allowance, otherwise held for the fan's confirmation,
 * with the stock held too).
 *
 * @remarks The claim is a conditional update (`WHERE status = 'open'`), so of two payments of
 * one order, even from two processes, exactly one proceeds. Every refusal is thrown, so the
 * caller's savepoint undoes the claim and the stock taken.
 * @throws {@link ApiError} `order_not_found`, `order_already_paid`, `order_pending_confirmation`,
 * `order_canceled`, `out_of_stock`, `insufficient_funds`.
 */
export async function payOrder(
  tx: SqlClient,
  ledger: Ledger,
  request: { orderId: string; siteId: string; userId: string; issuer: string; feeBasisPoints: number; origin?: string | undefined },
  now = Date.now(),
): Promise<PaymentOutcome> {
  const { orderId, siteId, userId } = request;
  const found = await findOrder(tx, siteId, orderId);
  if (!found) throw orderNotFound(orderId);
  const claimed = await tx.run(
    `UPDATE orders SET status = 'pending_confirmation', user_id = ?, attempts = attempts + 1, issuer = ?
     WHERE id = ? AND site_id = ? AND status = 'open'`,
    [userId, request.issuer, orderId, siteId],
  );
  if (claimed === 0) {
    const [current] = await tx.query<OrderRow>('SELECT * FROM orders WHERE id = ?', [orderId]);
    throw notPayable(current ?? found.row);
  }
  const [row] = await tx.query<OrderRow>('SELECT * FROM orders WHERE id = ?', [orderId]);
  if (!row) throw orderNotFound(orderId);
  await takeStock(tx, found.lines);
  const site = await findSite(tx, siteId);
  const total = Number(row.total_diamonds);
  // Lines of products with a split pay each collaborator their part (collabs/); the owner keeps the rest.
  const splits = await productSplits(
    tx,
    found.lines.flatMap((line) => (line.product_id === null ? [] : [line.product_id])),
  );
  const { credits, split } = await splitCredits(tx, ledger, {
    ownerId: row.owner_id,
    amount: total,
    feeBasisPoints: request.feeBasisPoints,
    lines: found.lines.map((line) => {
      const lineSplit = line.product_id === null ? undefined : splits.get(line.product_id);
      return { amountDiamonds: Number(line.amount), split: lineSplit?.ownerId === row.owner_id ? lineSplit : undefined };
    }),
  });
  const outcome = await spend(
    tx,
    ledger,
    {
      kind: 'order',
      subjectId: orderId,
      userId,
      siteId,
      recipientId: row.owner_id,
      amount: total,
      credits,
      split,
      description: describeOrder(site?.name ?? 'the shop', found.lines),
      origin: request.origin,
      // A declined confirmation reopens the order: each attempt is its own spend.
      reference: `order:${orderId}:${Number(row.attempts)}`,
      ...(row.reference === null ? {} : { metadata: { orderReference: row.reference } }),
    },
    now,
  );
  if (outcome.status === 'succeeded') {
    await markPaid(tx, row, userId, outcome.transfer.id, request.issuer, now);
    return { record: await getOrder(tx, siteId, orderId), confirmation: null };
  }
  await tx.run('UPDATE orders SET confirmation_id = ? WHERE id = ?', [outcome.confirmation.id, orderId]);
  return { record: await getOrder(tx, siteId, orderId), confirmation: outcome.confirmation };
}

/**
 * Refunds a paid order in full, in the caller's transaction: one `refund` transfer whose
 * postings are exactly the payment's, negated (the shop owner's earnings and the platform's fee
 * account give back what they got, the fan's wallet gets it all), and the stock goes back.
 *
 * @throws {@link ApiError} `order_not_found`, `order_not_paid`, `order_already_refunded`,
 * `insufficient_funds` (the owner's earnings no longer hold their share).
 */
export async function refundOrder(
  tx: SqlClient,
  ledger: Ledger,
  request: { orderId: string; siteId: string },
  now = Date.now(),
): Promise<OrderRecord> {
  const { orderId, siteId } = request;
  // Lock the order first (PostgreSQL; SQLite has one writer), so two refunds queue here.
  const lock = tx.kind === 'postgres' ? ' FOR UPDATE' : '';
  const [row] = isId('ord', orderId)
    ? await tx.query<OrderRow>(`SELECT * FROM orders WHERE id = ? AND site_id = ?${lock}`, [orderId, siteId])
    : [];
  if (!row) throw orderNotFound(orderId);
  if (row.status === 'refunded') {
    throw new ApiError('order_already_refunded', `Order ${orderId} was already refunded; nothing moved again.`);
  }
  if (row.status !== 'paid' || row.transfer_id === null || row.user_id === null) {
    throw new ApiError(
      'order_not_paid',
      `Order ${orderId} is ${row.status.replace('_', ' ')}, not paid: only a paid order can be refunded.`,
    );
  }
  const payment = await tx.query<{ account_id: string; amount: number }>(
    'SELECT account_id, amount FROM postings WHERE transfer_id = ? ORDER BY account_id',
    [row.transfer_id],
  );
  const [paid] = await tx.query<{ metadata: string }>('SELECT metadata FROM transfers WHERE id = ?', [row.transfer_id]);
  const paidDescription = (JSON.parse(paid?.metadata ?? '{}') as Metadata).description;
  // What a card dispute of the fan's top-up already took back from this payment (its covered
  // part, from the earnings and the fee: payments/disputes.ts) is not returned a second time.
  const reversed = await tx.query<{ account_id: string; amount: number | string }>(
    `SELECT p.account_id, sum(p.amount) AS amount FROM topup_reversal_spends r JOIN postings p ON p.transfer_id = r.transfer_id
     WHERE r.transfer_id IS NOT NULL AND (r.spend_transfer_id = ? OR r.spend_transfer_id IN (SELECT id FROM transfers WHERE pending_id = ?))
     GROUP BY p.account_id`,
    [row.transfer_id, row.transfer_id],
  );
  const alreadyBack = new Map(reversed.map((r) => [r.account_id, Number(r.amount)]));
  const payer = payment.find((posting) => Number(posting.amount) < 0)?.account_id;
  const postings: PostingInput[] = [];
  for (const posting of payment) {
    if (posting.account_id === payer) continue;
    const amount = -(Number(posting.amount) + (alreadyBack.get(posting.account_id) ?? 0));
    if (amount !== 0) postings.push({ accountId: posting.account_id, amountDiamonds: amount });
  }
  const toFan = -postings.reduce((sum, posting) => sum + posting.amountDiamonds, 0);
  if (payer !== undefined && toFan !== 0) postings.push({ accountId: payer, amountDiamonds: toFan });
  if (postings.length < 2) {
    throw new ApiError(
      'order_already_refunded',
      `The fan’s card dispute already took order ${orderId}’s payment back from your earnings; nothing is left to refund.`,
    );
  }
  let transfer: Transfer;
  try {
    ({ transfer } = await ledger.transferIn(tx, {
      // One refund per order, ever: the ledger's unique key stands behind the status check.
      idempotencyKey: `refund:${orderId}`,
      code: 'refund',
      postings,
      metadata: {
        description: `Refund: ${typeof paidDescription === 'string' ? paidDescription : `order ${orderId}`}`,
        kind: 'refund',
        subjectId: orderId,
        siteId,
        payerId: row.owner_id,
        recipientId: row.user_id,
        refundOf: row.transfer_id,
      },
    }));
  } catch (error) {
    if (!isApiError(error, 'insufficient_funds')) throw error;
    const earnings = await tx.query<{ id: string }>(`SELECT id FROM accounts WHERE owner_id = ? AND kind = 'earnings'`, [row.owner_id]);
    const needed = -(postings.find((posting) => posting.accountId === earnings[0]?.id)?.amountDiamonds ?? 0);
    throw new ApiError(
      'insufficient_funds',
      `Refunding order ${orderId} takes ${needed} Diamonds back from the shop owner’s earnings, which no longer hold them (cashed out or spent); nothing moved.`,
    );
  }
  const changed = await tx.run(
    `UPDATE orders SET status = 'refunded', refund_transfer_id = ?, refunded_at = ? WHERE id = ? AND status = 'paid'`,
    [transfer.id, now, orderId],
  );
  if (changed === 0) throw new ApiError('order_already_refunded', `Order ${orderId} was already refunded; nothing moved again.`);
  // A split order: each collaborator learns what the refund took back from their earnings.
  await splitSpendRefunded(tx, row.transfer_id, transfer.id, now);
  await appendEvent(
    tx,
    {
      type: 'order.refunded',
      siteId,
      creatorId: row.owner_id,
      fanId: row.user_id,
      data: {
        orderId: row.id as `ord_${string}`,
        amountDiamonds: Number(row.total_diamonds),
        refundTransferId: transfer.id,
        reference: row.reference,
      },
    },
    now,
  );
  await returnStock(tx, await linesOf(tx, orderId));
  return getOrder(tx, siteId, orderId);
}

/**
 * Cancels an open order so no fan can pay it. Canceling a canceled order answers the same.
 *
 * @throws {@link ApiError} `order_not_found`, `order_already_paid`, `order_pending_confirmation`
 */
export async function cancelOrder(tx: SqlClient, siteId: string, orderId: string): Promise<OrderRecord> {
  const found = await findOrder(tx, siteId, orderId);
  if (!found) throw orderNotFound(orderId);
  const canceled = await tx.run(`UPDATE orders SET status = 'canceled' WHERE id = ? AND site_id = ? AND status = 'open'`, [
    orderId,
    siteId,
  ]);
  if (canceled > 0) {
    await appendEvent(tx, {
      type: 'order.canceled',
      siteId,
      creatorId: found.row.owner_id,
      fanId: null,
      data: { orderId: found.row.id as `ord_${string}`, reference: found.row.reference },
    });
  } else {
    // Canceling a canceled order answers the same (and appends nothing again).
    const [current] = await tx.query<OrderRow>('SELECT * FROM orders WHERE id = ?', [orderId]);
    if (current?.status !== 'canceled') throw notPayable(current ?? found.row);
  }
  return getOrder(tx, siteId, orderId);
}

/** An order paid beyond the allowance is marked paid, or reopened, when its confirmation is settled. */
const orderSettlement: SpendSettlement = {
  async posted(tx, confirmation, transfer) {
    const [row] = await tx.query<OrderRow>('SELECT * FROM orders WHERE id = ?', [confirmation.subjectId]);
    if (!row || row.confirmation_id !== confirmation.id) return;
    await markPaid(tx, row, confirmation.userId, transfer.id, row.issuer ?? '', confirmation.decidedAt ?? Date.now());
  },
  async voided(tx, confirmation) {
    // Only the attempt this confirmation held reopens the order, and only once.
    const reopened = await tx.run(
      `UPDATE orders SET status = 'open', user_id = NULL, confirmation_id = NULL
       WHERE id = ? AND status = 'pending_confirmation' AND confirmation_id = ?`,
      [confirmation.subjectId, confirmation.id],
    );
    if (reopened > 0) await returnStock(tx, await linesOf(tx, confirmation.subjectId));
  },
};

/** What `POST /v1/orders/{id}/pay` asks the money writer. */
export interface PayOrderInput {
  orderId: string;
  siteId: string;
  userId: string;
  feeBasisPoints: number;
  /** The platform's public origin: the receipt's issuer, and where the confirmation page is. */
  baseUrl: string;
  /** The origin of the page that asked: the confirmation page names it (see `SpendRequest.origin`). */
  origin?: string | undefined;
}

/** A fan pays an order (`POST /v1/orders/{id}/pay`): 200 paid, or 202 waiting for confirmation. */
export const payOrderOperation = moneyOperation(
  'orders.pay',
  async (tx, money, input: PayOrderInput): Promise<StoredResponse<PayOrderResult>> => {
    const { record, confirmation } = await payOrder(tx, money.ledger, {
      orderId: input.orderId,
      siteId: input.siteId,
      userId: input.userId,
      issuer: input.baseUrl,
      feeBasisPoints: input.feeBasisPoints,
      origin: input.origin,
    });
    const body: PayOrderResult = {
      ...presentCheckoutOrder(record),
      confirmation: confirmation === null ? null : presentConfirmation(confirmation, input.baseUrl),
    };
    return { status: confirmation === null ? 200 : 202, body };
  },
);

/** A shop's backend refunds a paid order in full (`POST /v1/orders/{id}/refund`). */
export const refundOrderOperation = moneyOperation(
  'orders.refund',
  async (tx, money, input: { orderId: string; siteId: string }): Promise<StoredResponse<Order>> => ({
    status: 200,
    body: presentOrder(await refundOrder(tx, money.ledger, input)),
  }),
);

/** A shop's backend cancels an open order (`POST /v1/orders/{id}/cancel`). */
export const cancelOrderOperation = moneyOperation('orders.cancel', async (tx, _money, input: { orderId: string; siteId: string }) =>
  presentOrder(await cancelOrder(tx, input.siteId, input.orderId)),
);

/** A shop's backend creates an order (`POST /v1/orders`). */
export const createOrderOperation = moneyOperation(
  'orders.create',
  async (tx, _money, input: { siteId: string; order: CreateOrder }): Promise<StoredResponse<Order>> => ({
    status: 201,
    body: presentOrder(await createOrder(tx, input.siteId, input.order)),
  }),
);

/** A shop's backend adds a product (`POST /v1/products`): its stock is what paid orders take from. */
export const createProductOperation = moneyOperation(
  'products.create',
  async (tx, _money, input: { siteId: string; product: CreateProduct }): Promise<StoredResponse<Product>> => ({
    status: 201,
    body: await createProduct(tx, input.siteId, input.product),
  }),
);

/** A shop's backend changes a product (`PATCH /v1/products/{id}`): price, stock, active. */
export const updateProductOperation = moneyOperation(
  'products.update',
  (tx, _money, input: { siteId: string; productId: string; changes: UpdateProduct }) =>
    updateProduct(tx, input.siteId, input.productId, input.changes),
);

/**
 * Orders' part in the money path: the shop's products and orders (their stock and status are
 * what a payment changes), payments, refunds, and settling a payment that waited for confirmation.
 */
export const ordersMoney: MoneyFeature = {
  name: 'orders',
  operations: [
    payOrderOperation,
    refundOrderOperation,
    cancelOrderOperation,
    createOrderOperation,
    createProductOperation,
    updateProductOperation,
  ],
  settlements: { order: orderSettlement },
};
