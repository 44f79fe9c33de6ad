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
import { findSite } from '../identity/sites.js';
import { supportTotal } from '../money/spends.js';
import { itemSplitShares, splitLine } from '../collabs/collabs.js';
import {
  contentOfSite,
  createContent,
  listContent,
  presentContent,
  presentContentPage,
  updateContent,
  validateCreateContent,
} from './content.js';
import { findEntitlement, isEntitled, presentEntitlement, unlockContentOperation } from './unlocks.js';
import { exampleId, fanCaller, idParam, routesOn } from '../http/route.js';
import { fanScope, respondIdempotently, respondWithMoney, siteScope } from '../money/respond.js';

const TAG = 'Content';
const ID_PARAM = { id: idParam('ct', 'The content id, `ct_…`.') };

const EXAMPLE_CONTENT: Content = {
  object: 'content',
  id: exampleId('ct'),
  siteId: exampleId('site'),
  creator: { id: exampleId('usr', 1), displayName: 'Ada' },
  title: 'Behind the scenes',
  teaser: 'How the new album was recorded.',
  format: 'markdown',
  priceDiamonds: 50,
  thresholdDiamonds: null,
  createdAt: 1767225600000,
  updatedAt: 1767225600000,
  archivedAt: null,
};

const EXAMPLE_ENTITLEMENT: Entitlement = {
  object: 'entitlement',
  id: exampleId('ent'),
  contentId: exampleId('ct'),
  fanId: exampleId('usr'),
  status: 'active',
  amountDiamonds: 50,
  transferId: exampleId('txn'),
  receipt: 'eyJhbGciOiJFUzI1NiIsImtpZCI6InJjcHQifQ.eyJzdWIiOiJ1c3IifQ.c2lnbmF0dXJl',
  createdAt: 1767225600000,
};

function notEntitled(contentId: string): ApiError {
  return new ApiError('not_entitled', `Unlock this content first: POST /v1/content/${contentId}/unlock.`);
}

/**
 * `/v1` routes of exclusive content and unlocks: a site's backend publishes (secret key),
 * pages list and show teasers (either key), signed-in fans unlock and read bodies.
 */
export function contentApi(context: AppContext): Hono<AppEnv> {
  const { db } = context;
  const api = new Hono<AppEnv>();
  const route = routesOn(api, context);

  route(
    {
      method: 'post',
      path: '/content',
      operationId: 'createContent',
      summary: 'Publish content (title, teaser, Markdown body or external URL, and a price or a support threshold)',
      description: 'The Markdown is rendered to sanitised HTML once, here. The creator is the site’s owner.',
      tag: TAG,
      auth: 'secret',
      idempotent: true,
      body: CreateContent,
      // Amounts have codes of their own (invalid_amount, amount_too_large).
      parseBody: validateCreateContent,
      bodyExample: {
        title: 'Behind the scenes',
        teaser: 'How the new album was recorded.',
        body: '## Day one\n\nWe set up in the barn…',
        priceDiamonds: 50,
      },
      responses: { 201: { description: 'The content, teaser view.', schema: Content, example: EXAMPLE_CONTENT } },
      errors: ['invalid_amount', 'amount_too_large'],
    },
    async (c, { caller: { siteId }, body }) => {
      const site = await findSite(db, siteId);
      if (!site) throw new ApiError('invalid_api_key', 'This key’s site no longer exists.');
      return respondIdempotently(c, context, siteScope(siteId), async (tx) => {
        const created = await createContent(tx, { siteId, creatorId: site.ownerId }, body);
        return { status: 201, body: presentContent(created) };
      });
    },
  );

  route(
    {
      method: 'get',
      path: '/content',
      operationId: 'listContent',
      summary: 'List the site’s content, newest first (teasers only)',
      description: 'With the secret key, archived content is listed too.',
      tag: TAG,
      auth: 'any',
      query: PageQuery,
      responses: {
        200: {
          description: 'A page of content.',
          schema: ContentList,
          example: { object: 'list', data: [EXAMPLE_CONTENT], hasMore: false, nextCursor: null },
        },
      },
      errors: ['invalid_cursor'],
    },
    async (c, { caller, query }) => {
      const records = await listContent(db, caller.siteId, query, caller.keyKind === 'secret');
      return c.json(presentContentPage(records, query.limit));
    },
  );

  route(
    {
      method: 'get',
      path: '/content/{id}',
      operationId: 'getContent',
      summary: 'Read a piece of content’s teaser and rule; with a fan token, whether the fan is entitled and their support',
      tag: TAG,
      auth: 'any',
      params: ID_PARAM,
      responses: {
        200: {
          description: 'The content, teaser view.',
          schema: Content,
          example: { ...EXAMPLE_CONTENT, entitled: false, supportedDiamonds: 30, remainingToThreshold: null },
        },
      },
      errors: ['content_not_found', 'invalid_token', 'invalid_dpop_proof'],
    },
    async (c, { caller, params }) => {
      const content = await contentOfSite(db, caller.siteId, params.id);
      // A fan sees how a split content's earnings are shared before paying (collabs/).
      const split = await itemSplitShares(db, 'content', content.id);
      const withSplit = (view: Content): Content => (split ? { ...view, split, splitLine: splitLine(split) } : view);
      if (c.req.header('Diamonds-Token') === undefined) return c.json(withSplit(presentContent(content)));
      // With a fan's token, the fan's own view: proven like any fan's call.
      const fan = await fanCaller(c, context);
      c.header('Cache-Control', 'private, no-store');
      return c.json(
        withSplit(
          presentContent(content, {
            entitled: await isEntitled(db, fan.userId, content.id),
            supportedDiamonds: await supportTotal(db, fan.userId, content.creatorId),
          }),
        ),
      );
    },
  );

  route(
    {
      method: 'patch',
      path: '/content/{id}',
      operationId: 'updateContent',
      summary: 'Retitle, reword the teaser, archive or unarchive content',
      tag: TAG,
      auth: 'secret',
      params: ID_PARAM,
      body: UpdateContent,
      bodyExample: { archived: true },
      responses: {
        200: {
          description: 'The content, teaser view.',
          schema: Content,
          example: { ...EXAMPLE_CONTENT, updatedAt: 1767229200000, archivedAt: 1767229200000 },
        },
      },
      errors: ['content_not_found'],
    },
    async (c, { caller: { siteId }, params, body }) => {
      const updated = await db.transaction(async (tx) => updateContent(tx, await contentOfSite(tx, siteId, params.id), body));
      return c.json(presentContent(updated));
    },
  );

  route(
    {
      method: 'post',
      path: '/content/{id}/unlock',
      operationId: 'unlockContent',
      summary: 'Unlock content for the signed-in fan: pay its price (allowance or confirmation) or meet its support threshold',
      description:
        'Unlocking twice never charges twice: the second answer is `already_unlocked`, and `GET /v1/content/{id}/entitlement` ' +
        'returns the receipt. While a confirmation is pending, asking again answers the same confirmation.',
      tag: TAG,
      auth: 'fan',
      idempotent: true,
      params: ID_PARAM,
      responses: {
        201: {
          description: 'Unlocked: the entitlement and its signed receipt.',
          schema: Unlock,
          example: { object: 'unlock', status: 'succeeded', entitlement: EXAMPLE_ENTITLEMENT, receipt: EXAMPLE_ENTITLEMENT.receipt },
        },
        202: { description: 'Beyond the allowance: the Diamonds are held until the fan approves `confirmation.url`.', schema: Unlock },
      },
      errors: ['content_not_found', 'content_archived', 'already_unlocked', 'threshold_not_met', 'insufficient_funds'],
    },
    async (c, { caller, params }) =>
      respondWithMoney(c, context, fanScope(caller.userId, caller.siteId), unlockContentOperation, {
        feeBasisPoints: context.settings.platformFeeBps,
        baseUrl: publicBaseUrl(c, context.settings),
        fanId: caller.userId,
        siteId: caller.siteId,
        contentId: params.id,
        origin: caller.origin,
      }),
  );

  route(
    {
      method: 'get',
      path: '/content/{id}/entitlement',
      operationId: 'getContentEntitlement',
      summary: 'The signed-in fan’s entitlement to content, with its receipt',
      tag: TAG,
      auth: 'fan',
      params: ID_PARAM,
      responses: {
        200: {
          description: 'The entitlement (active, or pending the fan’s confirmation).',
          schema: Entitlement,
          example: EXAMPLE_ENTITLEMENT,
        },
      },
      errors: ['content_not_found', 'not_entitled'],
    },
    async (c, { caller, params }) => {
      const content = await contentOfSite(db, caller.siteId, params.id);
      const entitlement = await findEntitlement(db, caller.userId, content.id);
      if (!entitlement) throw notEntitled(content.id);
      c.header('Cache-Control', 'private, no-store');
      return c.json(presentEntitlement(entitlement));
    },
  );

  route(
    {
      method: 'get',
      path: '/content/{id}/body',
      operationId: 'getContentBody',
      summary: 'The body of content, only for an entitled fan (sanitised HTML, or the external URL)',
      tag: TAG,
      auth: 'fan',
      params: ID_PARAM,
      responses: {
        200: {
          description: 'The body; never cached.',
          schema: ContentBody,
          example: {
            object: 'content_body',
            id: exampleId('ct'),
            html: '<h2>Day one</h2>\n<p>We set up in the barn…</p>\n',
            externalUrl: null,
          },
        },
      },
      errors: ['content_not_found', 'not_entitled'],
    },
    async (c, { caller, params }) => {
      const content = await contentOfSite(db, caller.siteId, params.id);
      if (!(await isEntitled(db, caller.userId, content.id))) throw notEntitled(content.id);
      const body: ContentBodyType = {
        object: 'content_body',
        id: content.id as ContentBodyType['id'],
        html: content.bodyHtml,
        externalUrl: content.externalUrl,
      };
      c.header('Cache-Control', 'private, no-store');
      return c.json(body);
    },
  );

  return api;
}
