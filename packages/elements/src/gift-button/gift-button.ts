import { html, nothing, type TemplateResult } from 'lit';
import { property, state } from '../internal/decorators.js';
import type { CurrencyCode, GiftType, LiveSplit, SiteCreator, WalletState } from '@diamonds/sdk';
import { DiamondElement } from '../internal/diamond-element.js';
import { giftsOf } from '../internal/client.js';
import { giftButton } from '../i18n/en.js';
import { SpendController } from '../internal/spend-controller.js';
import { themeStyles } from '../internal/theme.js';
import { formatDiamonds, formatSplit } from '../i18n/i18n.js';
import { DiamondGiftRequestEvent } from '../events/gift-request.js';
import { DiamondGiftSentEvent } from '../events/gift-sent.js';
import { DiamondReadyEvent } from '../events/ready.js';
import { StoreController } from '../internal/store-controller.js';
import styles from './gift-button.styles.js';

/** One gift the fan asked for. */
interface Attempt {
  giftId: string;
  quantity: number;
  message: string | undefined;
}

/** A whole quantity from 1 to 1,000. */
const whole = (n: number): number => Math.min(1000, Math.max(1, Math.floor(n) || 1));

/**
 * Sends a creator a gift of Diamonds: in one click with `gift` set, else through a picker of
 * the catalog (art, name and price of each gift, a quantity and an optional message).
 *
 * @remarks
 * Every state is shown and announced (a `status` live region for progress and success, an
 * `alert` for problems): signed out (the click opens the sign-in popup, then sends the same
 * gift within the site's allowance; beyond it, the fan presses Send once more, since a browser
 * blocks a confirmation popup opened outside a click), confirmation needed ("Confirm in the
 * Diamonds window…" while the fan answers in the popup), declined, expired, popup blocked or
 * closed, not enough Diamonds (a "Top up" button buys the smallest pack that covers the
 * shortfall, then sends the same gift), other errors.
 * The catalog, and the allowance when a fan is signed in, load when the element connects, so
 * the SDK knows in the click whether a confirmation popup is needed. On success the gift's art
 * plays its animation (none under `prefers-reduced-motion`). The gift's `Idempotency-Key` is
 * kept in sessionStorage until the gift is sent or refused, so every retry (after a lost answer,
 * a top-up, a reload) sends it once. The success message names the creator as the platform
 * does, in its confirmation popup too: the display name of one of the site's own creators.
 * Focus goes back to the button that opened a popup once the popup is over.
 * While the creator is live with collaborators, a line under the button says how a gift is split
 * ("Shared: Ada 60% · Bo 40%"), read after the catalog and again when the picker opens.
 *
 * @example
 * ```html
 * <diamond-gift-button publishable-key="pk_test_…" creator="usr_…" creator-name="Ada" gift="rose" quantity="3"></diamond-gift-button>
 * <diamond-gift-button publishable-key="pk_test_…" creator="usr_…"></diamond-gift-button> <!-- a picker -->
 * ```
 *
 * @summary A gift button, one-click or with a picker of the catalog.
 * @attr creator - The creator who receives the gift (`usr_…`). Required.
 * @attr creator-name - The creator's name for "Rose sent to Ada" when the site does not list them; the platform's display name of one of the site's own creators wins, so the page says what the confirmation popup says. Defaults to "the creator".
 * @attr gift - The catalog id of the gift sent in one click (`rose`); without it the button opens a picker.
 * @attr quantity - How many to send, 1 to 1,000 (the picker starts from it). Defaults to 1.
 * @attr currency - The currency a top-up is paid in. Defaults to `USD`.
 * @attr publishable-key - The site's publishable key (`pk_…`); not needed inside a `<diamond-provider>`.
 * @attr api-base - The platform's address. Defaults to the origin the drop-in script came from.
 * @attr locale - The BCP 47 locale of text, numbers and money. Defaults to the provider's, the closest `lang`, the browser's.
 * @attr theme - `light` or `dark` forces a theme; by default it follows `prefers-color-scheme`.
 * @cssstate busy - While it signs in, sends or tops up: `diamond-gift-button:state(busy)`.
 * @cssstate signing-in - While the sign-in popup is open.
 * @cssstate confirm - Signed in by the click; the next press opens the confirmation.
 * @cssstate spending - While the gift is sent (and its confirmation popup open).
 * @cssstate topping-up - While the payment popup of a top-up is open.
 * @cssstate done - After the gift was sent.
 * @cssstate error - After a failure, or the fan declined.
 * @cssstate insufficient - The wallet holds too little; a Top up button shows.
 * @slot - The button's label. Defaults to "Send Rose for 5 Diamonds", or "Send a gift" for the picker.
 * @csspart base - The wrapper of everything.
 * @csspart button - The main button.
 * @csspart icon - The gift's art on a one-click button.
 * @csspart picker - The picker panel (a non-modal dialog).
 * @csspart gift - One gift of the picker (a radio with art, name and price).
 * @csspart price - A gift's price in the picker.
 * @csspart split - How a gift is split while the creator is live with collaborators.
 * @csspart quantity - The picker's quantity input.
 * @csspart message - The picker's message textarea.
 * @csspart send - The picker's Send button.
 * @csspart cancel - The picker's Cancel button.
 * @csspart status - The live region for progress and success.
 * @csspart art - The sent gift's art, animated on success.
 * @csspart error - The alert for problems.
 * @csspart top-up - The "Top up" button shown when the wallet holds too little.
 * @cssprop --diamond-gift-button-background - The main button's fill. Defaults to `--diamond-color-accent`.
 * @cssprop --diamond-gift-button-color - The main button's text. Defaults to `--diamond-color-on-accent`.
 * @cssprop --diamond-gift-button-art-size - The size of gift art. Defaults to `2.5em`.
 * @cssprop --diamond-color-accent - Theme accent.
 * @cssprop --diamond-color-surface - Theme surface, the picker's background.
 * @cssprop --diamond-radius - Theme corner radius.
 * @cssprop --diamond-font-family - Theme font.
 * @event diamond-gift-request - {@link DiamondGiftRequestEvent}: a fan asked to send a gift; cancelable, `preventDefault()` stops it.
 * @event diamond-gift-sent - {@link DiamondGiftSentEvent}: the ledger accepted the gift; `detail` is the gift (`transferId`, `amountDiamonds`…).
 * @event diamond-error - {@link DiamondErrorEvent}: sending failed, or the fan declined; `detail.error` is a `DiamondsError`.
 * @event diamond-ready - {@link DiamondReadyEvent}: the button is interactive (rendered, catalog loaded, wallet state known); once per client.
 */
export class DiamondGiftButton extends DiamondElement {
  /** The shadow styles: the theme, then `gift-button.styles.ts`. */
  static override styles = [themeStyles, styles];

  /** @internal */
  static override strings = giftButton;

  /** The creator who receives the gift (`usr_…`). */
  @property()
  creator: string | undefined;

  /** The creator's name when the site does not list them (the platform's name wins). @defaultValue "the creator" */
  @property({ attribute: 'creator-name' })
  creatorName: string | undefined;

  /** The catalog id of the gift to send in one click (`rose`); without it the button opens a picker. */
  @property()
  gift: string | undefined;

  /** How many to send (1 to 1,000); the picker starts from it. @defaultValue 1 */
  @property({ type: Number })
  quantity = 1;

  /** The currency a top-up is paid in. @defaultValue 'USD' */
  @property()
  currency: CurrencyCode = 'USD';

  @state() private _catalog: GiftType[] | undefined;
  @state() private _creators: SiteCreator[] | undefined;
  @state() private _open = false;
  @state() private _sent: GiftType | undefined;
  /** The split of the creator's live session now, when there is one. */
  @state() private _split: LiveSplit['split'];

  /** The spend flow: sign-in, confirmation, top-up, retries. */
  private readonly _spend = new SpendController(this, 'gift');
  /** The fan's wallet, followed for `diamond-ready` (the spend controller loads it). */
  private readonly _wallet = new StoreController<WalletState>(this);
  private _loadedFor: DiamondElement['client'];
  /** The client and creator the split was last asked for. */
  private _splitOf: [DiamondElement['client'], string] | undefined;
  private _readyFor: DiamondElement['client'];

  /** @internal */
  protected override clientChanged(): void {
    const client = this.client;
    if (client && client !== this._loadedFor) {
      this._loadedFor = client;
      const gifts = giftsOf(client);
      // The prices before the click (the SDK decides the popup in it), asked first: the button
      // is interactive once they came. The SDK asks with the key in the query, so a page's first
      // read goes out without a CORS preflight.
      gifts
        .catalog()
        .then(
          (catalog) => {
            if (this.client === client) this._catalog = catalog;
          },
          (error: unknown) => {
            this._loadedFor = undefined;
            this._spend.show('error', this.reportError(error));
          },
        )
        // The creators' names once the prices came: needed for the success message alone (long
        // after), they would only compete with the catalog on a page's first load.
        .then(() => gifts.creators())
        .then(
          (creators) => (this._creators = creators),
          () => undefined, // creator-name, then "the creator"
        );
    }
    // After the requests: following the stores reads the fan's sign-in from storage, which can
    // wait on the browser, and nothing of it is needed to ask.
    this._spend.follow(client);
    this._wallet.follow(client?.wallet);
  }

  /** @internal */
  override willUpdate(changed: Map<PropertyKey, unknown>): void {
    super.willUpdate(changed);
    const { client, creator } = this;
    const other = client !== this._splitOf?.[0] || creator !== this._splitOf?.[1];
    // The live split once the prices came (they go first), and again when the picker opens: the
    // creator may have gone live since. Without an answer, no line: the confirmation page shows it.
    if (client && creator && this._catalog && (other || (changed.has('_open') && this._open))) {
      if (other) this._split = undefined;
      const mine = (this._splitOf = [client, creator]);
      // Asked once this update is over (it may be the one that makes the button ready): a request
      // costs the page milliseconds of its main thread, and the line is no part of a button that
      // can be pressed. In the same task still, so that the buttons of a page ask together and
      // the browser sends one request for all of them.
      void this.updateComplete.then(() =>
        giftsOf(client)
          .liveSplit(creator)
          .then(
            ({ split }) => this._splitOf === mine && (this._split = split),
            () => undefined,
          ),
      );
    }
  }

  /** @internal */
  protected override updated(): void {
    const client = this.client;
    if (client !== this._readyFor && this._catalog && (!this._spend.fan || this._wallet.value?.status === 'ready')) {
      this._readyFor = client;
      this.dispatchEvent(new DiamondReadyEvent());
    }
  }

  private _onClick(): void {
    if (this.gift) this._request({ giftId: this.gift, quantity: whole(this.quantity), message: undefined });
    else if (this._open) void this._close();
    else void this._openPicker();
  }

  private _openPicker(): Promise<void> {
    this._open = true;
    return this.refocus(() => this.renderRoot.querySelector('input:checked, [part~="quantity"]'), true);
  }

  private _close(): Promise<void> {
    this._open = false;
    return this.refocus(() => this.renderRoot.querySelector('[part~="button"]'), true);
  }

  private _onKeydown(event: KeyboardEvent): void {
    if (event.key !== 'Escape') return;
    event.stopPropagation();
    void this._close();
  }

  private _onSubmit(event: SubmitEvent): void {
    event.preventDefault();
    const data = new FormData(event.target as HTMLFormElement);
    const message = String(data.get('message') ?? '').trim();
    this._request({ giftId: String(data.get('gift')), quantity: whole(Number(data.get('quantity'))), message: message || undefined });
  }

  /** Emits the intent, then sends unless a listener prevented it. Synchronous up to the popups. */
  private _request(attempt: Attempt): void {
    const client = this.client;
    const creatorId = this.creator;
    if (!client || !creatorId || this._spend.busy) return;
    if (!this.dispatchEvent(new DiamondGiftRequestEvent({ creatorId, ...attempt }))) return;
    const price = this._catalog?.find((gift) => gift.id === attempt.giftId)?.priceDiamonds;
    this._spend.run({
      slot: `diamonds:gift:${creatorId}:${attempt.giftId}:${attempt.quantity}:${attempt.message ?? ''}`,
      amount: price === undefined ? undefined : price * attempt.quantity,
      recipient: creatorId,
      part: this._open ? 'send' : 'button',
      send: (idempotencyKey) => giftsOf(client).send({ creatorId, ...attempt }, { idempotencyKey }),
      done: (sent) => {
        this._sent = this._catalog?.find((gift) => gift.id === sent.giftId);
        const creator = this._creators?.find((listed) => listed.id === creatorId)?.displayName;
        this._spend.note = this.t('gift.sent', { gift: sent.giftName, creator: creator || this.creatorName || this.t('gift.creator') });
        if (this._open) void this._close();
        this.dispatchEvent(new DiamondGiftSentEvent(sent));
      },
    });
  }

  /** @internal */
  protected override render(): TemplateResult {
    const locale = this.resolvedLocale;
    const spending = this._spend;
    const fixed = this.gift ? this._catalog?.find((gift) => gift.id === this.gift) : undefined;
    const label = !this.gift
      ? this.t('gift.pick')
      : fixed
        ? this.t('gift.sendFor', { gift: fixed.name, amount: formatDiamonds(locale, fixed.priceDiamonds * whole(this.quantity)) })
        : this.t('gift.send', { gift: this.gift });
    const sent = spending.phase === 'done' ? this._sent : undefined;
    return html`<div part="base">
      <button
        part="button"
        class="primary"
        ?disabled=${spending.busy}
        aria-haspopup=${this.gift ? nothing : 'dialog'}
        aria-expanded=${this.gift ? nothing : String(this._open)}
        @click=${this._onClick}
      >
        ${fixed ? html`<img part="icon" src=${fixed.artUrl} alt="" />` : nothing}<slot>${label}</slot>
      </button>
      ${this._split ? html`<p part="split">${formatSplit(locale, this._split)}</p>` : nothing}
      ${this._open ? this._renderPicker(locale) : nothing}
      <p part="status" role="status">
        ${sent ? html`<img part="art" class=${sent.animation} src=${sent.artUrl} alt="" />` : nothing}${spending.status()}
      </p>
      <p part="error" role="alert">${spending.alert}</p>
      ${spending.renderTopUp()}
    </div>`;
  }

  private _renderPicker(locale: string): TemplateResult {
    const catalog = this._catalog;
    return html`<div part="picker" role="dialog" aria-label=${this.t('gift.pick')} @keydown=${this._onKeydown}>
      <form @submit=${this._onSubmit}>
        ${
          catalog
            ? html`<fieldset>
                <legend>${this.t('gift.choose')}</legend>
                ${catalog.map(
                  (gift, index) =>
                    html`<label part="gift"
                      ><input type="radio" name="gift" value=${gift.id} ?checked=${index === 0} /><img src=${gift.artUrl} alt="" /><span
                        >${gift.name}</span
                      ><span part="price">${formatDiamonds(locale, gift.priceDiamonds)}</span></label
                    >`,
                )}
              </fieldset>`
            : html`<p>${this.t('common.loading')}</p>`
        }
        <label
          >${this.t('gift.quantity')}
          <input part="quantity" name="quantity" type="number" min="1" max="1000" required .value=${String(whole(this.quantity))}
        /></label>
        <label>${this.t('gift.message')} <textarea part="message" name="message" maxlength="140"></textarea></label>
        <div class="actions">
          <button part="send" class="primary" type="submit" ?disabled=${this._spend.busy || !catalog}>${this.t('gift.pick')}</button>
          <button part="cancel" type="button" @click=${this._close}>${this.t('gift.cancel')}</button>
        </div>
      </form>
    </div>`;
  }
}
