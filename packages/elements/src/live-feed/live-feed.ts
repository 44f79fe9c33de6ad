import { html, nothing, type TemplateResult } from 'lit';
import { repeat } from 'lit/directives/repeat.js';
import type { LiveAlert, LiveFeed } from '@diamonds/sdk/live';
import { live as strings } from '../i18n/en.js';
import { formatDiamonds } from '../i18n/i18n.js';
import { property, state } from '../internal/decorators.js';
import { LiveElement } from '../internal/live-element.js';
import { StoreController } from '../internal/store-controller.js';
import { themeStyles } from '../internal/theme.js';
import { DiamondLiveGiftEvent } from './live-gift-event.js';
import styles from './live-feed.styles.js';

/**
 * A creator's gifts as they arrive during a live: each with the gift's art, the fan's name, the
 * combo count ("×3") and the message, newest first.
 *
 * @remarks
 * The gifts come over the creator's live stream, shared by every live element of the page for
 * the same creator (one connection), and the latest gifts of the last hour show at once. The
 * same fan sending the same gift again within 5 seconds grows one alert ("×2", "×3"…): the
 * platform decides the count, so every screen shows the same. Messages are shown as text;
 * a message the creator's blocked words hid says so. Screen readers hear the gifts through a
 * polite live region that speaks at most once every `announce-interval` milliseconds, summing
 * up what came meanwhile ("Grace sent Rose ×3, and 2 more gifts"), so a busy live never floods
 * them. New alerts slide in, except under `prefers-reduced-motion`. It reconnects by itself
 * after a dropped connection, without showing a gift twice; a creator that does not exist, or
 * too many connections from one address, show an alert.
 *
 * @example
 * ```html
 * <script type="module" src="https://diamonds.example/sdk/diamonds.js"></script>
 * <diamond-live-feed publishable-key="pk_live_…" creator="usr_…"></diamond-live-feed>
 * ```
 *
 * @summary The gifts of a creator's live, as they arrive.
 * @attr creator - The creator whose gifts to show (`usr_…`). Required.
 * @attr max - How many alerts to show, 1 to 20. Defaults to 5.
 * @attr announce-interval - The least time between two announcements of the live region, in milliseconds. Defaults to 2000.
 * @attr publishable-key - The site's publishable key (`pk_…`); not needed inside a `<diamond-provider>`.
 * @attr api-base - The platform's address. Defaults to the origin the drop-in script came from.
 * @attr locale - The BCP 47 locale of text and numbers. Defaults to the provider's, the closest `lang`, the browser's.
 * @attr theme - `light` or `dark` forces a theme; by default it follows `prefers-color-scheme`.
 * @fires diamond-live-gift - A new alert shows, or a combo grew ({@link DiamondLiveGiftEvent}).
 * @fires diamond-error - The platform refused the stream ({@link DiamondErrorEvent}).
 * @csspart base - The wrapper of everything.
 * @csspart list - The list of alerts.
 * @csspart gift - One alert.
 * @csspart art - The gift's art.
 * @csspart fan - The fan's name.
 * @csspart name - The gift's name and amount.
 * @csspart combo - The combo count ("×3"), from 2 on.
 * @csspart message - The gift's message.
 * @csspart empty - "No gifts yet." (and the loading text).
 * @csspart announcer - The visually hidden live region.
 * @csspart status - "Reconnecting…".
 * @csspart error - The alert when the stream is refused.
 * @cssprop --diamond-live-feed-art-size - The size of gift art. Defaults to `2.5em`.
 * @cssprop --diamond-live-feed-gap - Space between alerts. Defaults to `0.5em`.
 * @cssprop --diamond-live-feed-combo-color - The combo count's colour. Defaults to `--diamond-color-accent`.
 * @cssprop --diamond-color-accent - Theme accent.
 * @cssprop --diamond-color-surface - Theme surface, each alert's background.
 * @cssprop --diamond-color-border - Theme border.
 * @cssprop --diamond-radius - Theme corner radius.
 * @cssprop --diamond-font-family - Theme font.
 */
export class DiamondLiveFeed extends LiveElement {
  /** The shadow styles: the theme, then `live-feed.styles.ts`. */
  static override styles = [themeStyles, styles];
  /** @internal */
  static override strings = strings;

  /**
   * How many alerts to show, 1 to 20.
   *
   * @defaultValue 5
   */
  @property({ type: Number })
  max = 5;

  /**
   * The least time between two announcements of the live region, in milliseconds.
   *
   * @defaultValue 2000
   */
  @property({ type: Number, attribute: 'announce-interval' })
  announceInterval = 2000;

  /** What the live region says now. */
  @state()
  private announcement = '';

  readonly #gifts = new StoreController<readonly LiveAlert[]>(this);
  /** `key ×combo` of each alert seen, so that only new alerts and grown combos are announced. */
  #seen: Set<string> | undefined;
  #pending: LiveAlert[] = [];
  #lastAnnounced = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stop: (() => void) | undefined;

  protected override follow(feed: LiveFeed | undefined): void {
    this.#gifts.follow(feed?.gifts);
    this.#watch(feed);
  }

  /** @internal */
  override connectedCallback(): void {
    super.connectedCallback();
    this.#watch(this.feed);
  }

  /** @internal */
  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#stop?.();
    this.#stop = undefined;
    clearTimeout(this.#timer);
  }

  /** Follows the alerts to announce and report the new ones (not those there when it started). */
  #watch(feed: LiveFeed | undefined): void {
    this.#stop?.();
    this.#stop = undefined;
    this.#seen = undefined;
    if (!feed || !this.isConnected) return;
    this.#stop = feed.gifts.subscribe((alerts) => {
      const ids = alerts.map((alert) => `${alert.key} ${alert.combo}`);
      const seen = this.#seen;
      this.#seen = new Set(ids);
      // What was there when it started, and the snapshot's recent gifts, are history: shown, not announced.
      if (seen === undefined) return;
      const fresh = alerts.filter((alert, i) => !alert.recent && !seen.has(ids[i]!));
      for (const alert of fresh) this.dispatchEvent(new DiamondLiveGiftEvent(alert));
      this.#announce(fresh);
    });
  }

  /** Queues `alerts` for the live region: at most one announcement per `announceInterval`. */
  #announce(alerts: LiveAlert[]): void {
    if (alerts.length === 0) return;
    this.#pending = [...this.#pending.filter((p) => !alerts.some((a) => a.key === p.key)), ...alerts];
    if (this.#timer !== undefined) return;
    const wait = this.#lastAnnounced + this.announceInterval - performance.now();
    if (wait <= 0) this.#flush();
    else this.#timer = setTimeout(() => this.#flush(), wait);
  }

  #flush(): void {
    this.#timer = undefined;
    const newest = this.#pending.at(-1);
    if (!newest) return;
    const more = this.#pending.length - 1;
    this.#pending = [];
    this.#lastAnnounced = performance.now();
    const params = { fan: newest.fanName, gift: newest.giftName, count: newest.combo * newest.quantity, more };
    this.announcement = this.t(more > 0 ? 'live.announceMore' : 'live.announce', params);
  }

  /** @internal */
  protected override render(): TemplateResult {
    const alerts = (this.#gifts.value ?? []).slice(-Math.min(20, Math.max(1, Math.floor(this.max) || 5))).reverse();
    const locale = this.resolvedLocale;
    return html`<section part="base" aria-label=${this.t('live.feedLabel')}>
      ${this.status()}
      ${
        alerts.length === 0
          ? html`<p part="empty">${this.loading ? this.t('common.loading') : this.t('live.waiting')}</p>`
          : html`<ul part="list">
              ${repeat(
                alerts,
                (alert) => alert.key,
                (alert) =>
                  html`<li part="gift">
                    <img part="art" src=${alert.artUrl} alt=${alert.giftName} width="40" height="40" />
                    <span class="text"
                      ><span part="fan">${alert.fanName}</span>
                      <span part="name"
                        >${alert.quantity > 1 ? `${alert.quantity} × ` : ''}${alert.giftName} ·
                        ${formatDiamonds(locale, alert.amountDiamonds)}</span
                      >${
                        alert.message
                          ? html`<span part="message">${alert.message}</span>`
                          : alert.messageHidden
                            ? html`<span part="message" class="hidden">${this.t('live.hidden')}</span>`
                            : nothing
                      }</span
                    >${
                      alert.combo > 1
                        ? html`<span part="combo" title=${this.t('live.comboLabel', { count: alert.combo })}
                            >${this.t('live.combo', { count: alert.combo })}</span
                          >`
                        : nothing
                    }
                  </li>`,
              )}
            </ul>`
      }
      <div part="announcer" class="visually-hidden" role="status" aria-live="polite" aria-atomic="true">${this.announcement}</div>
    </section>`;
  }
}
