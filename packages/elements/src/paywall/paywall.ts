import { html, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { property, state } from '../internal/decorators.js';
import type { Content, ContentBody, CurrencyCode, DiamondsClientCore } from '@diamonds/sdk';
import { DiamondElement } from '../internal/diamond-element.js';
import { contentOf } from '../internal/client.js';
import { paywall } from '../i18n/en.js';
import { SpendController } from '../internal/spend-controller.js';
import { themeStyles } from '../internal/theme.js';
import { formatDiamonds, formatSplit } from '../i18n/i18n.js';
import { DiamondUnlockedEvent } from '../events/unlocked.js';
import styles from './paywall.styles.js';

/** Only web links are offered for external content (the platform checks them too). */
const isWebUrl = (url: string | null): url is string => !!url && /^https?:\/\//i.test(url);

/** The template of each body's HTML (see {@link bodyHtml}). */
const bodies = new WeakMap<ContentBody, TemplateResult>();

/**
 * A body's HTML, sanitised by the platform, as a template: what Lit's `unsafeHTML` makes (the
 * HTML as the one string of a template, which Lit parses through its Trusted Types policy),
 * without the directive's code in the drop-in's core. Made once per body: Lit caches a template
 * by its strings array, so the same array renders the same DOM again without parsing it.
 */
function bodyHtml(body: ContentBody, source: string): TemplateResult {
  let template = bodies.get(body);
  if (!template) bodies.set(body, (template = html(Object.assign([source], { raw: [source] }))));
  return template;
}

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
 * content at once, without paying again; when the fan signs out, the paywall locks again (the
 * body, the slotted content and the receipt go). The unlock's `Idempotency-Key` is kept until it
 * is paid or refused, so a retry (after a lost answer, a top-up, a reload) pays once. Focus goes
 * back to the button that opened a popup once the popup is over.
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
 * @cssstate busy - While it signs in, unlocks or tops up: `diamond-paywall:state(busy)`.
 * @cssstate signing-in - While the sign-in popup is open.
 * @cssstate confirm - Signed in by the click; the next press opens the confirmation.
 * @cssstate spending - While the unlock is sent (and its confirmation popup open).
 * @cssstate topping-up - While the payment popup of a top-up is open.
 * @cssstate done - Unlocked: the content shows.
 * @cssstate error - After a failure, or the fan declined.
 * @cssstate insufficient - The wallet holds too little; a Top up button shows.
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
 * @event diamond-error - {@link DiamondErrorEvent}: loading or unlocking failed, or the fan declined; `detail.error` is a `DiamondsError`.
 */
export class DiamondPaywall extends DiamondElement {
  /** The shadow styles: the theme, then `paywall.styles.ts`. */
  static override styles = [themeStyles, styles];

  /** @internal */
  static override strings = paywall;

  /** The content's id (`ct_…`). */
  @property()
  content: string | undefined;

  /** The currency a top-up is paid in. @defaultValue 'USD' */
  @property()
  currency: CurrencyCode = 'USD';

  /** The receipt of the unlock made here (a JWT your backend can verify), once unlocked; gone when the fan signs out. */
  receipt: string | undefined;

  @state() private _content: Content | undefined;
  @state() private _body: ContentBody | undefined;

  private _loadedKey: string | undefined;
  /** The spend flow; a sign-out locks the paywall again (`done` is unlocked). */
  private readonly _spend = new SpendController(this, 'paywall', () => {
    this._body = this.receipt = undefined;
  });

  /** @internal */
  protected override clientChanged(): void {
    this._spend.follow(this.client);
    this._loadedKey = undefined;
  }

  /** @internal */
  override willUpdate(changed: PropertyValues<this>): void {
    super.willUpdate(changed);
    const client = this.client;
    const key = `${this.content}|${this._spend.fan}`;
    if (client && this.content && key !== this._loadedKey) {
      this._loadedKey = key;
      void this._load(client, this.content);
    }
  }

  private get _slotted(): boolean {
    return this.querySelector(':scope > [slot="unlocked"]') !== null;
  }

  /** Reads the teaser and rule (with `entitled` for a signed-in fan); shows the content if entitled. */
  private async _load(client: DiamondsClientCore, id: string): Promise<void> {
    if (this._content?.id !== id) {
      this._content = this._body = undefined;
      this._spend.show('idle');
    }
    // An answer for a fan who has signed out since (or another fan) is dropped: a signed-out page
    // must not show a body it read with the previous fan's token.
    const fan = this._spend.fan;
    try {
      const content = await contentOf(client).get(id);
      if (this.client !== client || this.content !== id || this._spend.fan !== fan) return;
      this._content = content;
      if (content.entitled && !this._spend.busy) await this._reveal(client, id, '');
    } catch (error) {
      if (!this._spend.busy) this._spend.show('error', this.reportError(error));
    }
  }

  /** Shows the unlocked content: the slotted one, else the body the platform serves. */
  private async _reveal(client: DiamondsClientCore, id: string, note: string): Promise<void> {
    const fan = this._spend.fan;
    if (!this._slotted && this._body?.id !== id) {
      const body = await contentOf(client).body(id);
      if (this._spend.fan !== fan) return;
      this._body = body;
    }
    this._spend.show('done', note);
  }

  /** The Unlock click: signs in first if needed (its popup opens now), then unlocks. */
  private _onUnlock(): void {
    const client = this.client;
    const id = this.content;
    if (!client || !id) return;
    this._spend.run({
      slot: `diamonds:unlock:${id}`,
      amount: this._content?.priceDiamonds ?? 0,
      part: 'button',
      signedIn: async () => {
        const content = (this._content = await contentOf(client).get(id));
        if (content.entitled) await this._reveal(client, id, '');
        else if (content.remainingToThreshold)
          this._spend.show('idle'); // the progress shows
        else return true;
        return false;
      },
      send: (idempotencyKey) => contentOf(client).unlock(id, { idempotencyKey }),
      done: async (unlocked) => {
        this.receipt = unlocked.receipt;
        if (this._content) this._content = { ...this._content, entitled: true };
        this.dispatchEvent(new DiamondUnlockedEvent(unlocked));
        await this._reveal(client, id, this.t('paywall.unlocked'));
      },
      explain: async (code) => {
        if (code === 'already_unlocked') await this._reveal(client, id, '');
        else if (code === 'threshold_not_met') {
          this._content = await contentOf(client)
            .get(id)
            .catch(() => this._content);
          this._spend.show('idle');
        } else return undefined;
        return null;
      },
    });
  }

  /** @internal */
  protected override render(): TemplateResult {
    const locale = this.resolvedLocale;
    const content = this._content;
    const spending = this._spend;
    const unlocked = spending.phase === 'done';
    const signedIn = !!spending.fan;
    const status = content || spending.phase !== 'idle' ? spending.status() : this.t('common.loading');
    const threshold = content?.thresholdDiamonds ?? null;
    const remaining = content?.remainingToThreshold ?? 0;
    const price = content?.priceDiamonds ?? null;
    const body = this._body;
    const link = isWebUrl(body?.externalUrl ?? null) ? body?.externalUrl : undefined;
    return html`<div part="base">
      ${content ? html`<p part="title">${content.title}</p>` : nothing}
      <div part="teaser"><slot name="teaser">${content?.teaser ?? ''}</slot></div>
      ${
        content && !unlocked
          ? html`<p part="rule">
                ${price !== null ? this.t('paywall.price', { amount: formatDiamonds(locale, price) }) : nothing}
                ${threshold !== null ? this.t('paywall.threshold', { amount: formatDiamonds(locale, threshold) }) : nothing}
                ${formatSplit(locale, content.split)}
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
                  : html`<button part="button" class="primary" ?disabled=${spending.busy} @click=${this._onUnlock}>
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
      <p part="error" role="alert">${spending.alert}</p>
      ${spending.renderTopUp()}
      ${
        unlocked
          ? this._slotted
            ? html`<slot name="unlocked"></slot>`
            : typeof body?.html === 'string'
              ? // Sanitised by the platform (see the class comment): the only server HTML inserted.
                html`<div part="body">${bodyHtml(body, body.html)}</div>`
              : link
                ? html`<a part="link" href=${link} target="_blank" rel="noopener noreferrer">${this.t('paywall.open')}</a>`
                : nothing
          : nothing
      }
    </div>`;
  }
}
