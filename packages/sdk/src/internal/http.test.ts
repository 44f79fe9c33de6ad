// The retry and error-mapping rules, against a scripted node:http server: the real platform
// cannot be made to answer 503, 429 or an HTML error page on demand.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { z } from 'zod';
import {
  AuthenticationError,
  DiamondsApiError,
  DiamondsNetworkError,
  InsufficientFundsError,
  RateLimitError,
  isDiamondsApiError,
} from '../errors.js';
import { Http, retryAfterMs, type HttpOptions } from './http.js';

interface Scripted {
  /** Never answers (for timeouts and aborts). */
  hang?: boolean;
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

/** Resolves once `done()` holds, checking every few milliseconds (at most 2 s). */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(done(), 'the condition never held');
}

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
        if (next.hang) return;
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

  it('sends a new DPoP proof for each attempt, from the method and URL sent', async () => {
    script = [{ status: 503, headers: { 'Retry-After': '0' }, body: errorBody('database_busy', 'api_error') }, OK];
    const asked: string[] = [];
    let n = 0;
    const dpop = async (method: string, url: string) => {
      asked.push(`${method} ${url}`);
      return `proof-${++n}`;
    };
    await http().request('post', 'v1/things', Ok, { dpop, searchParams: { a: 1, b: undefined, c: true } });
    assert.deepEqual(
      asked,
      Array.from({ length: 2 }, () => `POST ${base}/v1/things?a=1&c=true`),
    );
    assert.deepEqual(
      seen.map((request) => [request.url, request.headers.dpop]),
      [
        ['/api/v1/things?a=1&c=true', 'proof-1'],
        ['/api/v1/things?a=1&c=true', 'proof-2'],
      ],
    );
  });

  it('sends a PATCH once, and a request with retry: false once', async () => {
    script = [{ status: 503, headers: { 'Retry-After': '0' }, body: errorBody('service_unavailable', 'api_error') }];
    await assert.rejects(http().request('patch' as 'put', 'x', Ok, { json: { a: 1 } }), DiamondsApiError);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.method, 'PATCH');
    assert.equal(seen[0]?.headers['idempotency-key'], undefined);
    assert.equal(seen[0]?.headers['content-type'], 'application/json');
    await assert.rejects(http().request('post', 'x', Ok, { retry: false }), DiamondsApiError);
    assert.equal(seen.length, 2);
  });

  it('retries a network error, then throws DiamondsNetworkError with the last failure as cause', async () => {
    let attempts = 0;
    const failure = new TypeError('fetch failed');
    const fetch = () => {
      attempts++;
      return Promise.reject(failure);
    };
    await assert.rejects(http({ fetch, maxRetries: 2 }).request('get', 'x', Ok), (error: unknown) => {
      assert.ok(error instanceof DiamondsNetworkError, String(error));
      assert.equal(error.code, 'network_error');
      assert.equal(error.cause, failure);
      return true;
    });
    assert.equal(attempts, 3);
  });

  it('gives up on an attempt after timeoutMs with code timeout, and never retries it', async () => {
    script = [{ hang: true, status: 0, body: '' }];
    const started = performance.now();
    await assert.rejects(http({ timeoutMs: 100 }).request('post', 'x', Ok), (error: unknown) => {
      assert.ok(error instanceof DiamondsNetworkError, String(error));
      assert.equal(error.code, 'timeout');
      assert.match(error.message, /within 100 ms/);
      return true;
    });
    assert.ok(performance.now() - started < 1_500);
    assert.equal(seen.length, 1);
  });

  it('throws the abort reason as is: while waiting for the answer and while waiting to retry', async () => {
    script = [{ hang: true, status: 0, body: '' }];
    const reason = new Error('the page moved on');
    const during = new AbortController();
    const pending = http().request('get', 'x', Ok, { signal: during.signal });
    await until(() => seen.length === 1);
    during.abort(reason);
    await assert.rejects(pending, (error: unknown) => error === reason);

    seen = [];
    script = [{ status: 503, headers: { 'Retry-After': '5' }, body: errorBody('service_unavailable', 'api_error') }];
    const waiting = new AbortController();
    const retrying = http().request('get', 'x', Ok, { signal: waiting.signal });
    await until(() => seen.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    waiting.abort(reason);
    await assert.rejects(retrying, (error: unknown) => error === reason);
    assert.equal(seen.length, 1, 'no retry after the abort');

    await assert.rejects(http().request('get', 'x', Ok, { signal: AbortSignal.abort(reason) }), (error: unknown) => error === reason);
    assert.equal(seen.length, 1, 'an aborted signal sends nothing');
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
