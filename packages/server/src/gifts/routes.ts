import { Hono } from 'hono';
import { z } from 'zod';
import { Gift, GiftTypeId, GiftTypeList, PageQuery, SendGift, type Confirmation } from '@diamonds/protocol';
import { publicBaseUrl, type AppContext, type AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { findGiftType, listGiftTypes, presentGiftType } from './catalog.js';
import { checkSendGift, findGiftForFan, lookUpGift, sendGiftOperation } from './gifts.js';
import { exampleId, idParam, routesOn, type PathParam } from '../http/route.js';
import { fanScope, respondWithMoney } from '../money/respond.js';

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

const TAG = 'Gifts';

const EXAMPLE_CONFIRMATION: Confirmation = {
  object: 'confirmation',
  id: exampleId('cnf'),
  kind: 'gift',
  status: 'pending',
  amountDiamonds: 600,
  description: '3 × Crown for Ada',
  subjectId: exampleId('gift'),
  url: `https://diamonds.example/confirm/${exampleId('cnf')}`,
  transferId: null,
  createdAt: 1767225600000,
  expiresAt: 1767226500000,
  decidedAt: null,
};

const EXAMPLE_GIFT: Gift = {
  object: 'gift',
  id: exampleId('gift'),
  status: 'succeeded',
  giftId: 'rose',
  giftName: 'Rose',
  quantity: 3,
  unitPriceDiamonds: 10,
  amountDiamonds: 30,
  fanId: exampleId('usr'),
  creatorId: exampleId('usr', 1),
  siteId: exampleId('site'),
  message: 'Great stream!',
  transferId: exampleId('txn'),
  createdAt: 1767225600000,
};

/** A gift's art in a path: its catalog id, then `.svg` (the pattern routes only such names). */
const ART_PARAM: PathParam<string> = {
  description: 'The gift’s catalog id, such as `rose`.',
  schema: GiftTypeId,
  parse: (value = '') => value.slice(0, -'.svg'.length),
};

/** `/v1` routes of the gift catalog and gifts. */
export function giftsApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const route = routesOn(api, context);

  route(
    {
      method: 'get',
      path: '/catalog/gifts',
      operationId: 'listGiftTypes',
      summary: 'List the gift catalog',
      description: 'The gifts fans can send, cheapest first, with their price in Diamonds and the URL of their art.',
      tag: TAG,
      auth: 'any',
      query: PageQuery,
      responses: {
        200: {
          description: 'A page of the catalog.',
          schema: GiftTypeList,
          example: {
            object: 'list',
            data: [
              {
                object: 'gift_type',
                id: 'rose',
                name: 'Rose',
                priceDiamonds: 10,
                artUrl: 'https://diamonds.example/gifts/rose.svg',
                animation: 'float',
              },
            ],
            hasMore: true,
            nextCursor: 'WzEwLCJyb3NlIl0',
          },
        },
      },
      errors: ['invalid_cursor'],
    },
    async (c, { query }) => {
      const { items, hasMore, nextCursor } = await listGiftTypes(context.db, query);
      const baseUrl = publicBaseUrl(c, context.settings);
      const body: GiftTypeList = { object: 'list', data: items.map((item) => presentGiftType(item, baseUrl)), hasMore, nextCursor };
      c.header('Cache-Control', 'public, max-age=60');
      return c.json(body);
    },
  );

  route(
    {
      method: 'post',
      path: '/gifts',
      operationId: 'sendGift',
      summary: 'Send a gift to a creator',
      description:
        'The fan’s wallet pays `priceDiamonds × quantity`; the creator’s earnings receive it less the platform fee. ' +
        'Within the fan’s remaining allowance for the site, and to one of the site’s own creators (its owner, or a creator ' +
        'listed on it: `GET /v1/site/creators`), it is sent at once (201). Otherwise the Diamonds are held and ' +
        'the answer is 202 with a `confirmation`: open its `url` in a popup for the fan to approve, and follow it with ' +
        '`GET /v1/confirmations/{id}`. Secret keys cannot send gifts.',
      tag: TAG,
      auth: 'fan',
      idempotent: true,
      body: SendGift,
      // Quantity, message and amount each have a code of their own (invalid_quantity…).
      parseBody: checkSendGift,
      bodyExample: { creatorId: exampleId('usr', 1), giftId: 'rose', quantity: 3, message: 'Great stream!' },
      responses: {
        201: { description: 'Sent: the Diamonds moved.', schema: Gift, example: EXAMPLE_GIFT },
        202: {
          description: 'Beyond the allowance, or to a creator the site does not list: held until the fan approves the confirmation.',
          schema: Gift,
          example: {
            ...EXAMPLE_GIFT,
            status: 'confirmation_required',
            quantity: 3,
            giftId: 'crown',
            giftName: 'Crown',
            unitPriceDiamonds: 200,
            amountDiamonds: 600,
            transferId: null,
            confirmation: EXAMPLE_CONFIRMATION,
          },
        },
      },
      errors: [
        'invalid_quantity',
        'invalid_message',
        'amount_too_large',
        'creator_not_found',
        'cannot_gift_self',
        'gift_not_found',
        'insufficient_funds',
      ],
    },
    async (c, { caller, body }) =>
      respondWithMoney(c, context, fanScope(caller.userId, caller.siteId), sendGiftOperation, {
        userId: caller.userId,
        siteId: caller.siteId,
        feeBasisPoints: context.settings.platformFeeBps,
        baseUrl: publicBaseUrl(c, context.settings),
        origin: caller.origin,
        request: body,
        // On PostgreSQL what the gift names is read before its turn in a batch (see lookUpGift).
        ...(context.db.kind === 'postgres' && body.creatorId !== caller.userId ? { found: await lookUpGift(context.db, body) } : {}),
      }),
  );

  route(
    {
      method: 'get',
      path: '/gifts/{id}',
      operationId: 'getGift',
      summary: 'Read a gift you sent',
      tag: TAG,
      auth: 'fan',
      params: { id: idParam('gift', 'The gift’s id, `gift_…`.') },
      responses: {
        200: { description: 'The gift, with its confirmation if it needed one.', schema: Gift, example: EXAMPLE_GIFT },
      },
      errors: ['gift_not_found'],
    },
    async (c, { caller, params }) => {
      c.header('Cache-Control', 'no-store');
      return c.json(await findGiftForFan(context.db, params.id, caller.userId, publicBaseUrl(c, context.settings)));
    },
  );

  return api;
}

/** The gifts' art, public and cacheable, at `/gifts/{id}.svg` (mounted at `/`). */
export function giftArtRoutes(context: AppContext): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routesOn(routes)(
    {
      method: 'get',
      path: '/gifts/{id}.svg',
      route: '/gifts/:id{[a-z][a-z0-9-]{0,39}\\.svg}',
      operationId: 'getGiftArt',
      summary: 'A gift’s art',
      description: 'The SVG art of a gift (the `artUrl` of the catalog), public and cacheable for a day; no key needed.',
      tag: TAG,
      auth: 'public',
      params: { id: ART_PARAM },
      responses: { 200: { description: 'The SVG.', schema: z.string(), contentType: 'image/svg+xml' } },
      errors: ['gift_not_found'],
    },
    async (c, { params: { id } }) => {
      const giftType = await findGiftType(context.db, id);
      if (!giftType) throw new ApiError('gift_not_found', `No art for a gift "${id}"; see GET /v1/catalog/gifts for the catalog.`);
      return c.body(giftType.svg, 200, { ...GIFT_ART_HEADERS });
    },
  );
  return routes;
}
