import { Hono } from 'hono';
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
} from '@diamonds/protocol';
import { publicBaseUrl, type AppContext, type AppEnv } from '../context.js';
import { orderSplitShares, splitLine } from '../collabs/collabs.js';
import { ApiError } from '../errors.js';
import { validate, type JsonObject } from '../http/body.js';
import { exampleId, fanCaller, idParam, routesOn } from '../http/route.js';
import {
  cancelOrderOperation,
  createOrderOperation,
  createProductOperation,
  getOrder,
  getProduct,
  listOrders,
  listProducts,
  payOrderOperation,
  presentCheckoutOrder,
  presentOrder,
  refundOrderOperation,
  updateProductOperation,
} from './orders.js';
import { cleanText } from '../text.js';
import { fanScope, respondWithMoney, siteScope } from '../money/respond.js';

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

/** Checks a product body: amounts first (their own codes), then the schema, then the name as text. */
function productInput<S extends typeof CreateProduct | typeof UpdateProduct>(schema: S, raw: JsonObject): z.output<S> {
  checkDiamonds(raw.priceDiamonds, 'priceDiamonds');
  const input = validate(schema, raw) as { name?: string | undefined };
  if (input.name !== undefined) input.name = cleanText(input.name, { param: 'name', max: 120 });
  return input as z.output<S>;
}

/** Checks an order body: amounts and quantities first (their own codes), then the schema, then its texts. */
function orderInput(raw: JsonObject): CreateOrder {
  checkDiamonds(raw.amountDiamonds, 'amountDiamonds');
  checkQuantities(raw.lines);
  const input = validate(CreateOrder, raw);
  if (input.reference !== undefined) input.reference = cleanText(input.reference, { param: 'reference', max: 200 });
  if ('description' in input) input.description = cleanText(input.description, { param: 'description', max: 200 });
  return input;
}

const TAG = 'Orders';
const ORDER_ID = { id: idParam('ord', 'The order id, `ord_…`.') };
const PRODUCT_ID = { id: idParam('prod', 'The product id, `prod_…`.') };

const EXAMPLE_PRODUCT: Product = {
  object: 'product',
  id: exampleId('prod'),
  name: 'Tour T-shirt',
  priceDiamonds: 250,
  stock: 40,
  imageUrl: 'https://shop.example/img/tshirt.png',
  active: true,
  createdAt: 1767225600000,
};

const EXAMPLE_CHECKOUT: CheckoutOrder = {
  object: 'order',
  id: exampleId('ord'),
  siteId: exampleId('site'),
  status: 'paid',
  totalDiamonds: 500,
  lines: [{ productId: exampleId('prod'), name: 'Tour T-shirt', unitPriceDiamonds: 250, quantity: 2, amountDiamonds: 500 }],
  fanId: exampleId('usr'),
  transferId: exampleId('txn'),
  receipt: 'eyJhbGciOiJFUzI1NiIsImtpZCI6InJjcHQifQ.eyJzdWIiOiJ1c3IifQ.c2lnbmF0dXJl',
  createdAt: 1767225600000,
  paidAt: 1767225660000,
  refundedAt: null,
};

const EXAMPLE_ORDER: Order = { ...EXAMPLE_CHECKOUT, reference: 'cart-1042', metadata: { channel: 'web' }, refundTransferId: null };
const EXAMPLE_OPEN_ORDER: Order = {
  ...EXAMPLE_ORDER,
  status: 'open',
  fanId: null,
  transferId: null,
  receipt: null,
  paidAt: null,
};

/** `/v1` routes of products, orders and refunds. */
export function ordersApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const { db } = context;
  const route = routesOn(api, context);

  /** A fan's view of an order, with its split when products of it are split (collabs/): seen before paying. */
  async function withSplit(ownerId: string, order: CheckoutOrder): Promise<CheckoutOrder> {
    const split = await orderSplitShares(
      db,
      ownerId,
      order.lines.map((line) => ({ productId: line.productId, amountDiamonds: line.amountDiamonds })),
    );
    return split ? { ...order, split, splitLine: splitLine(split) } : order;
  }

  route(
    {
      method: 'post',
      path: '/products',
      operationId: 'createProduct',
      summary: 'Create a product',
      description: 'With the secret key. An `Idempotency-Key` is optional here: with one, a retry returns the first product.',
      tag: TAG,
      auth: 'secret',
      idempotent: 'optional',
      body: CreateProduct,
      parseBody: (raw) => productInput(CreateProduct, raw),
      bodyExample: { name: 'Tour T-shirt', priceDiamonds: 250, stock: 40, imageUrl: 'https://shop.example/img/tshirt.png' },
      responses: { 201: { description: 'The product.', schema: Product, example: EXAMPLE_PRODUCT } },
      errors: ['invalid_amount', 'amount_too_large'],
    },
    async (c, { caller: { siteId }, body }) => {
      // Creating a product moves no Diamonds: the key is optional, and honoured when given.
      if (c.req.header('Idempotency-Key') !== undefined) {
        return respondWithMoney(c, context, siteScope(siteId), createProductOperation, { siteId, product: body });
      }
      const created = await context.writer.run(createProductOperation, { siteId, product: body });
      return c.json(created.body, 201);
    },
  );

  route(
    {
      method: 'get',
      path: '/products',
      operationId: 'listProducts',
      summary: 'List products',
      description: 'Newest first. A publishable key sees the products on sale; the secret key sees inactive ones too.',
      tag: TAG,
      auth: 'any',
      query: PageQuery,
      responses: {
        200: {
          description: 'A page of products.',
          schema: ProductList,
          example: { object: 'list', data: [EXAMPLE_PRODUCT], hasMore: false, nextCursor: null },
        },
      },
      errors: ['invalid_cursor'],
    },
    async (c, { caller, query }) => c.json(await listProducts(db, caller.siteId, query, caller.keyKind === 'secret')),
  );

  route(
    {
      method: 'get',
      path: '/products/{id}',
      operationId: 'getProduct',
      summary: 'Get a product',
      tag: TAG,
      auth: 'any',
      params: PRODUCT_ID,
      responses: { 200: { description: 'The product.', schema: Product, example: EXAMPLE_PRODUCT } },
      errors: ['product_not_found'],
    },
    async (c, { caller, params }) => c.json(await getProduct(db, caller.siteId, params.id, caller.keyKind === 'secret')),
  );

  route(
    {
      method: 'patch',
      path: '/products/{id}',
      operationId: 'updateProduct',
      summary: 'Change a product',
      description: 'With the secret key: price, stock, name, picture, or whether it is on sale. Orders already created keep their prices.',
      tag: TAG,
      auth: 'secret',
      params: PRODUCT_ID,
      body: UpdateProduct,
      parseBody: (raw) => productInput(UpdateProduct, raw),
      bodyExample: { priceDiamonds: 200, stock: 25 },
      responses: {
        200: { description: 'The product as changed.', schema: Product, example: { ...EXAMPLE_PRODUCT, priceDiamonds: 200, stock: 25 } },
      },
      errors: ['invalid_amount', 'amount_too_large', 'product_not_found'],
    },
    async (c, { caller: { siteId }, params, body }) =>
      c.json(await context.writer.run(updateProductOperation, { siteId, productId: params.id, changes: body })),
  );

  route(
    {
      method: 'post',
      path: '/orders',
      operationId: 'createOrder',
      summary: 'Create an order',
      description:
        'With the secret key, from the shop’s backend: product lines (priced from the products, never from the request) or an explicit total with a description.',
      tag: TAG,
      auth: 'secret',
      idempotent: true,
      body: CreateOrder,
      parseBody: orderInput,
      bodyExample: { lines: [{ productId: exampleId('prod'), quantity: 2 }], reference: 'cart-1042', metadata: { channel: 'web' } },
      responses: { 201: { description: 'The open order, ready for a fan to pay.', schema: Order, example: EXAMPLE_OPEN_ORDER } },
      errors: ['invalid_amount', 'amount_too_large', 'invalid_quantity', 'product_not_found'],
    },
    async (c, { caller: { siteId }, body }) =>
      respondWithMoney(c, context, siteScope(siteId), createOrderOperation, { siteId, order: body }),
  );

  route(
    {
      method: 'get',
      path: '/orders',
      operationId: 'listOrders',
      summary: 'List the site’s orders',
      description: 'With the secret key: the site’s sales, newest first, optionally in one status.',
      tag: TAG,
      auth: 'secret',
      query: OrderListQuery,
      responses: {
        200: {
          description: 'A page of orders.',
          schema: OrderList,
          example: { object: 'list', data: [EXAMPLE_ORDER], hasMore: true, nextCursor: 'WzE3NjcyMjU2MDAwMDAsIm9yZF8iXQ' },
        },
      },
      errors: ['invalid_cursor'],
    },
    async (c, { caller: { siteId }, query }) => {
      c.header('Cache-Control', 'no-store');
      return c.json(await listOrders(db, siteId, query));
    },
  );

  route(
    {
      method: 'get',
      path: '/orders/{id}',
      operationId: 'getOrder',
      summary: 'Get an order',
      description:
        'With the secret key: the whole order (reference, metadata, receipt). With the publishable key and a fan token: what the checkout shows (an open order, or one this fan paid). With the publishable key alone (a signed-out fan): an open order’s lines and total.',
      tag: TAG,
      auth: 'any',
      params: ORDER_ID,
      responses: {
        200: {
          description: 'The order (`Order` with the secret key, `CheckoutOrder` for a fan).',
          schema: z.union([Order, CheckoutOrder]),
          example: EXAMPLE_ORDER,
        },
      },
      errors: ['order_not_found', 'invalid_token', 'invalid_dpop_proof'],
    },
    async (c, { caller, params: { id } }) => {
      c.header('Cache-Control', 'no-store');
      if (caller.keyKind === 'secret') return c.json(presentOrder(await getOrder(db, caller.siteId, id)));
      if (c.req.header('Diamonds-Token') === undefined) {
        // A signed-out fan sees what they would pay for, so the checkout can show it and sign in
        // and pay in one click. Only while it is open: once a fan is paying or paid, the order is
        // theirs to see (as for another signed-in fan).
        const record = await getOrder(db, caller.siteId, id);
        const order = presentCheckoutOrder(record);
        if (order.status !== 'open') {
          throw new ApiError(
            'order_not_found',
            `Order ${id} is no longer open; sign the fan in (Diamonds-Token) to show it to the fan who paid.`,
          );
        }
        return c.json(await withSplit(record.row.owner_id, order));
      }
      const fan = await fanCaller(c, context);
      const record = await getOrder(db, fan.siteId, id, fan.userId);
      return c.json(await withSplit(record.row.owner_id, presentCheckoutOrder(record)));
    },
  );

  route(
    {
      method: 'post',
      path: '/orders/{id}/pay',
      operationId: 'payOrder',
      summary: 'Pay an order',
      description:
        'The signed-in fan pays from their wallet. Within their allowance for the site it is paid at once (200, with the receipt); beyond it the Diamonds and the stock are held and the answer is 202 with a `confirmation` to approve on the hosted page.',
      tag: TAG,
      auth: 'fan',
      idempotent: true,
      params: ORDER_ID,
      responses: {
        200: { description: 'Paid, with its receipt.', schema: PayOrderResult, example: { ...EXAMPLE_CHECKOUT, confirmation: null } },
        202: { description: 'Waiting for the fan’s confirmation.', schema: PayOrderResult },
      },
      errors: [
        'order_not_found',
        'order_already_paid',
        'order_pending_confirmation',
        'order_canceled',
        'out_of_stock',
        'insufficient_funds',
      ],
    },
    async (c, { caller, params }) =>
      respondWithMoney(c, context, fanScope(caller.userId, caller.siteId), payOrderOperation, {
        orderId: params.id,
        siteId: caller.siteId,
        userId: caller.userId,
        baseUrl: publicBaseUrl(c, context.settings),
        feeBasisPoints: context.settings.platformFeeBps,
        origin: caller.origin,
      }),
  );

  route(
    {
      method: 'post',
      path: '/orders/{id}/refund',
      operationId: 'refundOrder',
      summary: 'Refund an order in full',
      description:
        'With the secret key. One `refund` transfer reverses the payment exactly: the shop owner’s earnings and the platform fee go back to the fan, and the stock returns. `insufficient_funds` (402) when the owner’s earnings no longer hold their share.',
      tag: TAG,
      auth: 'secret',
      idempotent: true,
      params: ORDER_ID,
      responses: {
        200: {
          description: 'The refunded order.',
          schema: Order,
          example: { ...EXAMPLE_ORDER, status: 'refunded', refundedAt: 1767229200000, refundTransferId: exampleId('txn', 1) },
        },
      },
      errors: ['order_not_found', 'order_not_paid', 'order_already_refunded', 'insufficient_funds'],
    },
    async (c, { caller: { siteId }, params }) =>
      respondWithMoney(c, context, siteScope(siteId), refundOrderOperation, { orderId: params.id, siteId }),
  );

  route(
    {
      method: 'post',
      path: '/orders/{id}/cancel',
      operationId: 'cancelOrder',
      summary: 'Cancel an open order',
      description: 'With the secret key, so that no fan can pay it. Canceling it again answers the same.',
      tag: TAG,
      auth: 'secret',
      params: ORDER_ID,
      responses: {
        200: { description: 'The canceled order.', schema: Order, example: { ...EXAMPLE_OPEN_ORDER, status: 'canceled' } },
      },
      errors: ['order_not_found', 'order_already_paid', 'order_pending_confirmation'],
    },
    async (c, { caller: { siteId }, params }) => c.json(await context.writer.run(cancelOrderOperation, { orderId: params.id, siteId })),
  );

  return api;
}
