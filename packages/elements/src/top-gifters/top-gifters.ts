import { html, type TemplateResult } from 'lit';
import type { LiveFeed, LiveGifter, TopGiftersScope } from '@diamonds/sdk/live';
import { live as strings } from '../i18n/en.js';
import { formatDiamonds } from '../i18n/i18n.js';
import { property } from '../internal/decorators.js';
import { LiveElement } from '../internal/live-element.js';
import { StoreController } from '../internal/store-controller.js';
import { themeStyles } from '../internal/theme.js';
import styles from './top-gifters.styles.js';

const SCOPES: readonly string[] = ['session', 'today', 'all_time'];

/**
 * The fans who gave a creator the most Diamonds, ranked, over one period: the live session
 * (`session`), today (`today`, UTC) or all time (`all_time`). At most five, updated as gifts
 * arrive.
 *
 * @remarks
 * Fans who chose to stay anonymous show as "A fan"; fans the creator muted are not named. The
 * list comes over the creator's live stream, shared by every live element of the page for the
 * same creator (one connection). It is an ordered list with a heading, so assistive technology
 * reads the rank.
 *
 * @example
 * ```html
 * <diamond-top-gifters publishable-key="pk_live_…" creator="usr_…" scope="today"></diamond-top-gifters>
 * ```
 *
 * @summary A creator's top gifters, this live, today or of all time.
 * @attr creator - The creator whose gifters to show (`usr_…`). Required.
 * @attr scope - The period: `session`, `today` or `all_time`. Defaults to `session`.
 * @attr publishable-key - The site's publishable key (`pk_…`); not needed inside a `<diamond-provider>`.
 * @attr api-base - The platform's address. Defaults to the origin the drop-in script came from.
 * @attr locale - The BCP 47 locale of text and numbers. Defaults to the provider's, the closest `lang`, the browser's.
 * @attr theme - `light` or `dark` forces a theme; by default it follows `prefers-color-scheme`.
 * @fires diamond-error - The platform refused the stream ({@link DiamondErrorEvent}).
 * @csspart base - The wrapper of everything.
 * @csspart title - The heading.
 * @csspart list - The ranked list.
 * @csspart gifter - One gifter.
 * @csspart fan - A gifter's name.
 * @csspart amount - A gifter's Diamonds.
 * @csspart empty - "No gifters yet." (and the loading text).
 * @csspart status - "Reconnecting…".
 * @csspart error - The alert when the stream is refused.
 * @cssprop --diamond-top-gifters-first-color - The first gifter's rank colour. Defaults to `--diamond-color-accent`.
 * @cssprop --diamond-color-accent - Theme accent.
 * @cssprop --diamond-color-border - Theme border, between gifters.
 * @cssprop --diamond-font-family - Theme font.
 */
export class DiamondTopGifters extends LiveElement {
  /** The shadow styles: the theme, then `top-gifters.styles.ts`. */
  static override styles = [themeStyles, styles];
  /** @internal */
  static override strings = strings;

  /**
   * The period: `session` (the live session now), `today` (since midnight UTC) or `all_time`.
   *
   * @defaultValue `'session'`
   */
  @property()
  scope: TopGiftersScope = 'session';

  readonly #lists = new StoreController<Partial<Record<TopGiftersScope, readonly LiveGifter[]>>>(this);

  protected override follow(feed: LiveFeed | undefined): void {
    this.#lists.follow(feed?.topGifters);
  }

  /** @internal */
  protected override render(): TemplateResult {
    const scope = (SCOPES.includes(this.scope) ? this.scope : 'session') as TopGiftersScope;
    const gifters = this.#lists.value?.[scope];
    const locale = this.resolvedLocale;
    return html`<section part="base" aria-labelledby="title">
      <p part="title" id="title" role="heading" aria-level="2">${this.t(`live.top.${scope}`)}</p>
      ${this.status()}
      ${
        gifters?.length
          ? html`<ol part="list">
              ${gifters.map(
                (gifter) =>
                  html`<li part="gifter">
                    <span class="row"
                      ><span part="fan">${gifter.fanName}</span><span part="amount">${formatDiamonds(locale, gifter.diamonds)}</span></span
                    >
                  </li>`,
              )}
            </ol>`
          : html`<p part="empty">${gifters === undefined && this.loading ? this.t('common.loading') : this.t('live.noGifters')}</p>`
      }
    </section>`;
  }
}
