import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { SiteEvent, WEBHOOK_FAILING_DISABLE_MS, WEBHOOK_SECRET_OVERLAP_MS, type WebhookDelivery } from '@diamonds/protocol';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { ManualClock } from './clock.js';
import {
  createEndpoint,
  deleteEndpoint,
  findEndpoint,
  listDeliveries,
  replayEvents,
  rollEndpointSecret,
  sendTestEvent,
} from './endpoints.js';
import { eventually, startReceiver, type ReceivedWebhook, type WebhookReceiver } from './testing.js';

/** Every retry comes exactly this long after a failure here (no jitter), in the test clock's time. */
const RETRY_MS = 5_000;

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`webhook delivery on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let receiver: WebhookReceiver;
    let clock: ManualClock;
    let fan: TestFan;
    before(async () => {
      clock = new ManualClock();
      receiver = await startReceiver();
      h = await startMoneyHarness(kind, {
        webhooks: {
          production: false,
          clock,
          timeoutMs: 1000,
          pollIntervalMs: 50,
          // Few slots, so that one endpoint could take them all without its own limit.
          concurrency: 4,
          perEndpoint: 2,
          // The published schedule's length (8 attempts), at a fixed short step: the clock drives it.
          retryDelay: (attempt) => (attempt < 8 ? RETRY_MS : undefined),
        },
      });
      fan = await h.fan({ allowance: 1_000_000, balance: 100_000 });
    });
    after(async () => {
      await h?.close();
      await receiver?.close();
    });

    /** An endpoint on the receiver at `path`, deleted when the test ends. */
    async function endpoint(path: string, eventTypes: string[] | null = ['gift.sent']) {
      const made = await createEndpoint(h.t.db, h.site.id, { url: `${receiver.url}${path}`, eventTypes }, { production: false });
      return made;
    }
    async function gift(): Promise<string> {
      const res = await h.call('/gifts', { fan, body: { creatorId: h.creator.id, giftId: 'rose', quantity: 1 } });
      assert.equal(res.status, 201, await res.clone().text());
      const { id } = (await res.json()) as { id: string };
      const [row] = await h.t.db.query<{ id: string }>(`SELECT id FROM events WHERE type = 'gift.sent' AND data LIKE ?`, [`%${id}%`]);
      assert.ok(row);
      return row.id;
    }
    const deliveriesOf = (endpointId: string) => listDeliveries(h.t.db, h.site.id, endpointId, { limit: 100 });
    /**
     * Waits until the endpoint's delivery of `eventId`, its last attempt recorded (no lease held),
     * satisfies `ready`. The lease and the delivery are read one after the other: a claim in
     * between (the next attempt, in flight) shows as one attempt more than the unleased row had,
     * and is waited out. Without that, a test that moved the clock then would move it while the
     * attempt was in flight, and the attempt's retry would be due after the last move (it was,
     * in CI: "timed out waiting for attempt 3").
     */
    const deliveryOf = (endpointId: string, eventId: string, ready: (d: WebhookDelivery) => boolean, what: string) =>
      eventually(async () => {
        const [row] = await h.t.db.query<{ attempts: number | string; lease_owner: string | null }>(
          'SELECT attempts, lease_owner FROM webhook_deliveries WHERE endpoint_id = ? AND event_id = ?',
          [endpointId, eventId],
        );
        if (row === undefined || row.lease_owner !== null) return undefined;
        const delivery = (await deliveriesOf(endpointId)).find((d) => d.eventId === eventId);
        return delivery !== undefined && delivery.attempts === Number(row.attempts) && ready(delivery) ? delivery : undefined;
      }, what);
    const headers = (request: ReceivedWebhook) => ({
      'webhook-id': request.headers['webhook-id']!,
      'webhook-timestamp': request.headers['webhook-timestamp']!,
      'webhook-signature': request.headers['webhook-signature']!,
    });

    it('delivers an event signed per Standard Webhooks, its body the event as GET /v1/events/{id} shows it', async () => {
      const { endpoint: e, secret } = await endpoint('/ok');
      const eventId = await gift();
      await receiver.waitFor(() => receiver.at('/ok').length === 1, 'the delivery');
      const [request] = receiver.at('/ok');
      assert.ok(request);
      assert.equal(request.headers['webhook-id'], eventId);
      assert.equal(request.headers['content-type'], 'application/json');
      // Verified by the standardwebhooks library itself.
      const verified = new Webhook(secret).verify(request.body, headers(request));
      const asApi = await (await h.call(`/events/${eventId}`, { key: 'secret' })).json();
      assert.deepEqual(verified, asApi);
      assert.equal(SiteEvent.parse(verified).type, 'gift.sent');
      assert.throws(() =>
        new Webhook(`whsec_${Buffer.from('another secret 24 bytes!').toString('base64')}`).verify(request.body, headers(request)),
      );
      const delivery = await deliveryOf(e.id, eventId, (d) => d.status === 'succeeded', 'succeeded');
      assert.equal(delivery.attempts, 1);
      assert.equal(delivery.lastStatus, 200);
      assert.equal(delivery.lastResponse, 'ok');
      assert.ok((delivery.lastDurationMs ?? -1) >= 0);
      // A fan's private events (a top-up) and other sites' never come; only the filtered types do.
      assert.equal(receiver.at('/ok').length, 1);
      await deleteEndpoint(h.t.db, h.site.id, e.id);
    });

    it('retries a failure on the schedule (test clock) until a 2xx, keeping status, duration and the first 1 KB', async () => {
      const { endpoint: e } = await endpoint('/flaky');
      receiver.on('/flaky', (_request, count, res) => {
        if (count <= 2) res.writeHead(500).end('x'.repeat(3000));
        else res.writeHead(204).end();
      });
      const eventId = await gift();
      const first = await deliveryOf(
        e.id,
        eventId,
        (d) => d.attempts === 1 && d.status === 'pending' && d.lastStatus === 500,
        'first failure',
      );
      assert.equal(first.lastResponse?.length, 1024, 'the first 1 KB kept');
      assert.equal(first.nextAttemptAt, clock.now() + RETRY_MS);
      // Not before its time: the clock has not moved.
      assert.equal(receiver.at('/flaky').length, 1);
      clock.advance(RETRY_MS);
      await deliveryOf(e.id, eventId, (d) => d.attempts === 2 && d.lastStatus === 500 && d.status === 'pending', 'second failure');
      assert.ok((await findEndpoint(h.t.db, h.site.id, e.id))?.failingSince, 'the endpoint is failing');
      clock.advance(RETRY_MS);
      const done = await deliveryOf(e.id, eventId, (d) => d.status === 'succeeded', 'success on the third attempt');
      assert.equal(done.attempts, 3);
      assert.equal(done.lastStatus, 204);
      assert.equal(receiver.at('/flaky').length, 3);
      assert.ok(
        receiver.at('/flaky').every((r) => r.headers['webhook-id'] === eventId),
        'the same webhook-id on every attempt',
      );
      assert.equal((await findEndpoint(h.t.db, h.site.id, e.id))?.failingSince, null, 'a success ends the failure window');
      await deleteEndpoint(h.t.db, h.site.id, e.id);
    });

    it('an answer slower than the timeout is a failure, retried; after the last attempt the delivery fails', async () => {
      const { endpoint: e } = await endpoint('/slow');
      receiver.on('/slow', (_request, _count, res) => void setTimeout(() => res.writeHead(200).end('late'), 2500));
      const eventId = await gift();
      const timedOut = await deliveryOf(e.id, eventId, (d) => d.attempts === 1 && d.lastError !== null, 'a timeout');
      assert.equal(timedOut.status, 'pending');
      assert.equal(timedOut.lastStatus, null);
      assert.match(timedOut.lastError ?? '', /no answer within 1000 ms/);
      for (let attempt = 2; attempt <= 8; attempt++) {
        clock.advance(RETRY_MS);
        await deliveryOf(
          e.id,
          eventId,
          (d) => d.attempts === attempt && d.lastError !== null && (d.status === 'pending') === attempt < 8,
          `attempt ${attempt}`,
        );
      }
      const failed = await deliveryOf(e.id, eventId, (d) => d.status === 'failed', 'failed after 8 attempts');
      assert.equal(failed.nextAttemptAt, null);
      clock.advance(RETRY_MS * 10);
      // The worker moved on (a later event is delivered) and the failed one was not tried again.
      receiver.on('/slow', (_request, _count, res) => void res.writeHead(200).end());
      const later = await gift();
      await deliveryOf(e.id, later, (d) => d.status === 'succeeded', 'a later event');
      assert.equal((await deliveriesOf(e.id)).find((d) => d.eventId === eventId)?.attempts, 8);
      await deleteEndpoint(h.t.db, h.site.id, e.id);
    });

    it('a 410 Gone disables the endpoint at once, with the reason kept', async () => {
      const { endpoint: e } = await endpoint('/gone');
      receiver.on('/gone', (_request, _count, res) => void res.writeHead(410).end('gone'));
      const eventId = await gift();
      const failed = await deliveryOf(e.id, eventId, (d) => d.status === 'failed', 'failed');
      assert.equal(failed.lastStatus, 410);
      const disabled = await findEndpoint(h.t.db, h.site.id, e.id);
      assert.equal(disabled?.enabled, false);
      assert.equal(disabled?.disabledReason, 'gone');
      // Nothing more is queued for it.
      const next = await gift();
      const { endpoint: witness } = await endpoint('/witness');
      const seen = await gift();
      await receiver.waitFor(() => receiver.at('/witness').some((r) => r.headers['webhook-id'] === seen), 'the witness endpoint');
      assert.equal(
        (await deliveriesOf(e.id)).some((d) => d.eventId === next),
        false,
      );
      assert.equal(receiver.at('/gone').length, 1);
      await deleteEndpoint(h.t.db, h.site.id, e.id);
      await deleteEndpoint(h.t.db, h.site.id, witness.id);
    });

    it('a slow endpoint does not hold back another one', async () => {
      const { endpoint: slow } = await endpoint('/stuck');
      const { endpoint: quick } = await endpoint('/quick');
      // The slow endpoint never answers: each attempt ends at the timeout. Its attempts at once are counted.
      let open = 0;
      let mostOpen = 0;
      receiver.on('/stuck', (_request, _count, res) => {
        open++;
        mostOpen = Math.max(mostOpen, open);
        res.once('close', () => open--);
      });
      const events: string[] = [];
      for (let i = 0; i < 6; i++) events.push(await gift());
      // Every event reaches the quick endpoint, while the slow one may hold only 2 of the 4 slots.
      await receiver.waitFor(
        () => events.every((id) => receiver.at('/quick').some((r) => r.headers['webhook-id'] === id)),
        'the quick endpoint',
      );
      assert.ok(receiver.at('/stuck').length >= 1, 'the slow endpoint was tried');
      assert.ok(mostOpen <= 2, `${mostOpen} attempts at once to one endpoint`);
      await deleteEndpoint(h.t.db, h.site.id, slow.id);
      await deleteEndpoint(h.t.db, h.site.id, quick.id);
    });

    it('does not follow a redirect: a 3xx is a failure and its target gets nothing', async () => {
      const { endpoint: e } = await endpoint('/moved');
      receiver.on('/moved', (_request, _count, res) => void res.writeHead(302, { location: `${receiver.url}/target` }).end());
      const eventId = await gift();
      const failed = await deliveryOf(e.id, eventId, (d) => d.attempts === 1 && d.lastStatus === 302, 'the 302 recorded');
      assert.equal(failed.status, 'pending');
      assert.match(failed.lastError ?? '', /redirect \(302\) to .*\/target not followed/);
      assert.equal(receiver.at('/target').length, 0);
      await deleteEndpoint(h.t.db, h.site.id, e.id);
    });

    it('replays one event and every event since a time; a test event reaches its endpoint only', async () => {
      const since = Date.now();
      const first = await gift();
      const second = await gift();
      const { endpoint: e, secret } = await endpoint('/replay', null);
      const { endpoint: bystander } = await endpoint('/bystander', null);
      await replayEvents(h.t.db, h.site.id, e.id, { eventId: first });
      await receiver.waitFor(() => receiver.at('/replay').length === 1, 'the replay of one event');
      assert.equal(receiver.at('/replay')[0]?.headers['webhook-id'], first);
      await replayEvents(h.t.db, h.site.id, e.id, { since });
      await receiver.waitFor(() => receiver.at('/replay').length === 3, 'the replay since a time');
      const ids = receiver.at('/replay').map((r) => r.headers['webhook-id']);
      assert.deepEqual(ids.slice(1).sort(), [first, second].sort());
      const test = await sendTestEvent(h.t.db, h.site.id, e.id);
      await receiver.waitFor(() => receiver.at('/replay').some((r) => r.headers['webhook-id'] === test.eventId), 'the test event');
      const request = receiver.at('/replay').find((r) => r.headers['webhook-id'] === test.eventId)!;
      const event = SiteEvent.parse(new Webhook(secret).verify(request.body, headers(request)));
      assert.equal(event.type, 'webhook.test');
      // The bystander endpoint (every type) got neither the replays nor the test event: a later gift proves it is served.
      const later = await gift();
      await receiver.waitFor(() => receiver.at('/bystander').some((r) => r.headers['webhook-id'] === later), 'the bystander');
      assert.deepEqual(
        receiver.at('/bystander').map((r) => r.headers['webhook-id']),
        [later],
      );
      await deleteEndpoint(h.t.db, h.site.id, e.id);
      await deleteEndpoint(h.t.db, h.site.id, bystander.id);
    });

    it('during a secret roll both secrets sign for 24 hours, then only the new one', async () => {
      const { endpoint: e, secret: old } = await endpoint('/roll');
      const rolled = await rollEndpointSecret(h.t.db, h.site.id, e.id, clock.now());
      const during = await gift();
      await receiver.waitFor(() => receiver.at('/roll').some((r) => r.headers['webhook-id'] === during), 'a delivery during the roll');
      const overlap = receiver.at('/roll').find((r) => r.headers['webhook-id'] === during)!;
      assert.equal(overlap.headers['webhook-signature']?.split(' ').length, 2);
      assert.ok(new Webhook(old).verify(overlap.body, headers(overlap)), 'the old secret verifies');
      assert.ok(new Webhook(rolled.secret).verify(overlap.body, headers(overlap)), 'the new secret verifies');

      clock.advance(WEBHOOK_SECRET_OVERLAP_MS + 1);
      const afterwards = await gift();
      await receiver.waitFor(() => receiver.at('/roll').some((r) => r.headers['webhook-id'] === afterwards), 'a delivery after 24 h');
      const late = receiver.at('/roll').find((r) => r.headers['webhook-id'] === afterwards)!;
      assert.equal(late.headers['webhook-signature']?.split(' ').length, 1);
      assert.ok(new Webhook(rolled.secret).verify(late.body, headers(late)));
      assert.throws(() => new Webhook(old).verify(late.body, headers(late)), /signature/i);
      await deleteEndpoint(h.t.db, h.site.id, e.id);
    });

    it('an endpoint failing for 5 days is disabled, with the reason kept', async () => {
      const { endpoint: e } = await endpoint('/down');
      receiver.on('/down', (_request, _count, res) => void res.writeHead(503).end('down'));
      const first = await gift();
      await deliveryOf(e.id, first, (d) => d.attempts === 1 && d.lastStatus === 503, 'the first failure');
      const failingSince = (await findEndpoint(h.t.db, h.site.id, e.id))?.failingSince;
      assert.ok(failingSince);
      // Days of failures: still enabled until the window is over.
      clock.advance(WEBHOOK_FAILING_DISABLE_MS - 60_000);
      const second = await gift();
      await deliveryOf(e.id, second, (d) => d.attempts === 1 && d.lastStatus === 503, 'a failure 5 days minus a minute in');
      assert.equal((await findEndpoint(h.t.db, h.site.id, e.id))?.enabled, true);
      clock.advance(120_000);
      // Whichever attempt fails first past the window (a retry of an earlier event, or this one's) disables it.
      await gift();
      const disabled = await eventually(async () => {
        const found = await findEndpoint(h.t.db, h.site.id, e.id);
        return found?.enabled === false ? found : undefined;
      }, 'the endpoint disabled');
      assert.equal(disabled.disabledReason, 'failing');
      assert.equal(disabled.failingSince, failingSince);
      // Its waiting deliveries failed with it, and none is queued for it any more.
      await eventually(
        async () => ((await deliveriesOf(e.id)).every((d) => d.status === 'failed') ? true : undefined),
        'no delivery waiting',
      ).catch(async (error: unknown) => {
        // What was left waiting, should this ever fail again.
        console.error('deliveries of the disabled endpoint:', JSON.stringify(await deliveriesOf(e.id), null, 1));
        throw error;
      });
      // One left waiting all the same (a race not foreseen) is failed by the next claim.
      const [{ kind: deliveryKind } = { kind: '' }] = await h.t.db.query<{ kind: string }>(
        'SELECT kind FROM webhook_deliveries WHERE endpoint_id = ? LIMIT 1',
        [e.id],
      );
      await h.t.db.run(
        `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, kind, nonce, status, attempts, next_attempt_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'stranded', 'pending', 0, ?, ?, ?)`,
        ['wd_stranded', e.id, first, deliveryKind, clock.now(), clock.now(), clock.now()],
      );
      await eventually(
        async () => ((await deliveriesOf(e.id)).every((d) => d.status === 'failed') ? true : undefined),
        'a stranded delivery failed',
      );
      const after = await gift();
      const { endpoint: witness } = await endpoint('/witness-2');
      const seen = await gift();
      await receiver.waitFor(() => receiver.at('/witness-2').some((r) => r.headers['webhook-id'] === seen), 'the witness endpoint');
      assert.equal(
        (await deliveriesOf(e.id)).some((d) => d.eventId === after),
        false,
      );
      await deleteEndpoint(h.t.db, h.site.id, witness.id);
      await deleteEndpoint(h.t.db, h.site.id, e.id);
    });
  });
}
