import { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';

/**
 * A request header as the Fetch API's `Headers.get` gives it (names in any case; several fields
 * of one name joined with ", "), read from the header lines Node already parsed.
 */
export function headerFromNode(incoming: IncomingMessage, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const lines = incoming.rawHeaders;
  let value: string | undefined;
  for (let i = 0; i < lines.length; i += 2) {
    const field = lines[i]!;
    if (field.length === wanted.length && field.toLowerCase() === wanted) {
      value = value === undefined ? lines[i + 1] : `${value}, ${lines[i + 1]}`;
    }
  }
  return value;
}

/**
 * Under @hono/node-server, answers `c.req.header(name)` from Node's parsed request instead of a
 * web `Headers` object, which the server builds from every header line on first use (a dozen
 * validated appends, every request): the platform reads a few headers per request (origin,
 * token, proof, key), and each is one pass over Node's list here. `c.req.header()` without a
 * name, and requests that did not come through Node, keep Hono's own way.
 */
export function headersFromNode(): MiddlewareHandler {
  return async (c, next) => {
    const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
    if (incoming instanceof IncomingMessage) {
      const request = c.req as unknown as { header: (name?: string) => unknown };
      const own = request.header.bind(c.req);
      request.header = (name?: string) => (name === undefined ? own() : headerFromNode(incoming, name));
    }
    await next();
  };
}
