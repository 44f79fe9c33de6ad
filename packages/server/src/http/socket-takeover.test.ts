import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { canTakeOverConnection, takeOverConnection } from './socket-takeover.js';

type Handler = (incoming: IncomingMessage, outgoing: ServerResponse) => void;

describe('taking a connection over from Node’s HTTP server (for live streams)', () => {
  let server: Server;
  let port: number;
  let handle: Handler = (_incoming, outgoing) => outgoing.end('plain');
  before(async () => {
    // Node calls its handler before it has read the request's end; a route's handler answers
    // after its awaits, as the live stream's does.
    server = createServer((incoming, outgoing) => setImmediate(() => handle(incoming, outgoing)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const get = (path: string, agent: Agent | false, method = 'GET') =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent, method }, resolve);
      req.on('error', reject);
      req.end();
    });
  const bodyOf = async (res: IncomingMessage) => {
    let text = '';
    for await (const chunk of res) text += String(chunk);
    return text;
  };

  it('answers on the socket alone, keeps nothing of Node’s request, ends when the socket does', async () => {
    const taken: Socket[] = [];
    handle = (incoming, outgoing) => {
      if (incoming.url !== '/stream') return outgoing.end('plain');
      assert.equal(canTakeOverConnection(incoming, outgoing), true);
      const socket = takeOverConnection(incoming, outgoing, 200, { 'Content-Type': 'text/event-stream', 'X-Stream': 'yes' }, 'first\n');
      assert.ok(socket);
      // What Node's server held for the answer is let go: no parser, no response.
      assert.equal((socket as unknown as { parser: unknown }).parser, null);
      assert.equal((socket as unknown as { _httpMessage: unknown })._httpMessage, null);
      taken.push(socket);
    };
    // The stream on a connection that already carried a request, as a page's would be.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      assert.equal(await bodyOf(await get('/plain', agent)), 'plain');
      const res = await get('/stream', agent);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'text/event-stream');
      assert.equal(res.headers['x-stream'], 'yes');
      assert.equal(res.headers.connection, 'close');
      assert.equal(res.headers['transfer-encoding'], undefined);
      assert.ok(res.headers.date);
      const text = bodyOf(res);
      const socket = taken[0]!;
      socket.write('second\n');
      socket.destroySoon();
      assert.equal(await text, 'first\nsecond\n');
    } finally {
      agent.destroy();
    }

    // The client leaving closes the server's socket (the server's sockets are half-open).
    const res = await get('/stream', false);
    const closed = once(taken[1]!, 'close');
    res.destroy();
    await closed;
    assert.equal(taken[1]!.destroyed, true);
    // And the server has no connection left: closing does not wait for any.
    const connections = await new Promise<number>((resolve, reject) =>
      server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );
    assert.equal(connections, 0);
  });

  it('leaves the answer to Node’s response when it cannot take over: not a GET, a header Node would refuse', async () => {
    const outcomes: Array<boolean | undefined> = [];
    handle = (incoming, outgoing) => {
      const headers: Record<string, string> = incoming.url === '/bad-header' ? { 'X-Bad': 'one\r\nInjected: yes' } : { 'X-Fine': 'yes' };
      const socket = takeOverConnection(incoming, outgoing, 200, headers, 'taken');
      outcomes.push(socket !== undefined);
      if (!socket) outgoing.end('plain');
    };
    const post = await get('/stream', false, 'POST');
    assert.equal(await bodyOf(post), 'plain');
    const bad = await get('/bad-header', false);
    assert.equal(bad.headers.injected, undefined);
    assert.equal(await bodyOf(bad), 'plain');
    assert.deepEqual(outcomes, [false, false]);
  });
});
