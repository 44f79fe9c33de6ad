import { de } from './de.js';
import { en, type StringKey, type Strings } from './en.js';

/** The shipped string tables, by language subtag. English is the fallback. */
const TABLES: Record<string, Strings> = { en, de };

/** The locales the elements ship strings for. */
export const SHIPPED_LOCALES: readonly string[] = Object.keys(TABLES);

/**
 * The string `key` in `locale`'s table (by its language: `de-AT` reads `de`), English when the
 * language is not shipped, with each `{name}` replaced by `params[name]`.
 *
 * @internal
 */
export function translate(locale: string, key: StringKey, params: Record<string, string | number> = {}): string {
  const table = TABLES[locale.toLowerCase().split('-')[0] ?? ''] ?? en;
  return table[key].replace(/\{(\w+)\}/g, (whole, name: string) => String(params[name] ?? whole));
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

/** "1,234 Diamonds" (or "1.234 Diamonds", "1 Diamond") in `locale`. @internal */
export function formatDiamonds(locale: string, amount: number): string {
  if (amount === 1) return translate(locale, 'common.diamond');
  return translate(locale, 'common.diamonds', { count: numberFormat(locale).format(amount) });
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
