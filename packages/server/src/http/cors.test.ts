import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { ErrorBody } from '@diamonds/protocol';
import { createBaseApp } from '../app.js';
import { ApiError } from '../errors.js';
import { allowedOriginCandidates, parseOrigin } from './origins.js';
import { CORS_MAX_AGE_SECONDS, corsByPublishableKey, type Caller, type PublishableKeyRecord } from './cors.js';
import { serveDuringSuite } from './testing.js';

function canonical(input: string): string {
  const result = parseOrigin(input);
  assert.ok(result.ok);
  return result.origin;
}

const SHOP_ORIGIN = 'https://shop.example.com';
const OTHER_ORIGIN = 'https://other.example.org';
const PUBLISHABLE: Record<string, PublishableKeyRecord> = {
  pk_test_shop1234567890: { siteId: 'site_shop', origins: [canonical(SHOP_ORIGIN), canonical('http://localhost:*')] },
  pk_test_other123456789: { siteId: 'site_other', origins: [canonical(OTHER_ORIGIN)] },
};
const SECRET: Record<string, { siteId: string }> = { sk_test_shopsecret12345: { siteId: 'site_shop' } };
const SHOP_KEY = 'pk_test_shop1234567890';
const SECRET_KEY = 'sk_test_shopsecret12345';

/** Every origin some site allows, as a store would hold them. */
const REGISTERED = new Set(Object.values(PUBLISHABLE).flatMap((record) => record.origins));

const LOOK_ALIKES = [
  'null',
  'https://unknown.example.net',
  'https://shop.example.com.evil.test',
  'https://evil-shop.example.com',
  'https://shop.example.com:8443',
  'http://shop.example.com',
  'https://shop.example.com.',
  'https://SHOP.example.com',
  'https://shop.example.com/',
  'https://shop.example.com:443',
  // (Surrounding whitespace is not part of a header value: fetch's Headers trims it.)
  'https://user@shop.example.com',
  'https://localhost:3000',
  'http://localhost.:3000',
  'not an origin',
];

const calls = { publishable: 0, secret: 0, registered: [] as string[], handler: 0 };

function buildApp() {
  const base = createBaseApp();
  const app = base.use(
    '/v1/*',
    corsByPublishableKey({
      lookupPublishableKey: async (key) => {
        calls.publishable++;
        return PUBLISHABLE[key];
      },
      lookupSecretKey: async (key) => {
        calls.secret++;
        return SECRET[key];
      },
      isOriginRegistered: async (origin) => {
        calls.registered.push(origin);
        return allowedOriginCandidates(origin).some((candidate) => REGISTERED.has(candidate));
      },
    }),
  );
  app.get('/v1/whoami', (c) => {
    calls.handler++;
    const caller: Caller = c.get('caller');
    return c.json({ ...caller, origin: caller.origin ?? null });
  });
  app.post('/v1/whoami', (c) => {
    calls.handler++;
    return c.json({ siteId: c.get('caller').siteId });
  });
  app.post('/v1/broke', () => {
    throw new ApiError('insufficient_funds', 'The wallet holds 40 Diamonds; this needs 100.');
  });
  return app;
}

const app = buildApp();

function preflight(origin: string | undefined, path = '/v1/whoami', method = 'POST') {
  const headers: Record<string, string> = {
    'Access-Control-Request-Method': method,
    'Access-Control-Request-Headers': 'authorization, content-type, idempotency-key',
  };
  if (origin !== undefined) headers.Origin = origin;
  return app.request(path, { method: 'OPTIONS', headers });
}

function call(options: {
  origin?: string;
  key?: string;
  authorization?: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.origin !== undefined) headers.Origin = options.origin;
  if (options.authorization !== undefined) headers.Authorization = options.authorization;
  else if (options.key !== undefined) headers.Authorization = `Bearer ${options.key}`;
  return app.request(options.path ?? '/v1/whoami', { method: options.method ?? 'GET', headers });
}

async function expectError(response: Response, status: number, code: string): Promise<ErrorBody['error']> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  const body = ErrorBody.parse(JSON.parse(text));
  assert.equal(body.error.code, code);
  assert.equal(body.error.requestId, response.headers.get('Request-Id'));
  assert.match(body.error.requestId, /^req_/);
  return body.error;
}

function assertNoCors(response: Response): void {
  assert.equal(response.headers.get('Access-Control-Allow-Origin'), null);
  assert.equal(response.headers.get('Access-Control-Allow-Credentials'), null);
  assert.equal(response.headers.get('Access-Control-Expose-Headers'), null);
  assert.equal(response.headers.get('Access-Control-Allow-Methods'), null);
}

/** A preflight answered for reads only (4 atop cors.ts): GET, the key and the language, nothing cached. */
function assertReadsOnly(response: Response, origin: string): void {
  assert.equal(response.status, 204);
  assert.equal(response.headers.get('Access-Control-Allow-Origin'), origin);
  assert.equal(response.headers.get('Access-Control-Allow-Methods'), 'GET');
  assert.equal(response.headers.get('Access-Control-Allow-Headers'), 'Authorization, Accept-Language');
  assert.equal(response.headers.get('Access-Control-Max-Age'), null, 'not cached: adding the origin takes effect at once');
  assert.equal(response.headers.get('Access-Control-Allow-Credentials'), null);
  assertVaryOrigin(response);
}

/**
 * A refusal the page on `origin` may read (1 atop cors.ts), and all it holds: the error body of
 * `origin_not_allowed`, Access-Control-Allow-Origin for that origin alone, no credentials.
 */
async function assertReadableRefusal(response: Response, origin: string): Promise<void> {
  const text = await response.clone().text();
  const error = await expectError(response, 403, 'origin_not_allowed');
  assert.equal(response.headers.get('Access-Control-Allow-Origin'), origin);
  assert.equal(response.headers.get('Access-Control-Allow-Credentials'), null);
  assert.deepEqual(Object.keys(JSON.parse(text) as object), ['error']);
  assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'requestId', 'type']);
  assert.ok(!text.includes('site_shop'), `no data of the site in ${text}`);
  assert.ok(error.message.includes(JSON.stringify(origin)), 'the message names the origin');
  assertVaryOrigin(response);
}

function assertVaryOrigin(response: Response): void {
  assert.match(response.headers.get('Vary') ?? '', /\bOrigin\b/);
}

beforeEach(() => {
  calls.publishable = 0;
  calls.secret = 0;
  calls.registered = [];
  calls.handler = 0;
});

describe('CORS preflight on /v1', () => {
  it('allows an origin some site lists, with methods, headers and max age, and no credentials', async () => {
    const response = await preflight(SHOP_ORIGIN);
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('Access-Control-Allow-Origin'), SHOP_ORIGIN);
    assertVaryOrigin(response);
    const methods = response.headers.get('Access-Control-Allow-Methods') ?? '';
    for (const method of ['GET', 'POST', 'PUT', 'DELETE']) assert.match(methods, new RegExp(`\\b${method}\\b`));
    assert.equal(
      response.headers.get('Access-Control-Allow-Headers'),
      'Authorization, Content-Type, Idempotency-Key, Accept-Language, Diamonds-Token, DPoP',
    );
    assert.equal(response.headers.get('Access-Control-Max-Age'), String(CORS_MAX_AGE_SECONDS));
    assert.equal(response.headers.get('Access-Control-Max-Age'), '600');
    assert.equal(response.headers.get('Access-Control-Allow-Credentials'), null);
    assert.match(response.headers.get('Request-Id') ?? '', /^req_/);
    assert.deepEqual(calls.registered, [SHOP_ORIGIN]);
    assert.equal(calls.handler, 0);
  });

  it('allows any port of localhost through the development pattern', async () => {
    for (const origin of ['http://localhost:5173', 'http://localhost']) {
      const response = await preflight(origin);
      assert.equal(response.status, 204, origin);
      assert.equal(response.headers.get('Access-Control-Allow-Origin'), origin);
    }
  });

  it('refuses an unknown, null or look-alike origin with origin_not_allowed and no CORS headers', async () => {
    for (const origin of LOOK_ALIKES) {
      const response = await preflight(origin);
      const error = await expectError(response, 403, 'origin_not_allowed');
      assertNoCors(response);
      assertVaryOrigin(response);
      assert.equal(response.headers.get('Access-Control-Max-Age'), null);
      assert.match(error.message, /not allowed/);
    }
    // Malformed origins are refused without asking the store.
    assert.deepEqual(calls.registered, [
      'https://unknown.example.net',
      'https://shop.example.com.evil.test',
      'https://evil-shop.example.com',
      'https://shop.example.com:8443',
      'http://shop.example.com',
      'https://shop.example.com.',
      'https://localhost:3000',
      'http://localhost.:3000',
    ]);
  });

  it('decides a preflight that names its key by that key alone', async () => {
    const own = await app.request(`/v1/whoami?key=${SHOP_KEY}`, {
      method: 'OPTIONS',
      headers: { Origin: SHOP_ORIGIN, 'Access-Control-Request-Method': 'GET' },
    });
    assert.equal(own.status, 204);
    assert.equal(own.headers.get('Access-Control-Allow-Origin'), SHOP_ORIGIN);
    assert.deepEqual(calls.registered, []);

    // Registered by another site, but not this key's: a read may go ahead (to be refused
    // readably), a write may not.
    const foreign = (method: string) =>
      app.request(`/v1/whoami?key=${SHOP_KEY}`, {
        method: 'OPTIONS',
        headers: { Origin: OTHER_ORIGIN, 'Access-Control-Request-Method': method },
      });
    assertReadsOnly(await foreign('GET'), OTHER_ORIGIN);
    const write = await foreign('POST');
    await expectError(write, 403, 'origin_not_allowed');
    assertNoCors(write);
    assert.equal((await preflight(OTHER_ORIGIN)).status, 204, 'without the key, the other site\u2019s origin is allowed');
  });

  it('lets a well-formed origin no site lists send reads only: GET with the key, not cached', async () => {
    for (const origin of ['https://unknown.example.net', 'https://shop.example.com:8443', 'https://shop.example.com.evil.test']) {
      assertReadsOnly(await preflight(origin, '/v1/whoami', 'GET'), origin);
      // Never a write, whatever it asks for.
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        const write = await preflight(origin, '/v1/whoami', method);
        await expectError(write, 403, 'origin_not_allowed');
        assertNoCors(write);
      }
    }
    // null, malformed and non-canonical origins get nothing, not even for a read.
    for (const origin of [
      'null',
      'not an origin',
      'https://SHOP.example.com',
      'https://shop.example.com/',
      'https://user@shop.example.com',
    ]) {
      const read = await preflight(origin, '/v1/whoami', 'GET');
      await expectError(read, 403, 'origin_not_allowed');
      assertNoCors(read);
    }
    assert.equal(calls.handler, 0);
  });

  it('refuses a preflight naming a secret, unknown or malformed key, with no CORS headers', async () => {
    const cases: [string, number, string][] = [
      [SECRET_KEY, 403, 'secret_key_in_browser'],
      ['pk_test_unknown123456', 401, 'invalid_api_key'],
      ['hello', 401, 'invalid_api_key'],
      ['', 401, 'invalid_api_key'],
    ];
    for (const [key, status, code] of cases) {
      const response = await app.request(`/v1/whoami?key=${encodeURIComponent(key)}`, {
        method: 'OPTIONS',
        headers: { Origin: SHOP_ORIGIN, 'Access-Control-Request-Method': 'GET' },
      });
      await expectError(response, status, code);
      assertNoCors(response);
    }
    assert.equal(calls.secret, 0);
  });

  it('treats OPTIONS without Access-Control-Request-Method as an ordinary request', async () => {
    const response = await app.request('/v1/whoami', { method: 'OPTIONS', headers: { Origin: SHOP_ORIGIN } });
    await expectError(response, 401, 'authentication_required');
    assertNoCors(response);
  });
});

describe('CORS on actual /v1 requests', () => {
  it('lets an allowed origin in with its publishable key and reflects only that origin', async () => {
    const response = await call({ origin: SHOP_ORIGIN, key: SHOP_KEY });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('Access-Control-Allow-Origin'), SHOP_ORIGIN);
    assert.equal(response.headers.get('Access-Control-Expose-Headers'), 'Request-Id, Retry-After, Idempotency-Key');
    assert.equal(response.headers.get('Access-Control-Allow-Credentials'), null);
    assertVaryOrigin(response);
    assert.deepEqual(await response.json(), { siteId: 'site_shop', keyKind: 'publishable', origin: SHOP_ORIGIN });
  });

  it('lets localhost on any port in through the development pattern', async () => {
    const response = await call({ origin: 'http://localhost:5173', key: SHOP_KEY });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('Access-Control-Allow-Origin'), 'http://localhost:5173');
  });

  it('refuses an unknown, null or look-alike origin with 403 origin_not_allowed and no Access-Control-Allow-Origin', async () => {
    for (const origin of LOOK_ALIKES) {
      const response = await call({ origin, key: SHOP_KEY, method: 'POST' });
      const error = await expectError(response, 403, 'origin_not_allowed');
      assertNoCors(response);
      assertVaryOrigin(response);
      assert.ok(!error.message.includes(SHOP_KEY), 'the full key is not echoed');
    }
    assert.equal(calls.handler, 0);
  });

  it('lets the page read why its read was refused, and nothing else: no handler runs, no data, no credentials', async () => {
    // As the attacker: another site's page (its origin listed for that site, not this one), and
    // a page no site lists, read with this site's public key what it reads from its own origins.
    for (const origin of [OTHER_ORIGIN, 'https://unknown.example.net', 'https://shop.example.com.evil.test']) {
      await assertReadableRefusal(await call({ origin, key: SHOP_KEY }), origin);
    }
    // null and non-canonical origins read nothing, not even the refusal.
    for (const origin of ['null', 'https://SHOP.example.com', 'not an origin']) {
      const response = await call({ origin, key: SHOP_KEY });
      await expectError(response, 403, 'origin_not_allowed');
      assertNoCors(response);
    }
    // A write, or a read with a fan's token, is refused unreadably as before.
    for (const refused of [
      await call({ origin: OTHER_ORIGIN, key: SHOP_KEY, method: 'POST' }),
      await call({ origin: OTHER_ORIGIN, key: SHOP_KEY, headers: { 'Diamonds-Token': 'dat_stolen' } }),
    ]) {
      await expectError(refused, 403, 'origin_not_allowed');
      assertNoCors(refused);
    }
    assert.equal(calls.handler, 0, 'the handler never ran');
  });

  it('refuses a secret key sent from a browser, without looking it up or adding CORS headers', async () => {
    for (const origin of [SHOP_ORIGIN, 'null', 'https://evil.test']) {
      const response = await call({ origin, key: SECRET_KEY, method: 'POST' });
      const error = await expectError(response, 403, 'secret_key_in_browser');
      assertNoCors(response);
      assert.ok(!error.message.includes(SECRET_KEY));
    }
    const sameOriginFetch = await call({ key: SECRET_KEY, headers: { 'Sec-Fetch-Site': 'same-origin', 'Sec-Fetch-Mode': 'cors' } });
    await expectError(sameOriginFetch, 403, 'secret_key_in_browser');
    const madeUp = await call({ origin: SHOP_ORIGIN, key: 'sk_live_madeup' });
    await expectError(madeUp, 403, 'secret_key_in_browser');
    assert.equal(calls.secret, 0);
    assert.equal(calls.handler, 0);
  });

  it('lets a secret key in from a server (no Origin), Node’s own fetch included', async () => {
    const response = await call({ key: SECRET_KEY });
    assert.equal(response.status, 200);
    // Node's fetch sends Sec-Fetch-Mode: cors on every request; that alone is no browser.
    assert.equal((await call({ key: SECRET_KEY, headers: { 'Sec-Fetch-Mode': 'cors' } })).status, 200);
    assertNoCors(response);
    assert.deepEqual(await response.json(), { siteId: 'site_shop', keyKind: 'secret', origin: null });
  });

  it('lets a publishable key in without Origin (the SDK in Node), with no CORS headers', async () => {
    const response = await call({ key: SHOP_KEY });
    assert.equal(response.status, 200);
    assertNoCors(response);
    assertVaryOrigin(response);
    assert.deepEqual(await response.json(), { siteId: 'site_shop', keyKind: 'publishable', origin: null });
  });

  it('refuses an unknown or revoked key with invalid_api_key and no CORS headers, even from an allowed origin', async () => {
    for (const key of ['pk_test_revoked1234567', 'sk_test_revoked1234567']) {
      const response = await call({ origin: key.startsWith('pk_') ? SHOP_ORIGIN : undefined, key });
      const error = await expectError(response, 401, 'invalid_api_key');
      assertNoCors(response);
      assert.ok(!error.message.includes(key), 'the full key is not echoed');
      assert.match(error.message, /…4567/);
    }
  });

  it('asks for a key when there is none, and refuses malformed Authorization headers', async () => {
    await expectError(await call({ origin: SHOP_ORIGIN }), 401, 'authentication_required');
    await expectError(await call({ authorization: '' }), 401, 'authentication_required');
    for (const authorization of [
      `Basic ${SHOP_KEY}`,
      SHOP_KEY,
      'Bearer',
      'Bearer ',
      `Bearer ${SHOP_KEY} extra`,
      'Bearer abc',
      'Bearer pk_',
      `Bearer pk_${'a'.repeat(300)}`,
      'Bearer pk_te\u00e9st',
    ]) {
      const response = await call({ origin: SHOP_ORIGIN, authorization });
      await expectError(response, 401, 'invalid_api_key');
      assertNoCors(response);
    }
    assert.equal(calls.publishable, 0);
    const lowercase = await call({ origin: SHOP_ORIGIN, authorization: `bearer ${SHOP_KEY}` });
    assert.equal(lowercase.status, 200);
  });

  it('keeps CORS headers on errors from handlers and on not found, so the page can read them', async () => {
    const broke = await call({ origin: SHOP_ORIGIN, key: SHOP_KEY, method: 'POST', path: '/v1/broke' });
    await expectError(broke, 402, 'insufficient_funds');
    assert.equal(broke.headers.get('Access-Control-Allow-Origin'), SHOP_ORIGIN);
    assert.match(broke.headers.get('Access-Control-Expose-Headers') ?? '', /Request-Id/);
    assertVaryOrigin(broke);

    const missing = await call({ origin: SHOP_ORIGIN, key: SHOP_KEY, path: '/v1/nothing-here' });
    await expectError(missing, 404, 'not_found');
    assert.equal(missing.headers.get('Access-Control-Allow-Origin'), SHOP_ORIGIN);
  });

  it('does not touch routes outside /v1', async () => {
    const response = await app.request('/nothing', { headers: { Origin: 'https://evil.test' } });
    await expectError(response, 404, 'not_found');
    assert.equal(response.headers.get('Vary'), null);
    assertNoCors(response);
  });
});

describe('A read that names its publishable key in the query (no preflight)', () => {
  const withKey = (key: string, path = '/v1/whoami') => `${path}?key=${encodeURIComponent(key)}`;

  it('lets an allowed origin read with ?key=pk_… and no Authorization, decided by that key as with the header', async () => {
    // What the elements' first reads send: no header a browser asks about, so no preflight.
    const response = await call({ origin: SHOP_ORIGIN, path: withKey(SHOP_KEY), headers: { 'Accept-Language': 'de-DE' } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('Access-Control-Allow-Origin'), SHOP_ORIGIN);
    assert.equal(response.headers.get('Access-Control-Allow-Credentials'), null);
    assertVaryOrigin(response);
    assert.deepEqual(await response.json(), { siteId: 'site_shop', keyKind: 'publishable', origin: SHOP_ORIGIN });
    const fromNode = await call({ path: withKey(SHOP_KEY) });
    assert.equal(fromNode.status, 200);
    assertNoCors(fromNode);
  });

  it('refuses every origin the key does not list as strictly as with the header: readable refusal, no handler, no data', async () => {
    for (const origin of [OTHER_ORIGIN, 'https://unknown.example.net', 'https://shop.example.com.evil.test']) {
      await assertReadableRefusal(await call({ origin, path: withKey(SHOP_KEY) }), origin);
    }
    for (const origin of ['null', 'https://SHOP.example.com', 'not an origin']) {
      const response = await call({ origin, path: withKey(SHOP_KEY) });
      await expectError(response, 403, 'origin_not_allowed');
      assertNoCors(response);
    }
    assert.equal(calls.handler, 0);
  });

  it('refuses a secret, unknown or malformed key in the query without looking a secret up', async () => {
    const fromBrowser: Array<Record<string, string>> = [
      { Origin: SHOP_ORIGIN },
      { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors' },
    ];
    for (const headers of fromBrowser) {
      const response = await call({ path: withKey(SECRET_KEY), headers });
      const error = await expectError(response, 403, 'secret_key_in_browser');
      assertNoCors(response);
      assert.ok(!error.message.includes(SECRET_KEY));
    }
    // From a server too: a secret key never belongs in a URL.
    const fromServer = await expectError(await call({ path: withKey(SECRET_KEY) }), 401, 'invalid_api_key');
    assert.equal(fromServer.param, 'key');
    assert.ok(!fromServer.message.includes(SECRET_KEY));
    for (const key of ['abc', 'pk_', `pk_${'a'.repeat(300)}`, 'dat_token']) {
      const response = await call({ origin: SHOP_ORIGIN, path: withKey(key) });
      assert.equal((await expectError(response, 401, 'invalid_api_key')).param, 'key');
      assertNoCors(response);
    }
    const unknown = await call({ origin: SHOP_ORIGIN, path: withKey('pk_test_revoked1234567') });
    await expectError(unknown, 401, 'invalid_api_key');
    assertNoCors(unknown);
    assert.equal(calls.secret, 0);
    assert.equal(calls.handler, 0);
  });

  it('takes the query key for reads only, never for a no-cors load, and lets Authorization win', async () => {
    // A write still needs the header (and so a preflight from a page): the query key is not read.
    const write = await call({ origin: SHOP_ORIGIN, method: 'POST', path: withKey(SHOP_KEY) });
    await expectError(write, 401, 'authentication_required');
    assert.equal(calls.publishable, 0);
    // An <img> or <script> of another page loading the URL: no Origin to check, so refused.
    const noCors = await call({ path: withKey(SHOP_KEY), headers: { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'no-cors' } });
    await expectError(noCors, 403, 'origin_not_allowed');
    assertNoCors(noCors);
    assert.equal(calls.handler, 0);
    // With Authorization, the query's key is ignored (2 atop cors.ts): the header decides.
    const both = await call({ origin: SHOP_ORIGIN, key: SHOP_KEY, path: withKey('pk_test_other123456789') });
    assert.equal(both.status, 200);
    assert.equal(((await both.json()) as Caller).siteId, 'site_shop');
  });
});

describe('CORS over real HTTP', () => {
  const served = serveDuringSuite(app);

  function send(
    method: string,
    headers: Record<string, string>,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: served.port, method, path: '/v1/whoami', headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('answers a browser-shaped preflight then the request, and refuses a look-alike', async () => {
    const ok = await send('OPTIONS', {
      Origin: SHOP_ORIGIN,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization',
    });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers['access-control-allow-origin'], SHOP_ORIGIN);
    assert.match(String(ok.headers['access-control-allow-headers']), /Authorization/);

    const actual = await send('POST', { Origin: SHOP_ORIGIN, Authorization: `Bearer ${SHOP_KEY}` });
    assert.equal(actual.status, 200);
    assert.equal(actual.headers['access-control-allow-origin'], SHOP_ORIGIN);
    assert.deepEqual(JSON.parse(actual.body), { siteId: 'site_shop' });

    const evil = await send('POST', { Origin: 'https://shop.example.com.evil.test', Authorization: `Bearer ${SHOP_KEY}` });
    assert.equal(evil.status, 403);
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
    assert.equal(ErrorBody.parse(JSON.parse(evil.body)).error.code, 'origin_not_allowed');
    // Its read is refused readably by itself (so its page can say why), never as the shop.
    const read = await send('GET', { Origin: 'https://shop.example.com.evil.test', Authorization: `Bearer ${SHOP_KEY}` });
    assert.equal(read.status, 403);
    assert.equal(read.headers['access-control-allow-origin'], 'https://shop.example.com.evil.test');
    assert.equal(ErrorBody.parse(JSON.parse(read.body)).error.code, 'origin_not_allowed');
  });
});
