import { Hono } from 'hono';
import { z } from 'zod';
import {
  CreateQuote,
  CurrencyCode,
  MAX_TRANSFER_DIAMONDS,
  PageQuery,
  Quote,
  RateHistory,
  RateList,
  TopUpPackList,
  type Rate,
} from '@diamonds/protocol';
import type { AppEnv } from '../context.js';
import type { Database } from '../db/types.js';
import { ApiError, isApiError } from '../errors.js';
import { validate, type JsonObject } from '../http/body.js';
import { exampleId, routesOn, type PathParam } from '../http/route.js';
import { createQuote } from './quotes.js';
import { currentRates, parseCurrency, rateHistory, topUpPacks } from './rates.js';

const TAG = 'Rates';

/** A currency in a path: its own code, `invalid_currency`, when it is not one we support. */
const CURRENCY_PARAM: PathParam<CurrencyCode> = {
  description: 'An ISO 4217 code (USD, EUR, GBP, JPY…).',
  schema: CurrencyCode,
  parse: (value, name) => parseCurrency(value, name),
  errors: ['invalid_currency'],
};

const EXAMPLE_RATE: Rate = {
  object: 'rate',
  currency: 'USD',
  priceMinorPer1000Diamonds: 1299,
  payoutMinorPer1000Diamonds: 900,
  effectiveAt: 1767225600000,
};

/**
 * Checks a quote request, with the money codes a client can switch on: `invalid_currency` for
 * the currency, `invalid_amount` or `amount_too_large` for the Diamonds.
 */
function validateQuoteRequest(body: JsonObject): CreateQuote {
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
  const route = routesOn(api);

  route(
    {
      method: 'get',
      path: '/rates',
      operationId: 'listRates',
      tag: TAG,
      auth: 'any',
      summary: 'The exchange rate in force for every currency: price and payout per 1,000 Diamonds, in minor units.',
      responses: {
        200: {
          description: 'One rate per currency.',
          schema: RateList,
          example: { object: 'list', data: [EXAMPLE_RATE], hasMore: false, nextCursor: null },
        },
      },
    },
    async (c) => {
      const body: RateList = { object: 'list', data: await currentRates(db), hasMore: false, nextCursor: null };
      return c.json(body);
    },
  );

  route(
    {
      method: 'get',
      path: '/rates/{currency}/history',
      operationId: 'listRateHistory',
      tag: TAG,
      auth: 'any',
      summary: 'Every rate of a currency, newest first, scheduled ones included.',
      params: { currency: CURRENCY_PARAM },
      query: PageQuery,
      responses: {
        200: {
          description: 'A page of rates.',
          schema: RateHistory,
          example: { object: 'list', data: [EXAMPLE_RATE], hasMore: true, nextCursor: 'cmF0ZToxNzY3MjI1NjAwMDAw' },
        },
      },
      errors: ['invalid_currency', 'invalid_cursor'],
    },
    async (c, { params, query }) => c.json(await rateHistory(db, params.currency, query)),
  );

  route(
    {
      method: 'get',
      path: '/topup-packs',
      operationId: 'listTopUpPacks',
      tag: TAG,
      auth: 'any',
      summary: 'The top-up packs (100, 500, 1,000, 5,000 Diamonds) priced in a currency at the current rate.',
      query: z.object({ currency: CurrencyCode }),
      // The currency's own code, as everywhere else.
      parseQuery: (raw) => ({ currency: parseCurrency(raw.currency) }),
      responses: {
        200: {
          description: 'Every pack with its price.',
          schema: TopUpPackList,
          example: {
            object: 'list',
            data: [{ object: 'topup_pack', diamonds: 500, price: { amountMinor: 650, currency: 'USD' } }],
            hasMore: false,
            nextCursor: null,
          },
        },
      },
      errors: ['invalid_currency', 'rate_unavailable'],
    },
    async (c, { query }) => {
      const body: TopUpPackList = { object: 'list', data: await topUpPacks(db, query.currency), hasMore: false, nextCursor: null };
      return c.json(body);
    },
  );

  route(
    {
      method: 'post',
      path: '/quotes',
      operationId: 'createQuote',
      tag: TAG,
      auth: 'any',
      summary: 'Lock the price of a number of Diamonds in a currency for 10 minutes; a top-up names the quote.',
      body: CreateQuote,
      parseBody: validateQuoteRequest,
      bodyExample: { diamonds: 500, currency: 'USD' },
      responses: {
        201: {
          description: 'The quote: price, fee and expiry.',
          schema: Quote,
          example: {
            object: 'quote',
            id: exampleId('qt'),
            diamonds: 500,
            price: { amountMinor: 650, currency: 'USD' },
            fee: { amountMinor: 0, currency: 'USD' },
            total: { amountMinor: 650, currency: 'USD' },
            rateEffectiveAt: 1767225600000,
            expiresAt: 1767226200000,
          },
        },
      },
      errors: ['invalid_amount', 'amount_too_large', 'invalid_currency', 'rate_unavailable'],
    },
    async (c, { body }) => {
      c.header('Cache-Control', 'no-store');
      return c.json(await createQuote(db, body), 201);
    },
  );

  return api;
}
