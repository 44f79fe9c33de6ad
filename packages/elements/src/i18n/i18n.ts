import { common, type EnglishStrings, type StringKey, type Strings } from './en.js';

/** The tables of the locales registered so far (`locales/de.ts`…), by language subtag. */
const TABLES: Record<string, Partial<Record<StringKey, string>> | undefined> = {};

/**
 * The locales the elements ship strings for: English, built in, and those with a module under
 * `@diamonds/elements/locales/` (German: `import '@diamonds/elements/locales/de.js'`). A site
 * that bundles the elements imports the locale modules it wants; the drop-in script
 * (`diamonds.js`) includes them all. A locale whose module is not loaded reads English.
 */
export const SHIPPED_LOCALES: readonly string[] = ['en', 'de'];

/**
 * Makes `table` the strings of `language` (a language subtag, `de`), for every element: what a
 * locale module does when imported.
 *
 * @internal
 */
export function registerLocale(language: string, table: Partial<Strings>): void {
  TABLES[language] = table;
}

/**
 * Adds `table` to the strings of `language` (what the live elements' locale modules do, after the
 * locale's main module registered it).
 *
 * @internal
 */
export function extendLocale(language: string, table: Partial<Record<StringKey, string>>): void {
  TABLES[language] = { ...TABLES[language], ...table };
}

/**
 * The string `key` in `locale`'s table (by its language: `de-AT` reads `de`), else in `english`
 * (the element's own English strings) or the common ones, with each `{name}` replaced by
 * `params[name]`. English is the fallback of a language not registered and of a missing key.
 *
 * @internal
 */
export function translate(locale: string, key: StringKey, english: EnglishStrings, params: Record<string, string | number> = {}): string {
  const text = TABLES[locale.toLowerCase().split('-')[0]!]?.[key] ?? english[key] ?? (common as EnglishStrings)[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => String(params[name] ?? whole));
}

const numbers = new Map<string, Intl.NumberFormat>();

function numberFormat(locale: string, options: Intl.NumberFormatOptions = {}): Intl.NumberFormat {
  const id = `${locale}|${JSON.stringify(options)}`;
  let format = numbers.get(id);
  if (!format) {
    let tag: string | undefined = locale || undefined;
    try {
      Intl.getCanonicalLocales(tag);
    } catch {
      tag = undefined; // not a BCP 47 tag: the runtime's own locale
    }
    format = new Intl.NumberFormat(tag, options);
    numbers.set(id, format);
  }
  return format;
}

/**
 * English or German (any region), without a Unicode extension (`-u-nu-…`): Latin digits, and no
 * grouping below 1,000, so a small count is written without Intl.
 */
const PLAIN_DIGITS = /^(en|de)(-[a-z\d]{2,8})*$/i;

/** A number in `locale` ("1,000"), in the runtime's own locale when `locale` is no BCP 47 tag. @internal */
export const formatCount = (locale: string, n: number): string => numberFormat(locale).format(n);

/** "1,234 Diamonds" (or "1.234 Diamonds", "1 Diamond") in `locale`. @internal */
export function formatDiamonds(locale: string, amount: number): string {
  if (amount === 1) return translate(locale, 'common.diamond', common);
  // A price on a button, before Intl is ready: its first number format costs tens of milliseconds.
  const count =
    Number.isInteger(amount) && amount >= 0 && amount < 1000 && PLAIN_DIGITS.test(locale) ? String(amount) : formatCount(locale, amount);
  return translate(locale, 'common.diamonds', common, { count });
}

/**
 * How a payment is split among collaborators, in `locale`: "Shared: Ada 60% · Bo 40%"
 * ("Geteilt: Ada 60% · Bo 40%", "Ada 33,33%"), from each party's share in basis points; empty without a split.
 *
 * @internal
 */
export function formatSplit(locale: string, shares: readonly { displayName: string; shareBps: number }[] | undefined): string {
  if (!shares) return '';
  const parts = shares.map((share) => `${share.displayName} ${formatCount(locale, share.shareBps / 100)}%`).join(' · ');
  return translate(locale, 'common.split', common, { parts });
}

/**
 * Money in integer minor units, formatted for `locale`: `{ amountMinor: 1299, currency: 'USD' }`
 * reads "$12.99"; JPY has no minor unit (Intl knows each currency's digits).
 *
 * @internal
 */
export function formatMoney(locale: string, money: { amountMinor: number; currency: string }): string {
  const format = numberFormat(locale, { style: 'currency', currency: money.currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(money.amountMinor / 10 ** digits);
}
