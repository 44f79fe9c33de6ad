import { Hono } from 'hono';
import {
  Content,
  ContentBody,
  ContentList,
  CreateContent,
  Entitlement,
  PageQuery,
  Unlock,
  UpdateContent,
  type ContentBody as ContentBodyType,
} from '@diamonds/protocol';
import { publicBaseUrl, type AppContext, type AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { validate } from '../http/body.js';
import { findSite } from '../identity/sites.js';
import { supportTotal } from '../money/spends.js';
import {
  contentOfSite,
  createContent,
  listContent,
  presentContent,
  presentContentPage,
  updateContent,
  validateCreateContent,
} from '../content/content.js';
import { findEntitlement, isEntitled, presentEntitlement } from '../content/unlocks.js';
import { documentRoute } from './openapi.js';
import { fanOf } from './identity.js';
import { fanScope, respondIdempotently, respondWithSpend, secretSiteOf, siteScope } from './money-route.js';
import { pathId } from '../http/ids.js';

const TAG = 'Content';
const ID_PARAM = { id: 'The content id, `ct_…`.' };

documentRoute({
  method: 'post',
  path: '/v1/content',
  summary: 'Publish content (title, teaser, Markdown body or external URL, and a price or a support threshold)',
  description: 'The Markdown is rendered to sanitised HTML once, here. The creator is the site’s owner.',
  tag: TAG,
  auth: 'secret',
  idempotent: true,
  body: CreateContent,
  responses: { 201: { description: 'The content, teaser view.', schema: Content } },
  errors: [
    'invalid_request',
    'invalid_amount',
    'amount_too_large',
    'permission_denied',
    'idempotency_key_required',
    'idempotency_key_reused',
  ],
});
documentRoute({
  method: 'get',
  path: '/v1/content',
  summary: 'List the site’s content, newest first (teasers only)',
  description: 'With the secret key, archived content is listed too.',
  tag: TAG,
  auth: 'any',
  query: PageQuery,
  responses: { 200: { description: 'A page of content.', schema: ContentList } },
  errors: ['invalid_request', 'invalid_cursor'],
});
documentRoute({
  method: 'get',
  path: '/v1/content/{id}',
  summary: 'Read a piece of content’s teaser and rule; with a fan token, whether the fan is entitled and their support',
  tag: TAG,
  auth: 'any',
  params: ID_PARAM,
  responses: { 200: { description: 'The content, teaser view.', schema: Content } },
  errors: ['content_not_found', 'invalid_token'],
});
documentRoute({
  method: 'patch',
  path: '/v1/content/{id}',
  summary: 'Retitle, reword the teaser, archive or unarchive content',
  tag: TAG,
  auth: 'secret',
  params: ID_PARAM,
  body: UpdateContent,
  responses: { 200: { description: 'The content, teaser view.', schema: Content } },
  errors: ['content_not_found', 'invalid_request', 'permission_denied'],
});
documentRoute({
  method: 'post',
  path: '/v1/content/{id}/unlock',
  summary: 'Unlock content for the signed-in fan: pay its price (allowance or confirmation) or meet its support threshold',
  description:
    'Unlocking twice never charges twice: the second answer is `already_unlocked`, and `GET /v1/content/{id}/entitlement` ' +
    'returns the receipt. While a confirmation is pending, asking again answers the same confirmation.',
  tag: TAG,
  auth: 'fan',
  idempotent: true,
  params: ID_PARAM,
  responses: {
    201: { description: 'Unlocked: the entitlement and its signed receipt.', schema: Unlock },
    202: { description: 'Beyond the allowance: the Diamonds are held until the fan approves `confirmation.url`.', schema: Unlock },
  },
  errors: [
    'content_not_found',
    'content_archived',
    'already_unlocked',
    'threshold_not_met',
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
  path: '/v1/content/{id}/entitlement',
  summary: 'The signed-in fan’s entitlement to content, with its receipt',
  tag: TAG,
  auth: 'fan',
  params: ID_PARAM,
  responses: { 200: { description: 'The entitlement (active, or pending the fan’s confirmation).', schema: Entitlement } },
  errors: ['content_not_found', 'not_entitled', 'authentication_required', 'invalid_token'],
});
documentRoute({
  method: 'get',
  path: '/v1/content/{id}/body',
  summary: 'The body of content, only for an entitled fan (sanitised HTML, or the external URL)',
  tag: TAG,
  auth: 'fan',
  params: ID_PARAM,
  responses: { 200: { description: 'The body; never cached.', schema: ContentBody } },
  errors: ['content_not_found', 'not_entitled', 'authentication_required', 'invalid_token'],
});

/**
 * `/v1` routes of exclusive content and unlocks: a site's backend publishes (secret key),
 * pages list and show teasers (either key), signed-in fans unlock and read bodies.
 */
export function contentApi(context: AppContext): Hono<AppEnv> {
  const { db } = context;
  const api = new Hono<AppEnv>();

  api.post('/content', async (c) => {
    const siteId = secretSiteOf(c);
    const input = validateCreateContent(c.get('json'));
    const site = await findSite(db, siteId);
    if (!site) throw new ApiError('invalid_api_key', 'This key’s site no longer exists.');
    return respondIdempotently(c, context, siteScope(siteId), async (tx) => {
      const created = await createContent(tx, { siteId, creatorId: site.ownerId }, input);
      return { status: 201, body: presentContent(created) };
    });
  });

  api.get('/content', async (c) => {
    const caller = c.get('caller');
    const page = validate(PageQuery, c.req.query());
    const records = await listContent(db, caller.siteId, page, caller.keyKind === 'secret');
    return c.json(presentContentPage(records, page.limit));
  });

  api.get('/content/:id', async (c) => {
    const caller = c.get('caller');
    const content = await contentOfSite(db, caller.siteId, pathId(c, 'ct'));
    if (c.req.header('Diamonds-Token') === undefined) return c.json(presentContent(content));
    const { userId } = await fanOf(c, db);
    c.header('Cache-Control', 'private, no-store');
    return c.json(
      presentContent(content, {
        entitled: await isEntitled(db, userId, content.id),
        supportedDiamonds: await supportTotal(db, userId, content.creatorId),
      }),
    );
  });

  api.patch('/content/:id', async (c) => {
    const siteId = secretSiteOf(c);
    const contentId = pathId(c, 'ct');
    const change = validate(UpdateContent, c.get('json'));
    const updated = await db.transaction(async (tx) => updateContent(tx, await contentOfSite(tx, siteId, contentId), change));
    return c.json(presentContent(updated));
  });

  api.post('/content/:id/unlock', async (c) => {
    const { userId, context: fan } = await fanOf(c, db);
    const contentId = pathId(c, 'ct');
    return respondWithSpend(c, context, fanScope(userId, fan.siteId), {
      kind: 'content.unlock',
      feeBasisPoints: context.settings.platformFeeBps,
      baseUrl: publicBaseUrl(c, context.settings),
      fanId: userId,
      siteId: fan.siteId,
      contentId,
    });
  });

  api.get('/content/:id/entitlement', async (c) => {
    const { userId, context: fan } = await fanOf(c, db);
    const content = await contentOfSite(db, fan.siteId, pathId(c, 'ct'));
    const entitlement = await findEntitlement(db, userId, content.id);
    if (!entitlement) throw notEntitled(content.id);
    c.header('Cache-Control', 'private, no-store');
    return c.json(presentEntitlement(entitlement));
  });

  api.get('/content/:id/body', async (c) => {
    const { userId, context: fan } = await fanOf(c, db);
    const content = await contentOfSite(db, fan.siteId, pathId(c, 'ct'));
    if (!(await isEntitled(db, userId, content.id))) throw notEntitled(content.id);
    const body: ContentBodyType = {
      object: 'content_body',
      id: content.id as ContentBodyType['id'],
      html: content.bodyHtml,
      externalUrl: content.externalUrl,
    };
    c.header('Cache-Control', 'private, no-store');
    return c.json(body);
  });

  return api;
}

function notEntitled(contentId: string): ApiError {
  return new ApiError('not_entitled', `Unlock this content first: POST /v1/content/${contentId}/unlock.`);
}
