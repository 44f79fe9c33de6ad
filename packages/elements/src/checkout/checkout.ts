import { html, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { property, state } from '../internal/decorators.js';
import { isDiamondsError } from '@diamonds/sdk';
import type { CheckoutOrder, CurrencyCode, DiamondsClientCore } from '@diamonds/sdk';
import { DiamondElement } from '../internal/diamond-element.js';
import { ordersOf } from '../internal/client.js';
import { checkout } from '../i18n/en.js';
import { SpendController } from '../internal/spend-controller.js';
import { themeStyles } from '../internal/theme.js';
import { formatCount, formatDiamonds, formatSplit } from '../i18n/i18n.js';
import { DiamondPaidEvent } from '../events/paid.js';
import styles from './checkout.styles.js';

/** The `jti` (`rcpt_…`) of a receipt JWT, read without verifying it: only to show it. */
function receiptId(jwt: string | null): string | undefined {
  try {
    const payload = jwt?.split('.')[1];
    if (!payload) return undefined;
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/')) as string;
    return (JSON.parse(json) as { jti?: string }).jti;
  } catch {
    return undefined;
  }
}

/**
 * The checkout of a shop's order: its lines and total as the platform holds them, a Pay
 * button, then the paid state with the receipt.
 *
 * @remarks
 * The shop's backend creates the order with its secret key (so prices never come from the
 * page) and puts its id in `order`. A signed-out fan sees an open order's lines and total and
 * one button, "Sign in and pay": the sign-in popup opens in the click, and once signed in the
 * same order is paid, within the site's allowance without another click. Beyond it, the fan
 * presses Pay once more, since a browser blocks a confirmation popup opened outside a click.
 * An order no longer open (paid, canceled) shows only to its fan: signed out, the element
 * offers the sign-in first. Every state is shown and announced (a `status` live region
 * for progress and success, an `alert` for problems): loading, signed out, confirmation needed
 * ("Confirm in the Diamonds window…"), declined, expired, popup blocked or closed, not enough
 * Diamonds (a "Top up" button buys the smallest covering pack, then pays), out of stock,
 * canceled, refunded, already paid (shown as paid), other errors. Once paid, the receipt's id
 * is shown and the receipt (a JWT the shop's backend verifies) is in {@link DiamondCheckout.receipt}
 * and in the `diamond-paid` event. The payment's `Idempotency-Key` is kept until the order is
 * paid or the payment refused, so a retry (after a lost answer, a top-up, a reload) pays once.
 * Focus goes back to the button that opened a popup once the popup is over.
 *
 * @example
 * ```html
 * <diamond-checkout publishable-key="pk_test_…" order="ord_…"></diamond-checkout>
 * <script type="module">
 *   document.querySelector('diamond-checkout').addEventListener('diamond-paid', ({ detail }) =>
 *     fetch('/orders/paid', { method: 'POST', body: detail.receipt }));
 * </script>
 * ```
 *
 * @summary A checkout: the order, pay, the receipt.
 * @attr order - The order's id (`ord_…`), created by the shop's backend. Required.
 * @attr currency - The currency a top-up is paid in. Defaults to `USD`.
 * @attr publishable-key - The site's publishable key (`pk_…`); not needed inside a `<diamond-provider>`.
 * @attr api-base - The platform's address. Defaults to the origin the drop-in script came from.
 * @attr locale - The BCP 47 locale of text, numbers and money. Defaults to the provider's, the closest `lang`, the browser's.
 * @attr theme - `light` or `dark` forces a theme; by default it follows `prefers-color-scheme`.
 * @cssstate busy - While it signs in, pays or tops up: `diamond-checkout:state(busy)`.
 * @cssstate signing-in - While the sign-in popup is open.
 * @cssstate confirm - Signed in by the click; the next press opens the confirmation.
 * @cssstate spending - While the payment is sent (and its confirmation popup open).
 * @cssstate topping-up - While the payment popup of a top-up is open.
 * @cssstate done - Paid here: the receipt shows.
 * @cssstate error - After a failure, or the fan declined.
 * @cssstate insufficient - The wallet holds too little; a Top up button shows.
 * @csspart base - The wrapper of everything.
 * @csspart lines - The table of the order's lines.
 * @csspart total - The total.
 * @csspart split - Above the Pay button: how the order is shared with collaborators ("Shared: Ada 60% · Bo 40%"), or "sign in first" when the order shows only to its fan.
 * @csspart button - The Pay button ("Sign in and pay" signed out; "Sign in" when the order shows only to its fan).
 * @csspart status - The live region for progress and success.
 * @csspart error - The alert for problems.
 * @csspart top-up - The "Top up" button shown when the wallet holds too little.
 * @csspart receipt - The receipt's id, once paid.
 * @cssprop --diamond-checkout-background - The checkout's background. Defaults to `--diamond-color-surface`.
 * @cssprop --diamond-checkout-border - The checkout's border. Defaults to `1px solid` `--diamond-color-border`.
 * @cssprop --diamond-color-accent - Theme accent (the Pay button).
 * @cssprop --diamond-radius - Theme corner radius.
 * @cssprop --diamond-font-family - Theme font.
 * @event diamond-paid - {@link DiamondPaidEvent}: the fan paid; `detail` is the paid order with its `receipt`.
 * @event diamond-error - {@link DiamondErrorEvent}: loading or paying failed, or the fan declined; `detail.error` is a `DiamondsError`.
 */
export class DiamondCheckout extends DiamondElement {
  /** The shadow styles: the theme, then `checkout.styles.ts`. */
  static override styles = [themeStyles, styles];

  /** @internal */
  static override strings = checkout;

  /** The order's id (`ord_…`), created by the shop's backend. */
  @property()
  order: string | undefined;

  /** The currency a top-up is paid in. @defaultValue 'USD' */
  @property()
  currency: CurrencyCode = 'USD';

  /** The paid order's receipt (a JWT the shop's backend verifies offline), once paid. */
  get receipt(): string | undefined {
    return this._order?.status === 'paid' ? (this._order.receipt ?? undefined) : undefined;
  }

  @state() private _order: CheckoutOrder | undefined;
  @state() private _loading = true;

  private _loadedKey: string | undefined;
  /** How many payments were started, so that an order read before one does not overwrite its result. */
  private _payments = 0;
  /** The spend flow: sign-in, confirmation, top-up, retries. */
  private readonly _spend = new SpendController(this, 'checkout');

  /** @internal */
  protected override clientChanged(): void {
    this._spend.follow(this.client);
    this._loadedKey = undefined;
  }

  /** @internal */
  override willUpdate(changed: PropertyValues<this>): void {
    super.willUpdate(changed);
    const client = this.client;
    const key = `${this.order}|${this._spend.fan}`;
    if (client && this.order && key !== this._loadedKey) {
      this._loadedKey = key;
      void this._load(client, this.order, key);
    }
  }

  /** The checkout's own message for a refused payment or read, if it has one. */
  private _explain(code: string | undefined): string | undefined {
    return code === 'out_of_stock'
      ? this.t('checkout.outOfStock')
      : code === 'order_canceled'
        ? this.t('checkout.canceled')
        : code === 'order_not_found'
          ? this.t('checkout.notFound')
          : undefined;
  }

  /** Reads the order: signed out, only an open one shows (`order_not_found` otherwise). */
  private async _load(client: DiamondsClientCore, id: string, key: string): Promise<void> {
    if (this._order?.id !== id) {
      this._order = undefined;
      this._loading = true;
    }
    // A newer load (after a sign-in) or a payment started meanwhile knows better.
    const payments = this._payments;
    const stale = () => key !== this._loadedKey || this.client !== client || payments !== this._payments;
    try {
      const order = await ordersOf(client).get(id);
      if (stale()) return;
      this._order = order;
    } catch (error) {
      if (stale()) return;
      const code = isDiamondsError(error) ? error.code : undefined;
      // Read signed out (no fan in the key): a paid or canceled order shows only to its fan.
      if (key.endsWith('|') && code === 'order_not_found') this._order = undefined;
      else if (!this._spend.busy) {
        const note = this.reportError(error);
        this._spend.show('error', this._explain(code) ?? note);
      }
    }
    this._loading = false;
  }

  /**
   * The button's click: signs in first when needed (the popup opens in this click), then pays
   * the order shown, at once or after the confirm step.
   */
  private _pay(): void {
    const client = this.client;
    const id = this.order;
    if (!client || !id) return;
    this._spend.run({
      slot: `diamonds:order:${id}`,
      amount: this._order?.totalDiamonds,
      part: 'button',
      // Signed out, an order no longer open showed nothing to pay: the read after the sign-in shows it.
      signedIn: async () => !!this._order || (this._spend.show('idle'), false),
      send: (idempotencyKey) => {
        this._payments++;
        return ordersOf(client).pay(id, { idempotencyKey });
      },
      done: (order) => {
        this._order = order;
        this._spend.note = this.t('checkout.paid');
        this.dispatchEvent(new DiamondPaidEvent(order));
      },
      explain: async (code) => {
        if (code === 'order_already_paid' || code === 'order_canceled') {
          this._order = await ordersOf(client)
            .get(id)
            .catch(() => this._order);
        }
        return this._explain(code);
      },
    });
  }

  /** @internal */
  protected override render(): TemplateResult {
    const locale = this.resolvedLocale;
    const order = this._order;
    const spending = this._spend;
    const signedIn = !!spending.fan;
    const paid = order?.status === 'paid';
    // One button element for sign-in and pay, so focus stays on it when the fan signs in.
    const payable = order && (order.status === 'open' || order.status === 'pending_confirmation');
    const status = this._loading
      ? this.t('common.loading')
      : spending.status() || (paid ? this.t('checkout.paid') : order?.status === 'refunded' ? this.t('checkout.refunded') : '');
    const alert = spending.alert || (order?.status === 'canceled' ? this.t('checkout.canceled') : '');
    const id = paid ? receiptId(order.receipt) : undefined;
    return html`<div part="base">
      ${
        order
          ? html`<table part="lines">
              <caption>
                ${this.t('checkout.title')}
              </caption>
              <thead>
                <tr>
                  <th scope="col">${this.t('checkout.item')}</th>
                  <th scope="col">${this.t('checkout.quantity')}</th>
                  <th scope="col">${this.t('checkout.unitPrice')}</th>
                  <th scope="col">${this.t('checkout.amount')}</th>
                </tr>
              </thead>
              <tbody>
                ${order.lines.map(
                  (line) =>
                    html`<tr>
                      <th scope="row">${line.name}</th>
                      <td>${formatCount(locale, line.quantity)}</td>
                      <td>${formatDiamonds(locale, line.unitPriceDiamonds)}</td>
                      <td>${formatDiamonds(locale, line.amountDiamonds)}</td>
                    </tr>`,
                )}
              </tbody>
              <tfoot>
                <tr>
                  <th scope="row" colspan="3">${this.t('checkout.total')}</th>
                  <td part="total">${formatDiamonds(locale, order.totalDiamonds)}</td>
                </tr>
              </tfoot>
            </table>`
          : nothing
      }
      ${
        payable || (!signedIn && !order && !this._loading)
          ? html`<p part="split">${payable ? formatSplit(locale, order.split) : this.t('checkout.signInFirst')}</p>
              <button part="button" class="primary" ?disabled=${spending.busy} @click=${this._pay}>
                ${
                  !payable
                    ? this.t('common.signIn')
                    : this.t(signedIn ? 'checkout.pay' : 'checkout.signInAndPay', { amount: formatDiamonds(locale, order.totalDiamonds) })
                }
              </button>`
          : nothing
      }
      <p part="status" role="status">${status}</p>
      ${id ? html`<p part="receipt">${this.t('checkout.receiptId', { id })}</p>` : nothing}
      <p part="error" role="alert">${alert}</p>
      ${spending.renderTopUp()}
    </div>`;
  }
}
