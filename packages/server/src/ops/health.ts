import { Hono } from 'hono';
import type { Health } from '@diamonds/protocol';
import { LATEST_SCHEMA_VERSION, schemaVersion } from '../db/migrations.js';
import type { Database } from '../db/types.js';
import { VERSION } from '../version.js';
import { ApiError } from '../errors.js';
import { metricsAuthorized, type PlatformMetrics } from './metrics.js';
import { scrubText } from './logging.js';

/** How long a probe waits for the database before it answers that it cannot reach it. */
const PROBE_TIMEOUT_MS = 2_000;

/** What {@link readiness} found. */
export type Readiness = { ready: true; schemaVersion: number } | { ready: false; reason: string };

/** `promise`, or a rejection after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Whether the platform can serve: its database file is the one it opened (SQLite), the
 * database answers, and its schema is the one this build expects (no migration pending, and
 * not a newer one from a later build).
 */
export async function readiness(db: Database, draining = false): Promise<Readiness> {
  if (draining) return { ready: false, reason: 'shutting down: finishing requests in flight' };
  const lost = db.unavailableReason?.();
  if (lost !== undefined) return { ready: false, reason: lost };
  let version: number;
  try {
    version = await within(schemaVersion(db), PROBE_TIMEOUT_MS);
  } catch (error) {
    return { ready: false, reason: `database unreachable: ${scrubText((error as Error).message ?? String(error))}` };
  }
  if (version < LATEST_SCHEMA_VERSION) {
    return {
      ready: false,
      reason: `migrations pending: the schema is at ${version}, this build needs ${LATEST_SCHEMA_VERSION} (run "diamonds migrate")`,
    };
  }
  if (version > LATEST_SCHEMA_VERSION) {
    return {
      ready: false,
      reason: `the schema (${version}) is newer than this build knows (${LATEST_SCHEMA_VERSION}): run the newer build`,
    };
  }
  return { ready: true, schemaVersion: version };
}

/** Options of {@link opsRoutes}. */
export interface OpsRoutesOptions {
  db: Database;
  metrics: PlatformMetrics | undefined;
  /**
   * The bearer token `/metrics` asks for. Unset, `/metrics` answers 404: metrics tell a lot about
   * a platform's traffic, so they are opt-in. `DIAMONDS_METRICS_TOKEN`.
   */
  metricsToken: string | undefined;
  /** Whether the platform is shutting down (readiness fails first, so balancers move on). */
  draining?: () => boolean;
}

/**
 * `/healthz` (the process is alive and may go on: 200 unless its database file was lost),
 * `/readyz` (it can serve now: 200, or 503 with a JSON reason) and `/metrics` (Prometheus).
 *
 * @remarks
 * `/healthz` does not fail when PostgreSQL is unreachable: restarting the process would not
 * help, and it recovers by itself once the database is back. It fails when the SQLite file was
 * removed under the platform, because that needs an operator (and a restart after a restore).
 */
export function opsRoutes(options: OpsRoutesOptions): Hono {
  const { db } = options;
  const app = new Hono();
  let lastSchemaVersion: number | undefined;

  app.get('/healthz', async (c) => {
    c.header('Cache-Control', 'no-store');
    const lost = db.unavailableReason?.();
    if (lost !== undefined) throw new ApiError('service_unavailable', `Not healthy: ${lost}`);
    try {
      lastSchemaVersion = await within(schemaVersion(db), PROBE_TIMEOUT_MS);
    } catch {
      // Alive all the same: /readyz says whether the database can be reached.
    }
    const body: Health = { status: 'ok', database: db.kind, schemaVersion: lastSchemaVersion ?? 0, version: VERSION };
    return c.json(body);
  });

  app.get('/readyz', async (c) => {
    c.header('Cache-Control', 'no-store');
    const state = await readiness(db, options.draining?.() ?? false);
    if (state.ready) return c.json({ status: 'ready', database: db.kind, schemaVersion: state.schemaVersion, version: VERSION });
    c.header('Retry-After', '5');
    return c.json({ status: 'unavailable', database: db.kind, reason: state.reason, version: VERSION }, 503);
  });

  app.get('/metrics', async (c) => {
    const { metrics, metricsToken } = options;
    // Without a token, /metrics does not exist: never open to whoever asks.
    if (!metrics || metricsToken === undefined) {
      throw new ApiError('not_found', 'No route GET /metrics: set DIAMONDS_METRICS_TOKEN to serve metrics.');
    }
    c.header('Cache-Control', 'no-store');
    if (!metricsAuthorized(c.req.header('authorization'), metricsToken)) {
      c.header('WWW-Authenticate', 'Bearer realm="metrics"');
      throw new ApiError('authentication_required', 'GET /metrics needs Authorization: Bearer <DIAMONDS_METRICS_TOKEN>.');
    }
    const text = await metrics.render();
    return c.body(text, 200, { 'Content-Type': metrics.contentType });
  });

  return app;
}
