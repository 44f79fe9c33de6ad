import { Hono, type Context } from 'hono';
import { z } from 'zod';
import {
  CheckoutOrder,
  CreateOrder,
  CreateProduct,
  MAX_LINE_QUANTITY,
  MAX_TRANSFER_DIAMONDS,
  Order,
  OrderList,
  OrderListQuery,
  PageQuery,
  PayOrderResult,
  Product,
  ProductList,
  UpdateProduct,
  type ErrorCode,
} from '@diamonds/protocol';
import { publicBaseUrl, type AppContext, type AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { validate } from '../http/body.js';
import {
  cancelOrder,
  createOrder,
  createProduct,
  getOrder,
  getProduct,
  listOrders,
  listProducts,
  presentCheckoutOrder,
  presentOrder,
  refundOrder,
  updateProduct,
} from '../orders/orders.js';
import { cleanText } from '../text.js';
import { fanOf } from './identity.js';
import { fanScope, respondIdempotently, respondWithSpend, secretSiteOf, siteScope } from './money-route.js';
import { documentRoute } from './openapi.js';
import { pathId } from '../http/ids.js';

/**
 * Checks an amount of Diamonds before the schema does, so that a wrong amount gets the codes a
 * client can switch on: `invalid_amount` (not a whole number from 1, such as 0, -1, 1.5, "10"
 * or 2^53 + 1) or `amount_too_large` (above {@link MAX_TRANSFER_DIAMONDS}).
 */
function checkDiamonds(value: unknown, param: string): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ApiError('invalid_amount', `${param} must be a whole number of Diamonds from 1 (a JSON number, not a string).`, { param });
  }
  if (value > MAX_TRANSFER_DIAMONDS) {
    throw new ApiError('amount_too_large', `${param} may be at most ${MAX_TRANSFER_DIAMONDS} Diamonds.`, { param });
  }
}

/** Checks each line's quantity, so a wrong one gets `invalid_quantity` rather than a generic code. */
function checkQuantities(lines: unknown): void {
  if (!Array.isArray(lines)) return;
  lines.forEach((line: unknown, index) => {
    const quantity = typeof line === 'object' && line !== null ? (line as { quantity?: unknown }).quantity : undefined;
    if (quantity === undefined) return;
    if (typeof quantity !== 'number' || !Number.isSafeInteger(quantity) || quantity < 1 || quantity > MAX_LINE_QUANTITY) {
      throw new ApiError('invalid_quantity', `lines.${index}.quantity must be a whole number from 1 to ${MAX_LINE_QUANTITY}.`, {
        param: `lines.${index}.quantity`,
      });
    }
  });
}

function body(c: Context<AppEnv>): Record<string, unknown> {
  return c.get('json') ?? {};
}

/** Checks a product body: amounts first (their own codes), then the schema, then the name as text. */
function productInput<S extends typeof CreateProduct | typeof UpdateProduct>(schema: S, raw: Record<string, unknown>): z.output<S> {
  checkDiamonds(raw.priceDiamonds, 'priceDiamonds');
  const input = validate(schema, raw) as { name?: string | undefined };
  if (input.name !== undefined) input.name = cleanText(input.name, { param: 'name', max: 120 });
  return input as z.output<S>;
}

const ORDER_ERRORS: readonly ErrorCode[] = ['permission_denied', 'secret_key_in_browser', 'invalid_api_key', 'order_not_found'];
const FAN_ERRORS: readonly ErrorCode[] = ['authentication_required', 'invalid_token', 'permission_denied', 'origin_not_allowed'];
const IDEMPOTENCY_ERRORS: readonly ErrorCode[] = ['idempotency_key_required', 'idempotency_key_invalid', 'idempotency_key_reused'];

documentRoute({
  method: 'post',
  path: '/v1/products',
  summary: 'Create a product',
  description: 'With the secret key. An `Idempotency-Key` is optional here: with one, a retry returns the first product.',
  tag: 'Orders',
  auth: 'secret',
  body: CreateProduct,
  responses: { 201: { description: 'The product.', schema: Product } },
  errors: ['invalid_request', 'invalid_amount', 'amount_too_large', 'permission_denied', 'secret_key_in_browser', 'idempotency_key_reused'],
});
documentRoute({
  method: 'get',
  path: '/v1/products',
  summary: 'List products',
  description: 'Newest first. A publishable key sees the products on sale; the secret key sees inactive ones too.',
  tag: 'Orders',
  auth: 'any',
  query: PageQuery,
  responses: { 200: { description: 'A page of products.', schema: ProductList } },
  errors: ['invalid_request', 'invalid_cursor'],
});
documentRoute({
  method: 'get',
  path: '/v1/products/{id}',
  summary: 'Get a product',
  tag: 'Orders',
  auth: 'any',
  params: { id: 'The product id, prod_…' },
  responses: { 200: { description: 'The product.', schema: Product } },
  errors: ['product_not_found'],
});
documentRoute({
  method: 'patch',
  path: '/v1/products/{id}',
  summary: 'Change a product',
  description: 'With the secret key: price, stock, name, picture, or whether it is on sale. Orders already created keep their prices.',
  tag: 'Orders',
  auth: 'secret',
  params: { id: 'The product id, prod_…' },
  body: UpdateProduct,
  responses: { 200: { description: 'The product as changed.', schema: Product } },
  errors: ['invalid_request', 'invalid_amount', 'amount_too_large', 'product_not_found', 'permission_denied'],
});
documentRoute({
  method: 'post',
  path: '/v1/orders',
  summary: 'Create an order',
  description:
    'With the secret key, from the shop’s backend: product lines (priced from the products, never from the request) or an explicit total with a description.',
  tag: 'Orders',
  auth: 'secret',
  idempotent: true,
  body: CreateOrder,
  responses: { 201: { description: 'The open order, ready for a fan to pay.', schema: Order } },
  errors: [
    'invalid_request',
    'invalid_amount',
    'amount_too_large',
    'invalid_quantity',
    'product_not_found',
    'permission_denied',
    'secret_key_in_browser',
    ...IDEMPOTENCY_ERRORS,
  ],
});
documentRoute({
  method: 'get',
  path: '/v1/orders',
  summary: 'List the site’s orders',
  description: 'With the secret key: the site’s sales, newest first, optionally in one status.',
  tag: 'Orders',
  auth: 'secret',
  query: OrderListQuery,
  responses: { 200: { description: 'A page of orders.', schema: OrderList } },
  errors: ['invalid_request', 'invalid_cursor', 'permission_denied'],
});
documentRoute({
  method: 'get',
  path: '/v1/orders/{id}',
  summary: 'Get an order',
  description:
    'With the secret key: the whole order (reference, metadata, receipt). With the publishable key and a fan token: what the checkout shows (an open order, or one this fan paid). With the publishable key alone (a signed-out fan): an open order’s lines and total.',
  tag: 'Orders',
  auth: 'any',
  params: { id: 'The order id, ord_…' },
  responses: {
    200: { description: 'The order (`Order` with the secret key, `CheckoutOrder` for a fan).', schema: z.union([Order, CheckoutOrder]) },
  },
  errors: ['order_not_found', 'authentication_required', 'invalid_token'],
});
documentRoute({
  method: 'post',
  path: '/v1/orders/{id}/pay',
  summary: 'Pay an order',
  description:
    'The signed-in fan pays from their wallet. Within their allowance for the site it is paid at once (200, with the receipt); beyond it the Diamonds and the stock are held and the answer is 202 with a `confirmation` to approve on the hosted page.',
  tag: 'Orders',
  auth: 'fan',
  idempotent: true,
  params: { id: 'The order id, ord_…' },
  responses: {
    200: { description: 'Paid, with its receipt.', schema: PayOrderResult },
    202: { description: 'Waiting for the fan’s confirmation.', schema: PayOrderResult },
  },
  errors: [
    'order_not_found',
    'order_already_paid',
    'order_pending_confirmation',
    'order_canceled',
    'out_of_stock',
    'insufficient_funds',
    ...FAN_ERRORS,
    ...IDEMPOTENCY_ERRORS,
  ],
});
documentRoute({
  method: 'post',
  path: '/v1/orders/{id}/refund',
  summary: 'Refund an order in full',
  description:
    'With the secret key. One `refund` transfer reverses the payment exactly: the shop owner’s earnings and the platform fee go back to the fan, and the stock returns. `insufficient_funds` (402) when the owner’s earnings no longer hold their share.',
  tag: 'Orders',
  auth: 'secret',
  idempotent: true,
  params: { id: 'The order id, ord_…' },
  responses: { 200: { description: 'The refunded order.', schema: Order } },
  errors: ['order_not_found', 'order_not_paid', 'order_already_refunded', 'insufficient_funds', ...ORDER_ERRORS, ...IDEMPOTENCY_ERRORS],
});
documentRoute({
  method: 'post',
  path: '/v1/orders/{id}/cancel',
  summary: 'Cancel an open order',
  description: 'With the secret key, so that no fan can pay it. Canceling it again answers the same.',
  tag: 'Orders',
  auth: 'secret',
  params: { id: 'The order id, ord_…' },
  responses: { 200: { description: 'The canceled order.', schema: Order } },
  errors: ['order_not_found', 'order_already_paid', 'order_pending_confirmation', ...ORDER_ERRORS],
});

/** `/v1` routes of products, orders and refunds. */
export function ordersApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const { db, ledger } = context;

  api.post('/products', async (c) => {
    const siteId = secretSiteOf(c);
    const input = productInput(CreateProduct, body(c));
    // Creating a product moves no Diamonds: the key is optional, and honoured when given.
    if (c.req.header('Idempotency-Key') !== undefined) {
      return respondIdempotently(c, context, siteScope(siteId), async (tx) => ({
        status: 201,
        body: await createProduct(tx, siteId, input),
      }));
    }
    return c.json(await db.transaction((tx) => createProduct(tx, siteId, input)), 201);
  });

  api.get('/products', async (c) => {
    const caller = c.get('caller');
    const page = validate(PageQuery, c.req.query());
    return c.json(await listProducts(db, caller.siteId, page, caller.keyKind === 'secret'));
  });

  api.get('/products/:id', async (c) => {
    const caller = c.get('caller');
    return c.json(await getProduct(db, caller.siteId, pathId(c, 'prod'), caller.keyKind === 'secret'));
  });

  api.patch('/products/:id', async (c) => {
    const siteId = secretSiteOf(c);
    const productId = pathId(c, 'prod');
    const changes = productInput(UpdateProduct, body(c));
    return c.json(await db.transaction((tx) => updateProduct(tx, siteId, productId, changes)));
  });

  api.post('/orders', async (c) => {
    const siteId = secretSiteOf(c);
    const raw = body(c);
    checkDiamonds(raw.amountDiamonds, 'amountDiamonds');
    checkQuantities(raw.lines);
    const input = validate(CreateOrder, raw);
    if (input.reference !== undefined) input.reference = cleanText(input.reference, { param: 'reference', max: 200 });
    if ('description' in input) input.description = cleanText(input.description, { param: 'description', max: 200 });
    return respondIdempotently(c, context, siteScope(siteId), async (tx) => ({
      status: 201,
      body: presentOrder(await createOrder(tx, siteId, input)),
    }));
  });

  api.get('/orders', async (c) => {
    const siteId = secretSiteOf(c);
    const query = validate(OrderListQuery, c.req.query());
    c.header('Cache-Control', 'no-store');
    return c.json(await listOrders(db, siteId, query));
  });

  api.get('/orders/:id', async (c) => {
    const caller = c.get('caller');
    c.header('Cache-Control', 'no-store');
    if (caller.keyKind === 'secret') return c.json(presentOrder(await getOrder(db, caller.siteId, pathId(c, 'ord'))));
    if (c.req.header('Diamonds-Token') === undefined) {
      // A signed-out fan sees what they would pay for, so the checkout can show it and sign in
      // and pay in one click. Only while it is open: once a fan is paying or paid, the order is
      // theirs to see (as for another signed-in fan).
      const id = pathId(c, 'ord');
      const order = presentCheckoutOrder(await getOrder(db, caller.siteId, id));
      if (order.status !== 'open') {
        throw new ApiError(
          'order_not_found',
          `Order ${id} is no longer open; sign the fan in (Diamonds-Token) to show it to the fan who paid.`,
        );
      }
      return c.json(order);
    }
    const { userId, context: fan } = await fanOf(c, db);
    return c.json(presentCheckoutOrder(await getOrder(db, fan.siteId, pathId(c, 'ord'), userId)));
  });

  api.post('/orders/:id/pay', async (c) => {
    const { userId, context: fan } = await fanOf(c, db);
    const orderId = pathId(c, 'ord');
    const baseUrl = publicBaseUrl(c, context.settings);
    return respondWithSpend(c, context, fanScope(userId, fan.siteId), {
      kind: 'orders.pay',
      orderId,
      siteId: fan.siteId,
      userId,
      baseUrl,
      feeBasisPoints: context.settings.platformFeeBps,
    });
  });

  api.post('/orders/:id/refund', async (c) => {
    const siteId = secretSiteOf(c);
    const orderId = pathId(c, 'ord');
    return respondIdempotently(c, context, siteScope(siteId), async (tx) => ({
      status: 200,
      body: presentOrder(await refundOrder(tx, ledger, { orderId, siteId })),
    }));
  });

  api.post('/orders/:id/cancel', async (c) => {
    const siteId = secretSiteOf(c);
    return c.json(presentOrder(await db.transaction((tx) => cancelOrder(tx, siteId, pathId(c, 'ord')))));
  });

  return api;
}
