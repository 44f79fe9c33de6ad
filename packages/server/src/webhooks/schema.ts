import type { Migration } from '../db/migrations.js';

/**
 * Webhook endpoints and their deliveries (issue 13).
 *
 * @remarks
 * - `webhook_endpoints`: a site's endpoints. `event_types` is a JSON array, NULL for every type.
 *   The secret signs (it must be readable to sign); after a roll `previous_secret` signs too
 *   until `previous_secret_expires_at`.
 * - `webhook_deliveries`: one event to one endpoint. UNIQUE (endpoint, event, kind, nonce): the
 *   dispatcher's fan-out is idempotent (`ON CONFLICT DO NOTHING`), so two processes doing it at
 *   once, or one doing it again after a crash, create no second delivery; a replay has a nonce
 *   of its own. A worker claims a delivery by taking its lease (`lease_owner`, `lease_until`)
 *   and counting the attempt; a lease that lapses (the process died) lets another take it.
 * - `webhook_attempts`: one row per attempt, keyed (delivery, attempt): an attempt claimed by
 *   two workers at once could not both be recorded.
 * - `webhook_cursor`: where the dispatcher is in the events table (`tx_id`, `seq`, see
 *   events/outbox.ts); it only moves forward.
 */
export const webhooksMigration: Migration = {
  version: 18,
  name: 'webhook endpoints and deliveries',
  statements: {
    sqlite: [
      `CREATE TABLE webhook_endpoints (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL,
        url TEXT NOT NULL,
        event_types TEXT,
        description TEXT NOT NULL,
        enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        secret TEXT NOT NULL,
        previous_secret TEXT,
        previous_secret_expires_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        disabled_at INTEGER,
        disabled_reason TEXT,
        failing_since INTEGER
      ) STRICT`,
      'CREATE INDEX webhook_endpoints_site ON webhook_endpoints (site_id, created_at)',
      `CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        endpoint_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('event', 'replay', 'test')),
        nonce TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
        attempts INTEGER NOT NULL,
        next_attempt_at INTEGER,
        lease_owner TEXT,
        lease_until INTEGER,
        last_status INTEGER,
        last_duration_ms INTEGER,
        last_response TEXT,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (endpoint_id, event_id, kind, nonce)
      ) STRICT`,
      `CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`,
      'CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at)',
      `CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (endpoint_id, lease_until) WHERE status = 'pending'`,
      `CREATE TABLE webhook_attempts (
        delivery_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        worker TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        duration_ms INTEGER,
        status INTEGER,
        error TEXT,
        PRIMARY KEY (delivery_id, attempt)
      ) STRICT`,
      `CREATE TABLE webhook_cursor (
        name TEXT PRIMARY KEY,
        tx_id INTEGER NOT NULL,
        seq INTEGER NOT NULL
      ) STRICT`,
      `INSERT INTO webhook_cursor (name, tx_id, seq) VALUES ('dispatcher', -1, 0)`,
    ],
    postgres: [
      `CREATE TABLE webhook_endpoints (
        id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL,
        url TEXT NOT NULL,
        event_types TEXT,
        description TEXT NOT NULL,
        enabled BOOLEAN NOT NULL,
        secret TEXT NOT NULL,
        previous_secret TEXT,
        previous_secret_expires_at BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        disabled_at BIGINT,
        disabled_reason TEXT,
        failing_since BIGINT
      )`,
      'CREATE INDEX webhook_endpoints_site ON webhook_endpoints (site_id, created_at)',
      `CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        endpoint_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('event', 'replay', 'test')),
        nonce TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
        attempts INTEGER NOT NULL,
        next_attempt_at BIGINT,
        lease_owner TEXT,
        lease_until BIGINT,
        last_status INTEGER,
        last_duration_ms INTEGER,
        last_response TEXT,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        UNIQUE (endpoint_id, event_id, kind, nonce)
      )`,
      `CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`,
      'CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at)',
      `CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (endpoint_id, lease_until) WHERE status = 'pending'`,
      `CREATE TABLE webhook_attempts (
        delivery_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        worker TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        duration_ms INTEGER,
        status INTEGER,
        error TEXT,
        PRIMARY KEY (delivery_id, attempt)
      )`,
      `CREATE TABLE webhook_cursor (
        name TEXT PRIMARY KEY,
        tx_id BIGINT NOT NULL,
        seq BIGINT NOT NULL
      )`,
      `INSERT INTO webhook_cursor (name, tx_id, seq) VALUES ('dispatcher', -1, 0)`,
    ],
  },
};
