import { z } from 'zod';
import { EventId } from './events.js';
import { idSchema } from './ids.js';
import { PageQuery, pageSchema } from './pagination.js';

/*
 * Webhook endpoints and their deliveries (issue 13): a site's backend is told what committed on
 * the site, signed by the Standard Webhooks scheme, retried on a published schedule. See
 * docs/webhooks.md.
 */

/** A webhook endpoint's id: `we_…`. */
export const WebhookEndpointId = idSchema('we');

/** A delivery's id: `wd_…` (one event to one endpoint, with its attempts). */
export const WebhookDeliveryId = idSchema('wd');

/** The most endpoints one site may have. */
export const MAX_WEBHOOK_ENDPOINTS = 16;

/** The longest endpoint URL accepted. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

/**
 * When a delivery is attempted again after a failed attempt, in milliseconds after it: at once,
 * then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (each stretched or shrunk by up to 10% at
 * random), so 8 attempts in all over about 28 hours; then the delivery is `failed`.
 */
export const WEBHOOK_RETRY_DELAYS_MS: readonly number[] = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];

/** An endpoint failing this long, without a success in between, is disabled (5 days). */
export const WEBHOOK_FAILING_DISABLE_MS = 5 * 24 * 3_600_000;

/** How long the previous secret still signs after a roll (24 h). */
export const WEBHOOK_SECRET_OVERLAP_MS = 24 * 3_600_000;

/**
 * Why an endpoint is disabled: `manual`, by the site; `failing`, every delivery failed for 5
 * days; `gone`, it answered `410 Gone`.
 */
export const WebhookDisabledReason = z.enum(['manual', 'failing', 'gone']);

/** Why an endpoint is disabled (see {@link WebhookDisabledReason}). */
export type WebhookDisabledReason = z.infer<typeof WebhookDisabledReason>;

/** An endpoint as the API presents it. Its secret is never shown here (only on create and roll). */
export const WebhookEndpoint = z.object({
  object: z.literal('webhook_endpoint'),
  id: WebhookEndpointId,
  siteId: idSchema('site'),
  url: z.string(),
  /** The event types sent to it; `null` for every type the site has. */
  eventTypes: z.array(z.string()).nullable(),
  description: z.string(),
  enabled: z.boolean(),
  createdAt: z.number().int(),
  disabledAt: z.number().int().nullable(),
  disabledReason: WebhookDisabledReason.nullable(),
  /** Since when every attempt failed (null when the last one succeeded or none was made). */
  failingSince: z.number().int().nullable(),
  /** Until when the previous secret also signs, after a roll; null when none does. */
  previousSecretExpiresAt: z.number().int().nullable(),
});

/** An endpoint (see {@link WebhookEndpoint}). */
export type WebhookEndpoint = z.infer<typeof WebhookEndpoint>;

const EventTypes = z.array(z.string().min(1).max(100)).max(50).nullable();

/** `POST /v1/webhook-endpoints`. */
export const CreateWebhookEndpoint = z.object({
  /** `https://…` (plain `http://` only in development); no credentials. */
  url: z.string().min(1).max(MAX_WEBHOOK_URL_LENGTH),
  /** The event types to send; omitted or null for every type. */
  eventTypes: EventTypes.optional(),
  description: z.string().max(200).optional(),
  /** @defaultValue true */
  enabled: z.boolean().optional(),
});

/** The body of `POST /v1/webhook-endpoints` (see {@link CreateWebhookEndpoint}). */
export type CreateWebhookEndpoint = z.infer<typeof CreateWebhookEndpoint>;

/** `PATCH /v1/webhook-endpoints/{id}`: any of the fields; enabling again clears the failure record. */
export const UpdateWebhookEndpoint = CreateWebhookEndpoint.partial();

/** The body of `PATCH /v1/webhook-endpoints/{id}` (see {@link UpdateWebhookEndpoint}). */
export type UpdateWebhookEndpoint = z.infer<typeof UpdateWebhookEndpoint>;

/** An endpoint with its signing secret: only create and roll answer this. */
export const WebhookEndpointWithSecret = WebhookEndpoint.extend({
  /** `whsec_…`: shown once. */
  secret: z.string(),
});

/** An endpoint with its secret (see {@link WebhookEndpointWithSecret}). */
export type WebhookEndpointWithSecret = z.infer<typeof WebhookEndpointWithSecret>;

/** `POST /v1/webhook-endpoints/{id}/roll-secret`. */
export const RolledWebhookSecret = z.object({
  object: z.literal('webhook_secret'),
  endpointId: WebhookEndpointId,
  /** The new `whsec_…`, shown once. */
  secret: z.string(),
  /** Until when the previous secret also signs (24 h). */
  previousSecretExpiresAt: z.number().int(),
});

/** The answer of a secret roll (see {@link RolledWebhookSecret}). */
export type RolledWebhookSecret = z.infer<typeof RolledWebhookSecret>;

/** `pending` (an attempt is due or running), `succeeded`, `failed` (out of attempts, or the endpoint went away). */
export const WebhookDeliveryStatus = z.enum(['pending', 'succeeded', 'failed']);

/** A delivery's status (see {@link WebhookDeliveryStatus}). */
export type WebhookDeliveryStatus = z.infer<typeof WebhookDeliveryStatus>;

/** Why a delivery exists: the event itself, a replay, or a test event. */
export const WebhookDeliveryKind = z.enum(['event', 'replay', 'test']);

/** Why a delivery exists (see {@link WebhookDeliveryKind}). */
export type WebhookDeliveryKind = z.infer<typeof WebhookDeliveryKind>;

/** One event's delivery to one endpoint, with what its last attempt got. */
export const WebhookDelivery = z.object({
  object: z.literal('webhook_delivery'),
  id: WebhookDeliveryId,
  endpointId: WebhookEndpointId,
  eventId: EventId,
  eventType: z.string(),
  kind: WebhookDeliveryKind,
  status: WebhookDeliveryStatus,
  /** Attempts started so far. */
  attempts: z.number().int().nonnegative(),
  /** When the next attempt is due (null once succeeded or failed). */
  nextAttemptAt: z.number().int().nullable(),
  /** The HTTP status of the last attempt (null when it got none: timeout, refused…). */
  lastStatus: z.number().int().nullable(),
  lastDurationMs: z.number().int().nullable(),
  /** The first 1 KB of the last response's body. */
  lastResponse: z.string().nullable(),
  /** Why the last attempt failed, when it did. */
  lastError: z.string().nullable(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
});

/** A delivery (see {@link WebhookDelivery}). */
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

/** `GET /v1/webhook-endpoints`. */
export const WebhookEndpointList = pageSchema(WebhookEndpoint);

/** A list of endpoints (see {@link WebhookEndpointList}). */
export type WebhookEndpointList = z.infer<typeof WebhookEndpointList>;

/** `GET /v1/webhook-endpoints/{id}/deliveries`: newest first. */
export const WebhookDeliveryList = pageSchema(WebhookDelivery);

/** A list of deliveries (see {@link WebhookDeliveryList}). */
export type WebhookDeliveryList = z.infer<typeof WebhookDeliveryList>;

/** Query of `GET /v1/webhook-endpoints/{id}/deliveries`. */
export const WebhookDeliveryListQuery = PageQuery;

/** Query of the deliveries list (see {@link WebhookDeliveryListQuery}). */
export type WebhookDeliveryListQuery = z.infer<typeof WebhookDeliveryListQuery>;

/** The most events one replay queues. */
export const MAX_WEBHOOK_REPLAY = 1000;

/** `POST /v1/webhook-endpoints/{id}/replay`: one event, or every event since a time (ms since the epoch). */
export const ReplayWebhookEvents = z.union([
  z.object({ eventId: EventId }).strict(),
  z.object({ since: z.number().int().nonnegative() }).strict(),
]);

/** The body of a replay (see {@link ReplayWebhookEvents}). */
export type ReplayWebhookEvents = z.infer<typeof ReplayWebhookEvents>;

/** What a replay queued. */
export const WebhookReplay = z.object({
  object: z.literal('webhook_replay'),
  endpointId: WebhookEndpointId,
  /** Deliveries queued (at most {@link MAX_WEBHOOK_REPLAY}). */
  queued: z.number().int().nonnegative(),
  /** The last event queued: replay again `since` its time for more when `hasMore`. */
  lastEventId: EventId.nullable(),
  hasMore: z.boolean(),
});

/** What a replay queued (see {@link WebhookReplay}). */
export type WebhookReplay = z.infer<typeof WebhookReplay>;

/** `POST /v1/webhook-endpoints/{id}/test`: the `webhook.test` event queued for that endpoint. */
export const WebhookTestSent = z.object({
  object: z.literal('webhook_test'),
  endpointId: WebhookEndpointId,
  eventId: EventId,
});

/** The answer of a test send (see {@link WebhookTestSent}). */
export type WebhookTestSent = z.infer<typeof WebhookTestSent>;

/** `DELETE /v1/webhook-endpoints/{id}`. */
export const DeletedWebhookEndpoint = z.object({
  object: z.literal('webhook_endpoint'),
  id: WebhookEndpointId,
  deleted: z.literal(true),
});

/** The answer of a delete (see {@link DeletedWebhookEndpoint}). */
export type DeletedWebhookEndpoint = z.infer<typeof DeletedWebhookEndpoint>;
