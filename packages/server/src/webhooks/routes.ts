import { Hono } from 'hono';
import {
  CreateWebhookEndpoint,
  DeletedWebhookEndpoint,
  ReplayWebhookEvents,
  RolledWebhookSecret,
  UpdateWebhookEndpoint,
  WebhookDeliveryList,
  WebhookDeliveryListQuery,
  WebhookEndpoint,
  WebhookEndpointList,
  WebhookEndpointWithSecret,
  WebhookReplay,
  WebhookTestSent,
  type WebhookDelivery,
} from '@diamonds/protocol';
import type { AppContext, AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { validate, type JsonObject } from '../http/body.js';
import { exampleId, idParam, routesOn } from '../http/route.js';
import {
  checkEndpointUrl,
  checkEventTypes,
  createEndpoint,
  deleteEndpoint,
  findEndpoint,
  listDeliveryPage,
  listEndpoints,
  replayEvents,
  rollEndpointSecret,
  sendTestEvent,
  updateEndpoint,
} from './endpoints.js';

const TAG = 'Webhooks';
const ENDPOINT_ID = { id: idParam('we', 'The webhook endpoint’s id, `we_…`.') };

const EXAMPLE_ENDPOINT: WebhookEndpoint = {
  object: 'webhook_endpoint',
  id: exampleId('we'),
  siteId: exampleId('site'),
  url: 'https://shop.example/webhooks/diamonds',
  eventTypes: ['order.paid', 'order.refunded'],
  description: 'Marks orders paid in the shop',
  enabled: true,
  createdAt: 1767225600000,
  disabledAt: null,
  disabledReason: null,
  failingSince: null,
  previousSecretExpiresAt: null,
};

const EXAMPLE_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

const EXAMPLE_DELIVERY: WebhookDelivery = {
  object: 'webhook_delivery',
  id: exampleId('wd'),
  endpointId: exampleId('we'),
  eventId: exampleId('evt'),
  eventType: 'order.paid',
  kind: 'event',
  status: 'succeeded',
  attempts: 1,
  nextAttemptAt: null,
  lastStatus: 200,
  lastDurationMs: 87,
  lastResponse: 'ok',
  lastError: null,
  createdAt: 1767225600000,
  updatedAt: 1767225600100,
};

const ENDPOINT_ERRORS = ['webhook_endpoint_not_found'] as const;

/** Checks the fields with codes of their own first (`invalid_url`, `invalid_event_type`), then the schema. */
function createBody(raw: JsonObject, production: boolean): CreateWebhookEndpoint {
  checkEndpointUrl(raw.url, production);
  if (raw.eventTypes !== undefined) checkEventTypes(raw.eventTypes);
  return validate(CreateWebhookEndpoint, raw);
}

/** The same for a change, where every field is optional. */
function updateBody(raw: JsonObject, production: boolean): UpdateWebhookEndpoint {
  if (raw.url !== undefined) checkEndpointUrl(raw.url, production);
  if (raw.eventTypes !== undefined) checkEventTypes(raw.eventTypes);
  return validate(UpdateWebhookEndpoint, raw);
}

/**
 * `/v1/webhook-endpoints…`: a site's backend manages its webhook endpoints with its secret key
 * (the account page and the CLI do the same through `endpoints.ts`). See docs/webhooks.md.
 */
export function webhooksApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const route = routesOn(api, context);
  const { db, production } = context;

  route(
    {
      method: 'post',
      path: '/webhook-endpoints',
      operationId: 'createWebhookEndpoint',
      summary: 'Add a webhook endpoint',
      description:
        'The platform then posts the site’s events to `url`, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). ' +
        'The answer holds the signing **secret**, `whsec_…`: shown this once (roll it to get a new one). `https://` only, except in development. At most 16 per site.',
      tag: TAG,
      auth: 'secret',
      body: CreateWebhookEndpoint,
      parseBody: (raw: JsonObject) => createBody(raw, production),
      bodyExample: { url: EXAMPLE_ENDPOINT.url, eventTypes: ['order.paid', 'order.refunded'], description: EXAMPLE_ENDPOINT.description },
      responses: {
        201: {
          description: 'The endpoint, with its secret (shown once).',
          schema: WebhookEndpointWithSecret,
          example: { ...EXAMPLE_ENDPOINT, secret: EXAMPLE_SECRET },
        },
      },
      errors: ['invalid_url', 'invalid_event_type', 'too_many_endpoints'],
    },
    async (c, { caller: { siteId }, body }) => {
      const { endpoint, secret } = await createEndpoint(db, siteId, body, { production });
      const answer: WebhookEndpointWithSecret = { ...endpoint, secret };
      c.header('Cache-Control', 'no-store');
      return c.json(answer, 201);
    },
  );

  route(
    {
      method: 'get',
      path: '/webhook-endpoints',
      operationId: 'listWebhookEndpoints',
      summary: 'List the site’s webhook endpoints',
      tag: TAG,
      auth: 'secret',
      responses: {
        200: {
          description: 'Every endpoint of the site (at most 16), oldest first.',
          schema: WebhookEndpointList,
          example: { object: 'list', data: [EXAMPLE_ENDPOINT], hasMore: false, nextCursor: null },
        },
      },
    },
    async (c, { caller: { siteId } }) => {
      const list: WebhookEndpointList = { object: 'list', data: await listEndpoints(db, siteId), hasMore: false, nextCursor: null };
      c.header('Cache-Control', 'no-store');
      return c.json(list);
    },
  );

  route(
    {
      method: 'get',
      path: '/webhook-endpoints/{id}',
      operationId: 'getWebhookEndpoint',
      summary: 'Get a webhook endpoint',
      tag: TAG,
      auth: 'secret',
      params: ENDPOINT_ID,
      responses: { 200: { description: 'The endpoint (never its secret).', schema: WebhookEndpoint, example: EXAMPLE_ENDPOINT } },
      errors: ENDPOINT_ERRORS,
    },
    async (c, { caller: { siteId }, params: { id } }) => {
      const endpoint = await findEndpoint(db, siteId, id);
      if (!endpoint) throw new ApiError('webhook_endpoint_not_found', `This site has no webhook endpoint ${id}.`, { param: 'id' });
      c.header('Cache-Control', 'no-store');
      return c.json(endpoint);
    },
  );

  route(
    {
      method: 'patch',
      path: '/webhook-endpoints/{id}',
      operationId: 'updateWebhookEndpoint',
      summary: 'Change a webhook endpoint',
      description:
        'Any of `url`, `eventTypes` (null for every type), `description`, `enabled`. Enabling an endpoint that was disabled (by you, after 5 days of failures, or by a 410) starts it again; replay what it missed.',
      tag: TAG,
      auth: 'secret',
      params: ENDPOINT_ID,
      body: UpdateWebhookEndpoint,
      parseBody: (raw: JsonObject) => updateBody(raw, production),
      bodyExample: { enabled: true, eventTypes: null },
      responses: { 200: { description: 'The endpoint as changed.', schema: WebhookEndpoint, example: EXAMPLE_ENDPOINT } },
      errors: [...ENDPOINT_ERRORS, 'invalid_url', 'invalid_event_type'],
    },
    async (c, { caller: { siteId }, params: { id }, body }) => {
      return c.json(await updateEndpoint(db, siteId, id, body, { production }));
    },
  );

  route(
    {
      method: 'delete',
      path: '/webhook-endpoints/{id}',
      operationId: 'deleteWebhookEndpoint',
      summary: 'Delete a webhook endpoint',
      description: 'Nothing more is sent to it; its delivery log goes with it.',
      tag: TAG,
      auth: 'secret',
      params: ENDPOINT_ID,
      responses: {
        200: {
          description: 'Deleted.',
          schema: DeletedWebhookEndpoint,
          example: { object: 'webhook_endpoint', id: exampleId('we'), deleted: true },
        },
      },
      errors: ENDPOINT_ERRORS,
    },
    async (c, { caller: { siteId }, params: { id } }) => {
      await deleteEndpoint(db, siteId, id);
      const answer: DeletedWebhookEndpoint = { object: 'webhook_endpoint', id, deleted: true };
      return c.json(answer);
    },
  );

  route(
    {
      method: 'post',
      path: '/webhook-endpoints/{id}/roll-secret',
      operationId: 'rollWebhookEndpointSecret',
      summary: 'Roll an endpoint’s signing secret',
      description:
        'A new `whsec_…` (shown once). For 24 hours the previous secret signs too: `webhook-signature` then carries two `v1,` signatures, so your receiver keeps verifying while you switch it to the new secret.',
      tag: TAG,
      auth: 'secret',
      params: ENDPOINT_ID,
      responses: {
        200: {
          description: 'The new secret, and until when the previous one still signs.',
          schema: RolledWebhookSecret,
          example: {
            object: 'webhook_secret',
            endpointId: exampleId('we'),
            secret: EXAMPLE_SECRET,
            previousSecretExpiresAt: 1767312000000,
          },
        },
      },
      errors: ENDPOINT_ERRORS,
    },
    async (c, { caller: { siteId }, params: { id } }) => {
      const rolled = await rollEndpointSecret(db, siteId, id);
      const answer: RolledWebhookSecret = { object: 'webhook_secret', endpointId: id, ...rolled };
      c.header('Cache-Control', 'no-store');
      return c.json(answer);
    },
  );

  route(
    {
      method: 'get',
      path: '/webhook-endpoints/{id}/deliveries',
      operationId: 'listWebhookDeliveries',
      summary: 'List an endpoint’s recent deliveries',
      description:
        'Newest first: each event sent (or being sent) with its status, attempts, and what the last attempt got (HTTP status, duration, the first 1 KB of the answer).',
      tag: TAG,
      auth: 'secret',
      params: ENDPOINT_ID,
      query: WebhookDeliveryListQuery,
      responses: {
        200: {
          description: 'The latest deliveries, newest first.',
          schema: WebhookDeliveryList,
          example: { object: 'list', data: [EXAMPLE_DELIVERY], hasMore: false, nextCursor: null },
        },
      },
      errors: [...ENDPOINT_ERRORS, 'invalid_cursor'],
    },
    async (c, { caller: { siteId }, params: { id }, query }) => {
      const list: WebhookDeliveryList = await listDeliveryPage(db, siteId, id, { limit: query.limit, cursor: query.cursor });
      c.header('Cache-Control', 'no-store');
      return c.json(list);
    },
  );

  route(
    {
      method: 'post',
      path: '/webhook-endpoints/{id}/replay',
      operationId: 'replayWebhookEvents',
      summary: 'Send events to an endpoint again',
      description:
        '`{ "eventId": "evt_…" }` sends one event of the site again; `{ "since": <ms since the epoch> }` every event since then that the endpoint takes (at most 1,000 per call, oldest first: call again from the last one’s time when `hasMore`). ' +
        'Each is signed with the event’s own id as `webhook-id`.',
      tag: TAG,
      auth: 'secret',
      params: ENDPOINT_ID,
      body: ReplayWebhookEvents,
      bodyExample: { eventId: exampleId('evt') },
      responses: {
        202: {
          description: 'Queued.',
          schema: WebhookReplay,
          example: { object: 'webhook_replay', endpointId: exampleId('we'), queued: 1, lastEventId: exampleId('evt'), hasMore: false },
        },
      },
      errors: [...ENDPOINT_ERRORS, 'event_not_found'],
    },
    async (c, { caller: { siteId }, params: { id }, body }) => c.json(await replayEvents(db, siteId, id, body), 202),
  );

  route(
    {
      method: 'post',
      path: '/webhook-endpoints/{id}/test',
      operationId: 'sendWebhookTestEvent',
      summary: 'Send a test event to an endpoint',
      description:
        'Appends a `webhook.test` event for this endpoint only; it goes through the real pipeline (queued, signed, retried) like any event.',
      tag: TAG,
      auth: 'secret',
      params: ENDPOINT_ID,
      responses: {
        202: {
          description: 'The test event, queued.',
          schema: WebhookTestSent,
          example: { object: 'webhook_test', endpointId: exampleId('we'), eventId: exampleId('evt') },
        },
      },
      errors: [...ENDPOINT_ERRORS, 'webhook_endpoint_disabled'],
    },
    async (c, { caller: { siteId }, params: { id } }) => c.json(await sendTestEvent(db, siteId, id), 202),
  );

  return api;
}
