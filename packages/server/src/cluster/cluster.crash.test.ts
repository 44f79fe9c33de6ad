import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createUser } from '../identity/users.js';
import { formatVerifyReport, verifyLedger } from '../ledger/verify.js';
import { createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { TEST_SCRYPT_COST } from '../testing/money.js';
import { createEndpoint } from '../webhooks/endpoints.js';
import { eventually, startReceiver, type WebhookReceiver } from '../webhooks/testing.js';
import { balancesOf, call, makeWorld, startWorkerProcesses, type WorkerProcesses, type World } from './testing.js';

const FAN_BALANCE = 1_000_000;
/** Bounds of the load: whichever comes first. */
const LOAD_MS = 16_000;
const MAX_GIFTS = 500;
/** Workers killed during the load, one every {@link KILL_EVERY_MS}. */
const KILLS = 5;
const KILL_EVERY_MS = 2_500;
/** The SDK's timeout per attempt: a request unanswered by then is sent again with its key. */
const REQUEST_TIMEOUT_MS = 5_000;

/** Asks the supervisor for the pids of its workers that listen, oldest first. */
function workerPids(child: ChildProcess): Promise<number[]> {
  return new Promise((resolve) => {
    const onMessage = (message: { listening?: number[] }) => {
      if (!message.listening) return;
      child.off('message', onMessage);
      resolve(message.listening);
    };
    child.on('message', onMessage);
    child.send('pids');
  });
}

// Two worker processes (DIAMONDS_WORKERS=2, node:cluster) on one PostgreSQL database under
// gift load; every few seconds the older one is SIGKILLed (the other survives) and the
// supervisor starts another.
// Clients do what the SDK does: a request that failed (connection reset, 5xx) is sent again
// with the same Idempotency-Key. Afterwards: every acknowledged gift is in the ledger exactly
// once, retries of acknowledged keys answer the same, the ledger verifies, the webhooks of every
// gift went out (a killed worker's leases lapse and the survivor delivers), and a confirmation
// that expired after the kills is swept by whichever worker holds the sweeper's turn.
// Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
const skip = await skipUnlessPostgres('postgres');
describe('SIGKILL of worker processes on PostgreSQL under load', { skip }, () => {
  let t: TestDatabase;
  let world: World;
  let receiver: WebhookReceiver;
  let workers: WorkerProcesses | undefined;
  let child: ChildProcess | undefined;
  let baseUrl: string;

  before(async () => {
    t = await createTestDatabase('postgres');
    world = await makeWorld(t.db, { creators: 3, fans: 4, balance: FAN_BALANCE });
    receiver = await startReceiver();
    await createEndpoint(t.db, world.site.id, { url: `${receiver.url}/hook`, eventTypes: ['gift.sent'] }, { production: false });
    workers = await startWorkerProcesses(t);
    child = workers.child;
    baseUrl = workers.baseUrl;
  });
  after(async () => {
    await workers?.stop();
    await receiver?.close();
    await t?.drop();
  });

  it('loses and doubles nothing acknowledged; the survivors sweep and deliver', { timeout: 90_000 }, async () => {
    const recipients = [world.ownerId, ...world.creators];
    /** Every acknowledged gift by its idempotency key: what the first 2xx said. */
    const acknowledged = new Map<string, { fanId: string; giftId: string; amount: number; body: unknown }>();
    const unexpected: string[] = [];
    let retried = 0;
    const retriedFor = new Map<string, number>();
    let sent = 0;
    const startedAt = performance.now();
    const deadline = startedAt + LOAD_MS;
    // Where the time went, should a slow machine bring this test near its timeout.
    const log = (what: string) => console.log(`# ${((performance.now() - startedAt) / 1000).toFixed(1)} s: ${what}`);
    let stop = false;

    type Answer = { id?: string; amountDiamonds?: number; status?: string; error?: { code?: string } };
    /**
     * Sends a gift until it is answered, as the SDK does: the same key, a fresh DPoP proof each
     * time, again after a lost connection, a timeout (a connection the supervisor handed to a
     * worker as it was killed is never answered), a server error, or the key still held by an
     * attempt in flight (one whose process was killed holds it until PostgreSQL sees it gone).
     */
    const sendUntilAnswered = async (fan: World['fans'][number], body: object, key: string) => {
      for (let attempt = 1; attempt <= 60; attempt++) {
        let response: Response;
        try {
          response = await call(world, baseUrl, '/gifts', { fan, body, idempotencyKey: key, timeoutMs: REQUEST_TIMEOUT_MS });
        } catch (error) {
          const reason = (error as Error).name === 'TimeoutError' ? 'timeout' : 'connection';
          retriedFor.set(reason, (retriedFor.get(reason) ?? 0) + 1);
          retried++;
          await sleep(50);
          continue;
        }
        const answer = (await response.json().catch(() => ({}))) as Answer;
        if (response.status >= 500 || answer.error?.code === 'idempotency_request_in_progress') {
          const reason = `${response.status} ${answer.error?.code ?? ''}`;
          retriedFor.set(reason, (retriedFor.get(reason) ?? 0) + 1);
          retried++;
          await sleep(50);
          continue;
        }
        return { status: response.status, answer };
      }
      return undefined;
    };

    const giftUntilAnswered = async (i: number) => {
      const fan = world.fans[i % world.fans.length]!;
      const creatorId = recipients[i % recipients.length]!;
      const key = randomUUID();
      const outcome = await sendUntilAnswered(fan, { creatorId, giftId: 'rose', quantity: 1 + (i % 4) }, key);
      if (!outcome) unexpected.push(`gift ${key} never answered`);
      else if (outcome.status === 201 && outcome.answer.status === 'succeeded') {
        const { answer } = outcome;
        acknowledged.set(key, { fanId: fan.id, giftId: answer.id!, amount: answer.amountDiamonds!, body: answer });
      } else unexpected.push(`${outcome.status} ${JSON.stringify(outcome.answer)}`);
    };

    const clients = Array.from({ length: 6 }, async () => {
      while (!stop && performance.now() < deadline && sent < MAX_GIFTS) await giftUntilAnswered(sent++);
    });
    const killer = (async () => {
      const killed: number[] = [];
      for (let k = 0; k < KILLS && !stop; k++) {
        await sleep(KILL_EVERY_MS);
        // Always one survivor: wait until the last one killed has been replaced and listens,
        // then kill the older of the two (the one that has been serving, sweeping, delivering).
        let pids = await workerPids(child!);
        const replacedBy = performance.now() + 30_000;
        while (pids.length < 2) {
          if (performance.now() > replacedBy) throw new Error('the killed worker was not replaced within 30 s');
          await sleep(100);
          pids = await workerPids(child!);
        }
        const victim = pids[0]!;
        process.kill(victim, 'SIGKILL');
        killed.push(victim);
      }
      return killed;
    })();
    const killed = await killer;
    await Promise.all(clients);
    stop = true;

    assert.deepEqual(unexpected, []);
    assert.equal(killed.length, KILLS);
    assert.ok(acknowledged.size > 50, `only ${acknowledged.size} gifts went through`);
    log(
      `${acknowledged.size} gifts acknowledged, ${KILLS} workers killed, ${retried} retries: ${JSON.stringify(Object.fromEntries(retriedFor))}`,
    );

    // Retries after the kills: the same answer, and no Diamond moves again.
    const wallets = await Promise.all(world.fans.map((fan) => balancesOf(t.db, fan.id)));
    const sample = [...acknowledged.entries()].filter((_, i) => i % 10 === 0);
    for (const [key, first] of sample) {
      const fan = world.fans.find((f) => f.id === first.fanId)!;
      const original = first.body as { creatorId: string; quantity: number };
      const again = await sendUntilAnswered(fan, { creatorId: original.creatorId, giftId: 'rose', quantity: original.quantity }, key);
      assert.equal(again?.status, 201);
      assert.deepEqual(again.answer, first.body);
    }
    assert.deepEqual(await Promise.all(world.fans.map((fan) => balancesOf(t.db, fan.id))), wallets);
    log(
      `${sample.length} acknowledged keys sent again: the same answers (retries so far: ${JSON.stringify(Object.fromEntries(retriedFor))})`,
    );

    // Exactly once: one gift row and one transfer per acknowledged key, and nothing else.
    const giftIds = [...acknowledged.values()].map((gift) => gift.giftId);
    const [gifts] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM gifts');
    assert.equal(Number(gifts?.n), acknowledged.size);
    const [known] = await t.db.query<{ n: number }>(
      `SELECT count(DISTINCT id) AS n FROM gifts WHERE id IN (${giftIds.map(() => '?').join(', ')})`,
      giftIds,
    );
    assert.equal(Number(known?.n), acknowledged.size);
    const [transfers] = await t.db.query<{ n: number }>(`SELECT count(*) AS n FROM transfers WHERE code = 'gift'`);
    assert.equal(Number(transfers?.n), acknowledged.size);
    for (const fan of world.fans) {
      const spent = [...acknowledged.values()].filter((gift) => gift.fanId === fan.id).reduce((sum, gift) => sum + gift.amount, 0);
      assert.equal((await balancesOf(t.db, fan.id)).wallet, FAN_BALANCE - spent);
    }
    const report = await verifyLedger(t.db);
    assert.equal(report.ok, true, formatVerifyReport(report));

    // The outbox consumers carry on in the survivors: every gift's webhook goes out. (Each
    // delivery is read once: the receiver shares this process's event loop with the check.)
    const delivered = new Set<string>();
    let read = 0;
    await receiver.waitFor(
      () => {
        const received = receiver.received;
        for (; read < received.length; read++) {
          const request = received[read]!;
          if (request.path !== '/hook') continue;
          const giftId = (JSON.parse(request.body) as { data?: { giftId?: string } }).data?.giftId;
          if (giftId) delivered.add(giftId);
        }
        return giftIds.every((id) => delivered.has(id));
      },
      'a webhook for every acknowledged gift',
      30_000,
    );
    log('every gift’s webhook delivered');

    // And the sweeper: a confirmation whose time runs out after the kills is expired by one of them.
    const stranger = await createUser(
      t.db,
      { email: `unlisted-${randomUUID()}@example.com`, password: 'a long password', displayName: 'Unlisted', roles: ['creator'] },
      { cost: TEST_SCRYPT_COST },
    );
    const fan = world.fans[0]!;
    const held = await call(world, baseUrl, '/gifts', {
      fan,
      body: { creatorId: stranger.id, giftId: 'rose', quantity: 2 },
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
    assert.equal(held.status, 202, await held.clone().text());
    const { confirmation } = (await held.json()) as { confirmation: { id: string } };
    assert.equal((await balancesOf(t.db, fan.id)).held, 10);
    // Its ten minutes pass (the test moves its deadline rather than wait them out).
    await t.db.run('UPDATE confirmations SET expires_at = ? WHERE id = ?', [Date.now() - 1, confirmation.id]);
    await eventually(
      async () => {
        const [row] = await t.db.query<{ status: string }>('SELECT status FROM confirmations WHERE id = ?', [confirmation.id]);
        return row?.status === 'expired' ? true : undefined;
      },
      'the sweeper to expire the confirmation',
      20_000,
    );
    assert.equal((await balancesOf(t.db, fan.id)).held, 0);
    log('the expired confirmation swept');
    const final = await verifyLedger(t.db);
    assert.equal(final.ok, true, formatVerifyReport(final));
  });
});
