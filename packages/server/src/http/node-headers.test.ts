import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { once } from 'node:events';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { headerFromNode, headersFromNode } from './node-headers.js';

/** Sends `head` (request line and header lines) over a raw socket: repeated and oddly cased fields as written. */
async function rawRequest(port: number, head: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.end(`${head}\r\nConnection: close\r\n\r\n`);
  let answer = '';
  for await (const chunk of socket) answer += String(chunk);
  return answer;
}

const HEAD = [
  'GET /h HTTP/1.1',
  'Host: 127.0.0.1',
  'X-Thing: one',
  'x-THING: two',
  'Authorization: Bearer first',
  'authorization: Bearer second',
  'DPoP:   eyJ.proof.sig  ',
  'Empty:',
].join('\r\n');

describe('headers read from Node’s request', () => {
  it('gives what the Fetch API’s Headers.get gives, for every name, in any case', async () => {
    let seen: IncomingMessage | undefined;
    const server = createServer((request, response) => {
      seen = request;
      response.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      await rawRequest((server.address() as { port: number }).port, HEAD);
      assert.ok(seen);
      const fetchHeaders = new Headers();
      for (let i = 0; i < seen.rawHeaders.length; i += 2) fetchHeaders.append(seen.rawHeaders[i]!, seen.rawHeaders[i + 1]!);
      for (const name of ['x-thing', 'X-Thing', 'authorization', 'AUTHORIZATION', 'dpop', 'empty', 'host', 'absent']) {
        assert.equal(headerFromNode(seen, name), fetchHeaders.get(name) ?? undefined, name);
      }
      assert.equal(headerFromNode(seen, 'x-thing'), 'one, two');
      assert.equal(
        headerFromNode(seen, 'Authorization'),
        'Bearer first, Bearer second',
        'not the first alone, as Node’s headers object keeps',
      );
      assert.equal(headerFromNode(seen, 'dpop'), 'eyJ.proof.sig');
      assert.equal(headerFromNode(seen, 'empty'), '');
      assert.equal(headerFromNode(seen, 'absent'), undefined);
    } finally {
      server.close();
    }
  });

  it('answers c.req.header(name) under @hono/node-server, and c.req.header() as Hono does', async () => {
    const app = new Hono();
    app.use('*', headersFromNode());
    app.get('/h', (c) =>
      c.json({ thing: c.req.header('X-Thing') ?? null, absent: c.req.header('Absent') ?? null, all: c.req.header()['x-thing'] ?? null }),
    );
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await once(server, 'listening');
    try {
      const answer = await rawRequest((server.address() as { port: number }).port, HEAD);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
      assert.deepEqual(body, { thing: 'one, two', absent: null, all: 'one, two' });
      // Outside Node (app.request builds a web Request), Hono's own reading is kept.
      const direct = await app.request('/h', { headers: { 'X-Thing': 'web' } });
      assert.deepEqual(await direct.json(), { thing: 'web', absent: null, all: 'web' });
    } finally {
      server.close();
    }
  });
});
