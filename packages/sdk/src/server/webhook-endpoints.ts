import {
  RolledWebhookSecret,
  WebhookDeliveryList,
  WebhookEndpoint,
  WebhookEndpointList,
  WebhookEndpointWithSecret,
  WebhookReplay,
  WebhookTestSent,
  type CreateWebhookEndpoint,
  type UpdateWebhookEndpoint,
} from '@diamonds/protocol';
import { z } from 'zod';
import { DiamondsUsageError } from './errors.js';
import type { Requester, ServerCallOptions } from './resources.js';

/** The body of {@link ServerWebhookEndpoints.create}: `url`, and optionally `eventTypes` (null for all), `description`, `enabled`. */
export type CreateWebhookEndpointParams = z.input<typeof CreateWebhookEndpoint>;

/** The changes of {@link ServerWebhookEndpoints.update}: any of the create fields; `enabled: true` clears a failure record. */
export type UpdateWebhookEndpointParams = z.input<typeof UpdateWebhookEndpoint>;

/** What {@link ServerWebhookEndpoints.replay} sends again: one event, or every event since a time (ms since the epoch). */
export type ReplayWebhookParams = { eventId: string } | { since: number };

const Anything = z.unknown();

function endpointPath(id: string, rest = ''): string {
  if (typeof id !== 'string' || !/^we_[A-Za-z0-9]{1,64}$/.test(id)) {
    throw new DiamondsUsageError(`Expected a webhook endpoint id (we_…), got ${JSON.stringify(id) ?? String(id)}.`, { code: 'invalid_id' });
  }
  return `v1/webhook-endpoints/${id}${rest}`;
}

/**
 * Your site's webhook endpoints: where the platform posts your events, signed (check them with
 * {@link verifyWebhook}). The same as the account page's "Webhooks" and `npx diamonds webhooks`.
 *
 * @example
 * ```ts
 * // On start: register this backend once, and keep the secret it gets (shown only now).
 * const { data } = await diamonds.webhookEndpoints.list();
 * if (!data.some((endpoint) => endpoint.url === MY_URL)) {
 *   const { secret } = await diamonds.webhookEndpoints.create({ url: MY_URL, eventTypes: ['order.paid', 'order.refunded'] });
 *   await saveSecret(secret);
 * }
 * ```
 */
export class ServerWebhookEndpoints {
  readonly #request: Requester;

  /** @internal */
  constructor(request: Requester) {
    this.#request = request;
  }

  /**
   * Adds an endpoint. The answer carries its signing secret (`whsec_…`): the only time it is
   * shown, besides {@link ServerWebhookEndpoints.rollSecret}.
   *
   * @throws {@link DiamondsApiError} `invalid_url` (not https outside development, credentials,
   * does not parse), `invalid_event_type`, `too_many_endpoints` (16 per site).
   */
  create(params: CreateWebhookEndpointParams, options: ServerCallOptions = {}): Promise<WebhookEndpointWithSecret> {
    return this.#request('post', 'v1/webhook-endpoints', WebhookEndpointWithSecret, { ...options, json: params });
  }

  /** Your endpoints, oldest first (16 at most, so one page). */
  list(options: ServerCallOptions = {}): Promise<WebhookEndpointList> {
    return this.#request('get', 'v1/webhook-endpoints', WebhookEndpointList, options);
  }

  /** One endpoint. @throws {@link DiamondsApiError} `webhook_endpoint_not_found` */
  get(id: string, options: ServerCallOptions = {}): Promise<WebhookEndpoint> {
    return this.#request('get', endpointPath(id), WebhookEndpoint, options);
  }

  /** Changes an endpoint (URL, types, description, enabled). @throws {@link DiamondsApiError} `webhook_endpoint_not_found`, `invalid_url`, `invalid_event_type` */
  update(id: string, params: UpdateWebhookEndpointParams, options: ServerCallOptions = {}): Promise<WebhookEndpoint> {
    return this.#request('patch', endpointPath(id), WebhookEndpoint, { ...options, json: params });
  }

  /** Deletes an endpoint: nothing more is sent to it. @throws {@link DiamondsApiError} `webhook_endpoint_not_found` */
  async delete(id: string, options: ServerCallOptions = {}): Promise<void> {
    await this.#request('delete', endpointPath(id), Anything, options);
  }

  /**
   * Gives an endpoint a new signing secret; for 24 hours the previous one signs too, so you can
   * deploy the new one without missing a delivery.
   */
  rollSecret(id: string, options: ServerCallOptions = {}): Promise<RolledWebhookSecret> {
    return this.#request('post', endpointPath(id, '/roll-secret'), RolledWebhookSecret, options);
  }

  /**
   * A page of an endpoint's deliveries, newest first: status, HTTP status, duration, the start of
   * the response. Pass a page's `nextCursor` as `cursor` for the next one.
   */
  deliveries(id: string, params: { limit?: number; cursor?: string } = {}, options: ServerCallOptions = {}): Promise<WebhookDeliveryList> {
    return this.#request('get', endpointPath(id, '/deliveries'), WebhookDeliveryList, {
      ...options,
      searchParams: { limit: params.limit, cursor: params.cursor },
    });
  }

  /**
   * Sends events to an endpoint again: one, or all since a time (at most 1000 per call; see
   * `hasMore`). @throws {@link DiamondsApiError} `event_not_found` (not your event)
   */
  replay(id: string, params: ReplayWebhookParams, options: ServerCallOptions = {}): Promise<WebhookReplay> {
    return this.#request('post', endpointPath(id, '/replay'), WebhookReplay, { ...options, json: params });
  }

  /** Sends a `webhook.test` event to the endpoint through the real delivery pipeline. */
  sendTest(id: string, options: ServerCallOptions = {}): Promise<WebhookTestSent> {
    return this.#request('post', endpointPath(id, '/test'), WebhookTestSent, options);
  }
}
