import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Logger } from 'pino';
import type { PlatformMetrics } from './metrics.js';

/*
 * The HTTP side of the operator's kit: request ids, one log line and the metrics of each
 * request, and how a database that cannot be reached is told apart from a bug.
 */

/** An incoming `X-Request-Id` we adopt: short, printable, no spaces (a proxy's or a client's). */
const SANE_REQUEST_ID = /^[A-Za-z0-9_.:@/+=-]{8,128}$/;

/** The request id to use: a sane incoming `X-Request-Id`, else `fresh()`. */
export function chooseRequestId(incoming: string | undefined, fresh: () => string): string {
  return incoming !== undefined && SANE_REQUEST_ID.test(incoming) ? incoming : fresh();
}

/**
 * The route pattern a request matched (`/v1/orders/:id`), never its path (which carries ids and,
 * for a few pages, secrets): what logs and metrics are labelled with. `(unmatched)` for a 404.
 */
export function routePattern(c: Context): string {
  const routes = matchedRoutes(c).filter((route) => route.method !== 'ALL');
  return routes.at(-1)?.path ?? '(unmatched)';
}

/** What {@link requestLogging} records each request to. */
export interface RequestObservers {
  logger: Logger;
  metrics?: PlatformMetrics | undefined;
}

/**
 * Logs one line per request (id, method, route pattern, status, duration) and counts it in the
 * metrics. 5xx answers log at `error`, 4xx at `info` like the rest.
 */
export function requestLogging(observers: RequestObservers): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const route = routePattern(c);
    const status = c.res.status;
    observers.metrics?.observeRequest(c.req.method, route, status, seconds);
    const line = {
      requestId: c.get('requestId') as string | undefined,
      method: c.req.method,
      route,
      status,
      durationMs: Math.round(seconds * 1_000_000) / 1000,
    };
    if (status >= 500) observers.logger.error(line, 'request');
    else observers.logger.info(line, 'request');
  };
}

/** Errors of PostgreSQL's connection (class 08), shutdown (57P01–57P03) and resources (53). */
const PG_UNAVAILABLE = /^(08|53|57P0[1-3])/;
/** Cancelled by `statement_timeout` (57014) or `lock_timeout` (55P03): busy, not broken. */
const PG_TIMED_OUT = new Set(['57014', '55P03']);
/** Node's socket errors when a database server is not there or hung up. */
const SOCKET_UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** What pg says when the server went away or a connection could not be made in time. */
const PG_CLIENT_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection terminated unexpectedly',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
];

/**
 * Whether `error` says the database cannot be reached or is shutting down, or a statement
 * was cancelled by its timeout: such a request is answered 503 with `Retry-After`, not 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    if (cause instanceof AggregateError && cause.errors.some((inner) => isDatabaseUnavailable(inner))) return true;
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && (SOCKET_UNAVAILABLE.has(code) || PG_TIMED_OUT.has(code) || PG_UNAVAILABLE.test(code))) return true;
    const message = (cause as { message?: unknown }).message;
    if (typeof message === 'string' && PG_CLIENT_MESSAGES.some((text) => message.includes(text))) return true;
  }
  return false;
}
