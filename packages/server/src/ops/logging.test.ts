import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBaseApp } from '../app.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { createLogger, logConsoleThrough, scrubText } from './logging.js';

/** A pino destination that keeps every line. */
function capture(): { lines: string[]; write(line: string): void; text(): string } {
  const lines: string[] = [];
  return { lines, write: (line) => void lines.push(line), text: () => lines.join('') };
}

describe('structured logs', () => {
  const out = capture();
  let h: MoneyHarness;
  let fan: TestFan;
  before(async () => {
    h = await startMoneyHarness('sqlite', { logger: createLogger({ level: 'info', destination: out }) });
    fan = await h.fan({ allowance: 1000, balance: 1000 });
  });
  after(() => h?.close());

  it('writes one JSON line per request: id, route pattern, status, duration', async () => {
    const res = await h.call('/gifts', { fan, body: { creatorId: h.creator.id, giftId: 'rose', quantity: 1 } });
    assert.equal(res.status, 201);
    const requestId = res.headers.get('x-request-id');
    assert.match(requestId ?? '', /^req_/);
    assert.equal(res.headers.get('request-id'), requestId);
    const line = out.lines.map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry.requestId === requestId);
    assert.ok(line, out.text());
    assert.equal(line.msg, 'request');
    assert.equal(line.level, 'info');
    assert.equal(line.method, 'POST');
    assert.equal(line.route, '/v1/gifts');
    assert.equal(line.status, 201);
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(typeof line.time, 'string');
  });

  it('labels a request by its route pattern, never the path with its ids', async () => {
    const id = 'ord_01ARZ3NDEKTSV4RRFFQ69G5FAV';
    const res = await h.call(`/orders/${id}`, { key: 'secret' });
    assert.equal(res.status, 404, await res.text());
    const line = out.lines
      .map((text) => JSON.parse(text) as { requestId: string; route: string })
      .find((entry) => entry.requestId === res.headers.get('x-request-id'));
    assert.equal(line?.route, '/v1/orders/:id');
    assert.ok(!out.text().includes(id), 'the path is not logged');
  });

  it('keeps a sane incoming X-Request-Id and replaces an insane one', async () => {
    const sane = await fetch(`${h.server.url}/healthz`, { headers: { 'X-Request-Id': 'lb-7f3a9c2e-0001' } });
    assert.equal(sane.headers.get('x-request-id'), 'lb-7f3a9c2e-0001');
    const insane = await fetch(`${h.server.url}/healthz`, { headers: { 'X-Request-Id': 'x'.repeat(500) } });
    assert.match(insane.headers.get('x-request-id') ?? '', /^req_/);
    assert.ok(out.lines.some((text) => (JSON.parse(text) as { requestId: string }).requestId === 'lb-7f3a9c2e-0001'));
  });

  it('never writes a token, key, password, card field, cookie, DPoP proof or webhook secret', async () => {
    const secrets: string[] = [h.site.secretKey, h.site.publishableKey, fan.token, fan.refreshToken ?? fan.token];
    // The fan's spend: access token and DPoP proof in headers.
    const url = `${h.server.url}/v1/gifts`;
    const proof = fan.dpop!.proof('POST', url, fan.token);
    secrets.push(proof);
    const gift = await h.call('/gifts', { fan, body: { creatorId: h.creator.id, giftId: 'rose', quantity: 1 }, dpopProof: proof });
    assert.equal(gift.status, 201);
    // A secret key in Authorization, a webhook endpoint whose signing secret comes back.
    const created = await h.call('/webhook-endpoints', { key: 'secret', body: { url: 'https://example.com/hook' } });
    const whsec = ((await created.json()) as { secret?: string }).secret;
    assert.match(whsec ?? '', /^whsec_/);
    secrets.push(whsec!);
    // A cookie, a password and card fields, in headers, bodies and the query string.
    const cookie = 'diamonds_session=ses_cookievalue0123456789abcdef';
    secrets.push('ses_cookievalue0123456789abcdef');
    await fetch(`${h.server.url}/signin?token=st_querytoken0123456789`, {
      method: 'POST',
      headers: { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'email=fan%40example.com&password=correct-horse-battery-staple',
    });
    secrets.push('correct-horse-battery-staple', 'st_querytoken0123456789');
    await h.call('/topups', { fan, body: { card: { number: '4242424242424242', cvc: '987', expMonth: 12, expYear: 2031 } } });
    secrets.push('4242424242424242');
    await h.call('/catalog/gifts', {
      headers: { Authorization: 'Bearer sk_test_51NotARealKeyButShapedLikeOne000', DPoP: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln' },
    });
    secrets.push('sk_test_51NotARealKeyButShapedLikeOne000');

    const logged = out.text();
    assert.ok(out.lines.length > 5);
    for (const secret of secrets) assert.ok(!logged.includes(secret), `the log holds ${secret.slice(0, 12)}…`);
    assert.doesNotMatch(logged, /\b(sk|whsec)_[A-Za-z0-9]{6,}/);
  });

  it('logs an unexpected error with its stack, its secrets scrubbed', async () => {
    const errors = capture();
    const app = createBaseApp({ logger: createLogger({ level: 'info', destination: errors }) });
    app.get('/boom/:id', () => {
      throw new Error(
        'upstream said: Authorization: Bearer sk_live_abcdef0123456789 for card 4000 0566 5566 5556, password=hunter22, whsec_c2VjcmV0c2VjcmV0 and {"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"}',
      );
    });
    const res = await app.request('/boom/usr_123');
    assert.equal(res.status, 500);
    const entries = errors.lines.map((line) => JSON.parse(line) as { msg: string; level: string; err?: { stack: string }; route?: string });
    const error = entries.find((entry) => entry.msg === 'unexpected error');
    assert.ok(error?.err?.stack.includes('logging.test.ts'), 'the stack is kept');
    assert.equal(error?.level, 'error');
    assert.equal(error?.route, '/boom/:id');
    const text = errors.text();
    for (const secret of [
      'sk_live_abcdef0123456789',
      '4000 0566 5566 5556',
      'hunter22',
      'whsec_c2VjcmV0c2VjcmV0',
      'eyJhbGciOiJIUzI1NiJ9',
    ]) {
      assert.ok(!text.includes(secret), `the log holds ${secret}`);
    }
  });

  it('scrubs free text but leaves ordinary numbers and ids alone', () => {
    assert.equal(scrubText('gift of 1733353200000 ms to usr_01ABC'), 'gift of 1733353200000 ms to usr_01ABC');
    assert.equal(scrubText('key sk_test_abcdef123'), 'key [redacted]');
  });

  it('sends console.warn and console.error of background work through the logger, scrubbed', () => {
    const lines = capture();
    const undo = logConsoleThrough(createLogger({ level: 'info', destination: lines }));
    try {
      console.error('[webhooks] delivery failed', new Error('POST refused with Authorization: Bearer sk_test_zzzzzzzzzzzz'));
      console.warn('[payouts] Stripe refused whsec_abcdefabcdef');
    } finally {
      undo();
    }
    const [error, warning] = lines.lines.map((line) => JSON.parse(line) as { level: string; msg: string; err?: { stack: string } });
    assert.equal(error?.level, 'error');
    assert.equal(error?.msg, '[webhooks] delivery failed');
    assert.match(error?.err?.stack ?? '', /logging\.test\.ts/);
    assert.equal(warning?.level, 'warn');
    assert.doesNotMatch(lines.text(), /sk_test_z|whsec_a/);
  });
});
