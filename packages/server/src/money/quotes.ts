import { CreateQuote, isId, newId, type CurrencyCode, type Quote } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { ApiError } from '../errors.js';
import { currentRate, priceMoney } from './rates.js';

/** How long a quote holds its price: 10 minutes. */
export const QUOTE_TTL_MS = 10 * 60 * 1000;

interface QuoteRow {
  id: string;
  diamonds: number | string;
  currency: string;
  amount_minor: number | string;
  fee_minor: number | string;
  rate_effective_at: number | string;
  expires_at: number | string;
  used_at: number | string | null;
}

function toQuote(row: QuoteRow): Quote {
  const currency = row.currency as CurrencyCode;
  const amountMinor = Number(row.amount_minor);
  const feeMinor = Number(row.fee_minor);
  return {
    object: 'quote',
    id: row.id as Quote['id'],
    diamonds: Number(row.diamonds),
    price: { amountMinor, currency },
    fee: { amountMinor: feeMinor, currency },
    total: { amountMinor: amountMinor + feeMinor, currency },
    rateEffectiveAt: Number(row.rate_effective_at),
    expiresAt: Number(row.expires_at),
  };
}

/**
 * Prices `diamonds` in `currency` at the rate in force at `now` and locks that price for
 * {@link QUOTE_TTL_MS}.
 *
 * @remarks The fee is 0 for now. The input is expected to be validated ({@link CreateQuote});
 * it is checked again here, so a caller that skips validation still cannot store a bad quote.
 * @throws {@link ApiError} `invalid_request`, `rate_unavailable`, `amount_too_large`.
 */
export async function createQuote(db: SqlClient, input: CreateQuote, now: number = Date.now()): Promise<Quote> {
  const parsed = CreateQuote.safeParse(input);
  if (!parsed.success) throw new ApiError('invalid_request', 'A quote needs a whole number of Diamonds and a supported currency.');
  const { diamonds, currency } = parsed.data;
  const rate = await currentRate(db, currency, now);
  const price = priceMoney(diamonds, rate);
  const quote: Quote = {
    object: 'quote',
    id: newId('qt', now),
    diamonds,
    price,
    fee: { amountMinor: 0, currency },
    total: price,
    rateEffectiveAt: rate.effectiveAt,
    expiresAt: now + QUOTE_TTL_MS,
  };
  await db.run(
    `INSERT INTO quotes (id, diamonds, currency, amount_minor, fee_minor, rate_effective_at, created_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [quote.id, diamonds, currency, price.amountMinor, quote.fee.amountMinor, rate.effectiveAt, now, quote.expiresAt],
  );
  return quote;
}

const QUOTE_COLUMNS = 'id, diamonds, currency, amount_minor, fee_minor, rate_effective_at, expires_at, used_at';

/** The quote with this id, used or not, or `undefined`. */
export async function findQuote(db: SqlClient, quoteId: string): Promise<Quote | undefined> {
  if (!isId('qt', quoteId)) return undefined;
  const rows = await db.query<QuoteRow>(`SELECT ${QUOTE_COLUMNS} FROM quotes WHERE id = ?`, [quoteId]);
  return rows[0] ? toQuote(rows[0]) : undefined;
}

/**
 * Marks a quote used, for the purchase that pays it, and returns it. Call it inside the
 * purchase's transaction so that a purchase that fails leaves the quote unused.
 *
 * @remarks One conditional update decides: of any number of concurrent redeems of one quote,
 * exactly one succeeds. A quote expires at `expiresAt` (not after it).
 * @throws {@link ApiError} `quote_not_found`, `quote_expired`, `quote_used`.
 */
export async function redeemQuote(tx: SqlClient, quoteId: string, now: number = Date.now()): Promise<Quote> {
  if (!isId('qt', quoteId)) throw new ApiError('quote_not_found', 'No such quote: create one with POST /v1/quotes.', { param: 'quote' });
  const changed = await tx.run('UPDATE quotes SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?', [now, quoteId, now]);
  const rows = await tx.query<QuoteRow>(`SELECT ${QUOTE_COLUMNS} FROM quotes WHERE id = ?`, [quoteId]);
  const row = rows[0];
  if (!row) throw new ApiError('quote_not_found', `No quote ${quoteId}: create one with POST /v1/quotes.`, { param: 'quote' });
  if (changed === 1) return toQuote(row);
  if (row.used_at !== null)
    throw new ApiError('quote_used', `Quote ${quoteId} has already paid for a purchase; get a new quote.`, { param: 'quote' });
  throw new ApiError('quote_expired', `Quote ${quoteId} expired; get a new quote for the current price.`, { param: 'quote' });
}
