import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';

const TOKEN = 'metrics-token-for-tests-0123456789';

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const prefix = labels === '' ? `${name} ` : `${name}{${labels}} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`/metrics on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let fan: TestFan;
    before(async () => {
      h = await startMoneyHarness(kind, { metricsToken: TOKEN });
      fan = await h.fan({ allowance: 1000, balance: 1000 });
    });
    after(() => h?.close());

    const scrape = (authorization?: string) =>
      fetch(`${h.server.url}/metrics`, authorization === undefined ? {} : { headers: { Authorization: authorization } });

    it('asks for the bearer token', async () => {
      const none = await scrape();
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate') ?? '', /Bearer/);
      assert.equal((await scrape('Bearer wrong')).status, 401);
      assert.equal((await scrape(`Basic ${TOKEN}`)).status, 401);
    });

    it('counts requests by route and status, commits, outbox lag, webhooks, live subscribers and the pool', async () => {
      for (let i = 0; i < 3; i++) {
        const res = await h.call('/gifts', { fan, body: { creatorId: h.creator.id, giftId: 'rose', quantity: 1 } });
        assert.equal(res.status, 201);
      }
      const refused = await h.call('/gifts', { fan, body: { creatorId: h.creator.id, giftId: 'no-such-gift', quantity: 1 } });
      assert.ok(refused.status >= 400 && refused.status < 500);

      const res = await scrape(`Bearer ${TOKEN}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      const text = await res.text();
      assert.equal(sample(text, 'diamonds_http_requests_total', 'method="POST",route="/v1/gifts",status="201"'), 3);
      assert.equal(sample(text, 'diamonds_http_requests_total', `method="POST",route="/v1/gifts",status="${refused.status}"`), 1);
      assert.equal(sample(text, 'diamonds_http_request_duration_seconds_count', 'method="POST",route="/v1/gifts",status="201"'), 3);
      assert.doesNotMatch(text, /route="\/v1\/gifts\/[^"]*usr_/, 'labelled by pattern, not path');
      assert.ok((sample(text, 'diamonds_writer_commits_total') ?? 0) >= 1, text);
      assert.ok((sample(text, 'diamonds_writer_committed_works_total') ?? 0) >= 3);
      // Each spend asked of the money writer, the refused one included, timed from asking to its answer.
      assert.equal(sample(text, 'diamonds_writer_wait_seconds_count', 'operation="gifts.send"'), 4);
      const waited = sample(text, 'diamonds_writer_wait_seconds_sum', 'operation="gifts.send"') ?? 0;
      assert.ok(waited > 0 && waited < 30, `gifts.send waited ${waited} s in all`);
      assert.equal(sample(text, 'diamonds_writer_wait_seconds_bucket', 'le="+Inf",operation="gifts.send"'), 4);
      for (const consumer of ['webhooks', 'earnings', 'live']) {
        assert.notEqual(sample(text, 'diamonds_outbox_lag_events', `consumer="${consumer}"`), undefined, `lag of ${consumer}`);
        assert.notEqual(sample(text, 'diamonds_outbox_lag_seconds', `consumer="${consumer}"`), undefined);
      }
      assert.notEqual(sample(text, 'diamonds_webhook_deliveries_pending'), undefined);
      assert.notEqual(sample(text, 'diamonds_live_subscribers'), undefined);
      assert.match(text, /diamonds_process_resident_memory_bytes \d/);
      if (kind === 'postgres') {
        assert.ok((sample(text, 'diamonds_db_pool_connections', 'state="max"') ?? 0) > 0);
        assert.notEqual(sample(text, 'diamonds_db_pool_connections', 'state="in_use"'), undefined);
      }
    });

    it('shows outbox lag that falls to zero once consumers catch up', async () => {
      // The webhook dispatcher passes events no endpoint wants; wait until it has.
      const deadline = Date.now() + 10_000;
      let lag: number | undefined;
      while (Date.now() < deadline) {
        const text = await (await scrape(`Bearer ${TOKEN}`)).text();
        lag = sample(text, 'diamonds_outbox_lag_events', 'consumer="live"');
        if (lag === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(lag, 0);
    });
  });
}

describe('/metrics without DIAMONDS_METRICS_TOKEN', () => {
  let h: MoneyHarness;
  before(async () => {
    h = await startMoneyHarness('sqlite');
  });
  after(() => h?.close());

  it('does not exist (404), even with some bearer token', async () => {
    assert.equal((await fetch(`${h.server.url}/metrics`)).status, 404);
    assert.equal((await fetch(`${h.server.url}/metrics`, { headers: { Authorization: 'Bearer x' } })).status, 404);
  });
});
