import { html, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import { isDiamondsError } from '@diamonds/sdk';
import type { CheckoutOrder, CurrencyCode, DiamondsClientCore, PendingConfirmation, Session } from '@diamonds/sdk';
import { DiamondElement } from '../internal/diamond-element.js';
import { ordersOf } from '../internal/client.js';
import { checkout as strings } from '../i18n/en.js';
import { TopUpOffer } from '../internal/top-up-offer.js';
import { focusPart, spendsWithoutPopup } from '../internal/confirm-step.js';
import { StoreController } from '../internal/store-controller.js';
import { themeStyles } from '../internal/theme.js';
import { formatDiamonds, formatMoney } from '../i18n/i18n.js';
import { DiamondPaidEvent } from '../events/paid.js';
import styles from './checkout.styles.js';

/** Where the element stands; `confirm`: signed in from "Sign in and pay", the Pay click opens the confirmation. */
type Phase = 'loading' | 'idle' | 'signing-in' | 'confirm' | 'paying' | 'topping-up' | 'error' | 'insufficient';

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

/** A whole number in `locale` ("1,000"), in the runtime's own locale when `locale` is no BCP 47 tag. */
function count(locale: string, n: number): string {
  try {
    return n.toLocaleString(locale);
  } catch {
    return n.toLocaleString();
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
 * and in the `diamond-paid` event.
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
 * @csspart base - The wrapper of everything.
 * @csspart lines - The table of the order's lines.
 * @csspart total - The total.
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
 * @event diamond-error - Loading or paying failed, or the fan declined; `detail.error` is a `DiamondsError`.
 */
export class DiamondCheckout extends DiamondElement {
  /** The shadow styles: the theme, then `checkout.styles.ts`. */
  static override styles = [themeStyles, styles];

  /** @internal */
  static override strings = strings;

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
  @state() private _phase: Phase = 'loading';
  @state() private _note = '';

  private _loadedKey: string | undefined;
  /** How many payments were started, so that an order read before one does not overwrite its result. */
  private _payments = 0;
  /** The top-up offered when the wallet cannot pay. */
  private readonly _offer = new TopUpOffer(this);
  private readonly _session = new StoreController<Session>(this);
  private readonly _pending = new StoreController<readonly PendingConfirmation[]>(this);

  /** @internal */
  protected override clientChanged(): void {
    this._session.follow(this.client?.session);
    this._pending.follow(this.client?.confirmations);
    this._loadedKey = undefined;
  }

  /** @internal */
  override willUpdate(changed: PropertyValues<this>): void {
    super.willUpdate(changed);
    const client = this.client;
    const session = this._session.value;
    const fan = session?.status === 'signed_in' ? (session.fan?.id ?? '?') : '';
    const key = `${this.order}|${fan}`;
    if (client && this.order && key !== this._loadedKey) {
      this._loadedKey = key;
      void this._load(client, this.order, key);
    }
    // The allowance must be known before the click, for the SDK to decide the popup in it.
    if (client && fan && client.wallet.get().status === 'idle') client.wallet.refresh().catch(() => undefined);
  }

  private get _busy(): boolean {
    return this._phase === 'signing-in' || this._phase === 'paying' || this._phase === 'topping-up';
  }

  private _show(phase: Phase, note = ''): void {
    this._phase = phase;
    this._note = note;
  }

  /** The message of a refused payment, after `diamond-error` went out. */
  private _explain(error: unknown): string {
    const note = this.reportError(error);
    switch (isDiamondsError(error) ? error.code : undefined) {
      case 'out_of_stock':
        return this.t('checkout.outOfStock');
      case 'order_canceled':
        return this.t('checkout.canceled');
      case 'order_not_found':
        return this.t('checkout.notFound');
      default:
        return note;
    }
  }

  /** Reads the order: signed out, only an open one shows (`order_not_found` otherwise). */
  private async _load(client: DiamondsClientCore, id: string, key: string): Promise<void> {
    if (this._order?.id !== id) {
      this._order = undefined;
      this._show('loading');
    }
    // A newer load (after a sign-in) or a payment started meanwhile knows better.
    const payments = this._payments;
    const stale = () => key !== this._loadedKey || this.client !== client || payments !== this._payments;
    try {
      const order = await ordersOf(client).get(id);
      if (stale()) return;
      this._order = order;
      if (this._phase === 'loading') this._show('idle');
    } catch (error) {
      if (stale()) return;
      // Read signed out (no fan in the key): a paid or canceled order shows only to its fan.
      if (key.endsWith('|') && isDiamondsError(error) && error.code === 'order_not_found') {
        this._order = undefined;
        if (!this._busy) this._show('idle');
      } else if (!this._busy) this._show('error', this._explain(error));
    }
  }

  /**
   * Signs in (the popup opens in this click), then pays the order shown: at once when no
   * confirmation popup is needed, else after one more click (a popup opened now would be blocked).
   */
  private _signIn(): void {
    const client = this.client;
    const total = this._order?.totalDiamonds;
    if (!client || this._busy) return;
    this._show('signing-in');
    client
      .signIn()
      .then(async () => {
        if (total === undefined) return this._show('loading');
        if (await spendsWithoutPopup(client, total)) {
          this._phase = 'idle';
          this._pay();
        } else {
          this._show('confirm');
          await focusPart(this, 'button');
        }
      })
      .catch((error: unknown) => this._show('error', this.reportError(error)));
  }

  /** Pays: synchronous up to the SDK's popup when called from a click. */
  private _pay(): void {
    const client = this.client;
    const id = this._order?.id;
    if (!client || !id || this._busy) return;
    this._payments++;
    this._show('paying');
    ordersOf(client)
      .pay(id)
      .then(
        (order) => {
          this._order = order;
          this._show('idle', this.t('checkout.paid'));
          this.dispatchEvent(new DiamondPaidEvent(order));
        },
        async (error: unknown) => {
          const code = isDiamondsError(error) ? error.code : undefined;
          const note = this._explain(error);
          if (code === 'order_already_paid' || code === 'order_canceled') {
            this._order = await ordersOf(client)
              .get(id)
              .catch(() => this._order);
          }
          this._show(code === 'insufficient_funds' ? 'insufficient' : 'error', note);
          if (code === 'insufficient_funds') this._findPack(client);
        },
      );
  }

  /** Finds the smallest top-up pack covering what the total lacks, before the fan clicks "Top up". */
  private _findPack(client: DiamondsClientCore): void {
    this._offer.prepare(client, this._order?.totalDiamonds ?? 0, this.currency);
  }

  /** Buys Diamonds (the payment popup opens in this click), then pays. */
  private _topUp(): void {
    const client = this.client;
    if (!client || this._busy) return;
    const topUp = this._offer.buy(client, this.currency);
    this._show('topping-up');
    topUp.then(
      () => {
        this._phase = 'idle';
        this._pay();
      },
      (error: unknown) => this._show('error', this.reportError(error)),
    );
  }

  /** @internal */
  protected override render(): TemplateResult {
    const locale = this.resolvedLocale;
    const order = this._order;
    const phase = this._phase;
    const signedIn = this._session.value?.status === 'signed_in';
    const paid = order?.status === 'paid';
    // One button element for sign-in and pay, so focus stays on it when the fan signs in.
    const payable = order && (order.status === 'open' || order.status === 'pending_confirmation');
    const status =
      phase === 'loading'
        ? this.t('common.loading')
        : phase === 'signing-in'
          ? this.t('checkout.signingIn')
          : phase === 'confirm'
            ? this.t('checkout.confirmStep')
            : phase === 'paying'
              ? this.t(this._pending.value?.length ? 'common.confirming' : 'checkout.paying')
              : phase === 'topping-up'
                ? this.t('checkout.toppingUp')
                : paid
                  ? this.t('checkout.paid')
                  : order?.status === 'refunded'
                    ? this.t('checkout.refunded')
                    : '';
    const alert =
      phase === 'error' || phase === 'insufficient' ? this._note : order?.status === 'canceled' ? this.t('checkout.canceled') : '';
    const id = paid ? receiptId(order.receipt) : undefined;
    const pack = this._offer.pack;
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
                      <td>${count(locale, line.quantity)}</td>
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
        payable || (!signedIn && !order && phase !== 'loading')
          ? html`${payable ? nothing : html`<p>${this.t('checkout.signInFirst')}</p>`}
              <button part="button" class="primary" ?disabled=${this._busy} @click=${signedIn ? this._pay : this._signIn}>
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
      ${
        phase === 'insufficient'
          ? html`<button part="top-up" @click=${this._topUp}>
              ${
                pack
                  ? this.t('checkout.topUpPack', {
                      diamonds: formatDiamonds(locale, pack.diamonds),
                      price: formatMoney(locale, pack.price),
                    })
                  : this.t('common.topUp')
              }
            </button>`
          : nothing
      }
    </div>`;
  }
}
