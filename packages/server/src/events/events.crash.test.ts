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

/** What a request to the platform in the child process sends. */
interface ChildCall {
  method?: 'GET' | 'POST';
  body?: unknown;
  /** A fan (publishable key, token and DPoP proof), or the site's backend (secret key). */
  as: TestFan | 'backend';
}

/** Answers seen, by route, status and code: how far the workload got. */
const seen: Record<string, number> = {};

/** Calls the platform at `url`; never throws (the process may die): 0 when no answer came. */
async function call(
  h: MoneyHarness,
  url: string,
  path: string,
  options: ChildCall,
): Promise<{ status: number; body: { id?: string } | null }> {
  const target = `${url}/v1${path}`;
  const method = options.method ?? 'POST';
  const headers: Record<string, string> = options.body === undefined ? {} : { 'Content-Type': 'application/json' };
  if (method === 'POST') headers['Idempotency-Key'] = randomUUID();
  if (options.as === 'backend') headers.Authorization = `Bearer ${h.site.secretKey}`;
  else {
    headers.Authorization = `Bearer ${h.site.publishableKey}`;
    headers.Origin = TEST_PAGE_ORIGIN;
    headers['Diamonds-Token'] = options.as.token;
    headers.DPoP = options.as.dpop!.proof(method, target, options.as.token);
  }
  try {
    const res = await fetch(target, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const body = (await res.json().catch(() => null)) as { id?: string; error?: { code: string } } | null;
    const k = `${path.replace(/[a-z]+_[0-9A-Za-z]+/g, ':id')} ${res.status} ${body?.error?.code ?? ''}`;
    seen[k] = (seen[k] ?? 0) + 1;
    return { status: res.status, body };
  } catch {
    return { status: 0, body: null };
  }
}

/** Every event of the site, read by cursor as a consumer would. */
async function allEvents(
  h: MoneyHarness,
): Promise<Array<{ id: string; type: string; data: Record<string, unknown>; position: EventPosition }>> {
  const events: Array<{ id: string; type: string; data: Record<string, unknown>; position: EventPosition }> = [];
  let position: EventPosition | undefined;
  for (;;) {
    const page = await readEvents(h.t.db, { siteId: h.site.id, after: position, limit: 100 });
    for (const row of page)
      events.push({ id: row.id, type: row.type, data: JSON.parse(row.data), position: { txId: row.txId, seq: row.seq } });
    const last = page.at(-1);
    if (!last) return events;
    position = { txId: last.txId, seq: last.seq };
  }
}

/** The ids that events of `type` name in `field`, sorted. */
function named(events: ReadonlyArray<{ type: string; data: Record<string, unknown> }>, type: string, field: string): string[] {
  return events
    .filter((event) => event.type === type)
    .map((event) => String(event.data[field]))
    .sort();
}

/** The ids a query returns, sorted. */
async function ids(h: MoneyHarness, sql: string): Promise<string[]> {
  return (await h.t.db.query<{ id: string }>(sql, [h.site.id])).map((row) => row.id).sort();
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
      // Fans within their allowance (gifts sent at once, unlocks, order payments), and fans with
      // none, whose gifts wait for a confirmation that the sweeper then expires.
      const fans = await Promise.all(Array.from({ length: 6 }, () => harness.fan({ allowance: 1_000_000, balance: 100_000 })));
      const holders = await Promise.all(Array.from({ length: 2 }, () => harness.fan({ allowance: 0, balance: 100_000 })));
      const content: string[] = [];
      for (let i = 0; i < 24; i++) {
        const res = await harness.call('/content', {
          method: 'POST',
          key: 'secret',
          body: { title: `Post ${i}`, teaser: 'A teaser.', body: 'The body.', priceDiamonds: 1 },
        });
        content.push(((await res.json()) as { id: string }).id);
      }
      let answered = 0;
      for (let round = 0; round <= KILLS; round++) {
        // What the killed process left held and pending is due now: the next process's sweeper
        // expires it (and may itself be killed halfway).
        await harness.t.db.run(`UPDATE confirmations SET expires_at = ? WHERE status = 'pending'`, [Date.now() - 1]);
        const { child, url } = await startPlatform(harness);
        children.push(child);
        let stop = false;
        const giving = [...fans, ...holders].map(async (fan) => {
          while (!stop)
            if (
              (await call(harness, url, '/gifts', { as: fan, body: { creatorId: harness.creator.id, giftId: 'rose', quantity: 1 } }))
                .status === 201
            )
              answered++;
        });
        const unlocking = fans.map(async (fan, f) => {
          for (let i = round * 10; !stop && i < content.length; i++) {
            if ((i + f) % 2 === 0) await call(harness, url, `/content/${content[i]}/unlock`, { as: fan });
          }
        });
        // The shop's backend makes orders: a third canceled, a third paid then refunded, a
        // third paid.
        let orders = 0;
        const shopping = fans.slice(0, 3).map(async (fan, f) => {
          for (let n = 0; !stop; n++, orders++) {
            const made = await call(harness, url, '/orders', {
              as: 'backend',
              body: { amountDiamonds: 3, description: `Order ${round}.${f}.${n}` },
            });
            if (made.status !== 201) continue;
            const id = made.body?.id as string;
            if (n % 3 === 0) {
              await call(harness, url, `/orders/${id}/cancel`, { as: 'backend' });
              continue;
            }
            const paid = await call(harness, url, `/orders/${id}/pay`, { as: fan });
            if (paid.status === 200 && n % 3 === 1) await call(harness, url, `/orders/${id}/refund`, { as: 'backend' });
          }
        });
        // Killed once it has been answering for a while, whatever the machine's load: at least
        // 30 answers and 4 orders handled (or 10 s), then a moment that differs from round to round.
        const started = Object.values(seen).reduce((a, b) => a + b, 0);
        const deadline = Date.now() + 10_000;
        while ((Object.values(seen).reduce((a, b) => a + b, 0) - started < 30 || orders < 4) && Date.now() < deadline) await sleep(20);
        await sleep(50 + round * 70);
        if (round < KILLS) child.kill('SIGKILL');
        else child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
        stop = true;
        await Promise.all([...giving, ...unlocking, ...shopping]);
        if (kind === 'postgres') await sleep(200); // a COMMIT sent just before the kill may still land
        await allEventsReadable(harness.t.db);

        // No event without its effect, no effect without its event: for every kind of effect.
        const events = await allEvents(harness);
        const site = harness.site.id;
        assert.deepEqual(
          named(events, 'gift.sent', 'giftId'),
          await ids(harness, `SELECT id FROM gifts WHERE status = 'sent' AND site_id = ?`),
          `round ${round}: gift.sent`,
        );
        assert.deepEqual(
          named(events, 'gift.sent', 'transferId'),
          await ids(harness, `SELECT transfer_id AS id FROM gifts WHERE status = 'sent' AND site_id = ?`),
          `round ${round}: each gift.sent names its transfer`,
        );
        assert.deepEqual(
          named(events, 'confirmation.required', 'confirmationId'),
          await ids(harness, `SELECT id FROM confirmations WHERE site_id = ?`),
          `round ${round}: confirmation.required`,
        );
        assert.deepEqual(
          named(events, 'confirmation.expired', 'confirmationId'),
          await ids(harness, `SELECT id FROM confirmations WHERE status = 'expired' AND site_id = ?`),
          `round ${round}: confirmation.expired`,
        );
        assert.deepEqual(
          named(events, 'content.unlocked', 'contentId'),
          (
            await harness.t.db.query<{ id: string }>(
              `SELECT e.content_id AS id FROM entitlements e JOIN content c ON c.id = e.content_id WHERE e.status = 'active' AND c.site_id = ?`,
              [site],
            )
          )
            .map((row) => row.id)
            .sort(),
          `round ${round}: content.unlocked`,
        );
        assert.deepEqual(
          named(events, 'order.paid', 'orderId'),
          await ids(harness, `SELECT id FROM orders WHERE status IN ('paid', 'refunded') AND site_id = ?`),
          `round ${round}: order.paid`,
        );
        assert.deepEqual(
          named(events, 'order.refunded', 'orderId'),
          await ids(harness, `SELECT id FROM orders WHERE status = 'refunded' AND site_id = ?`),
          `round ${round}: order.refunded`,
        );
        assert.deepEqual(
          named(events, 'order.canceled', 'orderId'),
          await ids(harness, `SELECT id FROM orders WHERE status = 'canceled' AND site_id = ?`),
          `round ${round}: order.canceled`,
        );
        // The ledger says the same: one gift, unlock, payment and refund transfer per event.
        const transfers = async (code: string) =>
          Number(
            (await harness.t.db.query<{ n: number }>(`SELECT count(*) AS n FROM transfers WHERE code = ? AND state = 'posted'`, [code]))[0]!
              .n,
          );
        assert.equal(named(events, 'gift.sent', 'giftId').length, await transfers('gift'), `round ${round}: gift transfers`);
        assert.equal(named(events, 'content.unlocked', 'contentId').length, await transfers('unlock'), `round ${round}: unlock transfers`);
        assert.equal(named(events, 'order.paid', 'orderId').length, await transfers('order'), `round ${round}: order transfers`);
        assert.equal(named(events, 'order.refunded', 'orderId').length, await transfers('refund'), `round ${round}: refund transfers`);
        // Read by cursor: each event once, in sequence order.
        assert.equal(new Set(events.map((event) => event.id)).size, events.length, 'each event once');
        for (let i = 1; i < events.length; i++) {
          const [a, b] = [events[i - 1]!.position, events[i]!.position];
          assert.ok(a.txId < b.txId || (a.txId === b.txId && a.seq < b.seq), `in order at ${i}`);
        }
        assert.ok(named(events, 'gift.sent', 'giftId').length >= answered, 'every gift answered 201 has its event');
      }
      assert.ok(answered > 0, `gifts went through (answers: ${JSON.stringify(seen)})`);
      const events = await allEvents(harness);
      for (const type of [
        'gift.sent',
        'confirmation.required',
        'confirmation.expired',
        'content.unlocked',
        'order.paid',
        'order.refunded',
        'order.canceled',
      ]) {
        assert.ok(
          events.some((event) => event.type === type),
          `the workload made ${type} events (answers: ${JSON.stringify(seen)})`,
        );
      }
      await harness.verifyClean();
    });
  });
}
