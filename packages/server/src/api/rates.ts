import { Hono } from 'hono';
import { CreateQuote, MAX_TRANSFER_DIAMONDS, PageQuery, type RateList, type TopUpPackList } from '@diamonds/protocol';
import type { AppEnv } from '../app.js';
import type { Database } from '../db/types.js';
import { ApiError, isApiError } from '../errors.js';
import { validate } from '../http/body.js';
import { createQuote } from '../money/quotes.js';
import { currentRates, parseCurrency, rateHistory, topUpPacks } from '../money/rates.js';

/**
 * Checks a quote request, with the money codes a client can switch on: `invalid_currency` for
 * the currency, `invalid_amount` or `amount_too_large` for the Diamonds.
 */
function validateQuoteRequest(body: Record<string, unknown>): CreateQuote {
  if ('currency' in body) parseCurrency(body.currency);
  try {
    return validate(CreateQuote, body);
  } catch (error) {
    if (isApiError(error, 'invalid_request') && error.param === 'diamonds' && body.diamonds !== undefined) {
      const tooLarge = typeof body.diamonds === 'number' && body.diamonds > MAX_TRANSFER_DIAMONDS;
      throw new ApiError(tooLarge ? 'amount_too_large' : 'invalid_amount', error.message, { param: 'diamonds' });
    }
    throw error;
  }
}

/**
 * `/v1` routes of exchange rates and quotes: the current rates, a currency's rate history, the
 * top-up packs priced in a currency, and quotes that lock a price for 10 minutes. Any key
 * (publishable or secret) may call them.
 */
export function ratesApi(db: Database): Hono<AppEnv> {
  const api = new Hono<AppEnv>();

  api.get('/rates', async (c) => {
    const body: RateList = { object: 'list', data: await currentRates(db), hasMore: false, nextCursor: null };
    return c.json(body);
  });

  api.get('/rates/:currency/history', async (c) => {
    const currency = parseCurrency(c.req.param('currency'));
    const page = validate(PageQuery, c.req.query());
    return c.json(await rateHistory(db, currency, page));
  });

  api.get('/topup-packs', async (c) => {
    const currency = parseCurrency(c.req.query('currency'));
    const body: TopUpPackList = { object: 'list', data: await topUpPacks(db, currency), hasMore: false, nextCursor: null };
    return c.json(body);
  });

  api.post('/quotes', async (c) => {
    const input = validateQuoteRequest(c.get('json'));
    c.header('Cache-Control', 'no-store');
    return c.json(await createQuote(db, input), 201);
  });

  return api;
}
