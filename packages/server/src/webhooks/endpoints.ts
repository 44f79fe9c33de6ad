import { randomBytes } from 'node:crypto';
import {
  MAX_WEBHOOK_ENDPOINTS,
  MAX_WEBHOOK_REPLAY,
  MAX_WEBHOOK_URL_LENGTH,
  SITE_EVENT_TYPES,
  WEBHOOK_SECRET_OVERLAP_MS,
  isId,
  newId,
  type SiteEventType,
  type WebhookDelivery,
  type WebhookDeliveryKind,
  type WebhookDeliveryStatus,
  type WebhookDisabledReason,
  type WebhookEndpoint,
  type WebhookReplay,
  type Page,
  type WebhookTestSent,
} from '@diamonds/protocol';
import type { Database, SqlClient } from '../db/types.js';
import { Keyset } from '../db/keyset.js';
import { needsResealing, openSecret, processKeyring, sealSecret, type SecretKeyring } from '../db/secrets.js';
import { ApiError } from '../errors.js';
import { appendEvent, findEvent } from '../events/outbox.js';
import { afterCommit, transactionWithAfterCommit } from '../ledger/group-commit.js';
import { cleanText } from '../text.js';
import { isObviouslyLocal } from './ssrf.js';
import { deliveriesQueued } from './wake.js';

/*
 * A site's webhook endpoints: the contract the API (webhooks/routes.ts), the account page and
 * the CLI share. These are configuration writes, made on the main connection like a site's
 * origins; deliveries themselves are written by the dispatcher and the worker through the money
 * writer (webhooks/operations.ts). Every refusal is an ApiError and changes nothing.
 */

/** What an endpoint is made of (see {@link createEndpoint}). */
export interface EndpointInput {
  /** `https://…`; plain `http://` only in development. No credentials, no fragment. */
  url: string;
  /** The event types to send it; null or omitted for every type. */
  eventTypes?: readonly string[] | null | undefined;
  description?: string | undefined;
  /** @defaultValue true */
  enabled?: boolean | undefined;
}

/** How endpoint writes judge their input. */
export interface EndpointOptions {
  /**
   * Production rules: `https` only, and no literal loopback or private address nor `localhost`.
   * @defaultValue `process.env.NODE_ENV === 'production'`
   */
  production?: boolean | undefined;
  /** @defaultValue `Date.now()` */
  now?: number | undefined;
}

const SITE_TYPES: ReadonlySet<string> = new Set(SITE_EVENT_TYPES);

/** Whether the process runs in production (the default of {@link EndpointOptions.production}). */
export function isProduction(): boolean {
  return process.env.NODE_ENV === 'production';
}

/** A fresh signing secret: `whsec_` and 24 random bytes in base64, as Standard Webhooks has it. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/**
 * Checks an endpoint URL and returns it as the URL parser writes it.
 *
 * @throws {@link ApiError} `invalid_url` when it does not parse, is not `https` (or `http` outside
 * production), carries a user name or password or a fragment, is too long, or (in production)
 * names `localhost` or a literal loopback, private or link-local address.
 */
export function checkEndpointUrl(value: unknown, production: boolean): string {
  const refuse = (why: string): never => {
    throw new ApiError('invalid_url', `url ${why}`, { param: 'url' });
  };
  if (typeof value !== 'string' || value.trim() === '') return refuse('must be an absolute https:// URL.');
  if (value.length > MAX_WEBHOOK_URL_LENGTH) return refuse(`may be at most ${MAX_WEBHOOK_URL_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return refuse('does not parse as a URL; give an absolute https:// URL such as https://shop.example/webhooks/diamonds.');
  }
  const schemes = production ? ['https:'] : ['https:', 'http:'];
  if (!schemes.includes(url.protocol)) {
    return refuse(production ? 'must use https://.' : 'must use https:// (or http:// in development).');
  }
  if (url.username !== '' || url.password !== '') return refuse('must not carry a user name or password; authenticate by the signature.');
  if (url.hash !== '') return refuse('must not have a fragment (#…).');
  if (url.hostname === '') return refuse('must name a host.');
  if (production && isObviouslyLocal(url.hostname)) {
    return refuse('must be reachable on the internet: not localhost, nor a loopback, private or link-local address.');
  }
  return url.href;
}

/**
 * Checks an event type filter: null or omitted for every type, else a non-empty list of the
 * types a site can receive; returns it sorted and without repeats.
 *
 * @throws {@link ApiError} `invalid_event_type`
 */
export function checkEventTypes(value: unknown): SiteEventType[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.length === 0) {
    throw new ApiError('invalid_event_type', 'eventTypes must be a non-empty list of event types, or null for every type.', {
      param: 'eventTypes',
    });
  }
  for (const [index, type] of value.entries()) {
    if (typeof type !== 'string' || !SITE_TYPES.has(type)) {
      throw new ApiError(
        'invalid_event_type',
        `There is no event type "${String(type).slice(0, 60)}" a site can receive; the types are ${SITE_EVENT_TYPES.join(', ')}.`,
        { param: `eventTypes.${index}` },
      );
    }
  }
  return [...new Set(value as SiteEventType[])].sort();
}

function checkDescription(value: unknown): string {
  if (value === undefined || value === null || value === '') return '';
  return cleanText(value, { param: 'description', min: 0, max: 200 });
}

function checkEnabled(value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new ApiError('invalid_request', 'enabled must be true or false.', { param: 'enabled' });
  return value;
}

/** An endpoint row as stored. */
export interface EndpointRow {
  id: string;
  site_id: string;
  url: string;
  event_types: string | null;
  description: string;
  enabled: number | boolean;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: number | string | null;
  created_at: number | string;
  updated_at: number | string;
  disabled_at: number | string | null;
  disabled_reason: string | null;
  failing_since: number | string | null;
}

const ENDPOINT_COLUMNS =
  'id, site_id, url, event_types, description, enabled, secret, previous_secret, previous_secret_expires_at, created_at, updated_at, disabled_at, disabled_reason, failing_since';

/** What an endpoint's secrets' ciphertexts are bound to: its row (both columns, so a roll may copy one to the other). */
export function webhookSecretContext(endpointId: string): string {
  return `webhook_endpoints:${endpointId}`;
}

/**
 * Encrypts the endpoints' secrets still stored in clear (or under a previous key) under the
 * current `DIAMONDS_SECRET_KEY`; nothing to do without one. Run when the platform starts.
 *
 * @returns How many endpoints were sealed again.
 */
export async function resealWebhookSecrets(db: SqlClient, keyring: SecretKeyring | undefined = processKeyring()): Promise<number> {
  if (!keyring) return 0;
  const rows = await db.query<{ id: string; secret: string; previous_secret: string | null }>(
    'SELECT id, secret, previous_secret FROM webhook_endpoints',
  );
  let sealed = 0;
  for (const row of rows) {
    if (!needsResealing(row.secret, keyring) && (row.previous_secret === null || !needsResealing(row.previous_secret, keyring))) continue;
    const context = webhookSecretContext(row.id);
    const reseal = (value: string) => sealSecret(openSecret(value, context, keyring), context, keyring);
    // Conditional on the values read: a roll or another process in between wins.
    sealed += await db.run(
      'UPDATE webhook_endpoints SET secret = ?, previous_secret = ? WHERE id = ? AND secret = ? AND previous_secret IS NOT DISTINCT FROM ?',
      [reseal(row.secret), row.previous_secret === null ? null : reseal(row.previous_secret), row.id, row.secret, row.previous_secret],
    );
  }
  return sealed;
}

const numberOrNull = (value: number | string | null): number | null => (value === null ? null : Number(value));

/** The wire view of an endpoint row (never its secrets). */
export function presentEndpoint(row: EndpointRow, now = Date.now()): WebhookEndpoint {
  const previousUntil = numberOrNull(row.previous_secret_expires_at);
  return {
    object: 'webhook_endpoint',
    id: row.id as WebhookEndpoint['id'],
    siteId: row.site_id as WebhookEndpoint['siteId'],
    url: row.url,
    eventTypes: row.event_types === null ? null : (JSON.parse(row.event_types) as string[]),
    description: row.description,
    enabled: Boolean(row.enabled),
    createdAt: Number(row.created_at),
    disabledAt: numberOrNull(row.disabled_at),
    disabledReason: row.disabled_reason as WebhookDisabledReason | null,
    failingSince: numberOrNull(row.failing_since),
    previousSecretExpiresAt: previousUntil !== null && previousUntil > now ? previousUntil : null,
  };
}

/** `enabled` as the engine stores a boolean. */
export function sqlBoolean(db: SqlClient, value: boolean): number | boolean {
  return db.kind === 'postgres' ? value : value ? 1 : 0;
}

async function endpointRow(db: SqlClient, siteId: string, id: string, forUpdate = false): Promise<EndpointRow | undefined> {
  if (!isId('we', id)) return undefined;
  const lock = forUpdate && db.kind === 'postgres' ? ' FOR UPDATE' : '';
  const [row] = await db.query<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ? AND site_id = ?${lock}`, [
    id,
    siteId,
  ]);
  return row;
}

function notFound(id: string): ApiError {
  return new ApiError('webhook_endpoint_not_found', `This site has no webhook endpoint ${String(id).slice(0, 40)}.`, { param: 'id' });
}

async function requireEndpoint(db: SqlClient, siteId: string, id: string, forUpdate = false): Promise<EndpointRow> {
  const row = await endpointRow(db, siteId, id, forUpdate);
  if (!row) throw notFound(id);
  return row;
}

/**
 * Adds a webhook endpoint to a site, enabled unless said otherwise, with a fresh signing
 * secret: the only time the secret is returned besides {@link rollEndpointSecret}.
 *
 * @throws {@link ApiError} `invalid_url`, `invalid_event_type`, `invalid_request`,
 * `too_many_endpoints` (a site has at most {@link MAX_WEBHOOK_ENDPOINTS})
 */
export async function createEndpoint(
  db: Database,
  siteId: string,
  input: EndpointInput,
  options: EndpointOptions = {},
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const production = options.production ?? isProduction();
  const now = options.now ?? Date.now();
  const url = checkEndpointUrl(input.url, production);
  const eventTypes = checkEventTypes(input.eventTypes);
  const description = checkDescription(input.description);
  const enabled = checkEnabled(input.enabled) ?? true;
  const secret = newWebhookSecret();
  const id = newId('we', now);
  await db.transaction(async (tx) => {
    // Two creations at once on PostgreSQL: the site's row orders them, so the count holds.
    if (tx.kind === 'postgres') await tx.query('SELECT id FROM sites WHERE id = ? FOR UPDATE', [siteId]);
    const [count] = await tx.query<{ n: number | string }>('SELECT count(*) AS n FROM webhook_endpoints WHERE site_id = ?', [siteId]);
    if (Number(count?.n ?? 0) >= MAX_WEBHOOK_ENDPOINTS) {
      throw new ApiError(
        'too_many_endpoints',
        `A site may have at most ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints; delete one first (one endpoint can take every event type).`,
      );
    }
    await tx.run(
      `INSERT INTO webhook_endpoints (id, site_id, url, event_types, description, enabled, secret, previous_secret,
         previous_secret_expires_at, created_at, updated_at, disabled_at, disabled_reason, failing_since)
       VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, NULL)`,
      [
        id,
        siteId,
        url,
        eventTypes === null ? null : JSON.stringify(eventTypes),
        description,
        sqlBoolean(tx, enabled),
        // Encrypted at rest under DIAMONDS_SECRET_KEY (see db/secrets.ts).
        sealSecret(secret, webhookSecretContext(id)),
        now,
        now,
        enabled ? null : now,
        enabled ? null : 'manual',
      ],
    );
  });
  const endpoint = await findEndpoint(db, siteId, id);
  if (!endpoint) throw new Error(`endpoint ${id} vanished after its creation`);
  return { endpoint, secret };
}

/** A site's endpoints, oldest first. */
export async function listEndpoints(db: SqlClient, siteId: string): Promise<WebhookEndpoint[]> {
  const rows = await db.query<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE site_id = ? ORDER BY created_at, id`, [
    siteId,
  ]);
  const now = Date.now();
  return rows.map((row) => presentEndpoint(row, now));
}

/** One of the site's endpoints, or `undefined` (unknown, malformed, or another site's). */
export async function findEndpoint(db: SqlClient, siteId: string, id: string): Promise<WebhookEndpoint | undefined> {
  const row = await endpointRow(db, siteId, id);
  return row ? presentEndpoint(row) : undefined;
}

/**
 * Changes an endpoint. Disabling records `manual` as the reason; enabling again clears the
 * reason and the failure record (the 5-day window starts over). Deliveries already queued keep
 * waiting while it is disabled and go once it is enabled again.
 *
 * @throws {@link ApiError} `webhook_endpoint_not_found`, `invalid_url`, `invalid_event_type`, `invalid_request`
 */
export async function updateEndpoint(
  db: Database,
  siteId: string,
  id: string,
  patch: Partial<EndpointInput>,
  options: EndpointOptions = {},
): Promise<WebhookEndpoint> {
  const production = options.production ?? isProduction();
  const now = options.now ?? Date.now();
  const sets: string[] = [];
  const params: Array<string | number | boolean | null> = [];
  if (patch.url !== undefined) {
    sets.push('url = ?');
    params.push(checkEndpointUrl(patch.url, production));
  }
  if (patch.eventTypes !== undefined) {
    const types = checkEventTypes(patch.eventTypes);
    sets.push('event_types = ?');
    params.push(types === null ? null : JSON.stringify(types));
  }
  if (patch.description !== undefined) {
    sets.push('description = ?');
    params.push(checkDescription(patch.description));
  }
  const enabled = checkEnabled(patch.enabled);
  return db.transaction(async (tx) => {
    const row = await requireEndpoint(tx, siteId, id, true);
    const assignments = [...sets];
    const values = [...params];
    if (enabled === true && !row.enabled) {
      assignments.push('enabled = ?', 'disabled_at = NULL', 'disabled_reason = NULL', 'failing_since = NULL');
      values.push(sqlBoolean(tx, true));
    } else if (enabled === false && row.enabled) {
      assignments.push('enabled = ?', 'disabled_at = ?', "disabled_reason = 'manual'");
      values.push(sqlBoolean(tx, false), now);
    }
    if (assignments.length > 0) {
      await tx.run(`UPDATE webhook_endpoints SET ${assignments.join(', ')}, updated_at = ? WHERE id = ?`, [...values, now, row.id]);
    }
    const updated = await requireEndpoint(tx, siteId, id);
    return presentEndpoint(updated, now);
  });
}

/**
 * Deletes an endpoint and its deliveries: nothing more is sent to it (an attempt already on
 * the wire finishes, and its result is dropped).
 *
 * @throws {@link ApiError} `webhook_endpoint_not_found`
 */
export async function deleteEndpoint(db: Database, siteId: string, id: string): Promise<void> {
  await db.transaction(async (tx) => {
    const row = await requireEndpoint(tx, siteId, id, true);
    await tx.run('DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = ?)', [row.id]);
    await tx.run('DELETE FROM webhook_deliveries WHERE endpoint_id = ?', [row.id]);
    await tx.run('DELETE FROM webhook_endpoints WHERE id = ?', [row.id]);
  });
}

/**
 * Gives an endpoint a new signing secret. For 24 hours the previous one signs too (two
 * signatures in `webhook-signature`), so the receiver can switch without losing a delivery.
 * Rolling again within those hours replaces the previous secret with the current one.
 *
 * @throws {@link ApiError} `webhook_endpoint_not_found`
 */
export async function rollEndpointSecret(
  db: Database,
  siteId: string,
  id: string,
  now = Date.now(),
): Promise<{ secret: string; previousSecretExpiresAt: number }> {
  const secret = newWebhookSecret();
  const previousSecretExpiresAt = now + WEBHOOK_SECRET_OVERLAP_MS;
  await db.transaction(async (tx) => {
    const row = await requireEndpoint(tx, siteId, id, true);
    await tx.run(
      'UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_expires_at = ?, secret = ?, updated_at = ? WHERE id = ?',
      [previousSecretExpiresAt, sealSecret(secret, webhookSecretContext(row.id)), now, row.id],
    );
  });
  return { secret, previousSecretExpiresAt };
}

/** A delivery row as the list reads it. */
interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string | null;
  kind: WebhookDeliveryKind;
  status: WebhookDeliveryStatus;
  attempts: number | string;
  next_attempt_at: number | string | null;
  last_status: number | string | null;
  last_duration_ms: number | string | null;
  last_response: string | null;
  last_error: string | null;
  created_at: number | string;
  updated_at: number | string;
}

/** The wire view of a delivery row. */
function presentDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    object: 'webhook_delivery',
    id: row.id as WebhookDelivery['id'],
    endpointId: row.endpoint_id as WebhookDelivery['endpointId'],
    eventId: row.event_id as WebhookDelivery['eventId'],
    eventType: row.event_type ?? 'unknown',
    kind: row.kind,
    status: row.status,
    attempts: Number(row.attempts),
    nextAttemptAt: row.status === 'pending' ? numberOrNull(row.next_attempt_at) : null,
    lastStatus: numberOrNull(row.last_status),
    lastDurationMs: numberOrNull(row.last_duration_ms),
    lastResponse: row.last_response,
    lastError: row.last_error,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/**
 * An endpoint's latest deliveries, newest first (at most `limit`, 20 by default, 100 at most).
 *
 * @throws {@link ApiError} `webhook_endpoint_not_found`
 */
export async function listDeliveries(
  db: SqlClient,
  siteId: string,
  endpointId: string,
  options: { limit?: number | undefined } = {},
): Promise<WebhookDelivery[]> {
  return (await listDeliveryPage(db, siteId, endpointId, options)).data;
}

/** The deliveries list's order: newest first, by creation time then id. */
const DELIVERIES = new Keyset<[number, string]>(
  'webhook-deliveries',
  [
    { column: 'd.created_at', kind: 'int' },
    { column: 'd.id', kind: 'id', prefix: 'wd' },
  ],
  'desc',
);

/**
 * A page of an endpoint's deliveries, newest first; `cursor` is a previous page's `nextCursor`.
 *
 * @throws {@link ApiError} `webhook_endpoint_not_found`, `invalid_cursor`
 */
export async function listDeliveryPage(
  db: SqlClient,
  siteId: string,
  endpointId: string,
  options: { limit?: number | undefined; cursor?: string | undefined } = {},
): Promise<Page<WebhookDelivery>> {
  await requireEndpoint(db, siteId, endpointId);
  const limit = Math.max(1, Math.min(100, Math.trunc(options.limit ?? 20)));
  const after = DELIVERIES.after(options.cursor);
  const rows = await db.query<DeliveryRow>(
    `SELECT d.id, d.endpoint_id, d.event_id, e.type AS event_type, d.kind, d.status, d.attempts, d.next_attempt_at, d.last_status,
       d.last_duration_ms, d.last_response, d.last_error, d.created_at, d.updated_at
     FROM webhook_deliveries d LEFT JOIN events e ON e.id = d.event_id
     WHERE d.endpoint_id = ?${after ? ` AND ${after.sql}` : ''} ORDER BY ${DELIVERIES.orderBy} LIMIT ?`,
    [endpointId, ...(after?.params ?? []), limit + 1],
  );
  return DELIVERIES.page(rows, limit, presentDelivery, (row) => [Number(row.created_at), row.id]);
}

/**
 * Queues deliveries of `eventIds` to `endpointId` as a replay (its own nonce: never deduplicated
 * away), due at once whatever the worker's clock says.
 */
async function queueReplay(tx: SqlClient, endpointId: string, eventIds: readonly string[], now: number): Promise<void> {
  const nonce = newId('wd', now);
  for (const eventId of eventIds) {
    await tx.run(
      `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, kind, nonce, status, attempts, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, ?, 'replay', ?, 'pending', 0, 0, ?, ?)`,
      [newId('wd', now), endpointId, eventId, nonce, now, now],
    );
  }
}

/**
 * Sends events to an endpoint again: one (`{ eventId }`), or every event of the site since a
 * time (`{ since }`, milliseconds since the epoch; at most {@link MAX_WEBHOOK_REPLAY}, oldest
 * first, those the endpoint's filter takes). Each goes as a new delivery with the event's own
 * id in `webhook-id`, so a receiver that drops duplicates drops it too unless it forgot it.
 * A disabled endpoint gets them once enabled again.
 *
 * @throws {@link ApiError} `webhook_endpoint_not_found`, `event_not_found` (not this site's event),
 * `invalid_request` (a bad selector)
 */
export async function replayEvents(
  db: Database,
  siteId: string,
  endpointId: string,
  selector: { eventId: string } | { since: number },
  options: { now?: number | undefined } = {},
): Promise<WebhookReplay> {
  const now = options.now ?? Date.now();
  const endpoint = await findEndpoint(db, siteId, endpointId);
  if (!endpoint) throw notFound(endpointId);
  let eventIds: string[];
  let hasMore = false;
  if ('eventId' in selector) {
    const event = isId('evt', selector.eventId) ? await findEvent(db, selector.eventId, siteId) : undefined;
    if (!event) {
      throw new ApiError('event_not_found', `This site has no event ${String(selector.eventId).slice(0, 40)}.`, { param: 'eventId' });
    }
    eventIds = [event.id];
  } else {
    const since = selector.since;
    if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0) {
      throw new ApiError('invalid_request', 'since must be a time in milliseconds since the epoch.', { param: 'since' });
    }
    const types = endpoint.eventTypes;
    const filter = types === null ? '' : ` AND type IN (${types.map(() => '?').join(', ')})`;
    const rows = await db.query<{ id: string }>(
      `SELECT id FROM events WHERE site_id = ? AND created_at >= ? AND type <> 'webhook.test'${filter} ORDER BY created_at, seq LIMIT ?`,
      [siteId, since, ...(types ?? []), MAX_WEBHOOK_REPLAY + 1],
    );
    hasMore = rows.length > MAX_WEBHOOK_REPLAY;
    eventIds = rows.slice(0, MAX_WEBHOOK_REPLAY).map((row) => row.id);
  }
  await transactionWithAfterCommit(db, async (tx) => {
    // The endpoint may have been deleted meanwhile: then nothing is queued.
    await requireEndpoint(tx, siteId, endpointId, true);
    await queueReplay(tx, endpointId, eventIds, now);
    afterCommit(tx, () => deliveriesQueued.publish([]));
  });
  return {
    object: 'webhook_replay',
    endpointId: endpoint.id,
    queued: eventIds.length,
    lastEventId: (eventIds.at(-1) ?? null) as WebhookReplay['lastEventId'],
    hasMore,
  };
}

/**
 * Sends a `webhook.test` event to one endpoint through the real pipeline: the event is
 * appended to the outbox (so `GET /v1/events` lists it too), the dispatcher queues its delivery
 * to that endpoint only, whatever its filter, and the worker signs and posts it.
 *
 * @throws {@link ApiError} `webhook_endpoint_not_found`, `webhook_endpoint_disabled`
 */
export async function sendTestEvent(
  db: Database,
  siteId: string,
  endpointId: string,
  options: { now?: number | undefined } = {},
): Promise<WebhookTestSent> {
  const now = options.now ?? Date.now();
  const eventId = newId('evt', now);
  await transactionWithAfterCommit(db, async (tx) => {
    const row = await requireEndpoint(tx, siteId, endpointId, true);
    if (!row.enabled) {
      // The worker sends nothing to a disabled endpoint: a test event would wait unseen.
      throw new ApiError(
        'webhook_endpoint_disabled',
        `This endpoint is disabled${row.disabled_reason === 'failing' ? ' after failing for 5 days' : ''}: enable it, then send the test event.`,
      );
    }
    const [site] = await tx.query<{ owner_id: string }>('SELECT owner_id FROM sites WHERE id = ?', [siteId]);
    if (!site) throw notFound(endpointId);
    await appendEvent(
      tx,
      {
        id: eventId,
        type: 'webhook.test',
        siteId,
        creatorId: site.owner_id,
        fanId: null,
        data: {
          endpointId: row.id as `we_${string}`,
          message: 'A test event from Diamonds: your endpoint receives and verifies webhooks.',
        },
      },
      now,
    );
  });
  return {
    object: 'webhook_test',
    endpointId: endpointId as WebhookTestSent['endpointId'],
    eventId: eventId as WebhookTestSent['eventId'],
  };
}

/** Why an endpoint is disabled, as a sentence for people (the account page, the CLI). */
export function describeDisabledReason(reason: WebhookDisabledReason): string {
  switch (reason) {
    case 'manual':
      return 'Disabled by the site.';
    case 'failing':
      return 'Disabled after 5 days of failed deliveries. Fix the endpoint, enable it again, and replay what it missed.';
    case 'gone':
      return 'Disabled because it answered 410 Gone. Enable it again once it accepts events.';
  }
}
