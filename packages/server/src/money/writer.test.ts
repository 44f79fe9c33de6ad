import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { sendGiftOperation } from '../gifts/gifts.js';
import type { GroupCommit } from '../ledger/group-commit.js';
import { ThreadMoneyWriter, slowestOf } from './writer.js';

/** The price of the gift these tests send. */
const ROSE = 5;

// The writer thread exists on SQLite only; PostgreSQL runs spends inline (covered by every money suite).
describe('money on the SQLite writer thread', () => {
  let h: MoneyHarness;
  before(async () => {
    h = await startMoneyHarness('sqlite');
  });
  after(async () => {
    await h?.close();
  });

  const gift = (fan: TestFan, idempotencyKey: string = randomUUID()) =>
    h.call('/gifts', { method: 'POST', fan, idempotencyKey, body: { creatorId: h.creator.id, giftId: 'rose', quantity: 1 } });

  it('reports its slowest commit, and counts it again only when asked (the metrics never ask)', () => {
    const commits = { slowestBatchMs: 3.14159 } as GroupCommit;
    assert.equal(slowestOf(commits), 3.1);
    assert.equal(commits.slowestBatchMs, 3.14159);
    assert.equal(slowestOf(commits, { restartSlowest: true }), 3.1);
    assert.equal(commits.slowestBatchMs, 0);
  });

  it('is what the server writes spends with, on a file', () => {
    assert.equal(h.server.writer.mode, 'thread');
    assert.ok(h.server.writer instanceof ThreadMoneyWriter);
  });

  it('groups concurrent gifts into few commits while the main thread writes top-ups beside it', async () => {
    const fans = await Promise.all(Array.from({ length: 30 }, (_, i) => h.fan({ allowance: 1_000, balance: 100, name: `Fan ${i}` })));
    const before = await h.server.writer.stats();
    const creatorBefore = (await h.balances(h.creator.id)).earnings;
    const [gifts] = await Promise.all([
      Promise.all(fans.map((fan) => gift(fan))),
      // Top-ups go through the main thread's own connection: two writers on one file.
      Promise.all(fans.slice(0, 10).map((fan) => h.credit(fan.id, 50))),
    ]);
    assert.deepEqual(
      gifts.map((response) => response.status),
      fans.map(() => 201),
    );
    const after = await h.server.writer.stats();
    assert.ok(after.batches - before.batches < 30, `30 gifts took ${after.batches - before.batches} commits`);
    assert.ok(after.statements > before.statements);
    // The slowest commit since the last stats call (each one a real fsync on the file).
    assert.ok(after.slowestBatchMs! > 0, `slowest commit ${after.slowestBatchMs} ms`);
    for (const [i, fan] of fans.entries()) {
      assert.equal((await h.balances(fan.id)).wallet, 100 - ROSE + (i < 10 ? 50 : 0));
    }
    // 20% of each rose is the platform's fee.
    assert.equal((await h.balances(h.creator.id)).earnings, creatorBefore + 30 * 4);
    await h.verifyClean();
  });

  it('brings a refusal back with its code and param, and nothing moves', async () => {
    const fan = await h.fan({ allowance: 100, balance: 10 });
    const count = await h.transferCount();
    const response = await h.call('/gifts', {
      method: 'POST',
      fan,
      body: { creatorId: h.creator.id, giftId: 'no-such-gift', quantity: 1 },
    });
    const error = await h.refused(response, 404, 'gift_not_found');
    assert.equal(error.param, 'giftId');
    assert.equal(await h.transferCount(), count);
  });

  it('replays a retried spend from the thread without moving Diamonds twice', async () => {
    const fan = await h.fan({ allowance: 100, balance: 10 });
    const key = randomUUID();
    const first = await gift(fan, key);
    const again = await gift(fan, key);
    assert.equal(first.status, 201);
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('Idempotent-Replayed'), 'true');
    assert.deepEqual(await again.json(), await first.json());
    assert.equal((await h.balances(fan.id)).wallet, 10 - ROSE);
  });

  it('starts a new thread after the old one died, and a retry of a spend lost with it charges once', async () => {
    const fan = await h.fan({ allowance: 100, balance: 10 });
    const writer = h.server.writer as ThreadMoneyWriter;
    const key = randomUUID();
    // The thread dies with this spend in flight: it either committed whole (201) or not at all (500).
    const inFlight = gift(fan, key);
    await writer.crashThreadForTests();
    const lost = await inFlight;
    assert.ok(lost.status === 201 || lost.status === 500, `status ${lost.status}`);
    if (lost.status === 500) await h.refused(lost, 500, 'internal_error');
    const retried = await gift(fan, key);
    assert.equal(retried.status, 201);
    assert.equal((await gift(fan)).status, 201);
    assert.equal((await h.balances(fan.id)).wallet, 10 - 2 * ROSE);
    await h.verifyClean();
  });

  it('answers every spend in flight before it closes', async () => {
    const fan = await h.fan({ allowance: 1_000, balance: 200 });
    const writer = await ThreadMoneyWriter.start(h.t.db.file!);
    const spends = Array.from({ length: 20 }, () =>
      writer.runIdempotent(
        sendGiftOperation,
        {
          userId: fan.id,
          siteId: h.site.id,
          feeBasisPoints: 2_000,
          baseUrl: 'http://127.0.0.1',
          request: { creatorId: h.creator.id, giftId: 'rose', quantity: 1, message: null },
        },
        { scope: `fan:${fan.id}:${h.site.id}`, key: randomUUID(), fingerprint: 'test' },
      ),
    );
    await writer.close();
    const results = await Promise.allSettled(spends);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value.status : r.reason)),
      spends.map(() => 201),
    );
    await assert.rejects(writer.stats(), /closed/);
    assert.equal((await h.balances(fan.id)).wallet, 200 - 20 * ROSE);
    await h.verifyClean();
  });
});
