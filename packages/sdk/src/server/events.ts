import { EventList, SiteEvent, type SiteEventType } from '@diamonds/protocol';
import { DiamondsUsageError } from './errors.js';
import type { Requester, ServerCallOptions } from './resources.js';

/**
 * Query of {@link ServerEvents.list}: where to start, which type, how many.
 *
 * @example
 * ```ts
 * const page = await diamonds.events.list({ after: lastHandledId, type: 'order.paid', limit: 100 });
 * ```
 */
export interface EventListParams {
  /** The id of the last event you handled (`evt_…`): the page starts after it. From the first event when absent. */
  after?: string | undefined;
  /** Only events of this type. */
  type?: SiteEventType | undefined;
  /**
   * Events per page, 1 to 100.
   *
   * @defaultValue 20 (the server's default)
   */
  limit?: number | undefined;
}

/**
 * What committed on your site, oldest first: gifts sent, content unlocked, orders paid,
 * refunded or canceled, confirmations. Each event is typed by its `type` (a discriminated
 * union), and comes exactly once in order when you resume after the last one you handled.
 *
 * @example
 * ```ts
 * for await (const event of diamonds.events.each({ after: await loadCursor() })) {
 *   if (event.type === 'order.paid') await fulfil(event.data.orderId);
 *   await saveCursor(event.id);
 * }
 * ```
 */
export class ServerEvents {
  readonly #request: Requester;

  /** @internal */
  constructor(request: Requester) {
    this.#request = request;
  }

  /**
   * One page of your site's events, oldest first, after `after`. Pass the page's `nextCursor`
   * as the next `after` (it is the last event's id, or your `after` again when nothing new came).
   *
   * @throws {@link DiamondsApiError} `invalid_cursor` (not one of your events), `invalid_event_type`.
   */
  list(params: EventListParams = {}, options: ServerCallOptions = {}): Promise<EventList> {
    return this.#request('get', 'v1/events', EventList, {
      ...options,
      searchParams: { after: params.after, type: params.type, limit: params.limit },
    });
  }

  /**
   * One event by id.
   *
   * @throws {@link DiamondsApiError} `event_not_found` (none on your site).
   */
  get(id: string, options: ServerCallOptions = {}): Promise<SiteEvent> {
    if (typeof id !== 'string' || !/^evt_[A-Za-z0-9]{1,64}$/.test(id)) {
      throw new DiamondsUsageError(`Expected an event id (evt_…), got ${JSON.stringify(id) ?? String(id)}.`, { code: 'invalid_id' });
    }
    return this.#request('get', `v1/events/${id}`, SiteEvent, options);
  }

  /**
   * Your events page by page, from `after` to the latest; each page is fetched when the loop
   * asks, and the walk ends at the last page (call it again later, after the last id you handled).
   */
  async *pages(params: EventListParams = {}, options: ServerCallOptions = {}): AsyncGenerator<EventList, void, undefined> {
    let after = params.after;
    for (;;) {
      const page = await this.list({ ...params, after }, options);
      yield page;
      if (!page.hasMore || page.nextCursor === null || page.nextCursor === after) return;
      after = page.nextCursor;
    }
  }

  /** Your events one by one, oldest first, across pages (see {@link ServerEvents.pages}). */
  async *each(params: EventListParams = {}, options: ServerCallOptions = {}): AsyncGenerator<SiteEvent, void, undefined> {
    for await (const page of this.pages(params, options)) yield* page.data;
  }

  /** The same as {@link ServerEvents.each} with no parameters: `for await (const event of diamonds.events)`. */
  [Symbol.asyncIterator](): AsyncGenerator<SiteEvent, void, undefined> {
    return this.each();
  }
}
