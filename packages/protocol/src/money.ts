import { z } from 'zod';

/**
 * Supported ISO 4217 currencies and how many minor-unit digits each has.
 *
 * @remarks
 * Zero-decimal currencies (JPY, KRW) have no minor unit: 500 JPY is `{ amountMinor: 500 }`,
 * while 5.00 USD is `{ amountMinor: 500 }` too. The exponents follow ISO 4217.
 */
export const CURRENCY_EXPONENTS = {
  USD: 2,
  EUR: 2,
  GBP: 2,
  CHF: 2,
  CAD: 2,
  AUD: 2,
  SEK: 2,
  NOK: 2,
  DKK: 2,
  PLN: 2,
  BRL: 2,
  INR: 2,
  JPY: 0,
  KRW: 0,
} as const;

/** A supported ISO 4217 currency code. */
export type CurrencyCode = keyof typeof CURRENCY_EXPONENTS;

/** The supported ISO 4217 currency codes. */
export const CurrencyCode = z.enum(Object.keys(CURRENCY_EXPONENTS) as [CurrencyCode, ...CurrencyCode[]], {
  error: 'Expected a supported ISO 4217 currency code in capitals, such as "USD" or "JPY".',
});

/** The largest amount of fiat money, in minor units, the platform accepts in one value. */
export const MAX_FIAT_MINOR = 100_000_000_00;

/**
 * An amount of real money: whole minor units plus the currency.
 *
 * @example
 * ```ts
 * FiatMoney.parse({ amountMinor: 1299, currency: 'EUR' }); // €12.99
 * ```
 */
export const FiatMoney = z.object({
  amountMinor: z.int({ error: 'Fiat amounts are whole minor units (cents), never fractions.' }).nonnegative().max(MAX_FIAT_MINOR),
  currency: CurrencyCode,
});

/** An amount of real money (see {@link FiatMoney}). */
export type FiatMoney = z.infer<typeof FiatMoney>;

/** How many minor-unit digits `currency` has (2 for USD, 0 for JPY). */
export function currencyExponent(currency: CurrencyCode): number {
  return CURRENCY_EXPONENTS[currency];
}

/**
 * Parses a decimal string in major units ("12.99") into exact minor units, with no floats.
 *
 * @returns The money value, or `undefined` when the string is not a plain non-negative decimal
 * or has more fraction digits than the currency allows ("1.5" JPY, "1.999" USD).
 * @example
 * ```ts
 * parseMajorUnits('12.99', 'USD'); // { amountMinor: 1299, currency: 'USD' }
 * parseMajorUnits('500', 'JPY');   // { amountMinor: 500, currency: 'JPY' }
 * ```
 */
export function parseMajorUnits(text: string, currency: CurrencyCode): FiatMoney | undefined {
  const match = /^(\d{1,12})(?:\.(\d+))?$/.exec(text.trim());
  if (!match) return undefined;
  const exponent = currencyExponent(currency);
  const whole = match[1] ?? '0';
  const fraction = match[2] ?? '';
  if (fraction.length > exponent) return undefined;
  const amountMinor = Number(whole + fraction.padEnd(exponent, '0'));
  if (!Number.isSafeInteger(amountMinor) || amountMinor > MAX_FIAT_MINOR) return undefined;
  return { amountMinor, currency };
}

/**
 * Writes minor units as a plain decimal string in major units ("12.99"), for display logic
 * that must not round. For people, prefer `Intl.NumberFormat` with `style: 'currency'`.
 */
export function formatMajorUnits(money: FiatMoney): string {
  const exponent = currencyExponent(money.currency);
  if (exponent === 0) return String(money.amountMinor);
  const digits = String(money.amountMinor).padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}
