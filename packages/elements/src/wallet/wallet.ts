import { html, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { property, state } from '../internal/decorators.js';
import { isTopUpFailedError } from '@diamonds/sdk';
import type { Allowance, CurrencyCode, DiamondsClientCore, Session, TopUpPack, WalletEntry, WalletState } from '@diamonds/sdk';
import { DiamondElement } from '../internal/diamond-element.js';
import { wallet as strings } from '../i18n/en.js';
import { StoreController } from '../internal/store-controller.js';
import { themeStyles } from '../internal/theme.js';
import { formatCount, formatDiamonds, formatMoney } from '../i18n/i18n.js';
import { DiamondBalanceChangedEvent } from '../events/balance-changed.js';
import { DiamondSignedInEvent } from '../events/signed-in.js';
import { DiamondSignedOutEvent } from '../events/signed-out.js';
import { DiamondToppedUpEvent } from '../events/topped-up.js';
import styles from './wallet.styles.js';

/** Currency by region: the euro area, then the others the platform sells in. */
const CURRENCIES: Record<string, string> = Object.fromEntries(
  'AT BE CY DE EE ES FI FR GR HR IE IT LT LU LV MT NL PT SI SK'
    .split(' ')
    .map((region) => [region, 'EUR'])
    .concat(
      'US USD GB GBP JP JPY KR KRW CH CHF LI CHF CA CAD AU AUD SE SEK NO NOK DK DKK PL PLN BR BRL IN INR'
        .match(/\w+ \w+/g)!
        .map((pair) => pair.split(' ')),
    ),
);

/** The currency of `locale`'s region (`de` → EUR, `en-GB` → GBP), USD when unknown. */
function currencyOf(locale: string): string {
  try {
    return CURRENCIES[new Intl.Locale(locale).maximize().region ?? ''] ?? 'USD';
  } catch {
    return 'USD'; // not a BCP 47 tag
  }
}

/**
 * The fan's Diamonds wallet: sign in, see the balance and what this site may still spend
 * today, buy Diamonds, read the recent activity, sign out.
 *
 * @remarks
 * Signed out, it shows a "Sign in with Diamonds" button. Signed in, `layout="compact"` (the
 * default) shows a pill with the balance that opens a panel (a disclosure: Escape closes it and
 * returns focus to the pill); `layout="full"` shows the panel inline. The panel holds the fan's
 * name, the balance, Diamonds held for a confirmation, the site's allowance left today, the
 * top-up packs priced in `currency`, the last five history entries, and sign-out. Progress and
 * success are announced in a `role="status"` region, failures in a `role="alert"` one (a
 * failed load offers "Try again"). A success notice ("500 Diamonds added to your wallet.")
 * leaves after {@link DiamondWallet.noticeMs}, when the panel closes, or when the fan starts
 * something else. Sign-in and top-up open the platform's popup in the click; once it is over,
 * focus goes back to the button that opened it (the pill, after a sign-in).
 *
 * @example
 * ```html
 * <diamond-wallet publishable-key="pk_live_…" layout="full" currency="EUR"></diamond-wallet>
 * ```
 *
 * @summary Balance, top-up, history and sign-in for the fan.
 * @attr layout - `compact` (a pill with the balance that opens the panel, the default) or `full` (the panel inline).
 * @attr currency - The ISO 4217 currency top-up packs are priced in, such as `EUR`. Defaults to the locale's region's, else USD.
 * @attr open - Present while the compact panel is open; add it to open the panel.
 * @attr publishable-key - The site's publishable key (`pk_…`); not needed inside a `<diamond-provider>`.
 * @attr api-base - The platform's address. Defaults to the origin the drop-in script came from.
 * @attr locale - The BCP 47 locale of text, numbers and money. Defaults to the provider's, the closest `lang`, the browser's.
 * @attr theme - `light` or `dark` forces a theme; by default it follows `prefers-color-scheme`.
 * @cssstate loading - While the wallet loads: `diamond-wallet:state(loading)`.
 * @csspart base - The wrapper of everything.
 * @csspart sign-in - The "Sign in with Diamonds" button.
 * @csspart pill - The compact layout's button that opens the panel.
 * @csspart panel - The wallet panel (inline with `layout="full"`).
 * @csspart name - The fan's name.
 * @csspart balance - The balance.
 * @csspart held - The Diamonds held for a confirmation (shown when any are).
 * @csspart allowance - What this site may still spend today without asking (absent when the fan allowed it nothing: every spend asks them).
 * @csspart packs - The list of top-up packs.
 * @csspart pack - One top-up pack button.
 * @csspart history - The list of recent entries.
 * @csspart entry - One history entry.
 * @csspart sign-out - The sign-out button.
 * @csspart status - The live region for progress and success.
 * @csspart error - The alert region for failures.
 * @csspart retry - The "Try again" button after a failed load.
 * @cssprop --diamond-wallet-background - Panel and pill fill. Defaults to `--diamond-color-surface`.
 * @cssprop --diamond-wallet-panel-width - The compact panel's width. Defaults to `20rem`.
 * @cssprop --diamond-color-accent - Theme accent (pack buttons, icon).
 * @cssprop --diamond-color-surface - Theme surface colour.
 * @cssprop --diamond-color-text - Theme text colour.
 * @cssprop --diamond-color-muted - Theme secondary text colour.
 * @cssprop --diamond-color-border - Theme border colour.
 * @cssprop --diamond-radius - Theme corner radius.
 * @cssprop --diamond-font-family - Theme font. Inherited from the page when unset.
 * @event diamond-signed-in - {@link DiamondSignedInEvent}: a fan signed in here.
 * @event diamond-signed-out - {@link DiamondSignedOutEvent}: the fan is no longer signed in.
 * @event diamond-topped-up - {@link DiamondToppedUpEvent}: a top-up succeeded.
 * @event diamond-balance-changed - {@link DiamondBalanceChangedEvent}: the balance became known or changed.
 * @event diamond-error - {@link DiamondErrorEvent}: a call failed (also shown to the fan); `detail.error` is a `DiamondsError`.
 */
export class DiamondWallet extends DiamondElement {
  /** The shadow styles: the theme, then `wallet.styles.ts`. */
  static override styles = [themeStyles, styles];

  /** @internal */
  static override strings = strings;

  /**
   * How long a success notice stays in the status region, in milliseconds: long enough to be
   * read, and announced by a screen reader, then it leaves as a toast would.
   *
   * @defaultValue 6000
   */
  static noticeMs = 6_000;

  /**
   * `compact`: a pill with the balance that opens the panel; `full`: the panel inline.
   *
   * @defaultValue 'compact'
   */
  @property({ reflect: true })
  layout: 'compact' | 'full' = 'compact';

  /**
   * The ISO 4217 currency top-up packs are priced in, such as `EUR`.
   *
   * @defaultValue the locale's region's (en-US → USD, de → EUR, en-GB → GBP, ja → JPY), else USD
   */
  @property()
  currency: string | undefined;

  /** Whether the compact panel is open. */
  @property({ type: Boolean, reflect: true })
  open = false;

  @state() private packs: TopUpPack[] | undefined;
  @state() private history: WalletEntry[] | undefined;
  @state() private status = '';
  @state() private alert = '';
  @state() private canRetry = false;
  @state() private busy = false;

  /** The rendered button of `part`, if any. */
  #button(part: 'pill' | 'sign-in'): HTMLButtonElement | null {
    return this.renderRoot.querySelector(`[part~=${part}]`);
  }

  readonly #session = new StoreController<Session>(this);
  readonly #wallet = new StoreController<WalletState>(this);
  readonly #allowance = new StoreController<Allowance | null>(this);
  readonly #internals = this.attachInternals();
  #noticeTimer: ReturnType<typeof setTimeout> | undefined;
  /** What `willUpdate()` last saw, to load and emit on changes only. */
  #seen: {
    client?: DiamondsClientCore | undefined;
    fan?: Session['fan'];
    status?: string;
    balance?: number | undefined;
    currency?: string;
  } = {};

  /** The currency in effect: the attribute, else the locale's region's. */
  get resolvedCurrency(): string {
    return this.currency?.toUpperCase() || currencyOf(this.resolvedLocale);
  }

  /** @internal */
  protected override clientChanged(): void {
    const client = this.client;
    this.#session.follow(client?.session);
    this.#wallet.follow(client?.wallet);
    this.#allowance.follow(client?.allowance);
  }

  /** Shows `message` in the status region; a `notice` (a success) leaves on its own. */
  #say(message = '', notice = false): void {
    clearTimeout(this.#noticeTimer);
    this.status = message;
    if (notice) this.#noticeTimer = setTimeout(() => this.#say(), DiamondWallet.noticeMs);
  }

  get #signedIn(): boolean {
    return this.#session.value?.status === 'signed_in';
  }

  get #panelShown(): boolean {
    return this.layout === 'full' || this.open;
  }

  /** @internal */
  override willUpdate(changed: PropertyValues<this>): void {
    super.willUpdate(changed);
    const client = this.client;
    const session = this.#session.value;
    const seen = this.#seen;
    const fan = this.#signedIn ? session?.fan : undefined;
    if (client !== seen.client || fan?.id !== seen.fan?.id) {
      if (fan) {
        if (client === seen.client && seen.status && seen.status !== 'signed_in') this.dispatchEvent(new DiamondSignedInEvent({ fan }));
        this.#say();
        void this.#load();
      } else {
        if (client === seen.client && seen.fan) {
          this.dispatchEvent(
            new DiamondSignedOutEvent({ fan: seen.fan, reason: session?.status === 'expired' ? 'expired' : 'signed_out' }),
          );
        }
        this.packs = this.history = undefined;
        this.open = this.canRetry = false;
        seen.balance = undefined;
      }
      seen.client = client;
      seen.fan = fan;
    } else if (fan && (changed.has('currency') || changed.has('locale')) && seen.currency !== this.resolvedCurrency) {
      void this.#run(this.#loadPacks());
    }
    seen.status = session?.status;
    const wallet = this.#wallet.value;
    const balance = fan && wallet?.status !== 'idle' ? wallet?.balanceDiamonds : undefined;
    if (balance !== undefined && balance !== seen.balance) {
      const previousDiamonds = seen.balance;
      seen.balance = balance;
      this.dispatchEvent(
        new DiamondBalanceChangedEvent({ balanceDiamonds: balance, heldDiamonds: wallet?.heldDiamonds ?? 0, previousDiamonds }),
      );
      if (previousDiamonds !== undefined && this.#panelShown) void this.#run(this.#loadHistory());
    }
    if (changed.get('open') === false && this.open && fan) void this.#run(this.#loadHistory());
    if (fan && changed.get('open') && !this.open) this.#say();
    const loading = this.#loading;
    if (this.#internals.states?.has('loading') !== loading) this.#internals.states?.[loading ? 'add' : 'delete']('loading');
  }

  get #loading(): boolean {
    return this.#signedIn && !this.alert && (this.#wallet.value?.balanceDiamonds === undefined || this.packs === undefined);
  }

  /** Reads the wallet, the packs and (when the panel shows) the history. */
  #load(): Promise<void> {
    this.#say();
    this.alert = '';
    this.canRetry = false;
    return this.#run(
      Promise.all([this.client?.wallet.refresh(), this.#loadPacks(), this.#panelShown ? this.#loadHistory() : undefined]).then(
        () => undefined,
      ),
      true,
    );
  }

  async #loadPacks(): Promise<void> {
    const currency = (this.#seen.currency = this.resolvedCurrency);
    const packs = await this.client?.topUpPacks(currency as CurrencyCode);
    if (currency === this.#seen.currency) this.packs = packs;
  }

  async #loadHistory(): Promise<void> {
    const entries: WalletEntry[] = [];
    const client = this.client;
    if (!client) return;
    for await (const entry of client.wallet.history({ limit: 5 })) entries.push(entry);
    if (client === this.client) this.history = entries;
  }

  /** Awaits `work`; a failure becomes the alert (with "Try again" when `retry`). */
  async #run(work: Promise<unknown>, retry = false): Promise<void> {
    const client = this.client;
    try {
      await work;
    } catch (error) {
      if (client !== this.client) return;
      this.alert = this.reportError(error);
      this.canRetry ||= retry || this.packs === undefined;
    }
  }

  #signIn(): void {
    const client = this.client;
    if (!client) return;
    this.alert = '';
    this.#say(this.t('wallet.signingIn'));
    client
      .signIn()
      .then(
        () => this.#say(),
        (error: unknown) => {
          this.#say();
          this.alert = this.reportError(error);
        },
      )
      // Once the popup is over: the pill (signed in), else the sign-in button again.
      .finally(() => this.refocus(() => this.#button('pill') ?? this.#button('sign-in')));
  }

  async #signOut(): Promise<void> {
    this.#say();
    await this.client?.signOut();
    this.#say(this.t('wallet.signedOut'), true);
    await this.updateComplete;
    this.#button('sign-in')?.focus();
  }

  #topUp(pack: TopUpPack, event: Event): void {
    const client = this.client;
    const button = event.currentTarget as HTMLButtonElement;
    if (!client || this.busy) return;
    this.busy = true;
    this.alert = '';
    this.#say(this.t('wallet.paying'));
    client
      .topUp({ diamonds: pack.diamonds, currency: pack.price.currency })
      .then(
        (topUp) => {
          this.#say(this.t('wallet.toppedUp', { diamonds: formatDiamonds(this.resolvedLocale, topUp.diamonds) }), true);
          this.dispatchEvent(new DiamondToppedUpEvent(topUp));
          return this.#run(this.#loadHistory());
        },
        (error: unknown) => {
          this.#say();
          const message = this.reportError(error);
          this.alert = !isTopUpFailedError(error)
            ? message
            : this.t(error.code === 'card_declined' ? 'wallet.cardDeclined' : 'wallet.paymentFailed');
        },
      )
      .finally(() => {
        this.busy = false;
        void this.refocus(() => button);
      });
  }

  #toggle(): void {
    this.open = !this.open;
  }

  #onKeydown(event: KeyboardEvent): void {
    if (event.key === 'Escape' && this.open && this.layout !== 'full') {
      event.stopPropagation();
      this.open = false;
      this.#button('pill')?.focus();
    }
  }

  /** @internal */
  protected override render(): TemplateResult {
    const locale = this.resolvedLocale;
    const session = this.#session.value;
    const wallet = this.#wallet.value;
    const loading = this.#loading;
    const balance = wallet?.balanceDiamonds;
    const status = this.status || (loading ? this.t('common.loading') : '');
    let body: TemplateResult | typeof nothing = nothing;
    if (!this.client) {
      // No provider and no key: nothing to show yet.
    } else if (!this.#signedIn) {
      body = html`<button part="sign-in" class="primary" ?disabled=${session?.status === 'signing_in'} @click=${this.#signIn}>
        ${this.t('common.signIn')}
      </button>`;
    } else {
      const compact = this.layout !== 'full';
      const amount = balance === undefined ? this.t('common.loading') : formatDiamonds(locale, balance);
      body = html`${
          compact
            ? html`<button
                part="pill"
                aria-expanded=${this.open ? 'true' : 'false'}
                aria-controls="panel"
                aria-label=${this.t('wallet.open', { balance: amount })}
                @click=${this.#toggle}
              >
                ${icon}<span>${amount}</span>
              </button>`
            : nothing
        }
        <section part="panel" id="panel" aria-label=${this.t('wallet.title')} ?hidden=${compact && !this.open}>
          ${this.#panel(locale, session, wallet)}
        </section>`;
    }
    return html`<div part="base" @keydown=${this.#onKeydown}>
      ${body}
      <p part="status" role="status">${status}</p>
      <p part="error" role="alert">${this.alert}</p>
      ${this.canRetry ? html`<button part="retry" @click=${this.#load}>${this.t('wallet.retry')}</button>` : nothing}
    </div>`;
  }

  #panel(locale: string, session: Session | undefined, wallet: WalletState | undefined): TemplateResult {
    const allowance = this.#allowance.value;
    const held = wallet?.heldDiamonds ?? 0;
    return html`<p part="name">${session?.fan?.displayName}</p>
      <p part="balance">
        <span class="label">${this.t('wallet.balance')}</span>
        <strong>${wallet?.balanceDiamonds === undefined ? '…' : formatDiamonds(locale, wallet.balanceDiamonds)}</strong>
      </p>
      ${held > 0 ? html`<p part="held">${this.t('wallet.held', { amount: formatDiamonds(locale, held) })}</p>` : nothing}
      ${
        // A fan who allowed nothing (every spend asks them) is told no "0 of 0 left".
        allowance?.perDay
          ? html`<p part="allowance">
              ${this.t('wallet.allowance', { remaining: formatCount(locale, allowance.remaining), perDay: formatCount(locale, allowance.perDay) })}
            </p>`
          : nothing
      }
      ${
        this.packs?.length
          ? html`<p class="heading" id="packs">${this.t('wallet.packs')}</p>
              <ul part="packs" aria-labelledby="packs">
                ${this.packs.map(
                  (pack) =>
                    html`<li>
                      <button part="pack" class="primary" ?disabled=${this.busy} @click=${(event: Event) => this.#topUp(pack, event)}>
                        ${this.t('wallet.buyPack', { diamonds: formatDiamonds(locale, pack.diamonds), price: formatMoney(locale, pack.price) })}
                      </button>
                    </li>`,
                )}
              </ul>`
          : nothing
      }
      ${
        this.history
          ? html`<p class="heading" id="history">${this.t('wallet.history')}</p>
              ${
                this.history.length
                  ? html`<ul part="history" aria-labelledby="history">
                      ${this.history.map(
                        (entry) =>
                          html`<li part="entry" class=${entry.status}>
                            <span>${entry.description}${entry.status === 'posted' ? '' : ` ${this.t(`wallet.${entry.status}`)}`}</span>
                            <span class="amount"
                              >${entry.direction === 'in' ? '+' : '−'}${formatDiamonds(locale, entry.amountDiamonds)}</span
                            >
                          </li>`,
                      )}
                    </ul>`
                  : html`<p>${this.t('wallet.noHistory')}</p>`
              }`
          : nothing
      }
      <button part="sign-out" @click=${this.#signOut}>${this.t('wallet.signOut')}</button>`;
  }
}

/** The diamond icon (decorative). */
const icon = html`<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
  <path fill="currentColor" d="M6.5 3h11L22 9.2 12 21 2 9.2z" />
</svg>`;
