import { Hono } from 'hono';
import { newId, type ErrorBody, type Health } from '@diamonds/protocol';
import { ApiError } from './errors.js';
import type { Database } from './db/types.js';
import { schemaVersion } from './db/migrations.js';
import type { Ledger } from './ledger/ledger.js';

/** The package version, reported by `/healthz`. */
export const VERSION = '0.1.0';

/** What every request handler can reach. */
export interface AppContext {
  db: Database;
  ledger: Ledger;
}

/** Hono's per-request variables. */
export interface AppEnv {
  Variables: { requestId: string };
}

/** Renders an error as the protocol's error body. */
function errorBody(error: ApiError, requestId: string): ErrorBody {
  return {
    error: {
      type: error.type,
      code: error.code,
      message: error.message,
      ...(error.param === undefined ? {} : { param: error.param }),
      requestId,
    },
  };
}

/**
 * Builds the platform's HTTP application (no listening socket; see `startServer`).
 *
 * @remarks Every response carries `Request-Id`; every error is the protocol's error body with
 * a stable code; anything unexpected is logged and answered as `internal_error` without its
 * details.
 */
export function createApp(context: AppContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use('*', async (c, next) => {
    const requestId = newId('req');
    c.set('requestId', requestId);
    c.header('Request-Id', requestId);
    await next();
  });

  app.get('/healthz', async (c) => {
    const body: Health = {
      status: 'ok',
      database: context.db.kind,
      schemaVersion: await schemaVersion(context.db),
      version: VERSION,
    };
    c.header('Cache-Control', 'no-store');
    return c.json(body);
  });

  app.notFound((c) => {
    const error = new ApiError(
      'not_found',
      `No route ${c.req.method} ${new URL(c.req.url).pathname}. See /v1/openapi.json for what exists.`,
    );
    return c.json(errorBody(error, c.get('requestId') ?? newId('req')), 404);
  });

  app.onError((caught, c) => {
    const requestId = c.get('requestId') ?? newId('req');
    if (caught instanceof ApiError) {
      if (caught.code === 'database_busy') c.header('Retry-After', '1');
      return c.json(errorBody(caught, requestId), caught.status as 400);
    }
    console.error(`[${requestId}] unexpected error`, caught);
    const internal = new ApiError('internal_error', 'Something went wrong on our side. It is safe to retry with the same idempotency key.');
    return c.json(errorBody(internal, requestId), 500);
  });

  return app;
}
