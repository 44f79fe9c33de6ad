import { html, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import { isDiamondsError } from '@diamonds/sdk';
import type { CurrencyCode, DiamondsClientCore, GiftType, PendingConfirmation, Session } from '@diamonds/sdk';
import { DiamondElement } from '../internal/diamond-element.js';
import { giftsOf } from '../internal/client.js';
import { giftButton as strings } from '../i18n/en.js';
import { TopUpOffer } from '../internal/top-up-offer.js';
import { focusPart, spendsWithoutPopup } from '../internal/confirm-step.js';
import { StoreController } from '../internal/store-controller.js';
import { themeStyles } from '../internal/theme.js';
import { formatDiamonds, formatMoney } from '../i18n/i18n.js';
import { DiamondGiftRequestEvent } from '../events/gift-request.js';
import { DiamondGiftSentEvent } from '../events/gift-sent.js';
import styles from './gift-button.styles.js';

/** Where the element stands; `confirm`: signed in from a gift's click, the next click opens the confirmation. */
type Phase = 'idle' | 'signing-in' | 'confirm' | 'sending' | 'topping-up' | 'sent' | 'error' | 'insufficient';

/** One gift the fan asked for: kept to continue it after a sign-in or a top-up. */
interface Attempt {
  giftId: string;
  quantity: number;
  message: string | undefined;
}

/** A whole quantity from 1 to 1,000. */
const whole = (n: number): number => Math.min(1000, Math.max(1, Math.floor(n) || 1));

/**
 * The `Idempotency-Key` of one gift, kept in sessionStorage until the platform answered, so a
 * retry after a lost answer (or a reload) never sends it twice. `drop` forgets it.
 */
function idempotencyKey(slot: string, drop = false): string | undefined {
  try {
    if (drop) return void sessionStorage.removeItem(slot);
    const key = sessionStorage.getItem(slot) ?? crypto.randomUUID();
    sessionStorage.setItem(slot, key);
    return key;
  } catch {
    return undefined; // no storage (or no secure context): the SDK makes a key per call
  }
}

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
 * kept in sessionStorage until the platform answers.
 *
 * @example
 * ```html
 * <diamond-gift-button publishable-key="pk_test_…" creator="usr_…" creator-name="Ada" gift="rose" quantity="3"></diamond-gift-button>
 * <diamond-gift-button publishable-key="pk_test_…" creator="usr_…"></diamond-gift-button> <!-- a picker -->
 * ```
 *
 * @summary A gift button, one-click or with a picker of the catalog.
 * @attr creator - The creator who receives the gift (`usr_…`). Required.
 * @attr creator-name - The creator's name, for "Rose sent to Ada". Defaults to "the creator".
 * @attr gift - The catalog id of the gift sent in one click (`rose`); without it the button opens a picker.
 * @attr quantity - How many to send, 1 to 1,000 (the picker starts from it). Defaults to 1.
 * @attr currency - The currency a top-up is paid in. Defaults to `USD`.
 * @attr publishable-key - The site's publishable key (`pk_…`); not needed inside a `<diamond-provider>`.
 * @attr api-base - The platform's address. Defaults to the origin the drop-in script came from.
 * @attr locale - The BCP 47 locale of text, numbers and money. Defaults to the provider's, the closest `lang`, the browser's.
 * @attr theme - `light` or `dark` forces a theme; by default it follows `prefers-color-scheme`.
 * @cssstate sending - While it signs in, sends or tops up: `diamond-gift-button:state(sending)`.
 * @cssstate sent - After the gift was sent.
 * @slot - The button's label. Defaults to "Send Rose for 5 Diamonds", or "Send a gift" for the picker.
 * @csspart base - The wrapper of everything.
 * @csspart button - The main button.
 * @csspart icon - The gift's art on a one-click button.
 * @csspart picker - The picker panel (a non-modal dialog).
 * @csspart gift - One gift of the picker (a radio with art, name and price).
 * @csspart price - A gift's price in the picker.
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
 * @event diamond-error - Sending failed, or the fan declined; `detail.error` is a `DiamondsError`.
 */
export class DiamondGiftButton extends DiamondElement {
  /** The shadow styles: the theme, then `gift-button.styles.ts`. */
  static override styles = [themeStyles, styles];

  /** @internal */
  static override strings = strings;

  /** The creator who receives the gift (`usr_…`). */
  @property()
  creator: string | undefined;

  /** The creator's name, for "Rose sent to Ada". @defaultValue "the creator" */
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
  @state() private _phase: Phase = 'idle';
  @state() private _note = '';
  @state() private _open = false;
  @state() private _sent: GiftType | undefined;

  private _attempt: Attempt | undefined;
  /** The top-up offered when the wallet cannot pay. */
  private readonly _offer = new TopUpOffer(this);
  private _loadedFor: DiamondsClientCore | undefined;
  private readonly _session = new StoreController<Session>(this);
  private readonly _pending = new StoreController<readonly PendingConfirmation[]>(this);
  private readonly _internals = this.attachInternals();

  /** @internal */
  protected override clientChanged(): void {
    const client = this.client;
    this._session.follow(client?.session);
    this._pending.follow(client?.confirmations);
    if (!client || client === this._loadedFor) return;
    this._loadedFor = client;
    giftsOf(client)
      .catalog()
      .then(
        (catalog) => {
          if (this.client === client) this._catalog = catalog;
        },
        (error: unknown) => {
          this._loadedFor = undefined;
          this._show('error', this.reportError(error));
        },
      );
  }

  /** @internal */
  override willUpdate(changed: PropertyValues<this>): void {
    super.willUpdate(changed);
    // The allowance must be known before the click, for the SDK to decide the popup in it.
    const client = this.client;
    if (client && this._session.value?.status === 'signed_in' && client.wallet.get().status === 'idle') {
      client.wallet.refresh().catch(() => undefined);
    }
  }

  /** @internal */
  protected override updated(): void {
    const states = (this._internals as { states?: Set<string> }).states;
    if (!states) return;
    for (const [name, on] of [
      ['sending', this._busy],
      ['sent', this._phase === 'sent'],
    ] as const) {
      try {
        if (on) states.add(name);
        else states.delete(name);
      } catch {
        // An older browser without custom states.
      }
    }
  }

  private get _busy(): boolean {
    return this._phase === 'signing-in' || this._phase === 'sending' || this._phase === 'topping-up';
  }

  private _show(phase: Phase, note = ''): void {
    this._phase = phase;
    this._note = note;
  }

  private _price(giftId: string): number | undefined {
    return this._catalog?.find((gift) => gift.id === giftId)?.priceDiamonds;
  }

  private _onClick(): void {
    if (this.gift) this._request({ giftId: this.gift, quantity: whole(this.quantity), message: undefined });
    else if (this._open) void this._close();
    else void this._openPicker();
  }

  private async _openPicker(): Promise<void> {
    this._open = true;
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLElement>('input:checked, [part~="quantity"]')?.focus();
  }

  private async _close(): Promise<void> {
    this._open = false;
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLElement>('[part~="button"]')?.focus();
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
    if (this._busy || !this.creator) return;
    if (this.dispatchEvent(new DiamondGiftRequestEvent({ creatorId: this.creator, ...attempt }))) this._run(attempt);
  }

  /**
   * Signs in first if needed (the popup opens now, in the click), then sends the gift: at once
   * when no confirmation popup is needed, else after one more click (a popup opened now would be blocked).
   */
  private _run(attempt: Attempt): void {
    const client = this.client;
    const creatorId = this.creator;
    if (!client || !creatorId) return;
    this._attempt = attempt;
    const signIn = client.session.get().status === 'signed_in' ? undefined : client.signIn();
    this._show(signIn ? 'signing-in' : 'sending');
    if (signIn) signIn.catch(() => undefined); // handled below; not an unhandled rejection meanwhile
    const slot = `diamonds:gift:${creatorId}:${attempt.giftId}:${attempt.quantity}:${attempt.message ?? ''}`;
    void (async () => {
      try {
        if (signIn) {
          await signIn;
          const price = this._price(attempt.giftId);
          if (!(await spendsWithoutPopup(client, price === undefined ? undefined : price * attempt.quantity, creatorId))) {
            this._show('confirm');
            return await focusPart(this, this._open ? 'send' : 'button');
          }
          this._show('sending');
        }
        const sent = await giftsOf(client).send({ creatorId, ...attempt }, { idempotencyKey: idempotencyKey(slot) });
        idempotencyKey(slot, true);
        this._sent = this._catalog?.find((gift) => gift.id === sent.giftId);
        this._show('sent', this.t('gift.sent', { gift: sent.giftName, creator: this.creatorName || this.t('gift.creator') }));
        if (this._open) void this._close();
        this.dispatchEvent(new DiamondGiftSentEvent(sent));
      } catch (error) {
        const code = isDiamondsError(error) ? error.code : undefined;
        if (code !== 'network_error' && code !== 'timeout') idempotencyKey(slot, true);
        this._show(code === 'insufficient_funds' ? 'insufficient' : 'error', this.reportError(error));
        if (code === 'insufficient_funds') this._findPack(client, attempt);
      }
    })();
  }

  /** Finds the smallest top-up pack covering what the gift lacks, before the fan clicks "Top up". */
  private _findPack(client: DiamondsClientCore, attempt: Attempt): void {
    this._offer.prepare(client, (this._price(attempt.giftId) ?? 0) * attempt.quantity, this.currency);
  }

  /** Buys Diamonds (the payment popup opens in this click), then sends the same gift again. */
  private _topUp(): void {
    const client = this.client;
    const attempt = this._attempt;
    if (!client || !attempt || this._busy) return;
    const topUp = this._offer.buy(client, this.currency);
    this._show('topping-up');
    topUp.then(
      () => this._run(attempt),
      (error: unknown) => this._show('error', this.reportError(error)),
    );
  }

  /** @internal */
  protected override render(): TemplateResult {
    const locale = this.resolvedLocale;
    const fixed = this.gift ? this._catalog?.find((gift) => gift.id === this.gift) : undefined;
    const label = !this.gift
      ? this.t('gift.pick')
      : fixed
        ? this.t('gift.sendFor', { gift: fixed.name, amount: formatDiamonds(locale, fixed.priceDiamonds * whole(this.quantity)) })
        : this.t('gift.send', { gift: this.gift });
    const phase = this._phase;
    const status =
      phase === 'signing-in'
        ? this.t('gift.signingIn')
        : phase === 'confirm'
          ? this.t('gift.confirmStep')
          : phase === 'sending'
            ? this.t(this._pending.value?.length ? 'common.confirming' : 'gift.sending')
            : phase === 'topping-up'
              ? this.t('gift.toppingUp')
              : phase === 'sent'
                ? this._note
                : '';
    const pack = this._offer.pack;
    return html`<div part="base">
      <button
        part="button"
        class="primary"
        ?disabled=${this._busy}
        aria-haspopup=${this.gift ? nothing : 'dialog'}
        aria-expanded=${this.gift ? nothing : String(this._open)}
        @click=${this._onClick}
      >
        ${fixed ? html`<img part="icon" src=${fixed.artUrl} alt="" />` : nothing}<slot>${label}</slot>
      </button>
      ${this._open ? this._renderPicker(locale) : nothing}
      <p part="status" role="status">
        ${
          phase === 'sent' && this._sent ? html`<img part="art" class=${this._sent.animation} src=${this._sent.artUrl} alt="" />` : nothing
        }${status}
      </p>
      <p part="error" role="alert">${phase === 'error' || phase === 'insufficient' ? this._note : ''}</p>
      ${
        phase === 'insufficient'
          ? html`<button part="top-up" @click=${this._topUp}>
              ${
                pack
                  ? this.t('gift.topUpPack', { diamonds: formatDiamonds(locale, pack.diamonds), price: formatMoney(locale, pack.price) })
                  : this.t('common.topUp')
              }
            </button>`
          : nothing
      }
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
          <button part="send" class="primary" type="submit" ?disabled=${this._busy || !catalog}>${this.t('gift.pick')}</button>
          <button part="cancel" type="button" @click=${this._close}>${this.t('gift.cancel')}</button>
        </div>
      </form>
    </div>`;
  }
}
