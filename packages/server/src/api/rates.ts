import { Hono } from 'hono';
import { CreateQuote, MAX_TRANSFER_DIAMONDS, PageQuery, type TopUpPackList } from '@diamonds/protocol';
import type { AppEnv } from '../context.js';
import type { Database } from '../db/types.js';
import { ApiError, isApiError } from '../errors.js';
import { validate } from '../http/body.js';
import { createQuote } from '../money/quotes.js';
import { currentRates, parseCurrency, rateHistory, topUpPacks } from '../money/rates.js';
import { documentRoute } from './openapi.js';
import { z } from 'zod';
import { CurrencyCode, Quote, RateHistory, RateList, TopUpPackList as TopUpPackListSchema } from '@diamonds/protocol';

documentRoute({
  method: 'get',
  path: '/v1/rates',
  tag: 'Rates',
  auth: 'any',
  summary: 'The exchange rate in force for every currency: price and payout per 1,000 Diamonds, in minor units.',
  responses: { 200: { description: 'One rate per currency.', schema: RateList } },
});
documentRoute({
  method: 'get',
  path: '/v1/rates/{currency}/history',
  tag: 'Rates',
  auth: 'any',
  summary: 'Every rate of a currency, newest first, scheduled ones included.',
  params: { currency: 'An ISO 4217 code (USD, EUR, GBP, JPY…).' },
  query: PageQuery,
  responses: { 200: { description: 'A page of rates.', schema: RateHistory } },
  errors: ['invalid_currency', 'invalid_cursor'],
});
documentRoute({
  method: 'get',
  path: '/v1/topup-packs',
  tag: 'Rates',
  auth: 'any',
  summary: 'The top-up packs (100, 500, 1,000, 5,000 Diamonds) priced in a currency at the current rate.',
  query: z.object({ currency: CurrencyCode }),
  responses: { 200: { description: 'Every pack with its price.', schema: TopUpPackListSchema } },
  errors: ['invalid_currency', 'rate_unavailable'],
});
documentRoute({
  method: 'post',
  path: '/v1/quotes',
  tag: 'Rates',
  auth: 'any',
  summary: 'Lock the price of a number of Diamonds in a currency for 10 minutes; a top-up names the quote.',
  body: CreateQuote,
  responses: { 201: { description: 'The quote: price, fee and expiry.', schema: Quote } },
  errors: ['invalid_amount', 'amount_too_large', 'invalid_currency', 'rate_unavailable'],
});

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
