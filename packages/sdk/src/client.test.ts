import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorBody, isId } from '@diamonds/protocol';
import { startServer, type RunningServer } from '@diamonds/server';
import {
  createDiamonds,
  DiamondsApiError,
  DiamondsError,
  DiamondsNetworkError,
  DiamondsSchemaError,
  InsufficientFundsError,
  isAuthenticationError,
  isDiamondsApiError,
  isDiamondsError,
  isDiamondsNetworkError,
  isDiamondsSchemaError,
  isInsufficientFundsError,
  isRateLimitError,
  RateLimitError,
} from './index.js';

const KEY = 'pk_test_client';

/** Starts a bare node:http server (for what the real platform cannot be made to do). */
async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function shut(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A fetch that lets requests through and keeps a copy of every response body. */
function recordingFetch(): { fetch: typeof globalThis.fetch; bodies: string[] } {
  const bodies: string[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const response = await globalThis.fetch(input, init);
    bodies.push(await response.clone().text());
    return response;
  };
  return { fetch, bodies };
}

describe('createDiamonds against a real server', () => {
  let server: RunningServer;
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'diamonds-sdk-'));
    server = await startServer({ port: 0, dataDir });
  });

  after(async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('health() returns the parsed Health of the server', async () => {
    const client = createDiamonds({ publishableKey: KEY, apiBase: server.url });
    const health = await client.health();
    assert.equal(health.status, 'ok');
    assert.equal(health.database, 'sqlite');
    assert.ok(Number.isInteger(health.schemaVersion) && health.schemaVersion >= 1, `schemaVersion ${health.schemaVersion}`);
    const raw: unknown = await (await fetch(`${server.url}/healthz`)).json();
    assert.deepEqual(health, raw);
  });

  it('sends the publishable key and the locale', async () => {
    const seen: Request[] = [];
    const client = createDiamonds({
      publishableKey: KEY,
      apiBase: server.url,
      locale: 'de-de',
      fetch: async (input, init) => {
        const request = new Request(input, init);
        seen.push(request.clone());
        return fetch(request);
      },
    });
    await client.health();
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.headers.get('Authorization'), `Bearer ${KEY}`);
    assert.equal(seen[0]?.headers.get('Accept-Language'), 'de-DE');
    assert.equal(seen[0]?.url, `${server.url}/healthz`);
  });

  it('throws DiamondsApiError with the code, status and request id of an error body', async () => {
    const { fetch, bodies } = recordingFetch();
    // Mounted under a path the server does not have, so /healthz becomes an unknown route.
    const client = createDiamonds({ publishableKey: KEY, apiBase: `${server.url}/no-such-mount`, fetch });
    const error = await client.health().then(
      () => assert.fail('health() should have rejected'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof DiamondsApiError, `got ${String(error)}`);
    assert.ok(error instanceof DiamondsError);
    assert.equal(error.name, 'DiamondsApiError');
    assert.equal(error.code, 'not_found');
    assert.equal(error.status, 404);
    assert.equal(bodies.length, 1, 'a 404 is not retried');
    const body = ErrorBody.parse(JSON.parse(bodies[0] ?? ''));
    assert.ok(isId('req', error.requestId), `requestId ${error.requestId}`);
    assert.equal(error.requestId, body.error.requestId);
    assert.equal(error.message, body.error.message);
  });

  it('does no network work when created', () => {
    let calls = 0;
    createDiamonds({
      publishableKey: KEY,
      apiBase: server.url,
      fetch: () => {
        calls++;
        return Promise.reject(new Error('unexpected fetch'));
      },
    });
    assert.equal(calls, 0);
  });
});

describe('createDiamonds against a broken server', () => {
  it('throws DiamondsSchemaError for a body that is not JSON', async () => {
    const { url, server } = await listen((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'application/json', 'Request-Id': 'req_garbage' });
      response.end('<html>definitely not JSON');
    });
    try {
      const client = createDiamonds({ publishableKey: KEY, apiBase: url });
      await assert.rejects(client.health(), (error: unknown) => {
        assert.ok(error instanceof DiamondsSchemaError, `got ${String(error)}`);
        assert.equal(error.code, 'invalid_response');
        assert.equal(error.requestId, 'req_garbage');
        assert.ok(error.cause instanceof SyntaxError);
        return true;
      });
    } finally {
      await shut(server);
    }
  });

  it('throws DiamondsSchemaError for JSON of the wrong shape, naming the field', async () => {
    const { url, server } = await listen((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ status: 'fine', database: 'sqlite', schemaVersion: 1, version: '0.1.0' }));
    });
    try {
      const client = createDiamonds({ publishableKey: KEY, apiBase: url });
      await assert.rejects(client.health(), (error: unknown) => {
        assert.ok(error instanceof DiamondsSchemaError, `got ${String(error)}`);
        assert.match(error.message, /status/);
        return true;
      });
    } finally {
      await shut(server);
    }
  });

  it('throws DiamondsNetworkError when nothing listens, after retrying', async () => {
    // Take a free port, then free it again so that connecting is refused.
    const { url, server } = await listen(() => undefined);
    await shut(server);
    let attempts = 0;
    const client = createDiamonds({
      publishableKey: KEY,
      apiBase: url,
      maxRetries: 1,
      fetch: (input, init) => {
        attempts++;
        return fetch(input, init);
      },
    });
    await assert.rejects(client.health(), (error: unknown) => {
      assert.ok(error instanceof DiamondsNetworkError, `got ${String(error)}`);
      assert.equal(error.code, 'network_error');
      assert.equal(error.requestId, undefined);
      assert.ok(error.cause !== undefined);
      return true;
    });
    assert.equal(attempts, 2, 'one attempt and one retry');
  });

  it('throws DiamondsNetworkError with code timeout when no answer comes in time', async () => {
    const { url, server } = await listen(() => undefined); // never answers
    try {
      const client = createDiamonds({ publishableKey: KEY, apiBase: url, timeoutMs: 150, maxRetries: 0 });
      const started = performance.now();
      await assert.rejects(client.health(), (error: unknown) => {
        assert.ok(error instanceof DiamondsNetworkError, `got ${String(error)}`);
        assert.equal(error.code, 'timeout');
        return true;
      });
      assert.ok(performance.now() - started < 2_000);
    } finally {
      await shut(server);
    }
  });

  it('rejects with the abort reason when the caller aborts', async () => {
    const { url, server } = await listen(() => undefined);
    try {
      const client = createDiamonds({ publishableKey: KEY, apiBase: url });
      const controller = new AbortController();
      const reason = new Error('user left');
      const pending = client.health({ signal: controller.signal });
      setTimeout(() => controller.abort(reason), 20);
      await assert.rejects(pending, (error: unknown) => error === reason);
    } finally {
      await shut(server);
    }
  });
});

describe('createDiamonds options', () => {
  it('refuses a secret key, a missing key and a bad apiBase or locale', () => {
    assert.throws(() => createDiamonds({ publishableKey: 'sk_test_secret' }), { name: 'TypeError', message: /secret key/ });
    assert.throws(() => createDiamonds({ publishableKey: '' }), TypeError);
    assert.throws(() => createDiamonds({ publishableKey: 'abc' }), TypeError);
    assert.throws(() => createDiamonds({ publishableKey: KEY, apiBase: 'not a url' }), TypeError);
    assert.throws(() => createDiamonds({ publishableKey: KEY, apiBase: 'ftp://example.com' }), TypeError);
    assert.throws(() => createDiamonds({ publishableKey: KEY, locale: 'not a locale!' }), RangeError);
    assert.throws(() => createDiamonds({ publishableKey: KEY, maxRetries: -1 }), RangeError);
  });

  it('normalises apiBase and locale', () => {
    const client = createDiamonds({ publishableKey: KEY, apiBase: 'https://example.com/diamonds/', locale: 'en-us' });
    assert.equal(client.apiBase, 'https://example.com/diamonds');
    assert.equal(client.locale, 'en-US');
  });
});

describe('error guards', () => {
  it('accept errors from another copy of the SDK by name and fields', () => {
    const foreign = { name: 'InsufficientFundsError', code: 'insufficient_funds', message: 'Not enough.', status: 402 };
    assert.equal(isDiamondsError(foreign), true);
    assert.equal(isDiamondsApiError(foreign), true);
    assert.equal(isInsufficientFundsError(foreign), true);
    assert.equal(isRateLimitError(foreign), false);
    assert.equal(isAuthenticationError(foreign), false);
    assert.equal(isDiamondsNetworkError(foreign), false);
    assert.equal(isDiamondsNetworkError({ name: 'DiamondsNetworkError', code: 'network_error', message: 'offline' }), true);
    assert.equal(isDiamondsSchemaError({ name: 'DiamondsSchemaError', code: 'invalid_response', message: 'x' }), true);
    assert.equal(isRateLimitError({ name: 'RateLimitError', code: 'rate_limited', message: 'slow', status: 429 }), true);
  });

  it('reject look-alikes that lack the fields of their class', () => {
    assert.equal(isDiamondsError({ name: 'Error', code: 'not_found', message: 'x' }), false);
    assert.equal(isDiamondsError({ name: 'DiamondsError', message: 'no code' }), false);
    assert.equal(isDiamondsApiError({ name: 'DiamondsApiError', code: 'not_found', message: 'no status' }), false);
    assert.equal(isDiamondsError({ name: 'toString', code: 'x', message: 'x' }), false);
    assert.equal(isDiamondsError(new Error('plain')), false);
    assert.equal(isDiamondsError(null), false);
    assert.equal(isDiamondsError('DiamondsError'), false);
  });

  it('accept real instances through their subclasses', () => {
    const error = new RateLimitError('slow down', { code: 'rate_limited', status: 429, retryAfterMs: 1_000 });
    assert.equal(isRateLimitError(error), true);
    assert.equal(isDiamondsApiError(error), true);
    assert.equal(isDiamondsError(error), true);
    assert.equal(isInsufficientFundsError(error), false);
    assert.equal(error.retryAfterMs, 1_000);
    assert.equal(String(error), 'RateLimitError: slow down');
    const funds = new InsufficientFundsError('poor', { code: 'insufficient_funds', status: 402 });
    assert.equal(isDiamondsSchemaError(funds), false);
    assert.equal(isInsufficientFundsError(funds), true);
  });
});
