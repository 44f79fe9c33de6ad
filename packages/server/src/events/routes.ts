import { Hono } from 'hono';
import { EventList, EventListQuery, SITE_EVENT_TYPES, SiteEvent, isId, type SiteEventType } from '@diamonds/protocol';
import type { AppContext, AppEnv } from '../context.js';
import { documentRoute } from '../api/openapi.js';
import { secretSiteOf } from '../api/money-route.js';
import { ApiError } from '../errors.js';
import { validate } from '../http/body.js';
import { pathId } from '../http/ids.js';
import { findEvent, presentEvent, readEvents, type EventPosition } from './outbox.js';

documentRoute({
  method: 'get',
  path: '/v1/events',
  summary: 'List the site’s events',
  description:
    'With the secret key, from the site’s backend: what the platform committed on this site (gifts sent, content unlocked, orders paid, refunded or canceled, confirmations), **oldest first**, after the event named by `after`. ' +
    'Keep the id of the last event you handled and pass it as `after` next time: every event comes exactly once, in order. ' +
    'A fan’s top-ups are private and never listed. See docs/events.md.',
  tag: 'Events',
  auth: 'secret',
  query: EventListQuery,
  responses: { 200: { description: 'A page of events, oldest first; `nextCursor` goes in `after`.', schema: EventList } },
  errors: ['invalid_request', 'invalid_cursor', 'invalid_event_type', 'permission_denied', 'secret_key_in_browser'],
});
documentRoute({
  method: 'get',
  path: '/v1/events/{id}',
  summary: 'Get an event',
  tag: 'Events',
  auth: 'secret',
  params: { id: 'The event id, evt_…' },
  responses: { 200: { description: 'The event.', schema: SiteEvent } },
  errors: ['invalid_id', 'event_not_found', 'permission_denied', 'secret_key_in_browser'],
});

const SITE_TYPES: ReadonlySet<string> = new Set(SITE_EVENT_TYPES);

/**
 * `GET /v1/events` and `GET /v1/events/{id}`: a site's backend reads what committed on its
 * site (secret key only). A fan's private events have no site, so no query can reach them.
 */
export function eventsApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();

  api.get('/events', async (c) => {
    const siteId = secretSiteOf(c);
    const query = validate(EventListQuery, c.req.query());
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
        throw new ApiError('invalid_cursor', '`after` must be the id of one of this site’s events (evt_…), as a page’s nextCursor gives.', {
          param: 'after',
        });
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
  });

  api.get('/events/:id', async (c) => {
    const siteId = secretSiteOf(c);
    const id = pathId(c, 'evt');
    const event = await findEvent(context.db, id, siteId);
    if (!event) throw new ApiError('event_not_found', `No event ${id} on this site.`, { param: 'id' });
    c.header('Cache-Control', 'no-store');
    return c.json(presentEvent(event));
  });

  return api;
}
