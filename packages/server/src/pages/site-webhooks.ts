import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { isId, MAX_WEBHOOK_ENDPOINTS, SITE_EVENT_TYPES, type WebhookDelivery, type WebhookEndpoint } from '@diamonds/protocol';
import type { Database } from '../db/types.js';
import { ApiError, isApiError } from '../errors.js';
import type { Session } from '../identity/sessions.js';
import type { Site } from '../identity/sites.js';
import {
  createEndpoint,
  deleteEndpoint,
  describeDisabledReason,
  listDeliveries,
  listEndpoints,
  replayEvents,
  rollEndpointSecret,
  sendTestEvent,
  updateEndpoint,
} from '../webhooks/endpoints.js';
import { copyButton } from './copy.js';
import { problemFor, text, type PagesEnv } from './forms.js';
import { alertBox, csrfField, type FormProblem, type Html } from './layout.js';

/*
 * The account page's part about a site's webhook endpoints (issue 13): the endpoints with their
 * state and recent deliveries, and the forms to add one (its secret shown once), enable, disable,
 * delete, roll its secret, replay events and send a test event through the real pipeline. The
 * work is done by webhooks/endpoints.ts; these are the account page's own forms (same-origin,
 * CSRF-checked, signed in, the site's owner only).
 */

/** Deliveries shown per endpoint. */
export const DELIVERIES_SHOWN = 10;

/** The event types an endpoint can choose (the test event always goes to the endpoint it is sent to). */
const CHOOSABLE_TYPES = SITE_EVENT_TYPES.filter((type) => type !== 'webhook.test');

/** The replay windows offered: a choice rather than a date, so no time zone can be misread. */
const REPLAY_WINDOWS: readonly { value: string; label: string; ms: number }[] = [
  { value: '1h', label: 'the last hour', ms: 3_600_000 },
  { value: '24h', label: 'the last 24 hours', ms: 24 * 3_600_000 },
  { value: '3d', label: 'the last 3 days', ms: 3 * 24 * 3_600_000 },
  { value: '7d', label: 'the last 7 days', ms: 7 * 24 * 3_600_000 },
];

/** An endpoint as the account page shows it: with its latest deliveries. */
export interface EndpointView {
  endpoint: WebhookEndpoint;
  deliveries: WebhookDelivery[];
}

/** A secret to show once, right after an endpoint was added or its secret rolled. */
export interface RevealedWebhookSecret {
  siteName: string;
  url: string;
  secret: string;
  /** Set after a roll: until when the previous secret signs too. */
  previousSecretExpiresAt?: number | undefined;
}

/** What the account page's render gets back from a form of this part. */
export interface WebhooksFormState {
  /** A problem with one of this part's forms (`formId`), shown just before it. */
  webhookProblem?: { formId: string; problem: FormProblem };
  /** What to put back into a site's add-endpoint form. */
  webhookDraft?: { siteId: string; url: string; description: string; types: string[] | null };
  revealedWebhook?: RevealedWebhookSecret;
  notice?: string;
}

/** What these routes need from the account page. */
export interface WebhookPageHooks {
  /** The session and form of a signed-in, CSRF-checked POST, or a response to send. */
  signedInForm(
    c: Context<PagesEnv>,
  ): Promise<{ session: Session; form: Record<string, string> } | { session: Session; error: ApiError } | Response>;
  /** The signed-in creator's own site. @throws {@link ApiError} `permission_denied`, `site_not_found` */
  ownedSite(session: Session, siteId: string): Promise<Site>;
  /** Renders the account page with this part's state. */
  render(c: Context<PagesEnv>, session: Session, state: WebhooksFormState): Promise<Html>;
}

/** The add form's id on the account page, for its problem. */
export function addEndpointFormId(siteId: string): string {
  return `webhook-form-${siteId}`;
}

/** A site's endpoints with their latest deliveries, for the account page. */
export async function endpointViews(db: Database, siteId: string): Promise<EndpointView[]> {
  const endpoints = await listEndpoints(db, siteId);
  return Promise.all(
    endpoints.map(async (endpoint) => ({
      endpoint,
      deliveries: await listDeliveries(db, siteId, endpoint.id, { limit: DELIVERIES_SHOWN }),
    })),
  );
}

/** A time as UTC text in a `<time>` element (the page has no script to localise it). */
function when(ms: number): Html {
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC</time>`;
}

function typesText(types: readonly string[] | null): string {
  return types === null ? 'every event type' : types.join(', ');
}

function stateText(endpoint: WebhookEndpoint): Html {
  if (endpoint.enabled) {
    return endpoint.failingSince === null
      ? html`<strong>Enabled</strong>`
      : html`<strong>Enabled</strong>, <span class="warning">failing since ${when(endpoint.failingSince)}</span>: it is disabled after 5
          days of failures.`;
  }
  const reason = endpoint.disabledReason === null ? '' : describeDisabledReason(endpoint.disabledReason);
  return html`<strong>Disabled</strong>${endpoint.disabledAt === null ? '' : html` (${when(endpoint.disabledAt)})`}.
    <span class="${endpoint.disabledReason === 'manual' ? '' : 'warning'}">${reason}</span>`;
}

function deliveriesTable(site: Site, view: EndpointView, csrf: string): Html {
  const { endpoint, deliveries } = view;
  if (deliveries.length === 0) return html`<p class="muted">No deliveries yet. Send a test event to try the endpoint.</p>`;
  return html`<div class="table-wrap" role="region" aria-labelledby="deliveries-${endpoint.id}" tabindex="0">
    <table>
      <caption id="deliveries-${endpoint.id}">
        Recent deliveries to ${endpoint.url}
      </caption>
      <thead>
        <tr>
          <th scope="col">Event</th>
          <th scope="col">Status</th>
          <th scope="col">HTTP</th>
          <th scope="col">Duration</th>
          <th scope="col">Time</th>
          <th scope="col"><span class="visually-hidden">Action</span></th>
        </tr>
      </thead>
      <tbody>
        ${deliveries.map(
          (delivery) =>
            html`<tr>
              <td><code>${delivery.eventType}</code><br /><code class="small" title="${delivery.eventId}">${delivery.eventId}</code></td>
              <td>
                <span class="status status-${delivery.status}">${delivery.status}</span>${
                  delivery.kind === 'event' ? '' : html` <span class="muted">(${delivery.kind})</span>`
                }${delivery.attempts > 1 ? html`<br /><span class="muted">${delivery.attempts} attempts</span>` : ''}${
                  delivery.lastError === null ? '' : html`<br /><span class="muted">${delivery.lastError}</span>`
                }
              </td>
              <td>${delivery.lastStatus ?? '—'}</td>
              <td>${delivery.lastDurationMs === null ? '—' : `${delivery.lastDurationMs} ms`}</td>
              <td>${when(delivery.updatedAt)}</td>
              <td>
                <form method="post" action="/account/sites/${site.id}/webhooks/${endpoint.id}/replay">
                  ${csrfField(csrf)}
                  <input type="hidden" name="eventId" value="${delivery.eventId}" />
                  <button type="submit" class="secondary small" aria-label="Replay ${delivery.eventType} ${delivery.eventId}">
                    Replay
                  </button>
                </form>
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** The endpoint's URL, read by screen readers after a short visible action ("Disable"), so each button's name is unique. */
function forUrl(word: string, url: string): Html {
  return html`<span class="visually-hidden"> ${word === '' ? url : `${word} ${url}`}</span>`;
}

function endpointItem(site: Site, view: EndpointView, csrf: string, problem: FormProblem | undefined): Html {
  const { endpoint } = view;
  const base = `/account/sites/${site.id}/webhooks/${endpoint.id}`;
  const replayId = `replay-since-${endpoint.id}`;
  return html`<li class="item">
    <h5><code>${endpoint.url}</code></h5>
    ${endpoint.description === '' ? '' : html`<p>${endpoint.description}</p>`}
    <p>${stateText(endpoint)}</p>
    <p class="muted">Sends ${typesText(endpoint.eventTypes)}. Id <code>${endpoint.id}</code>.</p>
    ${
      endpoint.previousSecretExpiresAt === null
        ? ''
        : html`<p class="muted">The previous secret also signs until ${when(endpoint.previousSecretExpiresAt)}.</p>`
    }
    ${alertBox(problem, `endpoint-${endpoint.id}-error`)}
    <form method="post" action="${base}/test" class="inline">
      ${csrfField(csrf)}
      <button type="submit">Send test event${forUrl('to', endpoint.url)}</button>
    </form>
    <form method="post" action="${base}/${endpoint.enabled ? 'disable' : 'enable'}" class="inline">
      ${csrfField(csrf)}
      <button type="submit" class="secondary">${endpoint.enabled ? 'Disable' : 'Enable'}${forUrl('', endpoint.url)}</button>
    </form>
    <form method="post" action="${base}/roll-secret" class="inline">
      ${csrfField(csrf)}
      <button type="submit" class="secondary">Roll signing secret${forUrl('of', endpoint.url)}</button>
    </form>
    <form method="post" action="${base}/replay" class="replay">
      ${csrfField(csrf)}
      <label for="${replayId}">Send again every event of</label>
      <select id="${replayId}" name="since">
        ${REPLAY_WINDOWS.map((window) => html`<option value="${window.value}">${window.label}</option>`)}
      </select>
      <button type="submit" class="secondary">Replay${forUrl('to', endpoint.url)}</button>
    </form>
    ${deliveriesTable(site, view, csrf)}
    <details>
      <summary>Delete this endpoint${forUrl('', endpoint.url)}</summary>
      <p>Nothing more is sent to it, and its delivery log goes with it.</p>
      <form method="post" action="${base}/delete">
        ${csrfField(csrf)}
        <button type="submit" class="danger">Delete endpoint${forUrl('', endpoint.url)}</button>
      </form>
    </details>
  </li>`;
}

/**
 * The "Webhooks" part of one of the owner's sites: its endpoints (state, recent deliveries,
 * actions) and the form to add one.
 */
export function webhooksPart(site: Site, views: readonly EndpointView[], csrf: string, state: WebhooksFormState): Html {
  const formId = addEndpointFormId(site.id);
  const problem = state.webhookProblem?.formId === formId ? state.webhookProblem.problem : undefined;
  const draft = state.webhookDraft?.siteId === site.id ? state.webhookDraft : undefined;
  const urlId = `webhook-url-${site.id}`;
  const typesId = `webhook-types-${site.id}`;
  const urlInvalid = problem?.fieldId === urlId;
  const typesInvalid = problem?.fieldId === typesId;
  const chosen = draft?.types ?? null;
  return html`<h4>Webhooks of ${site.name}</h4>
    <p class="muted">
      Your backend is told what happens on ${site.name} (orders paid and refunded, gifts…) by signed HTTP posts, retried for about a day
      until it answers 2xx. Verify them with <code>verifyWebhook</code> from <code>@diamonds/sdk/server</code>.
    </p>
    ${
      views.length === 0
        ? html`<p class="muted">No endpoints yet.</p>`
        : html`<ul class="plain">
            ${views.map((view) =>
              endpointItem(
                site,
                view,
                csrf,
                state.webhookProblem?.formId === `endpoint-${view.endpoint.id}` ? state.webhookProblem.problem : undefined,
              ),
            )}
          </ul>`
    }
    ${
      views.length >= MAX_WEBHOOK_ENDPOINTS
        ? html`<p class="muted">${site.name} has ${MAX_WEBHOOK_ENDPOINTS} endpoints, the most a site may have.</p>`
        : html`${alertBox(problem, `${formId}-error`)}
            <form method="post" action="/account/sites/${site.id}/webhooks">
              ${csrfField(csrf)}
              <div class="field">
                <label for="${urlId}">Endpoint URL for ${site.name}</label>
                <p class="muted" id="${urlId}-hint">https://… on your server; http://localhost works while you develop.</p>
                <input
                  id="${urlId}"
                  name="url"
                  type="url"
                  inputmode="url"
                  autocomplete="off"
                  required
                  maxlength="2048"
                  value="${draft?.url ?? ''}"
                  aria-describedby="${urlId}-hint${urlInvalid ? ` ${urlId}-error` : ''}"
                  ${urlInvalid ? html`aria-invalid="true" autofocus` : ''}
                />
                ${urlInvalid ? html`<p class="field-error" id="${urlId}-error">${problem.message}</p>` : ''}
              </div>
              <div class="field">
                <label for="webhook-description-${site.id}">Description (optional)</label>
                <input
                  id="webhook-description-${site.id}"
                  name="description"
                  type="text"
                  autocomplete="off"
                  maxlength="200"
                  value="${draft?.description ?? ''}"
                />
              </div>
              <fieldset id="${typesId}" ${typesInvalid ? html`aria-invalid="true" aria-describedby="${typesId}-error"` : ''}>
                <legend>Events to send</legend>
                <div class="choice">
                  <input type="radio" id="${typesId}-all" name="types" value="all" ${chosen === null ? 'checked' : ''} />
                  <label for="${typesId}-all">Every event type</label>
                </div>
                <div class="choice">
                  <input type="radio" id="${typesId}-some" name="types" value="some" ${chosen === null ? '' : 'checked'} />
                  <label for="${typesId}-some">Only the types ticked below</label>
                </div>
                <div class="choices">
                  ${CHOOSABLE_TYPES.map(
                    (type) =>
                      html`<div class="choice">
                        <input
                          type="checkbox"
                          id="${typesId}-${type}"
                          name="type:${type}"
                          value="on"
                          ${chosen?.includes(type) ? 'checked' : ''}
                        />
                        <label for="${typesId}-${type}"><code>${type}</code></label>
                      </div>`,
                  )}
                </div>
                ${typesInvalid ? html`<p class="field-error" id="${typesId}-error">${problem.message}</p>` : ''}
              </fieldset>
              <button type="submit">Add endpoint to ${site.name}</button>
            </form>`
    }`;
}

/** The box that shows an endpoint's new secret, once, at the top of the account page. */
export function webhookSecretBox(revealed: RevealedWebhookSecret): Html {
  return html`<section class="notice" role="status" aria-labelledby="webhook-secret-title">
    <h2 id="webhook-secret-title">
      ${revealed.previousSecretExpiresAt === undefined ? 'Webhook endpoint added' : 'New signing secret'} for ${revealed.siteName}
    </h2>
    <p>
      <strong>Copy the signing secret now, it will not be shown again.</strong> Keep it on your server, where it verifies deliveries to
      <code>${revealed.url}</code>.
    </p>
    ${
      revealed.previousSecretExpiresAt === undefined
        ? ''
        : html`<p>The previous secret also signs until ${when(revealed.previousSecretExpiresAt)}: deploy the new one before then.</p>`
    }
    <p><label for="revealed-webhook-secret">Signing secret</label></p>
    <input id="revealed-webhook-secret" class="secret" type="text" readonly value="${revealed.secret}" autocomplete="off" />
    ${copyButton('revealed-webhook-secret', 'Copy signing secret')}
  </section>`;
}

/** The event types of the add form: null for all, else the ticked ones (an empty list when none is). */
function chosenTypes(form: Record<string, string>): string[] | null {
  if (text(form, 'types') !== 'some') return null;
  return Object.keys(form)
    .filter((name) => name.startsWith('type:') && form[name] === 'on')
    .map((name) => name.slice('type:'.length));
}

/** The time a replay window starts, or an error. */
function replaySince(value: string, now: number): number {
  const window = REPLAY_WINDOWS.find((entry) => entry.value === value);
  if (!window) throw new ApiError('invalid_request', 'Choose how far back to replay.', { param: 'since' });
  return now - window.ms;
}

const ENDPOINT_ERRORS = ['invalid_url', 'invalid_event_type', 'invalid_request', 'too_many_endpoints', 'event_not_found'] as const;

function endpointError(error: unknown): ApiError | undefined {
  return ENDPOINT_ERRORS.some((code) => isApiError(error, code)) ? (error as ApiError) : undefined;
}

/** Adds this part's forms to the account page. */
export function siteWebhookRoutes(pages: Hono<PagesEnv>, db: Database, hooks: WebhookPageHooks): void {
  pages.post('/account/sites/:siteId/webhooks', async (c) => {
    const got = await hooks.signedInForm(c);
    if (got instanceof Response) return got;
    const site = await hooks.ownedSite(got.session, c.req.param('siteId'));
    const formId = addEndpointFormId(site.id);
    const fields = { url: [`webhook-url-${site.id}`, 'Endpoint URL'], eventTypes: [`webhook-types-${site.id}`, 'Events to send'] } as const;
    if ('error' in got) {
      return c.html(await hooks.render(c, got.session, { webhookProblem: { formId, problem: problemFor(got.error, fields) } }), 400);
    }
    const url = text(got.form, 'url');
    const description = text(got.form, 'description');
    const types = chosenTypes(got.form);
    try {
      const { endpoint, secret } = await createEndpoint(db, site.id, { url, description, eventTypes: types });
      return c.html(await hooks.render(c, got.session, { revealedWebhook: { siteName: site.name, url: endpoint.url, secret } }), 201);
    } catch (error) {
      const known = endpointError(error);
      if (!known) throw error;
      const problem = problemFor(known, fields);
      // The filter's message names the list; say what to do on this form instead.
      if (known.code === 'invalid_event_type' && types?.length === 0)
        problem.message = 'Tick at least one event type, or choose every type.';
      return c.html(
        await hooks.render(c, got.session, {
          webhookProblem: { formId, problem },
          webhookDraft: { siteId: site.id, url, description, types },
        }),
        known.status as 400,
      );
    }
  });

  const action = (
    path: string,
    run: (site: Site, endpointId: string, form: Record<string, string>) => Promise<WebhooksFormState>,
  ): void => {
    pages.post(`/account/sites/:siteId/webhooks/:endpointId/${path}`, async (c) => {
      const got = await hooks.signedInForm(c);
      if (got instanceof Response) return got;
      if ('error' in got) throw got.error;
      const site = await hooks.ownedSite(got.session, c.req.param('siteId'));
      const endpointId = c.req.param('endpointId');
      if (!isId('we', endpointId)) throw new ApiError('webhook_endpoint_not_found', 'No such webhook endpoint on this site.');
      try {
        return c.html(await hooks.render(c, got.session, await run(site, endpointId, got.form)));
      } catch (error) {
        const known = endpointError(error);
        if (!known) throw error;
        const problem: FormProblem = { message: known.message };
        return c.html(
          await hooks.render(c, got.session, { webhookProblem: { formId: `endpoint-${endpointId}`, problem } }),
          known.status as 400,
        );
      }
    });
  };

  action('enable', async (site, id) => {
    const endpoint = await updateEndpoint(db, site.id, id, { enabled: true });
    return { notice: `Enabled ${endpoint.url}: deliveries waiting for it go now.` };
  });
  action('disable', async (site, id) => {
    const endpoint = await updateEndpoint(db, site.id, id, { enabled: false });
    return { notice: `Disabled ${endpoint.url}: nothing is sent to it until you enable it again.` };
  });
  action('delete', async (site, id) => {
    const endpoint = await listEndpoints(db, site.id).then((all) => all.find((one) => one.id === id));
    await deleteEndpoint(db, site.id, id);
    return { notice: `Deleted the endpoint ${endpoint?.url ?? id}.` };
  });
  action('roll-secret', async (site, id) => {
    const { secret, previousSecretExpiresAt } = await rollEndpointSecret(db, site.id, id);
    const endpoint = await listEndpoints(db, site.id).then((all) => all.find((one) => one.id === id));
    return { revealedWebhook: { siteName: site.name, url: endpoint?.url ?? id, secret, previousSecretExpiresAt } };
  });
  action('test', async (site, id) => {
    const sent = await sendTestEvent(db, site.id, id);
    return {
      notice: `Sent a test event (${sent.eventId}) through the delivery pipeline. Its delivery shows in the endpoint's log within a few seconds: open your account page again to see it.`,
    };
  });
  action('replay', async (site, id, form) => {
    const eventId = text(form, 'eventId');
    const replay =
      eventId === ''
        ? await replayEvents(db, site.id, id, { since: replaySince(text(form, 'since'), Date.now()) })
        : await replayEvents(db, site.id, id, { eventId });
    if (eventId !== '') return { notice: `Queued ${eventId} to be sent again.` };
    return {
      notice:
        replay.queued === 0
          ? 'No events in that time for this endpoint.'
          : `Queued ${replay.queued} event${replay.queued === 1 ? '' : 's'} to be sent again${replay.hasMore ? ' (the most one replay sends; replay again for the rest)' : ''}.`,
    };
  });
}
