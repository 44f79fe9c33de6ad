// The orders wire schemas (issue 4). Exported from index.ts with export *.
import { z } from 'zod';
import { DiamondAmount } from './amounts.js';
import { idSchema } from './ids.js';
import { SplitShare } from './collabs.js';
import { Metadata } from './ledger.js';
import { PageQuery, pageSchema } from './pagination.js';
import { Confirmation } from './spends.js';

/** A product id: `prod_…`. */
export const ProductId = idSchema('prod');

/** An order id: `ord_…`. */
export const OrderId = idSchema('ord');

/** The most units of one product a single order line may ask for. */
export const MAX_LINE_QUANTITY = 1000;

/** The most lines one order may have. */
export const MAX_ORDER_LINES = 50;

/** The most units a product's stock may hold (a billion: far beyond any real shop). */
export const MAX_PRODUCT_STOCK = 1_000_000_000;

/** The longest product name, in characters. */
export const MAX_PRODUCT_NAME_LENGTH = 120;

/** The longest shop reference or explicit order description, in characters. */
export const MAX_ORDER_REFERENCE_LENGTH = 200;

const ProductName = z.string().min(1).max(MAX_PRODUCT_NAME_LENGTH);

/** Units in stock: a whole number from 0, or `null` for unlimited. */
const Stock = z.int({ error: 'Stock is a whole number of units (or null for unlimited).' }).min(0).max(MAX_PRODUCT_STOCK).nullable();

/** An https address of a product picture; pages show it, so plain http and other schemes are refused. */
const ImageUrl = z.url({ protocol: /^https$/, error: 'Expected an https:// address.' }).max(2048);

/**
 * The body of `POST /v1/products` (secret key): a product the shop sells for Diamonds.
 *
 * @example
 * ```ts
 * CreateProduct.parse({ name: 'T-shirt', priceDiamonds: 250, stock: 40, imageUrl: 'https://shop.example/tee.png' });
 * ```
 */
export const CreateProduct = z.strictObject({
  name: ProductName,
  priceDiamonds: DiamondAmount,
  /** Units for sale; omitted or `null` for unlimited. */
  stock: Stock.optional(),
  imageUrl: ImageUrl.nullable().optional(),
});

/** The body of `POST /v1/products` (see {@link CreateProduct}). */
export type CreateProduct = z.infer<typeof CreateProduct>;

/**
 * The body of `PATCH /v1/products/{id}` (secret key): the fields to change, at least one.
 *
 * @remarks A new price applies to orders created from then on; an order keeps the price it
 * was created with. Setting `active: false` takes the product out of the public catalog and
 * out of new orders.
 */
export const UpdateProduct = z
  .strictObject({
    name: ProductName.optional(),
    priceDiamonds: DiamondAmount.optional(),
    stock: Stock.optional(),
    imageUrl: ImageUrl.nullable().optional(),
    active: z.boolean().optional(),
  })
  .refine((value) => Object.values(value).some((field) => field !== undefined), 'Name at least one field to change.');

/** The body of `PATCH /v1/products/{id}` (see {@link UpdateProduct}). */
export type UpdateProduct = z.infer<typeof UpdateProduct>;

/** A product of a shop. */
export const Product = z.object({
  object: z.literal('product'),
  id: ProductId,
  name: z.string(),
  priceDiamonds: DiamondAmount,
  /** Units left; `null` for unlimited. Units held by orders awaiting the fan's confirmation are not counted. */
  stock: z.int().nonnegative().nullable(),
  imageUrl: z.string().nullable(),
  /** Whether it is on sale: inactive products are hidden from publishable keys and refused in new orders. */
  active: z.boolean(),
  createdAt: z.int().nonnegative(),
});

/** A product of a shop (see {@link Product}). */
export type Product = z.infer<typeof Product>;

/** A page of products, newest first (see {@link Product}). */
export const ProductList = pageSchema(Product);

/** A page of products (see {@link ProductList}). */
export type ProductList = z.infer<typeof ProductList>;

/** One line of an order to create: a product and how many. The price always comes from the product. */
export const CreateOrderLine = z.strictObject({
  productId: ProductId,
  quantity: z.int({ error: 'A quantity is a whole number of units.' }).min(1).max(MAX_LINE_QUANTITY),
});

/** One line of an order to create (see {@link CreateOrderLine}). */
export type CreateOrderLine = z.infer<typeof CreateOrderLine>;

const OrderExtras = {
  /** The shop's own reference (its cart or invoice number), returned as is. */
  reference: z.string().min(1).max(MAX_ORDER_REFERENCE_LENGTH).optional(),
  /** The shop's own facts about the order; shown only to the secret key. */
  metadata: Metadata.optional(),
};

/**
 * The body of `POST /v1/orders` (secret key): either product lines, priced from the shop's
 * products, or an explicit total with a description.
 *
 * @remarks Prices never come from the request: a line names a product and a quantity only, so
 * a page cannot change what is charged.
 * @example
 * ```ts
 * CreateOrder.parse({ lines: [{ productId: 'prod_01JD3S9ZK4W8Q2V7C5XH6RTB0M', quantity: 2 }], reference: 'cart-1042' });
 * CreateOrder.parse({ amountDiamonds: 900, description: 'Custom portrait' });
 * ```
 */
export const CreateOrder = z.union([
  z.strictObject({ lines: z.array(CreateOrderLine).min(1).max(MAX_ORDER_LINES), ...OrderExtras }),
  z.strictObject({ amountDiamonds: DiamondAmount, description: z.string().min(1).max(MAX_ORDER_REFERENCE_LENGTH), ...OrderExtras }),
]);

/** The body of `POST /v1/orders` (see {@link CreateOrder}). */
export type CreateOrder = z.infer<typeof CreateOrder>;

/**
 * Where an order stands.
 *
 * - `open`: created by the shop, waiting for a fan to pay it.
 * - `pending_confirmation`: a fan paid beyond their allowance; the Diamonds and the stock are
 *   held until they approve (then `paid`) or decline or let it expire (then `open` again).
 * - `paid`: the Diamonds moved; the order has a receipt.
 * - `refunded`: the shop refunded it in full; the fan got every Diamond back.
 * - `canceled`: the shop canceled it before it was paid.
 */
export const OrderStatus = z.enum(['open', 'pending_confirmation', 'paid', 'refunded', 'canceled']);

/** Where an order stands (see {@link OrderStatus}). */
export type OrderStatus = z.infer<typeof OrderStatus>;

/** One line of an order, priced when the order was created. */
export const OrderLine = z.object({
  /** The product; `null` for an order with an explicit total. */
  productId: ProductId.nullable(),
  name: z.string(),
  unitPriceDiamonds: DiamondAmount,
  quantity: z.int().min(1),
  /** `unitPriceDiamonds × quantity`. */
  amountDiamonds: DiamondAmount,
});

/** One line of an order (see {@link OrderLine}). */
export type OrderLine = z.infer<typeof OrderLine>;

/**
 * An order as the checkout shows it to the fan (publishable key and fan token): no shop
 * metadata or reference.
 */
export const CheckoutOrder = z.object({
  object: z.literal('order'),
  id: OrderId,
  siteId: idSchema('site'),
  status: OrderStatus,
  totalDiamonds: DiamondAmount,
  lines: z.array(OrderLine),
  /** The fan who paid (or holds it pending confirmation); `null` while open. */
  fanId: idSchema('usr').nullable(),
  /** The payment transfer once paid (`txn_…`). */
  transferId: idSchema('txn').nullable(),
  /** The signed receipt (a JWT; keys at `/.well-known/jwks.json`) once paid. */
  receipt: z.string().nullable(),
  createdAt: z.int().nonnegative(),
  paidAt: z.int().nonnegative().nullable(),
  refundedAt: z.int().nonnegative().nullable(),
  /**
   * When products of the order are split with collaborators: each creator's effective share of
   * the creator's part (after the platform fee), shown to a fan before paying. Absent otherwise.
   */
  split: z.array(SplitShare).optional(),
  /** The same split as one short line ("Shared: Ada 60% · Bo 40%"), which the checkout shows above its button. */
  splitLine: z.string().optional(),
});

/** An order as the fan's checkout sees it (see {@link CheckoutOrder}). */
export type CheckoutOrder = z.infer<typeof CheckoutOrder>;

/** An order as the shop's backend sees it (secret key): everything, with its reference and metadata. */
export const Order = CheckoutOrder.extend({
  reference: z.string().nullable(),
  metadata: Metadata,
  /** The refund transfer once refunded (`txn_…`). */
  refundTransferId: idSchema('txn').nullable(),
});

/** An order as the shop sees it (see {@link Order}). */
export type Order = z.infer<typeof Order>;

/** A page of a site's orders, newest first (see {@link Order}). */
export const OrderList = pageSchema(Order);

/** A page of orders (see {@link OrderList}). */
export type OrderList = z.infer<typeof OrderList>;

/** Query parameters of `GET /v1/orders`: a page, optionally only orders in one status. */
export const OrderListQuery = PageQuery.extend({ status: OrderStatus.optional() });

/** Query parameters of `GET /v1/orders` (see {@link OrderListQuery}). */
export type OrderListQuery = z.infer<typeof OrderListQuery>;

/**
 * The answer of `POST /v1/orders/{id}/pay`: 200 with status `paid` and the receipt when the
 * spend fit the fan's allowance, or 202 with status `pending_confirmation` and the
 * `confirmation` the fan approves on the hosted page.
 */
export const PayOrderResult = CheckoutOrder.extend({
  confirmation: Confirmation.nullable(),
});

/** The answer of `POST /v1/orders/{id}/pay` (see {@link PayOrderResult}). */
export type PayOrderResult = z.infer<typeof PayOrderResult>;
