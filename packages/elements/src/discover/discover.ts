import { html, nothing, type TemplateResult } from 'lit';
import { discoverItems, reportBoostViews, type BoostViewReport, type DiscoverItem } from '@diamonds/sdk/discover';
import { discover as strings } from '../i18n/en.js';
import { formatDiamonds } from '../i18n/i18n.js';
import { property, state } from '../internal/decorators.js';
import { DiamondElement } from '../internal/diamond-element.js';
import { themeStyles } from '../internal/theme.js';
import styles from './discover.styles.js';

/** How long an item must stay at least half visible to count as seen (the IAB rule). */
const VISIBLE_MS = 1_000;
/** How long impressions wait to go out together. */
const REPORT_MS = 500;
/** How long a click waits for its report before the page moves on. */
const CLICK_WAIT_MS = 400;

/** An `http(s)` address, or undefined: a link never runs script. */
function safeUrl(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Boosted posts and products of creators on the platform: each card with its title, creator,
 * excerpt or picture, and price, leading to the item's page on the creator's site.
 *
 * @remarks
 * Any site may show it with its own publishable key. An item counts as seen (an impression the
 * creator's boost pays for) only once at least half of it has been visible for a second while
 * the page is visible, and at most once per visitor per item per day (the platform decides);
 * a click is counted too. The visitor is known only by a random id in the site's own
 * `localStorage`. Cards are links, in a list with a heading, usable by keyboard and screen
 * reader; the grid becomes one column on a phone.
 *
 * @example
 * ```html
 * <script type="module" src="https://diamonds.example/sdk/diamonds-discover.js"></script>
 * <diamond-discover publishable-key="pk_live_…"></diamond-discover>
 * ```
 *
 * @summary Boosted items from creators on the platform.
 * @attr limit - How many items to show, 1 to 12. Defaults to 6.
 * @attr heading - The heading's text. Defaults to "Discover".
 * @attr publishable-key - The site's publishable key (`pk_…`); not needed inside a `<diamond-provider>`.
 * @attr api-base - The platform's address. Defaults to the origin the script came from.
 * @attr locale - The BCP 47 locale of text and numbers.
 * @attr theme - `light` or `dark` forces a theme; by default it follows `prefers-color-scheme`.
 * @fires diamond-error - The list could not be read ({@link DiamondErrorEvent}).
 * @csspart base - The wrapper of everything.
 * @csspart heading - The heading.
 * @csspart list - The list of cards.
 * @csspart item - One card.
 * @csspart link - The card's link.
 * @csspart art - A product's picture.
 * @csspart label - "Boosted · Post" or "Boosted · Product".
 * @csspart title - The item's title.
 * @csspart creator - "by" and the creator's name.
 * @csspart excerpt - A post's teaser.
 * @csspart price - The price in Diamonds.
 * @csspart empty - "Nothing to discover right now." (and the loading text).
 * @csspart error - The error message.
 * @cssprop --diamond-discover-card-min-width - The narrowest a card gets before the grid has fewer columns. Defaults to `14em`.
 * @cssprop --diamond-discover-gap - Space between cards. Defaults to `0.75em`.
 */
export class DiamondDiscover extends DiamondElement {
  /** The shadow styles: the theme, then `discover.styles.ts`. */
  static override styles = [themeStyles, styles];
  /** @internal */
  static override strings = strings;

  /**
   * How many items to show, 1 to 12.
   *
   * @defaultValue 6
   */
  @property({ type: Number })
  limit = 6;

  /** The heading's text. @defaultValue "Discover", translated */
  @property()
  heading: string | undefined;

  /** The items, once read; undefined while loading. */
  @state()
  private items: DiscoverItem[] | undefined;

  @state()
  private error = '';

  #loadedFor: unknown;
  #observer: IntersectionObserver | undefined;
  /** Per card on screen: its timer to count it as seen. */
  readonly #timers = new Map<Element, ReturnType<typeof setTimeout>>();
  /** Boosts already reported by this element (the platform dedupes per day anyway). */
  readonly #reported = new Set<string>();
  #queue: BoostViewReport[] = [];
  #sending: ReturnType<typeof setTimeout> | undefined;

  protected override clientChanged(): void {
    const client = this.client;
    if (!client || client === this.#loadedFor) return;
    this.#loadedFor = client;
    this.items = undefined;
    this.error = '';
    discoverItems(client).then(
      (items) => {
        if (this.#loadedFor === client) this.items = items;
      },
      (error: unknown) => {
        if (this.#loadedFor === client) this.error = this.reportError(error);
      },
    );
  }

  /** @internal */
  override connectedCallback(): void {
    super.connectedCallback();
    // Not now: when the drop-in file defines the element, tags already on the page connect
    // before the file has set the platform's address (its origin); a microtask later it has.
    queueMicrotask(() => this.clientChanged());
    document.addEventListener('visibilitychange', this.#onVisibility);
  }

  /** @internal */
  override disconnectedCallback(): void {
    super.disconnectedCallback();
    document.removeEventListener('visibilitychange', this.#onVisibility);
    this.#observer?.disconnect();
    this.#observer = undefined;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#send();
  }

  /** A hidden page sees nothing: the seconds start again when it shows. */
  readonly #onVisibility = (): void => {
    if (document.visibilityState === 'hidden') {
      for (const timer of this.#timers.values()) clearTimeout(timer);
      this.#timers.clear();
      this.#send();
    } else {
      // Re-observing reports what is on screen now.
      const observer = this.#observer;
      if (!observer) return;
      for (const card of this.renderRoot.querySelectorAll('[part~="item"]')) {
        observer.unobserve(card);
        observer.observe(card);
      }
    }
  };

  /** @internal */
  protected override updated(): void {
    if (typeof IntersectionObserver === 'undefined') return;
    this.#observer ??= new IntersectionObserver((entries) => this.#seen(entries), { threshold: [0, 0.5] });
    for (const card of this.renderRoot.querySelectorAll('[part~="item"]')) this.#observer.observe(card);
  }

  #seen(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      const card = entry.target as HTMLElement;
      const boostId = card.dataset.boost ?? '';
      const visible = entry.isIntersecting && entry.intersectionRatio >= 0.5 && document.visibilityState === 'visible';
      if (!visible || this.#reported.has(boostId)) {
        clearTimeout(this.#timers.get(card));
        this.#timers.delete(card);
        continue;
      }
      if (this.#timers.has(card)) continue;
      this.#timers.set(
        card,
        setTimeout(() => {
          this.#timers.delete(card);
          this.#report({ boostId, kind: 'impression' });
        }, VISIBLE_MS),
      );
    }
  }

  #report(item: BoostViewReport): void {
    if (item.kind === 'impression') {
      if (this.#reported.has(item.boostId)) return;
      this.#reported.add(item.boostId);
    }
    this.#queue.push(item);
    this.#sending ??= setTimeout(() => this.#send(), REPORT_MS);
  }

  /** Sends what is queued; resolves when the platform answered (or failed: a view not counted). */
  #send(): Promise<unknown> {
    clearTimeout(this.#sending);
    this.#sending = undefined;
    const items = this.#queue;
    this.#queue = [];
    const client = this.client;
    if (items.length === 0 || !client) return Promise.resolve();
    return reportBoostViews(client, items).catch(() => 0);
  }

  #click(event: MouseEvent, item: DiscoverItem, href: string): void {
    this.#queue.push({ boostId: item.boostId, kind: 'click' });
    const sent = this.#send();
    // A plain click waits briefly for its report, then goes; a new tab or window goes at once.
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || event.defaultPrevented) return;
    event.preventDefault();
    void Promise.race([sent, new Promise((resolve) => setTimeout(resolve, CLICK_WAIT_MS))]).then(() => location.assign(href));
  }

  #card(item: DiscoverItem, locale: string): TemplateResult {
    const href = safeUrl(item.url);
    const body = html`${item.imageUrl && safeUrl(item.imageUrl) ? html`<img part="art" src=${item.imageUrl} alt="" loading="lazy" />` : nothing}
      <span part="label"
        >${this.t('discover.sponsored')} · ${this.t(item.itemKind === 'product' ? 'discover.product' : 'discover.content')}</span
      >
      <span part="title">${item.title}</span>
      <span part="creator">${this.t('discover.by', { creator: item.creator.displayName })}</span>
      ${item.excerpt ? html`<span part="excerpt">${item.excerpt}</span>` : nothing}
      ${item.priceDiamonds === null ? nothing : html`<span part="price">${formatDiamonds(locale, item.priceDiamonds)}</span>`}`;
    return html`<li part="item" data-boost=${item.boostId}>
      ${href ? html`<a part="link" href=${href} @click=${(event: MouseEvent) => this.#click(event, item, href)}>${body}</a>` : html`<div part="link">${body}</div>`}
    </li>`;
  }

  /** @internal */
  protected override render(): TemplateResult {
    const heading = this.heading || this.t('discover.heading');
    const limit = Math.min(12, Math.max(1, Math.floor(this.limit) || 6));
    const items = this.items?.slice(0, limit);
    const locale = this.resolvedLocale;
    return html`<section part="base" aria-labelledby="heading">
      <h2 part="heading" id="heading">${heading}</h2>
      ${
        this.error
          ? html`<p part="error" role="alert">${this.error}</p>`
          : !items
            ? html`<p part="empty">${this.t('common.loading')}</p>`
            : items.length === 0
              ? html`<p part="empty">${this.t('discover.empty')}</p>`
              : html`<ul part="list">
                  ${items.map((item) => this.#card(item, locale))}
                </ul>`
      }
    </section>`;
  }
}
