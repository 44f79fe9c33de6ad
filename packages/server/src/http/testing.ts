// Test helpers for the HTTP middleware: an app served over a real socket.
import { after, before } from 'node:test';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';

/** Where a suite's app is listening; `port` is set once the suite's `before` hook has run. */
export interface Served {
  readonly port: number;
}

/**
 * Serves `app` over real HTTP on a free port of 127.0.0.1 for the enclosing `describe`:
 * listens in a `before` hook and closes every connection in an `after` hook.
 */
export function serveDuringSuite(app: { fetch: (request: Request) => Response | Promise<Response> }): Served {
  const served = { port: 0 };
  let server: Server | undefined;

  before(async () => {
    const listening = await new Promise<Server>((resolve) => {
      const handle = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(handle as Server));
    });
    server = listening;
    served.port = (listening.address() as AddressInfo).port;
  });

  after(async () => {
    const listening = server;
    if (listening === undefined) return;
    await new Promise<void>((resolve) => {
      listening.close(() => resolve());
      listening.closeAllConnections();
    });
  });

  return served;
}
