import { Hono } from 'hono';
import {
  Boost,
  BOOST_CPM_DIAMONDS,
  BoostList,
  BoostReport,
  BoostReportAccepted,
  CreateBoost,
  DiscoverList,
  type DiscoverItem,
} from '@diamonds/protocol';
import type { AppContext, AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { findSite } from '../identity/sites.js';
import { exampleId, fanCaller, idParam, routesOn } from '../http/route.js';
import { respondWithMoney, siteScope } from '../money/respond.js';
import { clientIp } from '../pages/auth.js';
import {
  createBoostOperation,
  discoverItems,
  findSiteBoost,
  listBoosts,
  prepareBoost,
  settleDueBoosts,
  stopBoostOperation,
  type BoostRequest,
  type BoostView,
} from './boosts.js';
import { impressionBufferOf } from './impressions.js';

const TAG = 'Boosts';

const EXAMPLE_BOOST: Boost = {
  object: 'boost',
  id: exampleId('bst'),
  siteId: exampleId('site'),
  creatorId: exampleId('usr'),
  itemKind: 'content',
  itemId: exampleId('ct'),
  title: 'Behind the scenes',
  url: 'https://ada.example/posts/behind-the-scenes',
  budgetDiamonds: 500,
  cpmDiamonds: BOOST_CPM_DIAMONDS,
  status: 'active',
  startsAt: 1767225600000,
  endsAt: 1767830400000,
  endReason: null,
  endedAt: null,
  stats: { impressions: 1234, clicks: 56, conversions: 3, spentDiamonds: 61, leftDiamonds: 439, returnedDiamonds: null },
  createdAt: 1767225600000,
};

const EXAMPLE_ITEM: DiscoverItem = {
  boostId: exampleId('bst'),
  itemKind: 'content',
  itemId: exampleId('ct'),
  title: 'Behind the scenes',
  excerpt: 'How the new album was recorded.',
  imageUrl: null,
  priceDiamonds: 50,
  creator: { id: exampleId('usr'), displayName: 'Ada' },
  url: 'https://ada.example/posts/behind-the-scenes',
};

/** The site owner, who pays for the site's boosts. */
async function siteOf(context: AppContext, siteId: string) {
  const site = await findSite(context.db, siteId);
  if (!site) throw new ApiError('site_not_found', 'The key’s site is gone.');
  return site;
}

/**
 * `/v1` routes of boosts: the site's backend boosts the owner's items (secret key) and reads
 * their figures; any site's page lists boosted items (`GET /v1/discover`) and reports what its
 * visitors saw and clicked (`POST /v1/boosts/impressions`), counted in batches.
 */
export function boostsApi(context: AppContext): Hono<AppEnv> {
  const { db } = context;
  const api = new Hono<AppEnv>();
  const route = routesOn(api, context);

  route(
    {
      method: 'post',
      path: '/boosts',
      operationId: 'createBoost',
      summary: 'Boost one of the owner’s items with a budget taken from their available earnings',
      description: `The budget moves at once from the owner’s available earnings to the platform; each counted impression consumes ${BOOST_CPM_DIAMONDS} Diamonds per 1,000 (kept in thousandths; whole Diamonds are charged as they add up). What is not spent comes back when the boost ends or is stopped. See docs/boosts.md.`,
      tag: TAG,
      auth: 'secret',
      idempotent: true,
      body: CreateBoost,
      // Budget, dates and item have codes of their own.
      parseBody: (raw) => raw as BoostRequest,
      bodyExample: { itemId: exampleId('ct'), budgetDiamonds: 500, endsAt: 1767830400000 },
      responses: { 201: { description: 'The boost.', schema: Boost, example: EXAMPLE_BOOST } },
      errors: [
        'boost_budget_invalid',
        'boost_dates_invalid',
        'boost_url_invalid',
        'insufficient_earnings',
        'boost_item_not_found',
        'boost_already_active',
        'permission_denied',
      ],
    },
    async (c, { caller: { siteId }, body }) => {
      const site = await siteOf(context, siteId);
      const now = context.earnings.now();
      const input = await prepareBoost(db, site, site.ownerId, body, now, context.earnings.holdMs);
      return respondWithMoney(c, context, siteScope(siteId), createBoostOperation, input);
    },
  );

  route(
    {
      method: 'get',
      path: '/boosts',
      operationId: 'listBoosts',
      summary: 'The site’s boosts with their figures, newest first',
      tag: TAG,
      auth: 'secret',
      responses: { 200: { description: 'The boosts.', schema: BoostList, example: { object: 'list', data: [EXAMPLE_BOOST] } } },
    },
    async (c, { caller: { siteId } }) => {
      const site = await siteOf(context, siteId);
      const now = context.earnings.now();
      // Settled on read too, so a boost whose time passed never shows as running.
      await settleDueBoosts(context.writer, db, now);
      c.header('Cache-Control', 'no-store');
      return c.json({ object: 'list', data: await listBoosts(db, site.ownerId, now, siteId) } satisfies BoostList);
    },
  );

  route(
    {
      method: 'get',
      path: '/boosts/{id}',
      operationId: 'getBoost',
      summary: 'A boost with its figures',
      tag: TAG,
      auth: 'secret',
      params: { id: idParam('bst', 'The boost id, `bst_…`.') },
      responses: { 200: { description: 'The boost.', schema: Boost, example: EXAMPLE_BOOST } },
      errors: ['boost_not_found'],
    },
    async (c, { caller: { siteId }, params }) => {
      const now = context.earnings.now();
      await settleDueBoosts(context.writer, db, now);
      c.header('Cache-Control', 'no-store');
      return c.json(await findSiteBoost(db, siteId, params.id, now));
    },
  );

  route(
    {
      method: 'post',
      path: '/boosts/{id}/stop',
      operationId: 'stopBoost',
      summary: 'Stop a boost now and return what it did not spend to the owner’s earnings',
      description: 'Stopping a boost that already ended answers it as it is; nothing moves twice.',
      tag: TAG,
      auth: 'secret',
      idempotent: true,
      params: { id: idParam('bst', 'The boost id, `bst_…`.') },
      responses: { 200: { description: 'The boost, ended.', schema: Boost, example: { ...EXAMPLE_BOOST, status: 'ended' } } },
      errors: ['boost_not_found'],
    },
    async (c, { caller: { siteId }, params }) =>
      respondWithMoney(c, context, siteScope(siteId), stopBoostOperation, {
        boostId: params.id,
        siteId,
        creatorId: null,
        now: context.earnings.now(),
      }),
  );

  route(
    {
      method: 'get',
      path: '/discover',
      operationId: 'listDiscover',
      summary: 'Boosted items being shown now (what <diamond-discover> shows)',
      description: 'Public facts only: title, excerpt, price, creator, and where a click leads. A random order on each read.',
      tag: TAG,
      auth: 'any',
      responses: { 200: { description: 'Boosted items.', schema: DiscoverList, example: { object: 'list', data: [EXAMPLE_ITEM] } } },
    },
    async (c) => {
      c.header('Cache-Control', 'no-store');
      return c.json({ object: 'list', data: await discoverItems(db, context.earnings.now()) } satisfies DiscoverList);
    },
  );

  route(
    {
      method: 'post',
      path: '/boosts/impressions',
      operationId: 'reportBoostViews',
      summary: 'Report boosted items a visitor saw (≥ 50% visible for ≥ 1 s) or clicked',
      description:
        'Accepted at once and counted in batches: once per viewer per item per UTC day, while the boost runs and has budget. With a signed-in fan’s `Diamonds-Token` (and DPoP proof) the fan is the viewer, and their clicks are attributed: an unlock or order of the item within 24 h counts as the boost’s. Limited per viewer and per IP address.',
      tag: TAG,
      auth: 'publishable',
      body: BoostReport,
      bodyExample: { viewerId: 'k3J9c0aQx1v7Yb2LmN4p', items: [{ boostId: exampleId('bst'), kind: 'impression' }] },
      responses: {
        202: { description: 'How many views were new.', schema: BoostReportAccepted, example: { object: 'boost_report', accepted: 1 } },
      },
      errors: ['rate_limited'],
    },
    async (c, { body }) => {
      const viewer = c.req.header('Diamonds-Token') === undefined ? `anon:${body.viewerId}` : (await fanCaller(c, context)).userId;
      const views: BoostView[] = body.items.map((item) => ({ boostId: item.boostId, kind: item.kind, viewer }));
      const accepted = impressionBufferOf(context.writer, context.db).add(views, clientIp(c));
      return c.json({ object: 'boost_report', accepted } satisfies BoostReportAccepted, 202);
    },
  );

  return api;
}
