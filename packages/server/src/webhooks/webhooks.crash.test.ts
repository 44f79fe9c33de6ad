import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { allEventsReadable } from '../testing/events.js';
import { startMoneyHarness, TEST_PAGE_ORIGIN, type MoneyHarness, type TestFan } from '../testing/money.js';
import { createEndpoint } from './endpoints.js';
import { startReceiver, type WebhookReceiver } from './testing.js';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const KILLS = 3;

/** Starts a delivering platform process on the harness's database; resolves with it and its URL. */
function startPlatform(h: MoneyHarness): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(CHILD, [], { env: { ...process.env, ...h.t.env }, execArgv: process.execArgv, stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('message', (message: { url: string }) => resolve({ child, url: message.url }));
    child.once('exit', (code) => reject(new Error(`the platform process exited (${code}) before it listened`)));
  });
}

/** Sends a gift through the platform at `url`; never throws (the process may die). */
async function gift(h: MoneyHarness, url: string, fan: TestFan): Promise<void> {
  const target = `${url}/v1/gifts`;
  try {
    await fetch(target, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'Idempotency-Key': randomUUID(),
        Authorization: `Bearer ${h.site.publishableKey}`,
        Origin: TEST_PAGE_ORIGIN,
        'Diamonds-Token': fan.token,
        DPoP: fan.dpop!.proof('POST', target, fan.token),
      },
      body: JSON.stringify({ creatorId: h.creator.id, giftId: 'rose', quantity: 1 }),
    });
  } catch {
    // Killed meanwhile: the gift committed or not; the events table says which.
  }
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  // One process at a time on SQLite; two at once on PostgreSQL, killed in turn.
  const processes = kind === 'postgres' ? 2 : 1;
  // `skip` (above): only outside CI, loudly, when PostgreSQL is unreachable; under CI=true that fails instead.
  describe(`webhook delivery when platform processes are SIGKILLed on ${kind} (${processes} at once)`, { skip }, () => {
    let h: MoneyHarness | undefined;
    let receiver: WebhookReceiver | undefined;
    const children: ChildProcess[] = [];
    after(async () => {
      for (const child of children) child.kill('SIGKILL');
      await h?.close();
      await receiver?.close();
    });

    it('every event is delivered at least once, and no attempt is made twice or by two processes at once', async () => {
      // The harness's own server delivers nothing: the child processes do.
      const harness = await startMoneyHarness(kind, { webhookDelivery: 'off' });
      h = harness;
      const rx = await startReceiver();
      receiver = rx;
      /** Requests in flight at the receiver, by delivery: two at once would be a double claim. */
      const inFlight = new Set<string>();
      let overlaps = 0;
      const attempts = new Map<string, number>();
      rx.on('/hooks', (request, _count, res) => {
        const delivery = request.headers['diamonds-delivery-id'] ?? '';
        const key = `${delivery}#${request.headers['diamonds-delivery-attempt'] ?? ''}`;
        attempts.set(key, (attempts.get(key) ?? 0) + 1);
        if (inFlight.has(delivery)) overlaps++;
        inFlight.add(delivery);
        const done = () => inFlight.delete(delivery);
        res.once('close', done);
        // Slow enough that a kill finds deliveries on the wire.
        setTimeout(() => res.writeHead(200).end('ok'), 20 + Math.floor(Math.random() * 120));
      });
      await createEndpoint(harness.t.db, harness.site.id, { url: `${rx.url}/hooks`, eventTypes: ['gift.sent'] }, { production: false });
      const fans = await Promise.all(Array.from({ length: 4 }, () => harness.fan({ allowance: 1_000_000, balance: 100_000 })));

      const running: Array<{ child: ChildProcess; url: string }> = [];
      for (let i = 0; i < processes; i++) {
        const started = await startPlatform(harness);
        children.push(started.child);
        running.push(started);
      }
      for (let round = 0; round < KILLS; round++) {
        // Gifts through every live process, until deliveries are on the wire.
        const before = rx.received.length;
        let stop = false;
        const urls = running.map((platform) => platform.url);
        const giving = fans.map(async (fan, f) => {
          while (!stop) await gift(harness, urls[f % urls.length]!, fan);
        });
        const deadline = Date.now() + 15_000;
        while ((rx.received.length - before < 25 || inFlight.size === 0) && Date.now() < deadline) await sleep(5);
        // Kill one process while it has deliveries on the wire, and start another in its place.
        const victim = running.splice(round % running.length, 1)[0]!;
        victim.child.kill('SIGKILL');
        await new Promise((resolve) => victim.child.once('exit', resolve));
        stop = true;
        await Promise.all(giving);
        const started = await startPlatform(harness);
        children.push(started.child);
        running.push(started);
      }

      // Every gift.sent event of the site reaches the receiver, and every delivery succeeds.
      await allEventsReadable(harness.t.db);
      const events = (
        await harness.t.db.query<{ id: string }>(`SELECT id FROM events WHERE site_id = ? AND type = 'gift.sent'`, [harness.site.id])
      ).map((row) => row.id);
      assert.ok(events.length >= 50, `only ${events.length} events`);
      const received = () => new Set(rx.at('/hooks').map((r) => r.headers['webhook-id']));
      await rx.waitFor(() => events.every((id) => received().has(id)), 'every event delivered', 60_000);
      const pending = async () =>
        Number((await harness.t.db.query<{ n: number }>(`SELECT count(*) AS n FROM webhook_deliveries WHERE status <> 'succeeded'`))[0]?.n);
      for (let tries = 0; (await pending()) > 0 && tries < 600; tries++) await sleep(100);
      assert.equal(await pending(), 0, 'every delivery succeeded');
      const [deliveries] = await harness.t.db.query<{ n: number }>('SELECT count(*) AS n FROM webhook_deliveries');
      assert.equal(Number(deliveries?.n), events.length, 'one delivery per event: the fan-out made no duplicate');

      // Per delivery and attempt: one request, never two at once (a killed process's request
      // ended with it before its lease lapsed and another process tried again).
      assert.deepEqual(
        [...attempts].filter(([, n]) => n > 1),
        [],
        'an attempt made twice',
      );
      assert.equal(overlaps, 0, 'two requests of one delivery at once');
      // Some deliveries were caught by a kill and tried again: the test did test something.
      const retried = await harness.t.db.query<{ id: string }>('SELECT id FROM webhook_deliveries WHERE attempts > 1');
      assert.ok(retried.length > 0, 'no delivery was interrupted by a kill');
      for (const { child } of running) child.kill('SIGTERM');
    });
  });
}
