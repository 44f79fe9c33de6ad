import { Hono } from 'hono';
import { EventList, EventListQuery, SITE_EVENT_TYPES, SiteEvent, isId, type SiteEventType } from '@diamonds/protocol';
import type { AppContext, AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { exampleId, idParam, routesOn } from '../http/route.js';
import { findEvent, presentEvent, readEvents, type EventPosition } from './outbox.js';

const SITE_TYPES: ReadonlySet<string> = new Set(SITE_EVENT_TYPES);

const EXAMPLE_EVENT: SiteEvent = {
  object: 'event',
  id: exampleId('evt'),
  type: 'gift.sent',
  createdAt: 1767225600000,
  siteId: exampleId('site'),
  creatorId: exampleId('usr', 1),
  fanId: exampleId('usr'),
  data: {
    giftId: exampleId('gift'),
    giftTypeId: 'rose',
    quantity: 3,
    amountDiamonds: 30,
    message: 'Great stream!',
    transferId: exampleId('txn'),
  },
};

/**
 * `GET /v1/events` and `GET /v1/events/{id}`: a site's backend reads what committed on its
 * site (secret key only). A fan's private events have no site, so no query can reach them.
 */
export function eventsApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const route = routesOn(api, context);

  route(
    {
      method: 'get',
      path: '/events',
      operationId: 'listEvents',
      summary: 'List the site’s events',
      description:
        'With the secret key, from the site’s backend: what the platform committed on this site (gifts sent, content unlocked, orders paid, refunded or canceled, confirmations), **oldest first**, after the event named by `after`. ' +
        'Keep the id of the last event you handled and pass it as `after` next time: every event comes exactly once, in order. ' +
        'A fan’s top-ups are private and never listed. See docs/events.md.',
      tag: 'Events',
      auth: 'secret',
      query: EventListQuery,
      responses: {
        200: {
          description: 'A page of events, oldest first; `nextCursor` goes in `after`.',
          schema: EventList,
          example: { object: 'list', data: [EXAMPLE_EVENT], hasMore: false, nextCursor: EXAMPLE_EVENT.id },
        },
      },
      errors: ['invalid_cursor', 'invalid_event_type'],
    },
    async (c, { caller: { siteId }, query }) => {
      if (query.type !== undefined && !SITE_TYPES.has(query.type)) {
        throw new ApiError(
          'invalid_event_type',
          `There is no event type "${query.type.slice(0, 60)}" a site can read; the types are ${SITE_EVENT_TYPES.join(', ')}.`,
          { param: 'type' },
        );
      }
      let after: EventPosition | undefined;
      if (query.after !== undefined) {
        const cursor = isId('evt', query.after) ? await findEvent(context.db, query.after, siteId) : undefined;
        if (!cursor) {
          const message = '`after` must be the id of one of this site’s events (evt_…), as a page’s nextCursor gives.';
          throw new ApiError('invalid_cursor', message, { param: 'after' });
        }
        after = cursor;
      }
      // One more than asked: whether there is another page.
      const events = await readEvents(context.db, {
        siteId,
        type: query.type as SiteEventType | undefined,
        after,
        limit: query.limit + 1,
      });
      const page = events.slice(0, query.limit);
      c.header('Cache-Control', 'no-store');
      const list: EventList = {
        object: 'list',
        // A site's query never reaches a fan's private events (they have no site).
        data: page.map(presentEvent) as SiteEvent[],
        hasMore: events.length > query.limit,
        nextCursor: page.at(-1)?.id ?? query.after ?? null,
      };
      return c.json(list);
    },
  );

  route(
    {
      method: 'get',
      path: '/events/{id}',
      operationId: 'getEvent',
      summary: 'Get an event',
      tag: 'Events',
      auth: 'secret',
      params: { id: idParam('evt', 'The event id, `evt_…`.') },
      responses: { 200: { description: 'The event.', schema: SiteEvent, example: EXAMPLE_EVENT } },
      errors: ['event_not_found'],
    },
    async (c, { caller: { siteId }, params: { id } }) => {
      const event = await findEvent(context.db, id, siteId);
      if (!event) throw new ApiError('event_not_found', `No event ${id} on this site.`, { param: 'id' });
      c.header('Cache-Control', 'no-store');
      return c.json(presentEvent(event));
    },
  );

  return api;
}
