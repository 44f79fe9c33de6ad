// The retry and error-mapping rules, against a scripted node:http server: the real platform
// cannot be made to answer 503, 429 or an HTML error page on demand.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { z } from 'zod';
import { AuthenticationError, DiamondsApiError, InsufficientFundsError, RateLimitError, isDiamondsApiError } from '../errors.js';
import { Http, retryAfterMs, type HttpOptions } from './http.js';

interface Scripted {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const OK: Scripted = { status: 200, headers: { 'Content-Type': 'application/json' }, body: '{"ok":true}' };
const Ok = z.object({ ok: z.literal(true) });

function errorBody(code: string, type: string, extra: Record<string, string> = {}): string {
  return JSON.stringify({ error: { type, code, message: `${code} happened`, requestId: 'req_scripted', ...extra } });
}

describe('Http', () => {
  let server: Server;
  let base: string;
  let script: Scripted[] = [];
  let seen: Seen[] = [];

  before(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
        const next = script.length > 1 ? script.shift() : script[0];
        if (!next) throw new Error('no scripted response');
        response.writeHead(next.status, next.headers ?? {});
        response.end(next.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    script = [];
    seen = [];
  });

  function http(options: Partial<HttpOptions> = {}): Http {
    return new Http({
      apiBase: base,
      headers: { Authorization: 'Bearer pk_test' },
      fetch: undefined,
      timeoutMs: 2_000,
      maxRetries: 2,
      maxRetryAfterMs: 10_000,
      ...options,
    });
  }

  it('keeps one Idempotency-Key across the retries of a POST', async () => {
    const busy: Scripted = { status: 503, headers: { 'Retry-After': '0' }, body: errorBody('database_busy', 'api_error') };
    script = [busy, busy, OK];
    const result = await http().request('post', 'v1/things', Ok, { json: { amountDiamonds: 5 } });
    assert.deepEqual(result, { ok: true });
    assert.equal(seen.length, 3);
    const keys = seen.map((request) => request.headers['idempotency-key']);
    assert.match(String(keys[0]), /^[\w-]{22}$/);
    assert.deepEqual(keys, [keys[0], keys[0], keys[0]]);
    assert.deepEqual(
      seen.map((request) => [request.method, request.url, request.body]),
      Array.from({ length: 3 }, () => ['POST', '/api/v1/things', '{"amountDiamonds":5}']),
    );
  });

  it('uses the caller’s Idempotency-Key and makes a new one per call otherwise', async () => {
    script = [OK];
    await http().request('post', 'v1/things', Ok, { idempotencyKey: 'gift-42' });
    await http().request('post', 'v1/things', Ok);
    await http().request('post', 'v1/things', Ok);
    assert.equal(seen[0]?.headers['idempotency-key'], 'gift-42');
    assert.notEqual(seen[1]?.headers['idempotency-key'], seen[2]?.headers['idempotency-key']);
  });

  it('sends no Idempotency-Key on a GET, and retries a 500 there', async () => {
    script = [{ status: 500, body: errorBody('internal_error', 'api_error') }, OK];
    assert.deepEqual(await http().request('get', 'healthz', Ok), { ok: true });
    assert.equal(seen.length, 2);
    assert.equal(seen[0]?.headers['idempotency-key'], undefined);
    assert.equal(seen[0]?.headers.authorization, 'Bearer pk_test');
  });

  it('gives up after maxRetries and throws the last error', async () => {
    script = [{ status: 503, headers: { 'Retry-After': '0' }, body: errorBody('service_unavailable', 'api_error') }];
    await assert.rejects(http({ maxRetries: 1 }).request('get', 'x', Ok), (error: unknown) => {
      assert.ok(error instanceof DiamondsApiError);
      assert.equal(error.code, 'service_unavailable');
      assert.equal(error.status, 503);
      return true;
    });
    assert.equal(seen.length, 2);
  });

  it('retries a 429 that says when, and not one that does not', async () => {
    script = [{ status: 429, headers: { 'Retry-After': '0' }, body: errorBody('rate_limited', 'rate_limit_error') }, OK];
    assert.deepEqual(await http().request('post', 'x', Ok), { ok: true });
    assert.equal(seen.length, 2);

    seen = [];
    script = [{ status: 429, body: errorBody('rate_limited', 'rate_limit_error') }];
    await assert.rejects(http().request('post', 'x', Ok), (error: unknown) => {
      assert.ok(error instanceof RateLimitError);
      assert.equal(error.retryAfterMs, undefined);
      return true;
    });
    assert.equal(seen.length, 1);
  });

  it('hands a long Retry-After to the caller instead of waiting', async () => {
    script = [{ status: 429, headers: { 'Retry-After': '120' }, body: errorBody('rate_limited', 'rate_limit_error') }];
    await assert.rejects(http().request('get', 'x', Ok), (error: unknown) => {
      assert.ok(error instanceof RateLimitError);
      assert.equal(error.retryAfterMs, 120_000);
      assert.equal(error.requestId, 'req_scripted');
      return true;
    });
    assert.equal(seen.length, 1);
  });

  it('never retries a client error, and maps codes to classes', async () => {
    script = [{ status: 400, body: errorBody('invalid_amount', 'invalid_request_error', { param: 'amountDiamonds' }) }];
    await assert.rejects(http().request('post', 'x', Ok), (error: unknown) => {
      assert.ok(error instanceof DiamondsApiError);
      assert.equal(error.name, 'DiamondsApiError');
      assert.equal(error.code, 'invalid_amount');
      assert.equal(error.param, 'amountDiamonds');
      return true;
    });
    assert.equal(seen.length, 1);

    script = [{ status: 402, body: errorBody('insufficient_funds', 'ledger_error') }];
    await assert.rejects(http().request('post', 'x', Ok), InsufficientFundsError);
    script = [{ status: 401, body: errorBody('invalid_api_key', 'authentication_error') }];
    await assert.rejects(http().request('get', 'x', Ok), AuthenticationError);
    assert.equal(seen.length, 3);
  });

  it('maps an error page that is not a protocol body to a generic code for its status', async () => {
    script = [{ status: 502, headers: { 'Content-Type': 'text/html', 'Request-Id': 'req_proxy' }, body: '<h1>Bad gateway</h1>' }];
    await assert.rejects(http({ maxRetries: 0 }).request('get', 'x', Ok), (error: unknown) => {
      assert.ok(isDiamondsApiError(error));
      assert.equal(error.code, 'service_unavailable');
      assert.equal(error.status, 502);
      assert.equal(error.requestId, 'req_proxy');
      assert.match(error.message, /Bad gateway/);
      return true;
    });
  });
});

describe('retryAfterMs', () => {
  it('reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(retryAfterMs(new Headers({ 'Retry-After': '3' }), now), 3_000);
    assert.equal(retryAfterMs(new Headers({ 'Retry-After': 'Wed, 01 Jan 2025 00:00:05 GMT' }), now), 5_000);
    assert.equal(retryAfterMs(new Headers({ 'Retry-After': 'Tue, 31 Dec 2024 00:00:00 GMT' }), now), 0);
    assert.equal(retryAfterMs(new Headers({ 'Retry-After': 'soon' }), now), undefined);
    assert.equal(retryAfterMs(new Headers(), now), undefined);
  });
});
