import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, TEST_PAGE_ORIGIN, type MoneyHarness, type TestFan } from '../testing/money.js';
import { allEventsReadable } from '../testing/events.js';
import { readEvents, type EventPosition } from './outbox.js';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const KILLS = 3;

/** Starts a platform process on the harness's database; resolves with it and its URL. */
function startPlatform(h: MoneyHarness): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(CHILD, [], { env: { ...process.env, ...h.t.env }, execArgv: process.execArgv, stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('message', (message: { url: string }) => resolve({ child, url: message.url }));
    child.once('exit', (code) => reject(new Error(`the platform process exited (${code}) before it listened`)));
  });
}

/** Sends a gift to the platform at `url` as the fan's page would; never throws (the process may die). */
async function gift(h: MoneyHarness, url: string, fan: TestFan): Promise<number> {
  const target = `${url}/v1/gifts`;
  try {
    const res = await fetch(target, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${h.site.publishableKey}`,
        Origin: TEST_PAGE_ORIGIN,
        'Diamonds-Token': fan.token,
        DPoP: fan.dpop!.proof('POST', target, fan.token),
        'Idempotency-Key': randomUUID(),
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ creatorId: h.creator.id, giftId: 'rose', quantity: 1 }),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`money events when the platform is SIGKILLed on ${kind}`, { skip }, () => {
    let h: MoneyHarness | undefined;
    const children: ChildProcess[] = [];
    after(async () => {
      for (const child of children) child.kill('SIGKILL');
      await h?.close();
    });

    it('after each restart events and ledger agree, and a cursor reader sees every event once, in order', async () => {
      const harness = await startMoneyHarness(kind);
      h = harness;
      const fans = await Promise.all(Array.from({ length: 8 }, () => harness.fan({ allowance: 1_000_000, balance: 100_000 })));
      let answered = 0;
      for (let round = 0; round <= KILLS; round++) {
        const { child, url } = await startPlatform(harness);
        children.push(child);
        // 8 fans sending gifts as fast as answers come back; killed after a while in the stream.
        let stop = false;
        const streams = fans.map(async (fan) => {
          while (!stop) if ((await gift(harness, url, fan)) === 201) answered++;
        });
        await sleep(round === KILLS ? 300 : 200 + round * 150);
        if (round < KILLS) child.kill('SIGKILL');
        else child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
        stop = true;
        await Promise.all(streams);
        if (kind === 'postgres') await sleep(200); // a COMMIT sent just before the kill may still land
        await allEventsReadable(harness.t.db);

        // No event without its effect, no effect without its event.
        const sentGifts = await harness.t.db.query<{ id: string; transfer_id: string }>(
          `SELECT id, transfer_id FROM gifts WHERE status = 'sent' ORDER BY id`,
        );
        const giftTransfers = await harness.t.db.query<{ id: string }>(`SELECT id FROM transfers WHERE code = 'gift' ORDER BY id`);
        const events: Array<{ id: string; giftId: string; transferId: string; position: EventPosition }> = [];
        let position: EventPosition | undefined;
        for (;;) {
          const page = await readEvents(harness.t.db, { siteId: harness.site.id, type: 'gift.sent', after: position, limit: 100 });
          for (const row of page) {
            const data = JSON.parse(row.data) as { giftId: string; transferId: string };
            events.push({ id: row.id, giftId: data.giftId, transferId: data.transferId, position: { txId: row.txId, seq: row.seq } });
          }
          const last = page.at(-1);
          if (!last) break;
          position = { txId: last.txId, seq: last.seq };
        }
        assert.deepEqual(
          events.map((event) => event.giftId).sort(),
          sentGifts.map((row) => row.id),
          `round ${round}: gift.sent events are exactly the sent gifts`,
        );
        assert.deepEqual(
          events.map((event) => event.transferId).sort(),
          giftTransfers.map((row) => row.id),
          `round ${round}: and exactly the gift transfers`,
        );
        assert.equal(new Set(events.map((event) => event.id)).size, events.length, 'each event once');
        for (let i = 1; i < events.length; i++) {
          const [a, b] = [events[i - 1]!.position, events[i]!.position];
          assert.ok(a.txId < b.txId || (a.txId === b.txId && a.seq < b.seq), `in order at ${i}`);
        }
        assert.ok(events.length >= answered, 'every gift answered 201 has its event');
      }
      assert.ok(answered > 0, 'gifts went through');
      await harness.verifyClean();
    });
  });
}
