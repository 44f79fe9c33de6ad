import { parseArgs } from 'node:util';
import type { Database } from '../db/types.js';
import { findSite } from '../identity/sites.js';
import {
  createEndpoint,
  deleteEndpoint,
  describeDisabledReason,
  isProduction,
  listDeliveries,
  listEndpoints,
  replayEvents,
  rollEndpointSecret,
  sendTestEvent,
  updateEndpoint,
} from './endpoints.js';
import type { WebhookCommand } from './command-summaries.js';
export type { WebhookCommand } from './command-summaries.js';

/*
 * The webhook commands of the CLI (`diamonds webhooks …`): each takes the migrated database and
 * the arguments after its name, prints, and returns the exit code (0 done, 2 refused). API
 * errors (invalid_url…) are turned into a message and 2 by the CLI itself.
 */

/** Where the commands write: the console, or a test's collector. */
export interface CommandOutput {
  log(line: string): void;
  error(line: string): void;
}

const OPTIONS: Record<WebhookCommand, readonly string[]> = {
  'webhooks list': ['site'],
  'webhooks add': ['site', 'url', 'events', 'description'],
  'webhooks remove': ['site', 'endpoint'],
  'webhooks enable': ['site', 'endpoint'],
  'webhooks disable': ['site', 'endpoint'],
  'webhooks roll-secret': ['site', 'endpoint'],
  'webhooks deliveries': ['site', 'endpoint', 'limit'],
  'webhooks replay': ['site', 'endpoint', 'event', 'since'],
  'webhooks test': ['site', 'endpoint'],
};

function when(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

/**
 * Runs `diamonds <command> …` for webhooks.
 *
 * @throws {@link ApiError} the domain's refusals (the CLI prints them and exits with 2)
 */
export async function webhooksCommand(
  db: Database,
  command: WebhookCommand,
  args: string[],
  out: CommandOutput = console,
): Promise<number> {
  let values: Record<string, string | undefined>;
  try {
    const spec = Object.fromEntries(OPTIONS[command].map((name) => [name, { type: 'string' as const }]));
    values = parseArgs({ args, options: spec, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (error) {
    out.error(`${command}: ${(error as Error).message} Options: ${OPTIONS[command].map((name) => `--${name}`).join(' ')}.`);
    return 2;
  }
  const siteId = values.site ?? '';
  if (!(await findSite(db, siteId))) {
    out.error(`${command}: no site ${JSON.stringify(siteId)}; pass --site with an id from "sites list".`);
    return 2;
  }
  const endpointId = values.endpoint ?? '';
  if (OPTIONS[command].includes('endpoint') && endpointId === '') {
    out.error(`${command}: pass --endpoint with an id from "webhooks list --site ${siteId}".`);
    return 2;
  }
  switch (command) {
    case 'webhooks list': {
      const endpoints = await listEndpoints(db, siteId);
      for (const e of endpoints) {
        const state = e.enabled ? 'enabled ' : 'disabled';
        out.log(`${e.id}  ${state}  ${e.url}  ${e.eventTypes?.join(',') ?? 'all events'}${e.description ? `  (${e.description})` : ''}`);
        if (e.disabledReason) out.log(`  ${describeDisabledReason(e.disabledReason)}`);
        else if (e.failingSince !== null) out.log(`  Failing since ${when(e.failingSince)}.`);
      }
      out.log(`${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'}.`);
      return 0;
    }
    case 'webhooks add': {
      const eventTypes = values.events === undefined ? null : values.events.split(',').map((type) => type.trim());
      const { endpoint, secret } = await createEndpoint(
        db,
        siteId,
        { url: values.url ?? '', eventTypes, description: values.description },
        { production: isProduction() },
      );
      out.log(`Added ${endpoint.id} → ${endpoint.url} (${endpoint.eventTypes?.join(',') ?? 'all events'}).`);
      out.log(`Signing secret (shown once): ${secret}`);
      return 0;
    }
    case 'webhooks remove':
      await deleteEndpoint(db, siteId, endpointId);
      out.log(`Removed ${endpointId}.`);
      return 0;
    case 'webhooks enable':
    case 'webhooks disable': {
      const enabled = command === 'webhooks enable';
      const endpoint = await updateEndpoint(db, siteId, endpointId, { enabled });
      out.log(`${endpoint.id} is ${endpoint.enabled ? 'enabled' : 'disabled'}.`);
      return 0;
    }
    case 'webhooks roll-secret': {
      const rolled = await rollEndpointSecret(db, siteId, endpointId);
      out.log(`New signing secret (shown once): ${rolled.secret}`);
      out.log(`The previous secret also signs until ${when(rolled.previousSecretExpiresAt)}.`);
      return 0;
    }
    case 'webhooks deliveries': {
      const limit = values.limit === undefined ? 20 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
        out.error(`${command}: --limit is a whole number from 1 to 100.`);
        return 2;
      }
      const deliveries = await listDeliveries(db, siteId, endpointId, { limit });
      for (const d of deliveries) {
        const got = d.lastStatus === null ? (d.lastError ?? '-') : `HTTP ${d.lastStatus}`;
        const next = d.status === 'pending' ? `  next ${when(d.nextAttemptAt)}` : '';
        out.log(
          `${d.id}  ${d.eventId}  ${d.eventType.padEnd(22)}  ${d.status.padEnd(9)}  ${d.attempts} attempt(s)  ${got}${next}  ${when(d.createdAt)}`,
        );
      }
      out.log(`${deliveries.length} deliver${deliveries.length === 1 ? 'y' : 'ies'}.`);
      return 0;
    }
    case 'webhooks replay': {
      if ((values.event === undefined) === (values.since === undefined)) {
        out.error(`${command}: pass --event EVT_ID or --since ISO_TIME (such as 2030-01-01T00:00:00Z).`);
        return 2;
      }
      let selector: { eventId: string } | { since: number };
      if (values.event !== undefined) selector = { eventId: values.event };
      else {
        const since = Date.parse(values.since ?? '');
        if (!Number.isSafeInteger(since)) {
          out.error(`${command}: --since is an ISO 8601 time, such as 2030-01-01T00:00:00Z.`);
          return 2;
        }
        selector = { since };
      }
      const replay = await replayEvents(db, siteId, endpointId, selector);
      out.log(
        `Queued ${replay.queued} deliver${replay.queued === 1 ? 'y' : 'ies'} to ${endpointId}${replay.hasMore ? ` (more remain: replay again since the time of ${replay.lastEventId})` : ''}. A running platform sends them.`,
      );
      return 0;
    }
    case 'webhooks test': {
      const sent = await sendTestEvent(db, siteId, endpointId);
      out.log(`Queued ${sent.eventId} (webhook.test) for ${endpointId}. A running platform sends it.`);
      return 0;
    }
  }
}
