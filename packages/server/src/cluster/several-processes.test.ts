import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_MONEY_SETTINGS } from '../config.js';
import type { Database } from '../db/types.js';
import { splitFee } from '../ledger/allocate.js';
import { formatVerifyReport, verifyLedger } from '../ledger/verify.js';
import { openSse } from '../live/testing.js';
import { startServer, type RunningServer } from '../server.js';
import { createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { TEST_PAGE_ORIGIN } from '../testing/money.js';
import { balancesOf, call, deadlocksSoFar, feesOf, makeWorld, type World } from './testing.js';

const FAN_BALANCE = 1_000_000;

// Several platform processes on one PostgreSQL database, as machines behind one load balancer
// would be: each its own pool, group commit, LISTEN connection, sweeper and consumers. Here
// they run in this test's process (one startServer each), sharing nothing but the database;
// cluster.crash.test.ts (and events/events.crash.test.ts) use real processes.
// Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
const skip = await skipUnlessPostgres('postgres');
describe('three platform processes on one PostgreSQL database', { skip }, () => {
  let t: TestDatabase;
  const databases: Database[] = [];
  const servers: RunningServer[] = [];
  let world: World;
  let closed = false;
  const closeServers = async () => {
    if (closed) return;
    closed = true;
    await Promise.all(servers.map((server) => server.close()));
    await Promise.all(databases.map((db) => db.close()));
  };

  before(async () => {
    t = await createTestDatabase('postgres');
    const common = { port: 0, host: '127.0.0.1', databaseUrl: t.settings.databaseUrl, dataDir: t.settings.dataDir };
    // Each its own pool, as another process would have (the first uses the test's own).
    servers.push(await startServer({ ...common, db: t.db }));
    for (let i = 1; i < 3; i++) {
      const db = t.reopen();
      databases.push(db);
      servers.push(await startServer({ ...common, db }));
    }
    world = await makeWorld(t.db, { creators: 4, fans: 4, balance: FAN_BALANCE });
  });
  after(async () => {
    await closeServers();
    await t?.drop();
  });

  it('the same fan spends through all three at once (gifts to several creators, order payments): every answer 2xx, no deadlock, exact balances', async () => {
    const urls = servers.map((server) => server.url);
    const [fan, ...others] = world.fans as [World['fans'][number], ...World['fans']];
    // The shop's orders, made by its backend beforehand: each is paid by the fan during the run.
    const product = await call(world, urls[0]!, '/products', { secret: true, body: { name: 'Sticker', priceDiamonds: 7, stock: null } });
    assert.equal(product.status, 201, await product.clone().text());
    const productId = ((await product.json()) as { id: string }).id;
    const orders: string[] = [];
    for (let i = 0; i < 24; i++) {
      const order = await call(world, urls[i % urls.length]!, '/orders', {
        secret: true,
        body: { lines: [{ productId, quantity: 1 + (i % 3) }] },
      });
      assert.equal(order.status, 201, await order.clone().text());
      orders.push(((await order.json()) as { id: string }).id);
    }
    const deadlocksBefore = await deadlocksSoFar(t.db);
    const feesBefore = await feesOf(t.db);

    // Gifts: every other one from the one fan, the rest from three other fans, to creators in
    // turn (the owner too), through the processes in turn; the orders' payments among them.
    // Without the batches taking turns (db/locks.ts) this ran into 3 to 11 deadlocks and took
    // twice as long; the retry hid them from the clients.
    const recipients = [world.ownerId, ...world.creators];
    const sends: Array<{ fanId: string; creatorId: string; request: Promise<Response> }> = [];
    const GIFTS = 360;
    for (let i = 0; i < GIFTS; i++) {
      const sender = i % 2 === 1 ? others[i % others.length]! : fan;
      const creatorId = recipients[(i * 7) % recipients.length]!;
      const quantity = 1 + (i % 3);
      sends.push({
        fanId: sender.id,
        creatorId,
        request: call(world, urls[i % urls.length]!, '/gifts', { fan: sender, body: { creatorId, giftId: 'rose', quantity } }),
      });
    }
    const payments = orders.map((id, i) => call(world, urls[(i + 1) % urls.length]!, `/orders/${id}/pay`, { fan, body: {} }));

    const giftAnswers = await Promise.all(sends.map(async (s) => ({ ...s, response: await s.request })));
    const payAnswers = await Promise.all(payments);
    const failures: string[] = [];
    const spentBy = new Map<string, number>();
    const earnedBy = new Map<string, number>();
    let fees = 0;
    const credit = (creatorId: string, amount: number) => {
      const { net, fee } = splitFee(amount, DEFAULT_MONEY_SETTINGS.platformFeeBps);
      earnedBy.set(creatorId, (earnedBy.get(creatorId) ?? 0) + net);
      fees += fee;
    };
    for (const answer of giftAnswers) {
      const body = (await answer.response.json()) as { status?: string; amountDiamonds?: number };
      if (answer.response.status !== 201 || body.status !== 'succeeded') {
        failures.push(`gift: ${answer.response.status} ${JSON.stringify(body)}`);
        continue;
      }
      spentBy.set(answer.fanId, (spentBy.get(answer.fanId) ?? 0) + body.amountDiamonds!);
      credit(answer.creatorId, body.amountDiamonds!);
    }
    for (const response of payAnswers) {
      const body = (await response.json()) as { status?: string; totalDiamonds?: number };
      if (response.status !== 200 || body.status !== 'paid') {
        failures.push(`order: ${response.status} ${JSON.stringify(body)}`);
        continue;
      }
      spentBy.set(fan.id, (spentBy.get(fan.id) ?? 0) + body.totalDiamonds!);
      credit(world.ownerId, body.totalDiamonds!);
    }
    assert.deepEqual(failures, [], `${failures.length} requests failed`);

    // Exact to the Diamond: each fan paid what was answered, each creator earned its net.
    for (const f of world.fans) {
      assert.deepEqual(await balancesOf(t.db, f.id), { wallet: FAN_BALANCE - (spentBy.get(f.id) ?? 0), held: 0, earnings: 0 });
    }
    for (const creatorId of recipients) {
      assert.equal((await balancesOf(t.db, creatorId)).earnings, earnedBy.get(creatorId) ?? 0, `earnings of ${creatorId}`);
    }
    assert.equal((await feesOf(t.db)) - feesBefore, fees);
    const [gifts] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM gifts');
    assert.equal(Number(gifts?.n), GIFTS);
    const report = await verifyLedger(t.db);
    assert.equal(report.ok, true, formatVerifyReport(report));

    // Every backend reports its deadlocks by the time it exits: close the processes' pools.
    await closeServers();
    assert.equal((await deadlocksSoFar(t.db)) - deadlocksBefore, 0, 'PostgreSQL detected deadlocks between the processes');
  });
});

// `skip` (above): only outside CI, loudly, when PostgreSQL is unreachable; under CI=true that fails instead.
describe('what one process commits, the other sees (PostgreSQL)', { skip }, () => {
  let t: TestDatabase;
  let second: Database;
  let a: RunningServer;
  let b: RunningServer;
  let world: World;

  before(async () => {
    t = await createTestDatabase('postgres');
    second = t.reopen();
    const common = { port: 0, host: '127.0.0.1', databaseUrl: t.settings.databaseUrl, dataDir: t.settings.dataDir };
    a = await startServer({ ...common, db: t.db });
    b = await startServer({ ...common, db: second });
    world = await makeWorld(t.db, { creators: 1, fans: 1, balance: 10_000 });
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await second?.close();
    await t?.drop();
  });

  it('a gift committed through one process reaches a live stream open on the other', async () => {
    const [creatorId] = world.creators as [string];
    const [fan] = world.fans as [World['fans'][number]];
    const stream = await openSse(`${b.url}/v1/live/${creatorId}/stream`, {
      Authorization: `Bearer ${world.site.publishableKey}`,
      Origin: TEST_PAGE_ORIGIN,
    });
    try {
      assert.equal(stream.response.status, 200);
      const sent = await call(world, a.url, '/gifts', { fan, body: { creatorId, giftId: 'rose', quantity: 2, message: 'from A' } });
      assert.equal(sent.status, 201, await sent.clone().text());
      const messages = await stream.until((m) => m.some((message) => message.event === 'gift'));
      const gift = JSON.parse(messages.find((message) => message.event === 'gift')!.data) as { quantity: number };
      assert.equal(gift.quantity, 2);
    } finally {
      stream.close();
    }
  });

  it('one idempotency key sent to both processes at once moves money once, and both answer the same', async () => {
    const [creatorId] = world.creators as [string];
    const [fan] = world.fans as [World['fans'][number]];
    const before = await balancesOf(t.db, fan.id);
    for (let round = 0; round < 5; round++) {
      const idempotencyKey = randomUUID();
      const body = { creatorId, giftId: 'rose', quantity: 1 };
      const answers = await Promise.all(
        [a.url, b.url, a.url, b.url].map((url) => call(world, url, '/gifts', { fan, body, idempotencyKey })),
      );
      const bodies = await Promise.all(
        answers.map(async (response) => ({ status: response.status, body: (await response.json()) as { id?: string } })),
      );
      for (const answer of bodies) {
        assert.equal(answer.status, 201, JSON.stringify(answer.body));
        assert.equal(answer.body.id, bodies[0]!.body.id);
      }
    }
    assert.equal((await balancesOf(t.db, fan.id)).wallet, before.wallet - 5 * 5);
    const report = await verifyLedger(t.db);
    assert.equal(report.ok, true, formatVerifyReport(report));
  });
});

// `skip` (above): only outside CI, loudly, when PostgreSQL is unreachable; under CI=true that fails instead.
describe('a DPoP proof is used once by the whole deployment (PostgreSQL)', { skip }, () => {
  // Both processes behind one public address, as behind a load balancer: proofs name it.
  const PUBLIC_URL = 'http://diamonds.test';
  let t: TestDatabase;
  let second: Database;
  let a: RunningServer;
  let b: RunningServer;
  let world: World;

  before(async () => {
    t = await createTestDatabase('postgres');
    second = t.reopen();
    const common = { port: 0, host: '127.0.0.1', databaseUrl: t.settings.databaseUrl, dataDir: t.settings.dataDir, publicUrl: PUBLIC_URL };
    a = await startServer({ ...common, db: t.db });
    b = await startServer({ ...common, db: second });
    world = await makeWorld(t.db, { creators: 0, fans: 1, balance: 100 });
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await second?.close();
    await t?.drop();
  });

  it('a proof accepted by one process is refused by the other, and by the first again', async () => {
    const [fan] = world.fans as [World['fans'][number]];
    const proof = fan.dpop.proof('GET', `${PUBLIC_URL}/v1/wallet`, fan.token);
    const read = (server: RunningServer) =>
      fetch(`${server.url}/v1/wallet`, {
        headers: {
          Authorization: `Bearer ${world.site.publishableKey}`,
          Origin: TEST_PAGE_ORIGIN,
          'Diamonds-Token': fan.token,
          DPoP: proof,
        },
      });
    const first = await read(a);
    assert.equal(first.status, 200, await first.clone().text());
    for (const server of [b, a]) {
      const again = await read(server);
      const body = (await again.json()) as { error?: { code: string } };
      assert.equal(again.status, 401, JSON.stringify(body));
      assert.equal(body.error?.code, 'invalid_dpop_proof');
    }
  });
});
