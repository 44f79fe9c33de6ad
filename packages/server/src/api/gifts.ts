import { Hono } from 'hono';
import { z } from 'zod';
import { Gift, GiftTypeList, PageQuery, SendGift } from '@diamonds/protocol';
import { publicBaseUrl, type AppContext, type AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { validate } from '../http/body.js';
import { findGiftType, listGiftTypes, presentGiftType } from '../gifts/catalog.js';
import { checkSendGift, findGiftForFan } from '../gifts/gifts.js';
import { fanOf } from './identity.js';
import { fanScope, respondWithSpend } from './money-route.js';
import { documentRoute } from './openapi.js';
import { pathId } from '../http/ids.js';

/**
 * The headers of the gifts' art: any page may show it (`<img>`, CORS for canvas), caches may
 * keep it a day, and should an SVG ever be opened as a document, it can run and fetch nothing.
 */
export const GIFT_ART_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'image/svg+xml',
  'Cache-Control': 'public, max-age=86400',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
  'X-Content-Type-Options': 'nosniff',
  'Access-Control-Allow-Origin': '*',
};

documentRoute({
  method: 'get',
  path: '/v1/catalog/gifts',
  summary: 'List the gift catalog',
  description: 'The gifts fans can send, cheapest first, with their price in Diamonds and the URL of their art.',
  tag: 'Gifts',
  auth: 'any',
  query: PageQuery,
  responses: { 200: { description: 'A page of the catalog.', schema: GiftTypeList } },
  errors: ['invalid_request', 'invalid_cursor'],
});

documentRoute({
  method: 'post',
  path: '/v1/gifts',
  summary: 'Send a gift to a creator',
  description:
    'The fan’s wallet pays `priceDiamonds × quantity`; the creator’s earnings receive it less the platform fee. ' +
    'Within the fan’s remaining allowance for the site, and to one of the site’s own creators (its owner, or a creator ' +
    'listed on it: `GET /v1/site/creators`), it is sent at once (201). Otherwise the Diamonds are held and ' +
    'the answer is 202 with a `confirmation`: open its `url` in a popup for the fan to approve, and follow it with ' +
    '`GET /v1/confirmations/{id}`. Secret keys cannot send gifts.',
  tag: 'Gifts',
  auth: 'fan',
  idempotent: true,
  body: SendGift,
  responses: {
    201: { description: 'Sent: the Diamonds moved.', schema: Gift },
    202: {
      description: 'Beyond the allowance, or to a creator the site does not list: held until the fan approves the confirmation.',
      schema: Gift,
    },
  },
  errors: [
    'invalid_request',
    'invalid_quantity',
    'invalid_message',
    'amount_too_large',
    'creator_not_found',
    'cannot_gift_self',
    'gift_not_found',
    'insufficient_funds',
    'authentication_required',
    'invalid_token',
    'permission_denied',
    'idempotency_key_required',
    'idempotency_key_reused',
  ],
});

documentRoute({
  method: 'get',
  path: '/v1/gifts/{id}',
  summary: 'Read a gift you sent',
  tag: 'Gifts',
  auth: 'fan',
  params: { id: 'The gift’s id, gift_…' },
  responses: { 200: { description: 'The gift, with its confirmation if it needed one.', schema: Gift } },
  errors: ['gift_not_found', 'authentication_required', 'invalid_token', 'permission_denied'],
});

documentRoute({
  method: 'get',
  path: '/gifts/{id}.svg',
  summary: 'A gift’s art',
  description: 'The SVG art of a gift (the `artUrl` of the catalog), public and cacheable for a day; no key needed.',
  tag: 'Gifts',
  auth: 'public',
  params: { id: 'The gift’s catalog id, such as rose' },
  responses: { 200: { description: 'The SVG.', schema: z.string(), contentType: 'image/svg+xml' } },
  errors: ['gift_not_found'],
});

/** `/v1` routes of the gift catalog and gifts. */
export function giftsApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();

  api.get('/catalog/gifts', async (c) => {
    const page = validate(PageQuery, c.req.query());
    const { items, hasMore, nextCursor } = await listGiftTypes(context.db, page);
    const baseUrl = publicBaseUrl(c, context.settings);
    const body: GiftTypeList = { object: 'list', data: items.map((item) => presentGiftType(item, baseUrl)), hasMore, nextCursor };
    c.header('Cache-Control', 'public, max-age=60');
    return c.json(body);
  });

  api.post('/gifts', async (c) => {
    const { userId, context: fan } = await fanOf(c, context.db);
    const request = checkSendGift(c.get('json'));
    const baseUrl = publicBaseUrl(c, context.settings);
    return respondWithSpend(c, context, fanScope(userId, fan.siteId), {
      kind: 'gifts.send',
      userId,
      siteId: fan.siteId,
      feeBasisPoints: context.settings.platformFeeBps,
      baseUrl,
      request,
    });
  });

  api.get('/gifts/:id', async (c) => {
    const { userId } = await fanOf(c, context.db);
    c.header('Cache-Control', 'no-store');
    return c.json(await findGiftForFan(context.db, pathId(c, 'gift'), userId, publicBaseUrl(c, context.settings)));
  });

  return api;
}

/** The gifts' art, public and cacheable, at `/gifts/{id}.svg` (mounted at `/`). */
export function giftArtRoutes(context: AppContext): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get('/gifts/:file{[a-z][a-z0-9-]{0,39}\\.svg}', async (c) => {
    const id = c.req.param('file').slice(0, -'.svg'.length);
    const giftType = await findGiftType(context.db, id);
    if (!giftType) throw new ApiError('gift_not_found', `No art for a gift "${id}"; see GET /v1/catalog/gifts for the catalog.`);
    return c.body(giftType.svg, 200, { ...GIFT_ART_HEADERS });
  });
  return routes;
}
