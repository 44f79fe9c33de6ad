import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  MAX_WEBHOOK_ENDPOINTS,
  RolledWebhookSecret,
  WebhookDeliveryList,
  WebhookEndpoint,
  WebhookEndpointList,
  WebhookEndpointWithSecret,
  WebhookReplay,
  WebhookTestSent,
  type Gift,
} from '@diamonds/protocol';
import { createSite } from '../identity/sites.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { allEventsReadable } from '../testing/events.js';
import { startMoneyHarness, type MoneyHarness } from '../testing/money.js';
import { createEndpoint, listEndpoints, replayEvents } from './endpoints.js';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`webhook endpoints API on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    /** Another site, with its own secret key. */
    let other: { id: string; secretKey: string };
    before(async () => {
      // The API alone: nothing is delivered in this suite.
      h = await startMoneyHarness(kind, { webhookDelivery: 'off' });
      const created = await createSite(h.t.db, { ownerId: h.creator.id, name: 'Other', origins: ['https://other.example'] });
      other = { id: created.site.id, secretKey: created.secretKey };
    });
    after(async () => {
      await h?.close();
    });

    const secret = { key: 'secret' } as const;
    const create = (body: unknown, key: string = 'secret') => h.call('/webhook-endpoints', { key, body, origin: null });
    const endpointRows = async () => Number((await h.t.db.query<{ n: number }>('SELECT count(*) AS n FROM webhook_endpoints'))[0]?.n);

    it('creates, lists, reads, changes and deletes an endpoint; the secret is shown on create and roll only', async () => {
      const res = await create({ url: 'https://shop.example/hooks', eventTypes: ['order.paid', 'order.refunded', 'order.paid'] });
      assert.equal(res.status, 201, await res.clone().text());
      const made = WebhookEndpointWithSecret.parse(await res.json());
      assert.match(made.secret, /^whsec_[A-Za-z0-9+/]{32}$/);
      assert.deepEqual(made.eventTypes, ['order.paid', 'order.refunded']);
      assert.equal(made.enabled, true);
      assert.equal(made.siteId, h.site.id);

      const listed = WebhookEndpointList.parse(await (await h.call('/webhook-endpoints', secret)).json());
      assert.deepEqual(
        listed.data.map((e) => e.id),
        [made.id],
      );
      assert.equal(JSON.stringify(listed).includes('whsec_'), false, 'no secret in a list');
      const one = await h.call(`/webhook-endpoints/${made.id}`, secret);
      const read = WebhookEndpoint.parse(await one.json());
      assert.equal(JSON.stringify(read).includes('whsec_'), false, 'no secret in a read');

      const patched = await h.call(`/webhook-endpoints/${made.id}`, {
        ...secret,
        method: 'PATCH',
        body: { enabled: false, eventTypes: null },
      });
      assert.equal(patched.status, 200, await patched.clone().text());
      const disabled = WebhookEndpoint.parse(await patched.json());
      assert.equal(disabled.enabled, false);
      assert.equal(disabled.disabledReason, 'manual');
      assert.equal(disabled.eventTypes, null);
      const enabled = WebhookEndpoint.parse(
        await (await h.call(`/webhook-endpoints/${made.id}`, { ...secret, method: 'PATCH', body: { enabled: true } })).json(),
      );
      assert.equal(enabled.enabled, true);
      assert.equal(enabled.disabledReason, null);

      const rolled = RolledWebhookSecret.parse(
        await (await h.call(`/webhook-endpoints/${made.id}/roll-secret`, { ...secret, body: {} })).json(),
      );
      assert.notEqual(rolled.secret, made.secret);
      assert.ok(rolled.previousSecretExpiresAt > Date.now() + 23 * 3_600_000);
      const afterRoll = WebhookEndpoint.parse(await (await h.call(`/webhook-endpoints/${made.id}`, secret)).json());
      assert.equal(afterRoll.previousSecretExpiresAt, rolled.previousSecretExpiresAt);

      const deleted = await h.call(`/webhook-endpoints/${made.id}`, { ...secret, method: 'DELETE' });
      assert.equal(deleted.status, 200);
      await h.refused(await h.call(`/webhook-endpoints/${made.id}`, secret), 404, 'webhook_endpoint_not_found');
    });

    it('refuses bad input with stable codes, and nothing changes', async () => {
      const before = await endpointRows();
      for (const url of [
        'not a url',
        'ftp://shop.example/x',
        'https://user:pw@shop.example/x',
        'https://shop.example/x#frag',
        '',
        42,
        `https://shop.example/${'x'.repeat(2100)}`,
      ]) {
        await h.refused(await create({ url }), 400, 'invalid_url');
      }
      await h.refused(await create({}), 400, 'invalid_url');
      await h.refused(await create({ url: 'https://shop.example/x', eventTypes: ['order.shipped'] }), 400, 'invalid_event_type');
      await h.refused(await create({ url: 'https://shop.example/x', eventTypes: [] }), 400, 'invalid_event_type');
      await h.refused(await create({ url: 'https://shop.example/x', eventTypes: ['topup.succeeded'] }), 400, 'invalid_event_type');
      await h.refused(await create({ url: 'https://shop.example/x', description: 'x'.repeat(201) }), 400, 'invalid_request');
      assert.equal(await endpointRows(), before);

      // Production rules: https only, nothing local (checked again at delivery time, on the resolved address).
      for (const url of [
        'http://shop.example/x',
        'https://localhost/x',
        'https://127.0.0.1/x',
        'https://10.1.2.3/x',
        'https://[::1]/x',
        'https://169.254.169.254/latest',
      ]) {
        await assert.rejects(
          createEndpoint(h.t.db, h.site.id, { url }, { production: true }),
          (error: { code?: string }) => error.code === 'invalid_url',
          url,
        );
      }
      // Development allows http://localhost, so the examples work.
      const dev = await createEndpoint(h.t.db, h.site.id, { url: 'http://localhost:4000/hooks' }, { production: false });
      assert.equal(dev.endpoint.url, 'http://localhost:4000/hooks');
      await h.call(`/webhook-endpoints/${dev.endpoint.id}`, { ...secret, method: 'DELETE' });

      // A 17th endpoint.
      const made: string[] = [];
      for (let i = 0; i < MAX_WEBHOOK_ENDPOINTS; i++) {
        const res = await create({ url: `https://shop.example/hooks/${i}` });
        assert.equal(res.status, 201);
        made.push(((await res.json()) as { id: string }).id);
      }
      const full = await endpointRows();
      await h.refused(await create({ url: 'https://shop.example/hooks/17' }), 400, 'too_many_endpoints');
      assert.equal(await endpointRows(), full);
      // A bad PATCH changes nothing either.
      const first = made[0]!;
      const beforePatch = await (await h.call(`/webhook-endpoints/${first}`, secret)).text();
      await h.refused(
        await h.call(`/webhook-endpoints/${first}`, { ...secret, method: 'PATCH', body: { url: 'nope', enabled: false } }),
        400,
        'invalid_url',
      );
      await h.refused(
        await h.call(`/webhook-endpoints/${first}`, { ...secret, method: 'PATCH', body: { eventTypes: ['nope'], enabled: false } }),
        400,
        'invalid_event_type',
      );
      assert.equal(await (await h.call(`/webhook-endpoints/${first}`, secret)).text(), beforePatch);
      for (const id of made) await h.call(`/webhook-endpoints/${id}`, { ...secret, method: 'DELETE' });
    });

    it('another site’s endpoint or event is not found, and its keys reach nothing here', async () => {
      const mine = WebhookEndpointWithSecret.parse(await (await create({ url: 'https://shop.example/mine' })).json());
      const theirs = WebhookEndpointWithSecret.parse(await (await create({ url: 'https://other.example/theirs' }, other.secretKey)).json());
      for (const [method, path, body] of [
        ['GET', '', undefined],
        ['PATCH', '', { enabled: false }],
        ['DELETE', '', undefined],
        ['POST', '/roll-secret', {}],
        ['GET', '/deliveries', undefined],
        ['POST', '/test', {}],
        ['POST', '/replay', { since: 0 }],
      ] as const) {
        await h.refused(
          await h.call(`/webhook-endpoints/${theirs.id}${path}`, { ...secret, method, body }),
          404,
          'webhook_endpoint_not_found',
        );
      }
      assert.equal((await listEndpoints(h.t.db, other.id))[0]?.enabled, true, 'their endpoint unchanged');

      // Replaying another site's event to my endpoint: 404, nothing queued.
      const sent = WebhookTestSent.parse(
        await (await h.call(`/webhook-endpoints/${theirs.id}/test`, { key: other.secretKey, origin: null, body: {} })).json(),
      );
      await h.refused(
        await h.call(`/webhook-endpoints/${mine.id}/replay`, { ...secret, body: { eventId: sent.eventId } }),
        404,
        'event_not_found',
      );
      await assert.rejects(replayEvents(h.t.db, h.site.id, mine.id, { eventId: sent.eventId }), { code: 'event_not_found' });
      const deliveries = WebhookDeliveryList.parse(await (await h.call(`/webhook-endpoints/${mine.id}/deliveries`, secret)).json());
      assert.deepEqual(deliveries.data, []);
      // A publishable key may not manage endpoints.
      await h.refused(await h.call('/webhook-endpoints', { key: 'publishable' }), 403, 'permission_denied');
      await h.call(`/webhook-endpoints/${mine.id}`, { ...secret, method: 'DELETE' });
      await h.call(`/webhook-endpoints/${theirs.id}`, { key: other.secretKey, origin: null, method: 'DELETE' });
    });

    it('replays one event or every event since a time, and a test event is queued for its endpoint only', async () => {
      const start = Date.now();
      const endpoint = WebhookEndpointWithSecret.parse(
        await (await create({ url: 'https://shop.example/replay', eventTypes: ['gift.sent'] })).json(),
      );
      const fan = await h.fan({ allowance: 1000, balance: 100 });
      const gifts: Gift[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await h.call('/gifts', { fan, body: { creatorId: h.creator.id, giftId: 'rose', quantity: 1 } });
        assert.equal(res.status, 201);
        gifts.push((await res.json()) as Gift);
      }
      await allEventsReadable(h.t.db);
      const events = await h.t.db.query<{ id: string }>(
        `SELECT id FROM events WHERE site_id = ? AND type = 'gift.sent' AND created_at >= ? ORDER BY seq`,
        [h.site.id, start],
      );
      assert.equal(events.length, 3);
      const one = WebhookReplay.parse(
        await (await h.call(`/webhook-endpoints/${endpoint.id}/replay`, { ...secret, body: { eventId: events[1]!.id } })).json(),
      );
      assert.equal(one.queued, 1);
      const since = WebhookReplay.parse(
        await (await h.call(`/webhook-endpoints/${endpoint.id}/replay`, { ...secret, body: { since: start } })).json(),
      );
      assert.equal(since.queued, 3);
      assert.equal(since.lastEventId, events[2]!.id);
      await h.refused(await h.call(`/webhook-endpoints/${endpoint.id}/replay`, { ...secret, body: { since: -1 } }), 400, 'invalid_request');
      await h.refused(await h.call(`/webhook-endpoints/${endpoint.id}/replay`, { ...secret, body: {} }), 400, 'invalid_request');

      const test = WebhookTestSent.parse(await (await h.call(`/webhook-endpoints/${endpoint.id}/test`, { ...secret, body: {} })).json());
      const event = await h.call(`/events/${test.eventId}`, secret);
      assert.equal(event.status, 200);
      assert.equal(((await event.json()) as { type: string }).type, 'webhook.test');

      const deliveries = WebhookDeliveryList.parse(
        await (await h.call(`/webhook-endpoints/${endpoint.id}/deliveries?limit=10`, secret)).json(),
      );
      assert.equal(deliveries.data.filter((d) => d.kind === 'replay').length, 4);
      assert.ok(deliveries.data.every((d) => d.status === 'pending' && d.eventType === 'gift.sent'));

      // Pages of 3 by cursor: every delivery once, in the same order as one big page.
      const all = WebhookDeliveryList.parse(await (await h.call(`/webhook-endpoints/${endpoint.id}/deliveries?limit=100`, secret)).json());
      assert.ok(all.data.length > 3 && !all.hasMore && all.nextCursor === null);
      const paged: string[] = [];
      let cursor: string | null = null;
      do {
        const page = WebhookDeliveryList.parse(
          await (await h.call(`/webhook-endpoints/${endpoint.id}/deliveries?limit=3${cursor ? `&cursor=${cursor}` : ''}`, secret)).json(),
        );
        assert.ok(page.data.length <= 3);
        paged.push(...page.data.map((d) => d.id));
        cursor = page.nextCursor;
        assert.equal(page.hasMore, cursor !== null);
      } while (cursor !== null && paged.length <= all.data.length);
      assert.deepEqual(
        paged,
        all.data.map((d) => d.id),
      );
      await h.refused(await h.call(`/webhook-endpoints/${endpoint.id}/deliveries?cursor=bm9wZQ`, secret), 400, 'invalid_cursor');

      // A disabled endpoint is sent nothing, so a test event to it is refused rather than left waiting.
      const disable = await h.call(`/webhook-endpoints/${endpoint.id}`, { ...secret, method: 'PATCH', body: { enabled: false } });
      assert.equal(disable.status, 200);
      const before = await h.t.db.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE type = 'webhook.test'`);
      await h.refused(await h.call(`/webhook-endpoints/${endpoint.id}/test`, { ...secret, body: {} }), 409, 'webhook_endpoint_disabled');
      assert.deepEqual(await h.t.db.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE type = 'webhook.test'`), before);
      await h.call(`/webhook-endpoints/${endpoint.id}`, { ...secret, method: 'DELETE' });
    });
  });
}
