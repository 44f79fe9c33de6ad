import { html, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import { unsafeHTML } from 'lit/directives/unsafe-html.js';
import { isDiamondsError } from '@diamonds/sdk';
import type { Content, ContentBody, CurrencyCode, DiamondsClientCore, PendingConfirmation, Session, UnlockedContent } from '@diamonds/sdk';
import { DiamondElement } from '../internal/diamond-element.js';
import { contentOf } from '../internal/client.js';
import { paywall as strings } from '../i18n/en.js';
import { TopUpOffer } from '../internal/top-up-offer.js';
import { focusPart, spendsWithoutPopup } from '../internal/confirm-step.js';
import { StoreController } from '../internal/store-controller.js';
import { themeStyles } from '../internal/theme.js';
import { formatDiamonds, formatMoney } from '../i18n/i18n.js';
import { DiamondUnlockedEvent } from '../events/unlocked.js';
import styles from './paywall.styles.js';

/** Where the element stands; `confirm`: signed in from the Unlock click, the next click opens the confirmation. */
type Phase = 'loading' | 'idle' | 'signing-in' | 'confirm' | 'unlocking' | 'topping-up' | 'unlocked' | 'error' | 'insufficient';

/** Only web links are offered for external content (the platform checks them too). */
const isWebUrl = (url: string | null): url is string => !!url && /^https?:\/\//i.test(url);

/**
 * Exclusive content behind Diamonds: the teaser and the rule (a price, or a support threshold
 * with how far the fan is from it), an Unlock button, then the content itself.
 *
 * @remarks
 * Every state is shown and announced (a `status` live region for progress and success, an
 * `alert` for problems): loading, signed out (the click opens the sign-in popup, then unlocks
 * within the site's allowance; beyond it, the fan presses Unlock once more, since a browser
 * blocks a confirmation popup opened outside a click), confirmation needed ("Confirm in the
 * Diamonds window…"), declined, expired, popup blocked or closed, not enough Diamonds (a
 * "Top up" button buys the smallest covering pack, then unlocks), threshold not met (progress,
 * no button), other errors, and unlocked. A returning fan who is already entitled sees the
 * content at once, without paying again.
 *
 * Once unlocked, the element shows the body the platform serves (`content.body`), or, when the
 * page put its own content in `slot="unlocked"`, reveals that slot and fetches nothing (the
 * slotted content is in the page's DOM all along: only the platform's body is protected). The
 * body's HTML is the one place server text is inserted as HTML: the platform renders the
 * creator's Markdown with raw HTML disabled (every tag in it becomes text) and checks every
 * link and image URL against an allow-list (no `javascript:`), so it holds no script, event
 * handler or style attribute. External content gets an "Open the content" link instead.
 *
 * @example
 * ```html
 * <diamond-paywall publishable-key="pk_test_…" content="ct_…"></diamond-paywall>
 * <diamond-paywall publishable-key="pk_test_…" content="ct_…">
 *   <p slot="teaser">My own teaser.</p>
 *   <article slot="unlocked">Shown once unlocked.</article>
 * </diamond-paywall>
 * ```
 *
 * @summary A paywall: teaser and price, unlock, then the content.
 * @attr content - The content's id (`ct_…`). Required.
 * @attr currency - The currency a top-up is paid in. Defaults to `USD`.
 * @attr publishable-key - The site's publishable key (`pk_…`); not needed inside a `<diamond-provider>`.
 * @attr api-base - The platform's address. Defaults to the origin the drop-in script came from.
 * @attr locale - The BCP 47 locale of text, numbers and money. Defaults to the provider's, the closest `lang`, the browser's.
 * @attr theme - `light` or `dark` forces a theme; by default it follows `prefers-color-scheme`.
 * @slot teaser - The site's own teaser. Defaults to the platform's teaser.
 * @slot unlocked - The site's own content, revealed once unlocked (then no body is fetched).
 * @csspart base - The wrapper of everything.
 * @csspart title - The content's title.
 * @csspart teaser - The teaser.
 * @csspart rule - The price or support threshold.
 * @csspart progress - The progress bar towards the support threshold.
 * @csspart button - The Unlock button.
 * @csspart status - The live region for progress and success.
 * @csspart error - The alert for problems.
 * @csspart top-up - The "Top up" button shown when the wallet holds too little.
 * @csspart body - The unlocked body.
 * @csspart link - The link to external content.
 * @cssprop --diamond-paywall-background - The paywall's background. Defaults to `--diamond-color-surface`.
 * @cssprop --diamond-paywall-border - The paywall's border. Defaults to `1px solid` `--diamond-color-border`.
 * @cssprop --diamond-color-accent - Theme accent (the Unlock button, the progress bar).
 * @cssprop --diamond-radius - Theme corner radius.
 * @cssprop --diamond-font-family - Theme font.
 * @event diamond-unlocked - {@link DiamondUnlockedEvent}: the fan unlocked the content; `detail` has the `entitlement` and its `receipt`.
 * @event diamond-error - Loading or unlocking failed, or the fan declined; `detail.error` is a `DiamondsError`.
 */
export class DiamondPaywall extends DiamondElement {
  /** The shadow styles: the theme, then `paywall.styles.ts`. */
  static override styles = [themeStyles, styles];

  /** @internal */
  static override strings = strings;

  /** The content's id (`ct_…`). */
  @property()
  content: string | undefined;

  /** The currency a top-up is paid in. @defaultValue 'USD' */
  @property()
  currency: CurrencyCode = 'USD';

  /** The receipt of the unlock made here (a JWT your backend can verify), once unlocked. */
  receipt: string | undefined;

  @state() private _content: Content | undefined;
  @state() private _body: ContentBody | undefined;
  @state() private _phase: Phase = 'loading';
  @state() private _note = '';

  private _loadedKey: string | undefined;
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
    const key = `${this.content}|${fan}`;
    if (client && this.content && key !== this._loadedKey) {
      this._loadedKey = key;
      void this._load(client, this.content);
    }
    // The allowance must be known before the click, for the SDK to decide the popup in it.
    if (client && fan && client.wallet.get().status === 'idle') client.wallet.refresh().catch(() => undefined);
  }

  private get _busy(): boolean {
    return this._phase === 'signing-in' || this._phase === 'unlocking' || this._phase === 'topping-up';
  }

  private get _slotted(): boolean {
    return this.querySelector(':scope > [slot="unlocked"]') !== null;
  }

  private _show(phase: Phase, note = ''): void {
    this._phase = phase;
    this._note = note;
  }

  /** Reads the teaser and rule (with `entitled` for a signed-in fan); shows the content if entitled. */
  private async _load(client: DiamondsClientCore, id: string): Promise<void> {
    if (this._content?.id !== id) {
      this._content = undefined;
      this._body = undefined;
      this._show('loading');
    }
    try {
      const content = await contentOf(client).get(id);
      if (this.client !== client || this.content !== id) return;
      this._content = content;
      if (this._busy) return; // the click's own flow goes on
      if (content.entitled) await this._reveal(client, id, '');
      else if (this._phase === 'loading') this._show('idle');
    } catch (error) {
      if (!this._busy) this._show('error', this.reportError(error));
    }
  }

  /** Shows the unlocked content: the slotted one, else the body the platform serves. */
  private async _reveal(client: DiamondsClientCore, id: string, note: string): Promise<void> {
    if (!this._slotted && this._body?.id !== id) this._body = await contentOf(client).body(id);
    this._show('unlocked', note);
  }

  /** The click: signs in first if needed (its popup opens now), then unlocks. */
  private _onUnlock(): void {
    this._run();
  }

  /**
   * Unlocks: synchronous up to the SDK's popups when called from a click. After a sign-in in
   * the click, a spend that needs the confirmation popup waits for one more click (the confirm step).
   */
  private _run(): void {
    const client = this.client;
    const id = this.content;
    if (!client || !id || this._busy) return;
    const signIn = client.session.get().status === 'signed_in' ? undefined : client.signIn();
    if (signIn) signIn.catch(() => undefined); // handled below
    this._show(signIn ? 'signing-in' : 'unlocking');
    void (async () => {
      try {
        if (signIn) {
          await signIn;
          const content = (this._content = await contentOf(client).get(id));
          if (content.entitled) return await this._reveal(client, id, '');
          if (content.remainingToThreshold) return this._show('idle'); // the progress shows
          if (!(await spendsWithoutPopup(client, content.priceDiamonds ?? 0))) {
            this._show('confirm');
            return await focusPart(this, 'button');
          }
          this._show('unlocking');
        }
        const unlocked: UnlockedContent = await contentOf(client).unlock(id);
        this.receipt = unlocked.receipt;
        if (this._content) this._content = { ...this._content, entitled: true };
        this.dispatchEvent(new DiamondUnlockedEvent(unlocked));
        await this._reveal(client, id, this.t('paywall.unlocked'));
      } catch (error) {
        const code = isDiamondsError(error) ? error.code : undefined;
        if (code === 'already_unlocked') return void (await this._reveal(client, id, ''));
        const note = this.reportError(error);
        if (code === 'threshold_not_met') {
          this._content = await contentOf(client)
            .get(id)
            .catch(() => this._content);
          return this._show('idle');
        }
        this._show(code === 'insufficient_funds' ? 'insufficient' : 'error', note);
        if (code === 'insufficient_funds') this._findPack(client);
      }
    })();
  }

  /** Finds the smallest top-up pack covering what the price lacks, before the fan clicks "Top up". */
  private _findPack(client: DiamondsClientCore): void {
    this._offer.prepare(client, this._content?.priceDiamonds ?? 0, this.currency);
  }

  /** Buys Diamonds (the payment popup opens in this click), then unlocks. */
  private _topUp(): void {
    const client = this.client;
    if (!client || this._busy) return;
    const topUp = this._offer.buy(client, this.currency);
    this._show('topping-up');
    topUp.then(
      () => {
        this._phase = 'idle';
        this._run();
      },
      (error: unknown) => this._show('error', this.reportError(error)),
    );
  }

  /** @internal */
  protected override render(): TemplateResult {
    const locale = this.resolvedLocale;
    const content = this._content;
    const phase = this._phase;
    const unlocked = phase === 'unlocked';
    const signedIn = this._session.value?.status === 'signed_in';
    const status =
      phase === 'loading'
        ? this.t('common.loading')
        : phase === 'signing-in'
          ? this.t('paywall.signingIn')
          : phase === 'confirm'
            ? this.t('paywall.confirmStep')
            : phase === 'unlocking'
              ? this.t(this._pending.value?.length ? 'common.confirming' : 'paywall.unlocking')
              : phase === 'topping-up'
                ? this.t('paywall.toppingUp')
                : unlocked
                  ? this._note
                  : '';
    const threshold = content?.thresholdDiamonds ?? null;
    const remaining = content?.remainingToThreshold ?? 0;
    const price = content?.priceDiamonds ?? null;
    const body = this._body;
    const link = isWebUrl(body?.externalUrl ?? null) ? body?.externalUrl : undefined;
    const pack = this._offer.pack;
    return html`<div part="base">
      ${content ? html`<p part="title">${content.title}</p>` : nothing}
      <div part="teaser"><slot name="teaser">${content?.teaser ?? ''}</slot></div>
      ${
        content && !unlocked
          ? html`<p part="rule">
                ${price !== null ? this.t('paywall.price', { amount: formatDiamonds(locale, price) }) : nothing}
                ${threshold !== null ? this.t('paywall.threshold', { amount: formatDiamonds(locale, threshold) }) : nothing}
              </p>
              ${
                threshold !== null && signedIn && content.supportedDiamonds !== undefined && remaining > 0
                  ? html`<p>
                        ${this.t('paywall.progress', {
                          given: formatDiamonds(locale, content.supportedDiamonds),
                          missing: formatDiamonds(locale, remaining),
                        })}
                      </p>
                      <progress
                        part="progress"
                        max=${threshold}
                        .value=${Math.min(threshold, content.supportedDiamonds)}
                        aria-label=${this.t('paywall.progressLabel')}
                      ></progress>`
                  : html`<button part="button" class="primary" ?disabled=${this._busy} @click=${this._onUnlock}>
                      ${
                        !signedIn && threshold !== null
                          ? this.t('paywall.signIn')
                          : price !== null
                            ? this.t('paywall.price', { amount: formatDiamonds(locale, price) })
                            : this.t('paywall.unlock')
                      }
                    </button>`
              }`
          : nothing
      }
      <p part="status" role="status">${status}</p>
      <p part="error" role="alert">${phase === 'error' || phase === 'insufficient' ? this._note : ''}</p>
      ${
        phase === 'insufficient'
          ? html`<button part="top-up" @click=${this._topUp}>
              ${
                pack
                  ? this.t('paywall.topUpPack', { diamonds: formatDiamonds(locale, pack.diamonds), price: formatMoney(locale, pack.price) })
                  : this.t('common.topUp')
              }
            </button>`
          : nothing
      }
      ${
        unlocked
          ? this._slotted
            ? html`<slot name="unlocked"></slot>`
            : typeof body?.html === 'string'
              ? // Sanitised by the platform (see the class comment): the only server HTML inserted.
                html`<div part="body">${unsafeHTML(body.html)}</div>`
              : link
                ? html`<a part="link" href=${link} target="_blank" rel="noopener noreferrer">${this.t('paywall.open')}</a>`
                : nothing
          : nothing
      }
    </div>`;
  }
}
