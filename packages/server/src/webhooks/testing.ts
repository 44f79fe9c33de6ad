import http from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A webhook receiver on loopback for the tests and the benchmark: records every request and
 * answers as each path's handler says.
 */

/** One request the receiver got. */
export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** `performance.now()` when the body was read. */
  at: number;
}

/** How a path answers its `count`-th request (from 1). */
export type ReceiverHandler = (request: ReceivedWebhook, count: number, res: http.ServerResponse) => void | Promise<void>;

/** A running receiver. */
export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** Every request, in arrival order. */
  received: ReceivedWebhook[];
  /** The requests to `path`. */
  at(path: string): ReceivedWebhook[];
  /** Sets how `path` answers (default: 200 "ok"). */
  on(path: string, handler: ReceiverHandler): void;
  /** Waits until `predicate` holds (checked on each request and every 20 ms), at most `timeoutMs`. */
  waitFor(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a {@link WebhookReceiver} on 127.0.0.1 (or `host`). */
export async function startReceiver(host = '127.0.0.1'): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const handlers = new Map<string, ReceiverHandler>();
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, String(value)]));
      const request: ReceivedWebhook = { path, headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() };
      received.push(request);
      const count = (counts.get(path) ?? 0) + 1;
      counts.set(path, count);
      const handler = handlers.get(path);
      if (!handler) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      Promise.resolve(handler(request, count, res)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    received,
    at: (path) => received.filter((request) => request.path === path),
    on: (path, handler) => void handlers.set(path, handler),
    async waitFor(predicate, what, timeoutMs = 15_000) {
      const deadline = performance.now() + timeoutMs;
      while (!predicate()) {
        if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Waits until `check` returns a value other than `undefined` (every 20 ms, at most `timeoutMs`). */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
