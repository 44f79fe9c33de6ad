import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { z } from 'zod';
import { ErrorBody } from '@diamonds/protocol';
import { createBaseApp } from '../app.js';
import { ApiError } from '../errors.js';
import { DEFAULT_MAX_BODY_BYTES, MAX_JSON_DEPTH, formBody, jsonBody, validate } from './body.js';
import { serveDuringSuite } from './testing.js';

const handled = { json: 0 };

function buildApp() {
  const app = createBaseApp();
  app.post('/echo', jsonBody(), (c) => {
    handled.json++;
    return c.json(c.get('json'));
  });
  app.get('/echo', jsonBody(), (c) => c.json(c.get('json')));
  app.post('/small', jsonBody({ maxBytes: 64 }), (c) => c.json(c.get('json')));
  app.post('/form', formBody(), (c) => {
    return c.json({
      form: c.get('form'),
      own: Object.keys(c.get('form')),
      proto: Object.getPrototypeOf(c.get('form')) === Object.prototype,
    });
  });
  return app;
}

const app = buildApp();
const JSON_HEADERS = { 'Content-Type': 'application/json' };

function post(path: string, body: BodyInit | null, headers: Record<string, string> = JSON_HEADERS) {
  return app.request(path, { method: 'POST', body, headers });
}

async function expectError(response: Response, status: number, code: string): Promise<ErrorBody['error']> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  const body = ErrorBody.parse(JSON.parse(text));
  assert.equal(body.error.code, code, text);
  assert.match(body.error.requestId, /^req_/);
  return body.error;
}

/** A body stream of `chunkBytes`-byte chunks, endless unless `totalChunks`; counts what was pulled. */
function countingStream(chunkBytes: number, totalChunks = Infinity) {
  const counter = { pulled: 0 };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (counter.pulled >= totalChunks) {
          controller.close();
          return;
        }
        counter.pulled++;
        controller.enqueue(new Uint8Array(chunkBytes).fill(0x20));
      },
    },
    { highWaterMark: 0 },
  ); // pulled only when read
  return { stream, counter };
}

describe('jsonBody', () => {
  it('parses a JSON object into c.get("json")', async () => {
    const response = await post('/echo', JSON.stringify({ amountDiamonds: 100, message: 'Thanks! 💎', nested: { list: [1, 'two'] } }));
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { amountDiamonds: 100, message: 'Thanks! 💎', nested: { list: [1, 'two'] } });
  });

  it('accepts application/json in any case, with a utf-8 charset, and a BOM', async () => {
    for (const type of [
      'application/json',
      'Application/JSON',
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
      'application/json; charset=utf8',
    ]) {
      const response = await post('/echo', '\uFEFF{"a":1}', { 'Content-Type': type });
      assert.equal(response.status, 200, type);
      assert.deepEqual(await response.json(), { a: 1 });
    }
  });

  it('treats an empty body as {}', async () => {
    assert.deepEqual(await (await post('/echo', null, {})).json(), {});
    // fetch labels a string body text/plain, and a form or text post is refused even when empty.
    await expectError(await post('/echo', '', {}), 415, 'unsupported_media_type');
    assert.deepEqual(await (await post('/echo', '  \n', JSON_HEADERS)).json(), {});
    assert.deepEqual(await (await app.request('/echo')).json(), {});
  });

  it('refuses a declared Content-Length over the limit with 413 before reading a byte', { timeout: 10_000 }, async () => {
    const { stream, counter } = countingStream(1024);
    const handledBefore = handled.json;
    const response = await app.request('/echo', {
      method: 'POST',
      body: stream,
      headers: { ...JSON_HEADERS, 'Content-Length': String(100 * 1024) },
      duplex: 'half',
    } as RequestInit);
    const error = await expectError(response, 413, 'payload_too_large');
    assert.match(error.message, /102400 bytes; the limit is 16384 bytes \(16 KiB\)/);
    assert.equal(counter.pulled, 0, 'nothing was read');
    assert.equal(handled.json, handledBefore, 'the handler did not run');
  });

  it('refuses a body without Content-Length as soon as it passes the limit, without reading on', { timeout: 10_000 }, async () => {
    const { stream, counter } = countingStream(1024); // endless: only an early stop can answer
    const response = await app.request('/echo', { method: 'POST', body: stream, headers: JSON_HEADERS, duplex: 'half' } as RequestInit);
    await expectError(response, 413, 'payload_too_large');
    const limitChunks = DEFAULT_MAX_BODY_BYTES / 1024;
    assert.ok(counter.pulled > limitChunks, `read past the limit (${counter.pulled} chunks)`);
    assert.ok(counter.pulled <= limitChunks + 2, `stopped reading at the limit, not after (${counter.pulled} chunks)`);
  });

  it('accepts a body of exactly the limit and refuses one byte more', async () => {
    const exact = JSON.stringify({ a: 'x'.repeat(64 - 8) });
    assert.equal(Buffer.byteLength(exact), 64);
    assert.equal((await post('/small', exact)).status, 200);
    await expectError(await post('/small', JSON.stringify({ a: 'x'.repeat(64 - 7) })), 413, 'payload_too_large');
    // Counted in bytes, not characters.
    await expectError(await post('/small', JSON.stringify({ a: 'é'.repeat(40) })), 413, 'payload_too_large');
    const { stream } = countingStream(65, 1);
    const streamed = await app.request('/small', { method: 'POST', body: stream, headers: JSON_HEADERS, duplex: 'half' } as RequestInit);
    await expectError(streamed, 413, 'payload_too_large');
  });

  it('requires Content-Type: application/json, refusing form posts and other types with 415', async () => {
    for (const type of [
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'text/plain',
      'application/jsonx',
      'application/json-patch+json',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
    ]) {
      const response = await post('/echo', '{"a":1}', { 'Content-Type': type });
      const error = await expectError(response, 415, 'unsupported_media_type');
      assert.match(error.message, /application\/json|UTF-8/, type);
    }
    await expectError(await post('/echo', '{"a":1}', {}), 415, 'unsupported_media_type');
    await expectError(await post('/echo', '{"a":1}', { ...JSON_HEADERS, 'Content-Encoding': 'gzip' }), 415, 'unsupported_media_type');
    assert.equal((await post('/echo', '{"a":1}', { ...JSON_HEADERS, 'Content-Encoding': 'identity' })).status, 200);
  });

  it('refuses malformed JSON with invalid_json and a helpful message', async () => {
    for (const body of ['{', '{"a":}', '{"a":1,}', "{'a':1}", '{"a":1}}', 'undefined', '{"a": NaN}']) {
      const error = await expectError(await post('/echo', body), 400, 'invalid_json');
      assert.match(error.message, /^The body is not valid JSON: ./, body);
    }
  });

  it('refuses a top level that is not an object', async () => {
    const cases: [string, string][] = [
      ['[1,2]', 'an array'],
      ['null', 'null'],
      ['"hello"', 'a string'],
      ['42', 'a number'],
      ['true', 'a boolean'],
    ];
    for (const [body, kind] of cases) {
      const error = await expectError(await post('/echo', body), 400, 'invalid_json');
      assert.equal(error.message, `The body must be a JSON object, such as {"amountDiamonds": 100}; it is ${kind}.`);
    }
  });

  it('refuses bytes that are not UTF-8', async () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]); // {"a":"\xff\xfe"}
    const error = await expectError(await post('/echo', bytes), 400, 'invalid_json');
    assert.match(error.message, /UTF-8/);
  });

  it('refuses NUL and unpaired surrogates anywhere, naming the field', async () => {
    const cases: [string, string | undefined][] = [
      ['{"gift":{"message":"hi\\u0000there"}}', 'gift.message'],
      ['{"items":["ok","\\ud800"]}', 'items.1'],
      ['{"name":"\\udc00x"}', 'name'],
      ['{"name":"x\\ud83d"}', 'name'],
      ['{"meta":{"a\\u0000b":1}}', 'meta'],
      ['{"\\ud800":1}', undefined],
    ];
    for (const [body, param] of cases) {
      const error = await expectError(await post('/echo', body), 400, 'invalid_request');
      assert.equal(error.param, param, body);
      assert.match(error.message, /NUL|unpaired surrogate/);
    }
    const paired = await post('/echo', '{"emoji":"\\ud83d\\udc8e"}');
    assert.deepEqual(await paired.json(), { emoji: '💎' });
  });

  it('refuses nesting deeper than the cap', async () => {
    const nest = (depth: number) => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);
    assert.equal((await post('/echo', nest(MAX_JSON_DEPTH))).status, 200);
    await expectError(await post('/echo', nest(MAX_JSON_DEPTH + 1)), 400, 'invalid_json');
    await expectError(await post('/echo', `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`), 400, 'invalid_json');
  });

  it('keeps "__proto__" as data', async () => {
    const response = await post('/echo', '{"__proto__":{"polluted":true}}');
    assert.equal(response.status, 200);
    const echoed = (await response.json()) as object;
    assert.ok(Object.hasOwn(echoed, '__proto__'));
    assert.deepEqual(echoed, JSON.parse('{"__proto__":{"polluted":true}}'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('never answers bad input with a 500', async () => {
    const bodies = [
      '',
      '{',
      '[]',
      '"\\u0000"',
      '{"a":"\\ud800"}',
      '\u0000',
      'x'.repeat(20_000),
      '{"a":1e999999}',
      '{"a":-0}',
      '{"a":' + '1'.repeat(400) + '}',
    ];
    const types = [undefined, 'application/json', 'text/plain', 'application/json; charset=nope', ';;;', 'application/json; charset'];
    for (const body of bodies) {
      for (const type of types) {
        const response = await post('/echo', body, type === undefined ? {} : { 'Content-Type': type });
        assert.ok(response.status < 500, `${response.status} for ${JSON.stringify(body.slice(0, 20))} as ${type}`);
        await response.arrayBuffer();
      }
    }
  });
});

describe('formBody', () => {
  const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

  it('parses a form into a record of strings', async () => {
    const response = await post('/form', 'amount=100&message=Merci+%F0%9F%92%8E&empty=', FORM);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { form: Record<string, string>; proto: boolean };
    assert.deepEqual(body.form, { amount: '100', message: 'Merci 💎', empty: '' });
    assert.equal(body.proto, true);
  });

  it('refuses a field given twice, a nameless field and NUL', async () => {
    const twice = await expectError(await post('/form', 'to=alice&amount=1&to=mallory', FORM), 400, 'invalid_request');
    assert.equal(twice.param, 'to');
    assert.match(twice.message, /more than once/);
    await expectError(await post('/form', '=x', FORM), 400, 'invalid_request');
    const nul = await expectError(await post('/form', 'name=a%00b', FORM), 400, 'invalid_request');
    assert.equal(nul.param, 'name');
  });

  it('keeps a "__proto__" field as a field', async () => {
    const response = await post('/form', '__proto__=x&a=1', FORM);
    const body = (await response.json()) as { own: string[]; proto: boolean };
    assert.deepEqual(body.own, ['__proto__', 'a']);
    assert.equal(body.proto, true);
  });

  it('applies the same size rules, 413 before reading', { timeout: 10_000 }, async () => {
    const { stream, counter } = countingStream(1024);
    const response = await app.request('/form', {
      method: 'POST',
      body: stream,
      headers: { ...FORM, 'Content-Length': String(100 * 1024) },
      duplex: 'half',
    } as RequestInit);
    await expectError(response, 413, 'payload_too_large');
    assert.equal(counter.pulled, 0);
    await expectError(await post('/form', `a=${'x'.repeat(DEFAULT_MAX_BODY_BYTES)}`, FORM), 413, 'payload_too_large');
  });

  it('refuses JSON and multipart with 415, and treats an empty body as {}', async () => {
    await expectError(await post('/form', '{"a":1}', JSON_HEADERS), 415, 'unsupported_media_type');
    await expectError(await post('/form', 'a=1', { 'Content-Type': 'multipart/form-data; boundary=x' }), 415, 'unsupported_media_type');
    await expectError(await post('/form', 'a=1', {}), 415, 'unsupported_media_type');
    const empty = await post('/form', '', FORM);
    assert.deepEqual(((await empty.json()) as { form: unknown }).form, {});
  });
});

describe('validate', () => {
  const GiftParams = z.strictObject({
    amountDiamonds: z.number().int().min(1),
    message: z.string().max(10).optional(),
    postings: z.array(z.strictObject({ amount: z.number() })).optional(),
    kind: z.enum(['gift', 'tip']).optional(),
  });

  function refusal(value: unknown): ApiError {
    try {
      validate(GiftParams, value);
    } catch (error) {
      assert.ok(error instanceof ApiError);
      assert.equal(error.code, 'invalid_request');
      assert.equal(error.status, 400);
      return error;
    }
    assert.fail('validate accepted the value');
  }

  it('returns the parsed value', () => {
    const params: { amountDiamonds: number } = validate(GiftParams, { amountDiamonds: 5, kind: 'tip' });
    assert.deepEqual(params, { amountDiamonds: 5, kind: 'tip' });
  });

  it('names a missing parameter', () => {
    const error = refusal({});
    assert.equal(error.param, 'amountDiamonds');
    assert.equal(error.message, 'Missing required parameter: amountDiamonds.');
  });

  it('names a parameter of the wrong type, without echoing the value', () => {
    const error = refusal({ amountDiamonds: 'secret-looking-value' });
    assert.equal(error.param, 'amountDiamonds');
    assert.equal(error.message, 'Invalid amountDiamonds: expected a number, got a string.');
    const nullish = refusal({ amountDiamonds: null });
    assert.equal(nullish.message, 'Invalid amountDiamonds: expected a number, got null.');
  });

  it('names an unknown parameter', () => {
    const error = refusal({ amountDiamonds: 1, amount: 1 });
    assert.equal(error.param, 'amount');
    assert.match(error.message, /^Unknown parameter: amount\./);
    const nested = refusal({ amountDiamonds: 1, postings: [{ amount: 1, extra: true }] });
    assert.equal(nested.param, 'postings.0.extra');
  });

  it('gives nested paths in dotted form', () => {
    const error = refusal({ amountDiamonds: 1, postings: [{ amount: 1 }, { amount: 'x' }] });
    assert.equal(error.param, 'postings.1.amount');
    assert.equal(error.message, 'Invalid postings.1.amount: expected a number, got a string.');
  });

  it('passes on range and option messages, and counts the other problems', () => {
    const long = refusal({ amountDiamonds: 1, message: 'far too long a message' });
    assert.equal(long.param, 'message');
    assert.match(long.message, /^Invalid message: too big/);
    assert.ok(!long.message.includes('far too long'));
    const option = refusal({ amountDiamonds: 1, kind: 'bribe' });
    assert.match(option.message, /^Invalid kind: invalid option.*"gift"/);
    const several = refusal({ amountDiamonds: 0.5, message: 3, kind: 'x' });
    assert.equal(several.param, 'amountDiamonds');
    assert.match(several.message, /\(2 more problems after this one\.\)$/);
  });

  it('describes a wrong top level without a param', () => {
    const error = refusal([]);
    assert.equal(error.param, undefined);
    assert.equal(error.message, 'The body must be an object; it is an array.');
  });
});

describe('body limits over real HTTP', { timeout: 20_000 }, () => {
  const served = serveDuringSuite(app);

  interface Answer {
    status: number;
    body: string;
    ms: number;
    reusedSocket: boolean;
  }

  /** Sends a POST; `write` feeds the body and must end it or leave it open. Resolves on the full response. */
  function send(
    headers: Record<string, string>,
    write: (req: ReturnType<typeof httpRequest>, answered: () => boolean) => void,
    agent?: Agent,
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      let done = false;
      const req = httpRequest(
        { host: '127.0.0.1', port: served.port, method: 'POST', path: '/echo', headers, agent: agent ?? false },
        (res: IncomingMessage) => {
          done = true;
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started, reusedSocket: req.reusedSocket });
            if (!req.writableEnded) req.destroy();
          });
        },
      );
      // Once the server has answered, it may close the connection under a body still being sent.
      req.on('error', (error) => (done ? undefined : reject(error)));
      write(req, () => done);
    });
  }

  function code(answer: Answer): string {
    return ErrorBody.parse(JSON.parse(answer.body)).error.code;
  }

  it('answers 413 to a declared 100 KB body at once, before the body is even sent', async () => {
    const answer = await send({ 'Content-Type': 'application/json', 'Content-Length': String(100 * 1024) }, (req) => req.flushHeaders());
    assert.equal(answer.status, 413);
    assert.equal(code(answer), 'payload_too_large');
    assert.ok(answer.ms < 1000, `answered in ${answer.ms} ms`);
  });

  it('answers 413 to a whole 100 KB body sent with Content-Length, and keeps the connection usable', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const big = Buffer.alloc(100 * 1024, 0x20);
      const answer = await send({ 'Content-Type': 'application/json', 'Content-Length': String(big.length) }, (req) => req.end(big), agent);
      assert.equal(answer.status, 413);
      assert.equal(code(answer), 'payload_too_large');
      assert.ok(answer.ms < 1000, `answered in ${answer.ms} ms`);
      const next = await send({ 'Content-Type': 'application/json' }, (req) => req.end('{"after":true}'), agent);
      assert.equal(next.status, 200);
      assert.deepEqual(JSON.parse(next.body), { after: true });
      assert.equal(next.reusedSocket, true, 'the server read off the refused body and kept the connection');
    } finally {
      agent.destroy();
    }
  });

  it('answers 413 to a chunked body as soon as it passes the limit, while the client is still sending', async () => {
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const answer = await send({ 'Content-Type': 'application/json' }, (req, answered) => {
      const chunk = Buffer.alloc(2048, 0x20);
      timer = setInterval(() => {
        if (answered() || req.destroyed || sent >= 100 * 1024) {
          clearInterval(timer);
          if (!answered() && !req.destroyed) req.end();
          return;
        }
        sent += chunk.length;
        req.write(chunk);
      }, 5);
    });
    clearInterval(timer);
    assert.equal(answer.status, 413);
    assert.equal(code(answer), 'payload_too_large');
    assert.ok(sent < 100 * 1024, `answered after ${sent} bytes, before the client finished its 100 KB`);
    assert.ok(answer.ms < 2000, `answered in ${answer.ms} ms`);
  });

  it('is fine afterwards', async () => {
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, index) => send({ 'Content-Type': 'application/json' }, (req) => req.end(JSON.stringify({ index })))),
    );
    assert.deepEqual(
      answers.map((answer) => [answer.status, JSON.parse(answer.body)]),
      Array.from({ length: 5 }, (_, index) => [200, { index }]),
    );
  });
});
