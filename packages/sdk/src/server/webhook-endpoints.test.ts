// diamonds.webhookEndpoints and verifyWebhook against the real platform on each database: an
// endpoint registered with the secret key, real deliveries of a paid and a refunded order to a
// receiver on loopback, verified by the SDK (and by the standardwebhooks library), a secret roll
// where both secrets verify, a replay with the same event id, and the API's refusals.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { DATABASE_KINDS, skipUnlessPostgres, startMoneyHarness, type MoneyHarness, type TestFan } from '@diamonds/server/testing';
import { createDiamondsServer, DiamondsApiError, verifyWebhook, type DiamondsServer } from './index.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`@diamonds/sdk/server webhook endpoints and real deliveries on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let fan: TestFan;
    let diamonds: DiamondsServer;
    let receiver: Server;
    let hookUrl = '';
    const received: Received[] = [];

    /** Waits until the receiver holds `count` deliveries (they come within a second or so). */
    async function deliveries(count: number): Promise<Received[]> {
      const deadline = Date.now() + 20_000;
      while (received.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(received.length >= count, `${count} deliveries, got ${received.length}`);
      return received.slice(0, count);
    }

    before(async () => {
      h = await startMoneyHarness(kind);
      fan = await h.fan({ allowance: 10_000, balance: 10_000 });
      diamonds = createDiamondsServer({ secretKey: h.site.secretKey, siteId: h.site.id, apiBase: h.server.url });
      receiver = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          received.push({ headers: request.headers, body: Buffer.concat(chunks) });
          response.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    });
    after(async () => {
      receiver?.close();
      await h?.verifyClean();
      await h?.close();
    });

    it('registers an endpoint, and the paid and refunded order arrive signed, verified by the SDK and the library', async () => {
      const endpoint = await diamonds.webhookEndpoints.create({ url: hookUrl, eventTypes: ['order.paid', 'order.refunded'] });
      assert.match(endpoint.secret, /^whsec_/);
      assert.deepEqual(endpoint.eventTypes, ['order.paid', 'order.refunded']);
      const listed = await diamonds.webhookEndpoints.list();
      assert.deepEqual(
        listed.data.map((one) => one.id),
        [endpoint.id],
      );
      assert.ok(!('secret' in listed.data[0]!), 'the secret is never listed');

      const order = await diamonds.orders.create({ amountDiamonds: 300, description: 'A portrait', reference: 'cart-13' });
      assert.equal((await h.call(`/orders/${order.id}/pay`, { fan, body: {} })).status, 200);
      await diamonds.orders.refund(order.id);
      const [paid, refunded] = await deliveries(2);
      const events = [];
      for (const delivery of [paid!, refunded!]) {
        const event = await verifyWebhook(delivery.body, delivery.headers, endpoint.secret);
        assert.equal(delivery.headers['webhook-id'], event.id, 'webhook-id is the event id');
        assert.deepEqual(
          new Webhook(endpoint.secret).verify(delivery.body, delivery.headers as Record<string, string>),
          JSON.parse(delivery.body.toString()),
        );
        assert.deepEqual(event, await diamonds.events.get(event.id), 'the same event as GET /v1/events/{id}');
        events.push(event);
      }
      assert.deepEqual(
        events.map((event) => event.type),
        ['order.paid', 'order.refunded'],
      );
      assert.ok(events[1]?.type === 'order.refunded' && events[1].data.orderId === order.id);
      assert.equal((await diamonds.orders.get(order.id)).status, 'refunded');

      const log = await diamonds.webhookEndpoints.deliveries(endpoint.id);
      assert.deepEqual(
        log.data.map((delivery) => [delivery.eventType, delivery.status, delivery.lastStatus]),
        [
          ['order.refunded', 'succeeded', 204],
          ['order.paid', 'succeeded', 204],
        ],
      );

      // A replay comes with the same event id, so a receiver drops it as a duplicate.
      await diamonds.webhookEndpoints.replay(endpoint.id, { eventId: events[0]!.id });
      const [, , again] = await deliveries(3);
      assert.equal(again!.headers['webhook-id'], events[0]!.id);
      assert.equal((await verifyWebhook(again!.body, again!.headers, endpoint.secret)).id, events[0]!.id);
    });

    it('signs with both secrets for a day after a roll: the test event verifies with either', async () => {
      const [endpoint] = (await diamonds.webhookEndpoints.list()).data;
      assert.ok(endpoint);
      const first = received.length;
      // The secret shown at creation is gone; the one before the roll is what the receiver holds.
      const rolledOnce = await diamonds.webhookEndpoints.rollSecret(endpoint.id);
      const rolledTwice = await diamonds.webhookEndpoints.rollSecret(endpoint.id);
      assert.ok(rolledTwice.previousSecretExpiresAt > Date.now() + 23 * 3_600_000);
      const sent = await diamonds.webhookEndpoints.sendTest(endpoint.id);
      const delivery = (await deliveries(first + 1))[first]!;
      assert.equal(String(delivery.headers['webhook-signature']).split(' ').length, 2, 'two signatures during the roll');
      for (const secret of [rolledOnce.secret, rolledTwice.secret]) {
        const event = await verifyWebhook(delivery.body, delivery.headers, secret);
        assert.equal(event.id, sent.eventId);
        assert.equal(event.type, 'webhook.test');
      }
      await assert.rejects(verifyWebhook(delivery.body, delivery.headers, `whsec_${Buffer.alloc(24, 7).toString('base64')}`), {
        name: 'WebhookSignatureError',
      });
    });

    it('refuses a bad URL and an unknown event type with their codes, and deletes', async () => {
      const refused = async (params: Parameters<DiamondsServer['webhookEndpoints']['create']>[0], code: string) => {
        await assert.rejects(diamonds.webhookEndpoints.create(params), (error: unknown) => {
          assert.ok(error instanceof DiamondsApiError, String(error));
          assert.equal(error.code, code);
          assert.equal(error.status, 400);
          return true;
        });
      };
      await refused({ url: 'ftp://hooks.example/x' }, 'invalid_url');
      await refused({ url: 'https://user:pw@hooks.example/x' }, 'invalid_url');
      await refused({ url: hookUrl, eventTypes: ['order.teleported'] }, 'invalid_event_type');
      const [endpoint] = (await diamonds.webhookEndpoints.list()).data;
      assert.ok(endpoint);
      await diamonds.webhookEndpoints.delete(endpoint.id);
      assert.deepEqual((await diamonds.webhookEndpoints.list()).data, []);
      await assert.rejects(diamonds.webhookEndpoints.get(endpoint.id), { code: 'webhook_endpoint_not_found' });
    });
  });
}
