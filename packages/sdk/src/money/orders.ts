import type { CheckoutOrder, ProductList } from '@diamonds/protocol';
import { CheckoutOrder as CheckoutOrderSchema, PayOrderResult, ProductList as ProductListSchema } from '../internal/order-schemas.js';
import { path } from '../internal/http.js';
import { spend, type Money, type SpendOptions } from './spend.js';

/**
 * A shop's orders, as the fan's checkout sees them: `client.orders`. Your backend creates the
 * order with its secret key (prices never come from the page); the page shows and pays it.
 *
 * @example
 * ```ts
 * const order = await client.orders.get(orderIdFromYourBackend); // before the click: the total
 * payButton.addEventListener('click', () => client.orders.pay(order.id));
 * ```
 */
export class OrdersResource {
  readonly #money: Money;
  /** Each order's total, from what was read: known synchronously in the click. */
  readonly #totals = new Map<string, number>();

  /** @internal */
  constructor(money: Money) {
    this.#money = money;
  }

  /**
   * The shop's active products (`GET /v1/products`), a page at a time: name, price in
   * Diamonds, stock, image. Orders themselves are created by the shop's backend.
   *
   * @example
   * ```ts
   * const { data } = await client.orders.products({ limit: 20 });
   * for (const product of data) console.log(product.name, product.priceDiamonds);
   * ```
   */
  products(
    options: { cursor?: string | undefined; limit?: number | undefined; signal?: AbortSignal | undefined } = {},
  ): Promise<ProductList> {
    const { cursor, limit, signal } = options;
    return this.#money.http.request('get', 'v1/products', ProductListSchema, { searchParams: { cursor, limit }, signal });
  }

  /**
   * An order for the checkout (`GET /v1/orders/{id}`): its lines, total and status; the
   * receipt once paid. Signed out, it reads an open order with the publishable key alone, so
   * the page can show the total before the fan signs in.
   *
   * @remarks Call it before the fan clicks "pay": {@link OrdersResource.pay} reads the total
   * from here to decide, in the click, whether a confirmation popup is needed.
   * @throws {@link DiamondsApiError} `order_not_found` (also for an order another fan paid, and,
   * signed out, for an order that is no longer open).
   * @example
   * ```ts
   * const order = await client.orders.get('ord_01JD…');
   * total.textContent = `${order.totalDiamonds} ♦`;
   * ```
   */
  async get(id: string, options: { signal?: AbortSignal | undefined } = {}): Promise<CheckoutOrder> {
    // No Diamonds-Token when signed out: the platform then shows an open order to anyone.
    const order = await this.#money.auth.read(path('v1/orders', id), CheckoutOrderSchema, options);
    this.#totals.set(order.id, order.totalDiamonds);
    return order;
  }

  /**
   * Pays an order from the signed-in fan's wallet (`POST /v1/orders/{id}/pay`).
   *
   * @remarks Works like `gifts.send`: call it from the click, after {@link OrdersResource.get}
   * (for the total); beyond the allowance the confirmation popup opens in the click and the
   * promise settles when the fan answers. An order is paid once; stock is never oversold.
   * @returns The paid order, with its receipt (a JWT your backend can verify).
   * @throws {@link InsufficientFundsError}, {@link ConfirmationDeclinedError}, {@link ConfirmationExpiredError}, {@link PopupClosedError}, {@link PopupBlockedError}, {@link SignInRequiredError} as for `gifts.send`.
   * @throws {@link DiamondsApiError} `order_already_paid`, `order_canceled`, `out_of_stock`, `order_not_found`.
   * @example
   * ```ts
   * button.addEventListener('click', async () => {
   *   const paid = await client.orders.pay('ord_01JD…');
   *   console.log(paid.status, paid.receipt);
   * });
   * ```
   */
  pay(id: string, options: SpendOptions = {}): Promise<CheckoutOrder> {
    return spend(
      this.#money,
      {
        amountDiamonds: this.#totals.get(id),
        send: () => this.#money.auth.request('post', `${path('v1/orders', id)}/pay`, PayOrderResult, options),
        result: (order, approved) => (approved ? this.get(id, options) : order),
      },
      options,
    );
  }
}
