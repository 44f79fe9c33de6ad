import { newId } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { presentEvent, type EventPosition, type StoredEvent } from '../events/outbox.js';
import { moneyOperation, type MoneyFeature } from '../money/operations.js';
import { sqlBoolean, webhookSecretContext } from './endpoints.js';
import { openSecret } from '../db/secrets.js';

/*
 * The delivery bookkeeping, as operations of the money writer: the dispatcher's fan-out, the
 * worker's claim and the record of each attempt. No Diamonds move, but on SQLite these are the
 * writes of every event, and the writer thread holds the write lock: run there, they share its
 * group commits instead of waiting for its lock on the main thread (which would stop the event
 * loop). On PostgreSQL they run inline, like every money operation.
 */

/** A delivery the dispatcher queues. */
export interface QueuedDelivery {
  endpointId: string;
  eventId: string;
  kind: 'event' | 'test';
}

/** Input of {@link fanOutOperation}. */
export interface FanOutInput {
  deliveries: QueuedDelivery[];
  /** The dispatcher's position after these events. */
  to: EventPosition;
  now: number;
}

/** What {@link fanOutOperation} did. */
export interface FanOutResult {
  /** Deliveries created (those another process had created already are not counted). */
  created: number;
  /** Where the stored cursor stands now (ahead of `to` when another process went further). */
  cursor: EventPosition;
}

/**
 * Queues deliveries (to endpoints still enabled) and moves the dispatcher's stored cursor
 * forward (never back), in one transaction: a crash before the commit leaves both undone, and the events are read again.
 * `ON CONFLICT DO NOTHING` on (endpoint, event, kind, nonce) makes it idempotent, so two
 * processes fanning out the same events create each delivery once.
 */
export const fanOutOperation = moneyOperation<FanOutInput, FanOutResult>('webhooks.fanOut', async (tx, _money, input) => {
  let created = 0;
  for (const delivery of input.deliveries) {
    created += await tx.run(
      `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, kind, nonce, status, attempts, next_attempt_at, created_at, updated_at)
       SELECT ?, ?, ?, ?, '', 'pending', 0, ?, ?, ? WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ? AND enabled = ?)
       ON CONFLICT (endpoint_id, event_id, kind, nonce) DO NOTHING`,
      [
        newId('wd', input.now),
        delivery.endpointId,
        delivery.eventId,
        delivery.kind,
        input.now,
        input.now,
        input.now,
        delivery.endpointId,
        sqlBoolean(tx, true),
      ],
    );
  }
  const { txId, seq } = input.to;
  await tx.run(`UPDATE webhook_cursor SET tx_id = ?, seq = ? WHERE name = 'dispatcher' AND (tx_id < ? OR (tx_id = ? AND seq < ?))`, [
    txId,
    seq,
    txId,
    txId,
    seq,
  ]);
  const [row] = await tx.query<{ tx_id: number | string; seq: number | string }>(
    `SELECT tx_id, seq FROM webhook_cursor WHERE name = 'dispatcher'`,
  );
  return { created, cursor: { txId: Number(row?.tx_id ?? txId), seq: Number(row?.seq ?? seq) } };
});

/** Input of {@link claimOperation}. */
export interface ClaimInput {
  /** Who claims: this worker's id (process and instance). */
  owner: string;
  now: number;
  /** Most deliveries to claim. */
  limit: number;
  /** How long the claim holds: longer than an attempt can take. */
  leaseMs: number;
  /** Most deliveries of one endpoint leased at once, by every worker together. */
  perEndpoint: number;
}

/** A delivery claimed for one attempt: everything the worker needs to make it. */
export interface ClaimedDelivery {
  id: string;
  /** The attempt's number, from 1. */
  attempt: number;
  endpointId: string;
  url: string;
  /** The secrets that sign it: the current one, then the previous one during a roll. */
  secrets: string[];
  eventId: string;
  /** The body: the event as `GET /v1/events/{id}` presents it. */
  body: string;
}

interface CandidateRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  attempts: number | string;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: number | string | null;
}

/**
 * Claims due deliveries for one attempt each: takes their lease, counts the attempt and
 * records it (`webhook_attempts`, keyed by delivery and attempt, so one attempt is never
 * claimed twice). A delivery whose lease lapsed (its process died mid-attempt) is due again.
 * On PostgreSQL the candidates are locked `FOR UPDATE SKIP LOCKED`: processes claiming at
 * once take different deliveries instead of waiting for each other.
 */
export const claimOperation = moneyOperation<ClaimInput, ClaimedDelivery[]>('webhooks.claim', async (tx, _money, input) => {
  await failStranded(tx, input.now);
  const due = `d.status = 'pending' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?)`;
  // Endpoint by endpoint, so that one endpoint's backlog never hides another's due delivery.
  const endpoints = await tx.query<{ endpoint_id: string }>(
    `SELECT d.endpoint_id, min(d.next_attempt_at) AS first_due FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
     WHERE ${due} AND e.enabled = ? GROUP BY d.endpoint_id ORDER BY first_due LIMIT 100`,
    [input.now, input.now, sqlBoolean(tx, true)],
  );
  if (endpoints.length === 0) return [];
  const endpointIds = endpoints.map((row) => row.endpoint_id);
  const busy = await tx.query<{ endpoint_id: string; n: number | string }>(
    `SELECT endpoint_id, count(*) AS n FROM webhook_deliveries
     WHERE status = 'pending' AND lease_until > ? AND endpoint_id IN (${endpointIds.map(() => '?').join(', ')}) GROUP BY endpoint_id`,
    [input.now, ...endpointIds],
  );
  const leased = new Map(busy.map((row) => [row.endpoint_id, Number(row.n)]));
  const lock = tx.kind === 'postgres' ? ' FOR UPDATE OF d SKIP LOCKED' : '';
  const rows: CandidateRow[] = [];
  for (const endpointId of endpointIds) {
    const room = Math.min(input.perEndpoint - (leased.get(endpointId) ?? 0), input.limit - rows.length);
    if (room <= 0) continue;
    rows.push(
      ...(await tx.query<CandidateRow>(
        `SELECT d.id, d.endpoint_id, d.event_id, d.attempts, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.endpoint_id = ? AND ${due} AND e.enabled = ? ORDER BY d.next_attempt_at, d.id LIMIT ?${lock}`,
        [endpointId, input.now, input.now, sqlBoolean(tx, true), room],
      )),
    );
    if (rows.length >= input.limit) break;
  }
  return rows.length === 0 ? [] : claimRows(tx, rows, input);
});

/** A list of `?` for `values`. */
const marks = (values: readonly unknown[]) => values.map(() => '?').join(', ');

/**
 * Takes the leases of `rows` for their next attempt, all in a few statements (on PostgreSQL
 * each is a round trip), and fails those whose event is gone.
 */
async function claimRows(tx: SqlClient, rows: readonly CandidateRow[], input: ClaimInput): Promise<ClaimedDelivery[]> {
  const eventIds = [...new Set(rows.map((row) => row.event_id))];
  const events = new Map(
    (
      await tx.query<{
        id: string;
        type: string;
        site_id: string | null;
        creator_id: string | null;
        fan_id: string | null;
        created_at: number | string;
        data: string;
      }>(`SELECT id, type, site_id, creator_id, fan_id, created_at, data FROM events WHERE id IN (${marks(eventIds)})`, eventIds)
    ).map((row) => [
      row.id,
      {
        txId: 0,
        seq: 0,
        id: row.id,
        type: row.type,
        siteId: row.site_id,
        creatorId: row.creator_id,
        fanId: row.fan_id,
        createdAt: Number(row.created_at),
        data: row.data,
      } as StoredEvent,
    ]),
  );
  const gone = rows.filter((row) => !events.has(row.event_id)).map((row) => row.id);
  if (gone.length > 0) {
    await tx.run(
      `UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = 'the event no longer exists', updated_at = ? WHERE id IN (${marks(gone)})`,
      [input.now, ...gone],
    );
  }
  const taken = rows.filter((row) => events.has(row.event_id));
  if (taken.length === 0) return [];
  const ids = taken.map((row) => row.id);
  await tx.run(
    `UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ? WHERE id IN (${marks(ids)})`,
    [input.owner, input.now + input.leaseMs, input.now, ...ids],
  );
  await tx.run(
    `INSERT INTO webhook_attempts (delivery_id, attempt, worker, started_at) VALUES ${taken.map(() => '(?, ?, ?, ?)').join(', ')}`,
    taken.flatMap((row) => [row.id, Number(row.attempts) + 1, input.owner, input.now]),
  );
  return taken.map((row) => {
    const previousUntil = row.previous_secret_expires_at === null ? null : Number(row.previous_secret_expires_at);
    // Stored encrypted (see db/secrets.ts); opened only to sign.
    const context = webhookSecretContext(row.endpoint_id);
    const secrets = [openSecret(row.secret, context)];
    if (row.previous_secret !== null && previousUntil !== null && previousUntil > input.now)
      secrets.push(openSecret(row.previous_secret, context));
    return {
      id: row.id,
      attempt: Number(row.attempts) + 1,
      endpointId: row.endpoint_id,
      url: row.url,
      secrets,
      eventId: row.event_id,
      body: JSON.stringify(presentEvent(events.get(row.event_id)!)),
    };
  });
}

/** What an attempt came to. */
export type AttemptOutcome =
  /** A 2xx in time. */
  | 'succeeded'
  /** Failed; tried again at `nextAttemptAt`. */
  | 'retry'
  /** Failed, and it was the last attempt. */
  | 'failed'
  /** `410 Gone`: the endpoint is disabled, the delivery failed. */
  | 'gone';

/**
 * Where an endpoint was disabled by failures or a `410 Gone`, no delivery of it may wait: the
 * disabling attempt fails the waiting ones, and an attempt in flight fails its own when it is
 * recorded. Should one still be left waiting (a race not foreseen), the claim would skip it
 * forever; each claim fails such deliveries as the disabling did. Leased ones are left to their
 * attempt.
 */
async function failStranded(tx: SqlClient, now: number): Promise<void> {
  await tx.run(
    `UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = coalesce(last_error, ?), updated_at = ?
     WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= ?)
       AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled = ? AND disabled_reason IN ('failing', 'gone'))`,
    ['the endpoint was disabled', now, now, sqlBoolean(tx, false)],
  );
}

/** Input of {@link recordAttemptOperation}. */
export interface RecordAttemptInput {
  deliveryId: string;
  endpointId: string;
  attempt: number;
  owner: string;
  now: number;
  outcome: AttemptOutcome;
  /** When `outcome` is `retry`. */
  nextAttemptAt: number | null;
  httpStatus: number | null;
  durationMs: number;
  /** The first 1 KB of the response's body. */
  response: string | null;
  error: string | null;
  /** An endpoint failing since this time or earlier is disabled (now − 5 days). */
  disableIfFailingSince: number;
}

/** What {@link recordAttemptOperation} did. */
export interface RecordAttemptResult {
  /** False when the lease had lapsed and another worker took the delivery: only the attempt row was written. */
  recorded: boolean;
  /** Why the endpoint was disabled by this attempt, if it was. */
  disabled: 'failing' | 'gone' | null;
}

/**
 * Records an attempt's result: on the attempt's row, and on the delivery if this worker still
 * holds its lease (then the lease is released and the delivery succeeded, waits for its retry,
 * or failed). An endpoint's first failure starts its failure window; a success ends it; a
 * failure 5 days into it, or a `410 Gone`, disables the endpoint and fails its waiting
 * deliveries (a replay sends them once it is fixed).
 */
export const recordAttemptOperation = moneyOperation<RecordAttemptInput, RecordAttemptResult>(
  'webhooks.recordAttempt',
  async (tx, _money, input) => {
    await tx.run(
      'UPDATE webhook_attempts SET duration_ms = ?, status = ?, error = ? WHERE delivery_id = ? AND attempt = ? AND worker = ?',
      [input.durationMs, input.httpStatus, input.error, input.deliveryId, input.attempt, input.owner],
    );
    // The endpoint's row first, locked on PostgreSQL: attempts of one endpoint are recorded one
    // after another. Otherwise an attempt that read "enabled" while another was disabling the
    // endpoint would queue its retry after that one had failed the waiting deliveries, and the
    // retry would wait forever on a disabled endpoint.
    const [current] = await tx.query<{ enabled: number | boolean; disabled_reason: string | null }>(
      `SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = ?${tx.kind === 'postgres' ? ' FOR UPDATE' : ''}`,
      [input.endpointId],
    );
    // An endpoint disabled meanwhile by a failure window or a 410 gets no retry.
    let outcome: AttemptOutcome = input.outcome;
    if (outcome === 'retry' && current !== undefined && !current.enabled && current.disabled_reason !== 'manual') outcome = 'failed';
    const status = outcome === 'succeeded' ? 'succeeded' : outcome === 'retry' ? 'pending' : 'failed';
    const changed = await tx.run(
      `UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, last_status = ?,
         last_duration_ms = ?, last_response = ?, last_error = ?, updated_at = ?
       WHERE id = ? AND lease_owner = ? AND attempts = ?`,
      [
        status,
        outcome === 'retry' ? input.nextAttemptAt : null,
        input.httpStatus,
        input.durationMs,
        input.response,
        input.error,
        input.now,
        input.deliveryId,
        input.owner,
        input.attempt,
      ],
    );
    if (changed === 0) return { recorded: false, disabled: null };
    if (outcome === 'succeeded') {
      await tx.run('UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL', [input.endpointId]);
      return { recorded: true, disabled: null };
    }
    await tx.run('UPDATE webhook_endpoints SET failing_since = ? WHERE id = ? AND failing_since IS NULL', [input.now, input.endpointId]);
    const [endpoint] = await tx.query<{ failing_since: number | string | null; enabled: number | boolean }>(
      'SELECT failing_since, enabled FROM webhook_endpoints WHERE id = ?',
      [input.endpointId],
    );
    if (!endpoint?.enabled) return { recorded: true, disabled: null };
    const failingSince = endpoint.failing_since === null ? input.now : Number(endpoint.failing_since);
    const reason = outcome === 'gone' ? 'gone' : failingSince <= input.disableIfFailingSince ? 'failing' : null;
    if (reason === null) return { recorded: true, disabled: null };
    await tx.run('UPDATE webhook_endpoints SET enabled = ?, disabled_at = ?, disabled_reason = ?, updated_at = ? WHERE id = ?', [
      sqlBoolean(tx, false),
      input.now,
      reason,
      input.now,
      input.endpointId,
    ]);
    await tx.run(
      `UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = coalesce(last_error, ?), updated_at = ?
       WHERE endpoint_id = ? AND status = 'pending' AND (lease_until IS NULL OR lease_until <= ?)`,
      [
        reason === 'gone' ? 'the endpoint answered 410 Gone and was disabled' : 'the endpoint was disabled',
        input.now,
        input.endpointId,
        input.now,
      ],
    );
    return { recorded: true, disabled: reason };
  },
);

/** The webhooks' part in the money writer: delivery bookkeeping (no Diamonds move). */
export const webhooksMoney: MoneyFeature = {
  name: 'webhooks',
  operations: [fanOutOperation, claimOperation, recordAttemptOperation],
};
