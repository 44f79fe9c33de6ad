import {
  Content,
  ContentList,
  Order,
  OrderList,
  Product,
  ProductList,
  type CreateContent,
  type CreateOrder,
  type CreateProduct,
  type OrderStatus,
  type UpdateContent,
  type UpdateProduct,
} from '@diamonds/protocol';
import type { z } from 'zod';
import type { HttpMethod } from '../internal/http.js';
import type { ResponseSchema } from '../internal/schemas.js';
import { DiamondsUsageError } from './errors.js';
import { walkItems, walkPages, type PageParams } from './pages.js';

/**
 * Options of one call of the server client.
 *
 * @example
 * ```ts
 * await diamonds.orders.create(params, { idempotencyKey: `cart-${cartId}`, signal: AbortSignal.timeout(5_000) });
 * ```
 */
export interface ServerCallOptions {
  /** Aborts the request (and any retry wait); the abort reason is thrown as is. */
  signal?: AbortSignal | undefined;
  /**
   * The `Idempotency-Key` of a POST. The SDK makes one per call and sends the same one on every
   * retry of that call; pass your own (a cart or invoice id) to make a repeat of the whole call,
   * after a crash of your process say, return the first answer instead of acting twice.
   *
   * @defaultValue a fresh random key per call
   */
  idempotencyKey?: string | undefined;
}

/** What a resource needs of its client: one request function. @internal */
export type Requester = <T>(
  method: HttpMethod | 'patch',
  path: string,
  schema: ResponseSchema<T>,
  options?: ServerCallOptions & { json?: unknown; searchParams?: Record<string, string | number | undefined> },
) => Promise<T>;

/**
 * The body of {@link ServerContent.create}: a title, an optional teaser, exactly one of `body`
 * (Markdown) and `externalUrl`, and exactly one rule: `priceDiamonds` or `thresholdDiamonds`.
 */
export type CreateContentParams = z.input<typeof CreateContent>;

/** The changes of {@link ServerContent.update}: title, teaser, archived. */
export type UpdateContentParams = z.input<typeof UpdateContent>;

/** The body of {@link ServerProducts.create}. */
export type CreateProductParams = z.input<typeof CreateProduct>;

/** The changes of {@link ServerProducts.update}: at least one field. */
export type UpdateProductParams = z.input<typeof UpdateProduct>;

/**
 * The body of {@link ServerOrders.create}: product `lines` (priced by the platform from your
 * products), or an explicit `amountDiamonds` with a `description`; either with your own
 * `reference` and `metadata`.
 */
export type CreateOrderParams = z.input<typeof CreateOrder>;

/**
 * Query of {@link ServerOrders.list}: a page, and optionally only orders in one status.
 *
 * @example
 * ```ts
 * const open = await diamonds.orders.list({ status: 'open', limit: 100 });
 * ```
 */
export interface OrderListParams extends PageParams {
  /** Only orders in this status; every status when absent. */
  status?: OrderStatus | undefined;
}

/** Checks an id argument before it goes into a path: `ord_../refund` must not reach another route. */
function checkId(value: unknown, prefix: string, what: string): string {
  if (typeof value !== 'string' || !new RegExp(`^${prefix}_[A-Za-z0-9]{1,64}$`).test(value)) {
    throw new DiamondsUsageError(`Expected ${what} id (${prefix}_…), got ${JSON.stringify(value) ?? String(value)}.`, {
      code: 'invalid_id',
    });
  }
  return value;
}

function pageQuery(params: OrderListParams): Record<string, string | number | undefined> {
  return { limit: params.limit, cursor: params.cursor, status: params.status };
}

/**
 * Your site's exclusive content: publish it, list it, read it. Fans unlock it from your pages
 * with the browser SDK; their receipts come back to you to check with `verifyReceipt`.
 *
 * @example
 * ```ts
 * const post = await diamonds.content.create({ title: 'Behind the scenes', body: '# Day one', priceDiamonds: 50 });
 * ```
 */
export class ServerContent {
  readonly #request: Requester;

  /** @internal */
  constructor(request: Requester) {
    this.#request = request;
  }

  /**
   * Publishes a piece of content: Markdown (rendered to sanitised HTML once, on the platform) or
   * a link, for a price or for fans whose gifts to you reach a threshold.
   *
   * @throws {@link DiamondsApiError} `invalid_request`, `invalid_amount` or `amount_too_large` for a bad body.
   * @example
   * ```ts
   * const post = await diamonds.content.create({
   *   title: 'The making of the album',
   *   teaser: 'Demos, drafts and the song that did not make it',
   *   body: '# Day one\n…',
   *   priceDiamonds: 50,
   * });
   * const vip = await diamonds.content.create({ title: 'Supporters’ Q&A', externalUrl: 'https://video.example/qa', thresholdDiamonds: 500 });
   * ```
   */
  create(params: CreateContentParams, options: ServerCallOptions = {}): Promise<Content> {
    return this.#request('post', 'v1/content', Content, { ...options, json: params });
  }

  /**
   * One page of your content, newest first, archived included (the secret key sees everything).
   *
   * @example
   * ```ts
   * const page = await diamonds.content.list({ limit: 50 });
   * for (const item of page.data) console.log(item.title, item.priceDiamonds);
   * ```
   */
  list(params: PageParams = {}, options: ServerCallOptions = {}): Promise<ContentList> {
    return this.#request('get', 'v1/content', ContentList, { ...options, searchParams: pageQuery(params) });
  }

  /**
   * Every piece of content, fetched a page at a time as the loop goes.
   *
   * @example
   * ```ts
   * for await (const item of diamonds.content.each()) console.log(item.id, item.title);
   * ```
   */
  each(params: PageParams = {}, options: ServerCallOptions = {}): AsyncGenerator<Content, void, undefined> {
    return walkItems(params, (page) => this.list(page, options));
  }

  /**
   * One piece of content (teaser and rule; the body is only ever served to entitled fans).
   *
   * @throws {@link DiamondsApiError} `content_not_found`.
   * @example
   * ```ts
   * const post = await diamonds.content.get('ct_01JD3S9ZK4W8Q2V7C5XH6RTB0M');
   * ```
   */
  async get(id: string, options: ServerCallOptions = {}): Promise<Content> {
    return this.#request('get', `v1/content/${checkId(id, 'ct', 'a content')}`, Content, options);
  }

  /**
   * Retitles, rewords the teaser, or archives (`archived: true`) a piece of content. Archived
   * content can no longer be unlocked; fans who unlocked it keep it.
   *
   * @example
   * ```ts
   * await diamonds.content.update(post.id, { archived: true });
   * ```
   */
  async update(id: string, changes: UpdateContentParams, options: ServerCallOptions = {}): Promise<Content> {
    return this.#request('patch', `v1/content/${checkId(id, 'ct', 'a content')}`, Content, { ...options, json: changes });
  }
}

/**
 * Your shop's products: what orders are priced from.
 *
 * @example
 * ```ts
 * const tee = await diamonds.products.create({ name: 'T-shirt', priceDiamonds: 250, stock: 40 });
 * ```
 */
export class ServerProducts {
  readonly #request: Requester;

  /** @internal */
  constructor(request: Requester) {
    this.#request = request;
  }

  /**
   * Creates a product. `stock` omitted or `null` means unlimited.
   *
   * @throws {@link DiamondsApiError} `invalid_amount`, `amount_too_large` or `invalid_request`.
   * @example
   * ```ts
   * const tee = await diamonds.products.create({ name: 'T-shirt', priceDiamonds: 250, stock: 40, imageUrl: 'https://shop.example/tee.png' });
   * ```
   */
  create(params: CreateProductParams, options: ServerCallOptions = {}): Promise<Product> {
    return this.#request('post', 'v1/products', Product, { ...options, json: params });
  }

  /**
   * One page of your products, newest first, inactive ones included.
   *
   * @example
   * ```ts
   * const { data } = await diamonds.products.list({ limit: 100 });
   * ```
   */
  list(params: PageParams = {}, options: ServerCallOptions = {}): Promise<ProductList> {
    return this.#request('get', 'v1/products', ProductList, { ...options, searchParams: pageQuery(params) });
  }

  /**
   * Every product, fetched a page at a time as the loop goes.
   *
   * @example
   * ```ts
   * for await (const product of diamonds.products.each()) console.log(product.name, product.stock);
   * ```
   */
  each(params: PageParams = {}, options: ServerCallOptions = {}): AsyncGenerator<Product, void, undefined> {
    return walkItems(params, (page) => this.list(page, options));
  }

  /**
   * One product.
   *
   * @throws {@link DiamondsApiError} `product_not_found`.
   * @example
   * ```ts
   * const tee = await diamonds.products.get('prod_01JD3S9ZK4W8Q2V7C5XH6RTB0M');
   * ```
   */
  async get(id: string, options: ServerCallOptions = {}): Promise<Product> {
    return this.#request('get', `v1/products/${checkId(id, 'prod', 'a product')}`, Product, options);
  }

  /**
   * Changes a product: price, stock, name, picture, or whether it is on sale. Orders already
   * created keep the price they were created with.
   *
   * @throws {@link DiamondsApiError} `product_not_found`, `invalid_amount`, `invalid_request`.
   * @example
   * ```ts
   * await diamonds.products.update(tee.id, { priceDiamonds: 200, stock: 10 });
   * await diamonds.products.update(tee.id, { active: false }); // off sale
   * ```
   */
  async update(id: string, changes: UpdateProductParams, options: ServerCallOptions = {}): Promise<Product> {
    return this.#request('patch', `v1/products/${checkId(id, 'prod', 'a product')}`, Product, { ...options, json: changes });
  }
}

/**
 * Your shop's orders: create one for the fan to pay on your page, read it back (with its
 * receipt once paid), cancel it, refund it.
 *
 * @example
 * ```ts
 * const order = await diamonds.orders.create({ lines: [{ productId: tee.id, quantity: 2 }], reference: 'cart-1042' });
 * // hand order.id to the page; the fan pays it with the browser SDK
 * ```
 */
export class ServerOrders {
  readonly #request: Requester;

  /** @internal */
  constructor(request: Requester) {
    this.#request = request;
  }

  /**
   * Creates an open order. Prices come from your products (or your explicit total), never from
   * the page, so the fan cannot change what is charged.
   *
   * @remarks
   * One `Idempotency-Key` per call, the same on every retry: a retry after a dropped connection
   * returns the order the first attempt created instead of making a second. Pass your own key
   * (your cart id) to make repeats of the whole call safe too.
   * @throws {@link DiamondsApiError} `product_not_found`, `invalid_quantity`, `invalid_amount`, `idempotency_key_reused`.
   * @example
   * ```ts
   * const order = await diamonds.orders.create(
   *   { lines: [{ productId: 'prod_01JD3S9ZK4W8Q2V7C5XH6RTB0M', quantity: 2 }], reference: 'cart-1042', metadata: { customer: 'c_981' } },
   *   { idempotencyKey: 'cart-1042' },
   * );
   * const portrait = await diamonds.orders.create({ amountDiamonds: 900, description: 'Custom portrait' });
   * ```
   */
  create(params: CreateOrderParams, options: ServerCallOptions = {}): Promise<Order> {
    return this.#request('post', 'v1/orders', Order, { ...options, json: params });
  }

  /**
   * One order, everything included: status, lines, your reference and metadata, and the
   * signed `receipt` once paid.
   *
   * @throws {@link DiamondsApiError} `order_not_found`.
   * @example
   * ```ts
   * const order = await diamonds.orders.get(orderId);
   * if (order.status === 'paid') await fulfil(order);
   * ```
   */
  async get(id: string, options: ServerCallOptions = {}): Promise<Order> {
    return this.#request('get', `v1/orders/${checkId(id, 'ord', 'an order')}`, Order, options);
  }

  /**
   * One page of your orders, newest first, optionally in one status.
   *
   * @example
   * ```ts
   * const page = await diamonds.orders.list({ status: 'paid', limit: 100 });
   * if (page.hasMore) await diamonds.orders.list({ status: 'paid', cursor: page.nextCursor ?? undefined });
   * ```
   */
  list(params: OrderListParams = {}, options: ServerCallOptions = {}): Promise<OrderList> {
    return this.#request('get', 'v1/orders', OrderList, { ...options, searchParams: pageQuery(params) });
  }

  /**
   * Your orders page by page, following the cursors; each page is fetched when the loop asks.
   *
   * @example
   * ```ts
   * for await (const page of diamonds.orders.pages({ status: 'open', limit: 100 })) {
   *   for (const order of page.data) await remind(order);
   * }
   * ```
   */
  pages(params: OrderListParams = {}, options: ServerCallOptions = {}): AsyncGenerator<OrderList, void, undefined> {
    return walkPages(params, (page) => this.list(page, options)) as AsyncGenerator<OrderList, void, undefined>;
  }

  /**
   * Your orders one by one, across pages.
   *
   * @example
   * ```ts
   * let total = 0;
   * for await (const order of diamonds.orders.each({ status: 'paid' })) total += order.totalDiamonds;
   * ```
   */
  each(params: OrderListParams = {}, options: ServerCallOptions = {}): AsyncGenerator<Order, void, undefined> {
    return walkItems(params, (page) => this.list(page, options));
  }

  /**
   * Cancels an open order so that no fan can pay it; canceling it again answers the same.
   *
   * @throws {@link DiamondsApiError} `order_already_paid` or `order_pending_confirmation`.
   * @example
   * ```ts
   * await diamonds.orders.cancel(order.id);
   * ```
   */
  async cancel(id: string, options: ServerCallOptions = {}): Promise<Order> {
    return this.#request('post', `v1/orders/${checkId(id, 'ord', 'an order')}/cancel`, Order, options);
  }

  /**
   * Refunds a paid order in full: every Diamond goes back to the fan (your earnings and the
   * platform fee), and the stock returns.
   *
   * @remarks Idempotent per call like {@link ServerOrders.create}; a second refund of the same
   * order (another call) is refused with `order_already_refunded`.
   * @throws {@link DiamondsApiError} `order_not_paid`, `order_already_refunded`; {@link InsufficientFundsError} when your earnings no longer hold your share.
   * @example
   * ```ts
   * const refunded = await diamonds.orders.refund(order.id);
   * console.log(refunded.status, refunded.refundTransferId);
   * ```
   */
  async refund(id: string, options: ServerCallOptions = {}): Promise<Order> {
    return this.#request('post', `v1/orders/${checkId(id, 'ord', 'an order')}/refund`, Order, options);
  }
}

/**
 * Your site's sales: its paid orders, newest first. Refunded orders leave this list.
 *
 * @example
 * ```ts
 * for await (const sale of diamonds.sales.each()) console.log(sale.id, sale.totalDiamonds, sale.fanId);
 * ```
 */
export class ServerSales {
  readonly #orders: ServerOrders;

  /** @internal */
  constructor(orders: ServerOrders) {
    this.#orders = orders;
  }

  /**
   * One page of paid orders.
   *
   * @example
   * ```ts
   * const { data } = await diamonds.sales.list({ limit: 10 });
   * ```
   */
  list(params: PageParams = {}, options: ServerCallOptions = {}): Promise<OrderList> {
    return this.#orders.list({ ...params, status: 'paid' }, options);
  }

  /**
   * Every paid order, fetched a page at a time.
   *
   * @example
   * ```ts
   * let earned = 0;
   * for await (const sale of diamonds.sales.each()) earned += sale.totalDiamonds;
   * ```
   */
  each(params: PageParams = {}, options: ServerCallOptions = {}): AsyncGenerator<Order, void, undefined> {
    return this.#orders.each({ ...params, status: 'paid' }, options);
  }
}
