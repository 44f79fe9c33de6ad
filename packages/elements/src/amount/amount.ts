import { html, LitElement, type TemplateResult } from 'lit';
import { property } from '../internal/decorators.js';
import styles from './amount.styles.js';

/** Formatters by locale: building one is slow, and a page may show hundreds of amounts. */
const formatters = new Map<string, { number: Intl.NumberFormat; plural: Intl.PluralRules }>();

/** The number format and plural rules for `locale`, or the runtime's own for a bad tag. */
function formattersFor(locale: string): { number: Intl.NumberFormat; plural: Intl.PluralRules } {
  let found = formatters.get(locale);
  if (found === undefined) {
    let tag: string | undefined = locale === '' ? undefined : locale;
    try {
      Intl.getCanonicalLocales(tag);
    } catch {
      tag = undefined; // Not a BCP 47 tag (a typo in a lang attribute): use the runtime's locale.
    }
    found = {
      number: new Intl.NumberFormat(tag, { maximumFractionDigits: 0 }),
      plural: new Intl.PluralRules(tag),
    };
    formatters.set(locale, found);
  }
  return found;
}

/**
 * Shows an amount of Diamonds: the number, formatted for the reader's locale, after the
 * diamond icon. Screen readers hear it as one phrase, such as "1,234 Diamonds".
 *
 * @remarks
 * The locale is, in order: the `locale` attribute, the `lang` of the closest ancestor that has
 * one, then the browser's language. A `lang` that changes later is not watched; set `locale`
 * to change it live. Diamonds are whole, so fractions are rounded away; a `value` that is not
 * a number shows nothing.
 *
 * @example
 * ```html
 * <diamond-amount value="1234" locale="de-DE"></diamond-amount>  <!-- ◆ 1.234 -->
 * ```
 *
 * @summary A number of Diamonds with the diamond icon.
 * @attr value - The number of Diamonds to show. Defaults to 0.
 * @attr locale - The BCP 47 locale to format for, such as `de-DE`. Defaults to the closest `lang`, then the browser's.
 * @csspart base - The wrapper around icon and number.
 * @csspart icon - The diamond icon (decorative: hidden from assistive technology).
 * @csspart amount - The formatted number.
 * @cssprop --diamond-amount-icon-color - Icon colour. Defaults to `--diamond-color-accent`.
 * @cssprop --diamond-amount-icon-size - Icon width and height. Defaults to `1em`.
 * @cssprop --diamond-amount-gap - Space between icon and number. Defaults to `0.25em`.
 * @cssprop --diamond-color-accent - Theme accent colour, used for the icon.
 * @cssprop --diamond-font-family - Theme font. Inherited from the page when unset.
 */
export class DiamondAmount extends LitElement {
  /** The shadow styles, from `amount.styles.ts`. */
  static override styles = styles;

  /**
   * The number of Diamonds to show.
   *
   * @defaultValue 0
   */
  @property({ type: Number })
  value = 0;

  /**
   * The BCP 47 locale to format for, such as `de-DE`.
   *
   * @defaultValue the closest `lang`, then the browser's language
   */
  @property()
  locale: string | undefined;

  /** The locale in effect: the attribute, else the closest `lang`, else the browser's. */
  get resolvedLocale(): string {
    return this.locale || this.closest('[lang]')?.getAttribute('lang') || globalThis.navigator?.language || '';
  }

  /** @internal */
  protected override render(): TemplateResult {
    const finite = Number.isFinite(this.value);
    const { number, plural } = formattersFor(this.resolvedLocale);
    const amount = finite ? number.format(this.value) : '';
    const noun = finite && plural.select(Math.round(this.value)) === 'one' ? 'Diamond' : 'Diamonds';
    return html`<span part="base"
      ><svg part="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
        <path fill="currentColor" d="M6.5 3h11L22 9.2 12 21 2 9.2z" />
        <path fill="#fff" fill-opacity=".35" d="M6.5 3h11L22 9.2H2z" /></svg
      ><span part="amount" aria-hidden="true">${amount}</span><span class="label">${finite ? `${amount} ${noun}` : ''}</span></span
    >`;
  }
}
