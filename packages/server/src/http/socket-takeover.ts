import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';

/**
 * Node's own helpers for its HTTP server, the ones its `upgrade` path (WebSockets) uses to hand a
 * connection over: `_http_common` is one of Node's public underscore modules, and each is checked
 * for before it is used, so a Node without them keeps every stream on its response instead.
 */
const httpCommon = createRequire(import.meta.url)('_http_common') as {
  freeParser?: (parser: unknown, request: unknown, socket: unknown) => void;
  _checkIsHttpToken?: (name: string) => boolean;
  _checkInvalidHeaderChar?: (value: string) => boolean;
};

/** The listeners Node's HTTP server puts on a connection's socket (and its response's own). */
const SERVER_SOCKET_EVENTS = ['data', 'end', 'close', 'drain', 'error', 'timeout', 'pause', 'resume'] as const;

type ServerSocket = Socket & { parser?: { incoming?: unknown } | null; _httpMessage?: unknown };

/**
 * Whether the connection of `incoming` can be taken over from Node's HTTP server for a response
 * that never ends (see {@link takeOverConnection}): a finished HTTP/1.x `GET`, the connection's
 * only message in flight, nothing of its answer sent yet, and Node's helpers present.
 */
export function canTakeOverConnection(incoming: IncomingMessage, outgoing: ServerResponse): boolean {
  const socket = outgoing.socket as ServerSocket | null;
  return (
    typeof httpCommon.freeParser === 'function' &&
    typeof httpCommon._checkIsHttpToken === 'function' &&
    typeof httpCommon._checkInvalidHeaderChar === 'function' &&
    typeof outgoing.detachSocket === 'function' &&
    socket !== null &&
    !socket.destroyed &&
    socket._httpMessage === outgoing &&
    socket.parser?.incoming === incoming &&
    incoming.complete &&
    incoming.method === 'GET' &&
    (incoming.httpVersion === '1.1' || incoming.httpVersion === '1.0') &&
    !outgoing.headersSent
  );
}

/**
 * Answers `incoming` with `status` and `headers`, then `body`, straight on its socket, and takes
 * the connection from Node's HTTP server for good: the body that follows is written to the
 * returned socket and ends when it closes (`Connection: close`, no chunks); `undefined`, with
 * nothing done, when {@link canTakeOverConnection} says no or a header is not valid.
 *
 * @remarks For a response that stays open for hours with thousands like it (a live stream):
 * Node keeps, for each connection it serves, its request, its response (with its header text),
 * its parser and about ten bound listeners for as long as the answer lasts. Handed over as
 * Node's `upgrade` path hands a WebSocket's, a connection keeps only its socket (`npm run
 * bench:live`: the memory per stream), and each write is one write to the socket instead of a
 * chunk through the response. The socket is destroyed when the client ends its side: no
 * further request is read from it.
 */
export function takeOverConnection(
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  status: number,
  headers: Readonly<Record<string, string>>,
  body: string,
): Socket | undefined {
  if (!canTakeOverConnection(incoming, outgoing)) return undefined;
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nDate: ${new Date().toUTCString()}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'connection' || lower === 'content-length' || lower === 'transfer-encoding' || lower === 'date') continue;
    if (!httpCommon._checkIsHttpToken!(name) || httpCommon._checkInvalidHeaderChar!(value)) return undefined;
    head += `${name}: ${value}\r\n`;
  }
  head += 'Connection: close\r\n\r\n';
  const socket = outgoing.socket as ServerSocket;
  const parser = socket.parser;
  outgoing.detachSocket(socket);
  for (const event of SERVER_SOCKET_EVENTS) socket.removeAllListeners(event);
  httpCommon.freeParser!(parser, incoming, socket);
  // Errors end in `close`; the client ending its side is the end of the stream (the server's
  // sockets are half-open, so the socket would otherwise stay).
  socket.on('error', ignore);
  socket.on('end', destroyOnEnd);
  // Read (and drop) what the client sends, or its end would never be seen.
  socket.resume();
  socket.write(head + body);
  return socket;
}

function ignore(): void {}

function destroyOnEnd(this: Socket): void {
  this.destroy();
}
