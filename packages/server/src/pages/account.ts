import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { MAX_TRANSFER_DIAMONDS } from '@diamonds/protocol';
import { ApiError, isApiError } from '../errors.js';
import type { Database } from '../db/types.js';
import { checkAllowance, disconnect, findConnection, listConnections, setAllowance, type Connection } from '../identity/connections.js';
import type { Session } from '../identity/sessions.js';
import { listCreatorContent } from '../content/content.js';
import {
  addOrigin,
  createSite,
  listKeys,
  listSites,
  removeOrigin,
  rollKey,
  updateOrigins,
  type KeyKind,
  type Site,
  type SiteKey,
} from '../identity/sites.js';
import { copyButton, copyScriptRoute, COPY_SCRIPT_PATH } from './copy.js';
import { HOSTED_CSP_WITH_OWN_SCRIPT } from './security-headers.js';
import {
  endpointViews,
  siteWebhookRoutes,
  webhookSecretBox,
  webhooksPart,
  type EndpointView,
  type WebhooksFormState,
} from './site-webhooks.js';
import { checkSameOrigin, checkSessionToken } from './csrf.js';
import { problemFor, readForm, safeNext, text, type PagesEnv } from './forms.js';
import { alertBox, csrfField, field, page, type FormProblem, type Html } from './layout.js';
import { currentSession } from './session.js';
import { creatorListingsSection, siteCreatorRoutes, siteCreatorsPart, type SiteCreatorsFormState } from './site-creators.js';
import { creatorListings, listSiteCreatorListings, type SiteCreatorListing } from '../identity/site-creators.js';
import { signedInRecently, stepUpUrl } from './step-up.js';
import { emailVerificationBanner } from './verify-email.js';

/** A key to show once, right after it was made. */
interface Revealed {
  siteId: string;
  siteName: string;
  kind: KeyKind;
  key: string;
  /** The site was just registered (and this is its secret key). */
  created: boolean;
}

/** What the account page shows besides the stored data. */
interface AccountState extends WebhooksFormState {
  /** A problem with one form, shown just before it: `formId` names the form. */
  problem?: { formId: string; problem: FormProblem };
  /** Values to put back into the new-site form. */
  newSite?: { name: string; origins: string };
  /** What to put back into a site's allowed-origins form. */
  origins?: { siteId: string; text: string };
  /** What to put back into a site's add-origin form. */
  addOrigin?: { siteId: string; value: string };
  revealed?: Revealed;
  notice?: string;
  /** A problem with a site's invite form (the site's creators: pages/site-creators.ts). */
  invite?: SiteCreatorsFormState['invite'];
}

const NEW_SITE_FIELDS = { name: ['site-name', 'Site name'], origins: ['site-origins', 'Allowed origins'] } as const;

function allowanceFields(siteId: string) {
  return { allowancePerDay: [`allowance-${siteId}`, 'Daily allowance'] } as const;
}

function problemIn(state: AccountState, formId: string): FormProblem | undefined {
  return state.problem?.formId === formId ? state.problem.problem : undefined;
}

function origins(site: Site): Html {
  return html`<ul>
    ${site.origins.map((origin) => html`<li><code>${origin}</code></li>`)}
  </ul>`;
}

function connectionItem(connection: Connection, csrf: string, state: AccountState): Html {
  const { site } = connection;
  const formId = `allowance-form-${site.id}`;
  const problem = problemIn(state, formId);
  return html`<li class="item">
    <h3>${site.name}</h3>
    <p>Site id: <code class="copy" title="Your backend checks receipts against it (siteId)">${site.id}</code></p>
    <p class="muted">Origins:</p>
    ${origins(site)}
    <p>Allowance: <strong>${connection.allowancePerDay}</strong> Diamonds per day without asking.</p>
    ${alertBox(problem, `${formId}-error`)}
    <form method="post" action="/account/connections/${site.id}/allowance" class="row">
      ${csrfField(csrf)}
      ${field({
        id: `allowance-${site.id}`,
        name: 'allowancePerDay',
        label: `Daily allowance for ${site.name} (Diamonds)`,
        type: 'number',
        autocomplete: 'off',
        value: problem ? undefined : connection.allowancePerDay,
        min: 0,
        max: MAX_TRANSFER_DIAMONDS,
        required: true,
        problem,
      })}
      <button type="submit">Save allowance</button>
    </form>
    <form method="post" action="/account/connections/${site.id}/disconnect">
      ${csrfField(csrf)}
      <button type="submit" class="secondary">Disconnect ${site.name}</button>
    </form>
  </li>`;
}

/**
 * What a creator pastes into a static page of `site`: the drop-in script and the elements, as in
 * `examples/creator-site/index.html`, with their key, their id and a post of theirs filled in.
 */
export function pasteSnippet(options: {
  platformOrigin: string;
  publishableKey: string;
  creator: { id: string; displayName: string };
  contentId: string | undefined;
}): string {
  const { platformOrigin, publishableKey: key, creator, contentId } = options;
  const attribute = (value: string) => value.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');
  return [
    `<script type="module" src="${attribute(platformOrigin)}/sdk/diamonds.js"></script>`,
    '',
    `<diamond-wallet publishable-key="${key}"></diamond-wallet>`,
    '',
    `<diamond-gift-button publishable-key="${key}" creator="${creator.id}" creator-name="${attribute(creator.displayName)}" gift="rose"></diamond-gift-button>`,
    `<diamond-gift-button publishable-key="${key}" creator="${creator.id}" creator-name="${attribute(creator.displayName)}">Choose a gift</diamond-gift-button>`,
    '',
    contentId === undefined
      ? '<!-- Publish a post on /account/content, then: <diamond-paywall publishable-key="…" content="ct_…"></diamond-paywall> -->'
      : `<diamond-paywall publishable-key="${key}" content="${contentId}"></diamond-paywall>`,
  ].join('\n');
}

/**
 * The form that edits a site's allowed origins: where the elements send an owner whose page is on
 * another origin ("add it to its allowed origins on your Diamonds account page").
 */
function originsForm(site: Site, csrf: string, state: AccountState): Html {
  const formId = `origins-form-${site.id}`;
  const problem = problemIn(state, formId);
  const id = `origins-${site.id}`;
  const invalid = problem?.fieldId === id;
  const open = problem !== undefined || state.origins?.siteId === site.id;
  return html`<details ${open ? 'open' : ''}>
    <summary>Edit the allowed origins of ${site.name} as a list</summary>
    ${alertBox(problem, `${formId}-error`)}
    <form method="post" action="/account/sites/${site.id}/origins">
      ${csrfField(csrf)}
      <div class="field">
        <label for="${id}">Allowed origins of ${site.name}</label>
        <p class="muted" id="${id}-hint">
          One per line: the exact scheme, host and port of each page that uses the key, such as https://example.com.
        </p>
        <textarea
          id="${id}"
          name="origins"
          rows="3"
          required
          ${invalid ? html`aria-invalid="true"` : ''}
          aria-describedby="${id}-hint${invalid ? ` ${id}-error` : ''}"
        >
${state.origins?.siteId === site.id ? state.origins.text : site.origins.join('\n')}</textarea>
        ${invalid ? html`<p class="field-error" id="${id}-error">${problem.message}</p>` : ''}
      </div>
      <button type="submit">Save allowed origins of ${site.name}</button>
    </form>
  </details>`;
}

/**
 * A site's allowed origins, one remove button each (none on the last: a site keeps one), and the
 * form that adds one. Both take effect at once: CORS reads the list on every request.
 */
function originsPart(site: Site, csrf: string, state: AccountState): Html {
  const listFormId = `origin-list-${site.id}`;
  const addFormId = `origin-add-${site.id}`;
  const listProblem = problemIn(state, listFormId);
  const addProblem = problemIn(state, addFormId);
  const id = `origin-${site.id}`;
  const last = site.origins.length === 1;
  return html`<h4>Allowed origins of ${site.name}</h4>
    <p class="muted">Pages on these origins may use the publishable key. Changes take effect at once.</p>
    ${alertBox(listProblem, `${listFormId}-error`)}
    <ul class="origins">
      ${site.origins.map(
        (origin) =>
          html`<li>
            <code>${origin}</code>
            ${
              last
                ? html`<span class="muted">(the last one: add another before removing it)</span>`
                : html`<form method="post" action="/account/sites/${site.id}/origins/remove" class="inline">
                    ${csrfField(csrf)}
                    <input type="hidden" name="origin" value="${origin}" />
                    <button type="submit" class="secondary small">Remove ${origin}</button>
                  </form>`
            }
          </li>`,
      )}
    </ul>
    ${alertBox(addProblem, `${addFormId}-error`)}
    <form method="post" action="/account/sites/${site.id}/origins/add" class="row">
      ${csrfField(csrf)}
      ${field({
        id,
        name: 'origin',
        label: `Add an allowed origin to ${site.name}`,
        hint: 'Scheme, host and port only, such as https://shop.example.com or http://localhost:3000.',
        type: 'text',
        autocomplete: 'off',
        value: state.addOrigin?.siteId === site.id ? state.addOrigin.value : undefined,
        required: true,
        maxLength: 200,
        problem: addProblem,
      })}
      <button type="submit">Add origin</button>
    </form>
    ${originsForm(site, csrf, state)}`;
}

function siteItem(
  site: Site,
  keys: SiteKey[],
  csrf: string,
  snippet: (publishableKey: string) => string,
  creators: Html,
  webhooks: readonly EndpointView[],
  state: AccountState,
): Html {
  const live = (kind: KeyKind) => keys.find((k) => k.kind === kind && k.revokedAt === null);
  const publishable = live('publishable');
  const secret = live('secret');
  const pasted = publishable?.publishableKey ? snippet(publishable.publishableKey) : undefined;
  return html`<li class="item">
    <h3>${site.name}</h3>
    <p>
      Site id: <code class="copy" id="site-id-${site.id}" title="Your backend checks receipts against it (siteId)">${site.id}</code>
      ${copyButton(`site-id-${site.id}`, `Copy site id of ${site.name}`)}
    </p>
    ${originsPart(site, csrf, state)}
    <h4>Keys of ${site.name}</h4>
    <p>
      Publishable key:
      ${
        publishable?.publishableKey
          ? html`<code class="copy" id="pk-${site.id}">${publishable.publishableKey}</code>
              ${copyButton(`pk-${site.id}`, `Copy publishable key of ${site.name}`)}`
          : html`<em>none</em>`
      }
    </p>
    <p>
      Secret key: ${secret ? html`<code>sk_test_…${secret.last4}</code>` : html`<em>none</em>`}
      <span class="muted">(shown once, when made or rolled)</span>
    </p>
    ${
      pasted === undefined
        ? ''
        : html`<div class="field">
            <label for="snippet-${site.id}">Paste into a page of ${site.name}</label>
            <p class="muted" id="snippet-${site.id}-hint">
              The script once, then any of the elements: a fan's wallet, gift buttons, a paywalled post.
            </p>
            <textarea id="snippet-${site.id}" class="snippet" rows="9" readonly aria-describedby="snippet-${site.id}-hint">
${pasted}</textarea>
            ${copyButton(`snippet-${site.id}`, `Copy the snippet for ${site.name}`)}
          </div>`
    }
    <form method="post" action="/account/sites/${site.id}/keys/publishable/roll" class="inline">
      ${csrfField(csrf)}
      <button type="submit" class="secondary">Roll publishable key of ${site.name}</button>
    </form>
    <form method="post" action="/account/sites/${site.id}/keys/secret/roll" class="inline">
      ${csrfField(csrf)}
      <button type="submit" class="secondary">Roll secret key of ${site.name}</button>
    </form>
    ${webhooksPart(site, webhooks, csrf, state)} ${creators}
  </li>`;
}

function revealedBox(revealed: Revealed): Html {
  const what = revealed.kind === 'secret' ? 'secret key' : 'publishable key';
  return html`<section class="notice" role="status" aria-labelledby="revealed-title">
    <h2 id="revealed-title">
      ${revealed.created ? html`Site ${revealed.siteName} registered` : html`New ${what} for ${revealed.siteName}`}
    </h2>
    ${
      revealed.kind === 'secret'
        ? html`<p><strong>Copy it now, it will not be shown again.</strong> Keep it on your server; never put it in a web page.</p>`
        : html`<p>The old publishable key stopped working. Update your pages.</p>`
    }
    <p><label for="revealed-key">Your ${what}</label></p>
    <input id="revealed-key" class="secret" type="text" readonly value="${revealed.key}" autocomplete="off" />
    ${copyButton('revealed-key', `Copy the ${what}`)}
  </section>`;
}

async function accountPage(db: Database, session: Session, platformOrigin: string, state: AccountState = {}): Promise<Html> {
  const { user, csrfToken: csrf } = session;
  const connections = await listConnections(db, user.id);
  const isCreator = user.roles.includes('creator');
  const sites = isCreator
    ? await Promise.all(
        (await listSites(db, user.id)).map(async (site) => ({
          site,
          keys: await listKeys(db, site.id),
          listings: await listSiteCreatorListings(db, site.id),
          webhooks: await endpointViews(db, site.id),
        })),
      )
    : [];
  const listedOn = isCreator ? await creatorListings(db, user.id) : [];
  const creatorsOf = (site: Site, listings: SiteCreatorListing[]) =>
    siteCreatorsPart(site, listings, csrf, state.invite?.siteId === site.id ? state.invite : {});
  const posts = isCreator ? (await listCreatorContent(db, user.id)).filter((post) => post.archivedAt === null) : [];
  const snippetFor = (site: Site) => (publishableKey: string) =>
    pasteSnippet({
      platformOrigin,
      publishableKey,
      creator: { id: user.id, displayName: user.displayName },
      contentId: posts.find((post) => post.siteId === site.id)?.id,
    });
  const newSiteProblem = problemIn(state, 'new-site');
  return page(
    'Your account',
    html`<header class="top">
        <h1>Your account</h1>
        <form method="post" action="/signout">
          ${csrfField(csrf)}
          <button type="submit" class="secondary">Sign out</button>
        </form>
      </header>
      ${state.notice ? html`<p class="notice" role="status">${state.notice}</p>` : ''} ${state.revealed ? revealedBox(state.revealed) : ''}
      ${state.revealedWebhook ? webhookSecretBox(state.revealedWebhook) : ''}
      <p><strong>${user.displayName}</strong><br /><span class="muted">${user.email}</span></p>
      ${await emailVerificationBanner(db, session)}
      <p><a href="/wallet">Your wallet</a>: balance, history, spends waiting for your approval, receipts.</p>
      ${
        isCreator
          ? html`<p><a href="/dashboard">Earnings</a>: what fans gave you, pending and available, supporters, CSV export.</p>
              <p><a href="/account/payouts">Payouts</a>: where you are paid, cash out, weekly payouts, their history.</p>
              <p><a href="/account/live">Live</a>: start a live session, your goal, blocked words.</p>
              <p><a href="/account/collaborations">Collaborations</a>: invite creators, answer invitations, split your earnings.</p>`
          : ''
      }
      ${await liveNamePart(db, session)}

      <h2>Connected sites</h2>
      ${
        connections.length === 0
          ? html`<p class="muted">You have not connected any sites yet.</p>`
          : html`<ul class="plain">
              ${connections.map((connection) => connectionItem(connection, csrf, state))}
            </ul>`
      }
      ${
        isCreator
          ? html`<h2>Your sites</h2>
              ${
                sites.length === 0
                  ? html`<p class="muted">You have not registered a site yet.</p>`
                  : html`<ul class="plain">
                      ${sites.map(({ site, keys, listings, webhooks }) =>
                        siteItem(site, keys, csrf, snippetFor(site), creatorsOf(site, listings), webhooks, state),
                      )}
                    </ul>`
              }
              <h3>Register a new site</h3>
              ${alertBox(newSiteProblem, 'new-site-error')}
              <form method="post" action="/account/sites">
                ${csrfField(csrf)}
                ${field({
                  id: 'site-name',
                  name: 'name',
                  label: 'Site name',
                  type: 'text',
                  autocomplete: 'off',
                  value: state.newSite?.name,
                  required: true,
                  maxLength: 80,
                  problem: newSiteProblem,
                })}
                <div class="field">
                  <label for="site-origins">Allowed origins</label>
                  <p class="muted" id="site-origins-hint">One per line, such as https://example.com.</p>
                  <textarea
                    id="site-origins"
                    name="origins"
                    rows="3"
                    required
                    ${newSiteProblem?.fieldId === 'site-origins' ? html`aria-invalid="true"` : ''}
                    aria-describedby="site-origins-hint${newSiteProblem?.fieldId === 'site-origins' ? ' site-origins-error' : ''}"
                  >
${state.newSite?.origins ?? ''}</textarea>
                  ${
                    newSiteProblem?.fieldId === 'site-origins'
                      ? html`<p class="field-error" id="site-origins-error">${newSiteProblem.message}</p>`
                      : ''
                  }
                </div>
                <button type="submit">Register site</button>
              </form>
              ${creatorListingsSection(listedOn, csrf)}`
          : ''
      }
      ${isCreator || state.revealed ? html`<script src="${COPY_SCRIPT_PATH}" defer></script>` : ''}`,
  );
}

/** Whether the user's name shows in creators' live alerts, with the switch. */
async function liveNamePart(db: Database, session: Session): Promise<Html> {
  const [row] = await db.query<{ one: number }>('SELECT 1 AS one FROM live_anonymous_fans WHERE fan_id = ?', [session.user.id]);
  const anonymous = row !== undefined;
  return html`<form method="post" action="/account/live/anonymous">
    ${csrfField(session.csrfToken)}
    <input type="hidden" name="anonymous" value="${anonymous ? 'off' : 'on'}" />
    <p>
      In creators' live alerts your gifts show
      ${anonymous ? html`as <strong>“A fan”</strong>` : html`with your name, <strong>${session.user.displayName}</strong>`}.
    </p>
    <button type="submit" class="secondary">${anonymous ? 'Show my name' : 'Stay anonymous'}</button>
  </form>`;
}

/** The session of a signed-in POST with a good CSRF token and its form, or a response to send. */
async function signedInForm(
  c: Context<PagesEnv>,
  db: Database,
): Promise<{ session: Session; form: Record<string, string> } | { session: Session; error: ApiError } | Response> {
  const session = await currentSession(c, db);
  if (!session) return c.redirect('/signin?next=/account', 303);
  checkSameOrigin(c);
  const read = await readForm(c);
  if (!read.ok) return { session, error: read.error };
  checkSessionToken(session, read.form.csrf);
  return { session, form: read.form };
}

async function ownedSite(db: Database, session: Session, siteId: string): Promise<Site> {
  if (!session.user.roles.includes('creator')) throw new ApiError('permission_denied', 'Only creators have sites.');
  const site = (await listSites(db, session.user.id)).find((s) => s.id === siteId);
  if (!site) throw new ApiError('site_not_found', 'You have no such site.', { param: 'siteId' });
  return site;
}

/** The non-empty lines of a textarea, trimmed. */
function lines(value: string): string[] {
  return value
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** Adds `/account` and its forms to the hosted pages. */
export function accountRoutes(pages: Hono<PagesEnv>, db: Database, publicUrl: string | undefined): void {
  const render = (c: Context<PagesEnv>, session: Session, state: AccountState = {}): Promise<Html> => {
    // A creator's page (or a revealed key) has copy buttons: their script comes from our origin.
    if (session.user.roles.includes('creator') || state.revealed) c.header('Content-Security-Policy', HOSTED_CSP_WITH_OWN_SCRIPT);
    return accountPage(db, session, publicUrl ?? new URL(c.req.url).origin, state);
  };
  copyScriptRoute(pages);
  pages.get('/account', async (c) => {
    const session = await currentSession(c, db);
    if (!session) return c.redirect('/signin?next=/account', 303);
    return c.html(await render(c, session));
  });

  pages.post('/account/connections/:siteId/allowance', async (c) => {
    const siteId = c.req.param('siteId');
    const formId = `allowance-form-${siteId}`;
    const got = await signedInForm(c, db);
    if (got instanceof Response) return got;
    if ('error' in got) {
      return c.html(await render(c, got.session, { problem: { formId, problem: problemFor(got.error, allowanceFields(siteId)) } }), 400);
    }
    try {
      // Raising an allowance on an old sign-in needs the password first (pages/step-up.ts); the
      // fan enters the new amount again after it. Lowering it never does.
      const wanted = checkAllowance(text(got.form, 'allowancePerDay'));
      const current = await findConnection(db, got.session.user.id, siteId);
      if (current && wanted > current.allowancePerDay && !signedInRecently(got.session)) return c.redirect(stepUpUrl('/account'), 303);
      await setAllowance(db, got.session.user.id, siteId, wanted);
    } catch (error) {
      if (!isApiError(error, 'invalid_request')) throw error;
      return c.html(await render(c, got.session, { problem: { formId, problem: problemFor(error, allowanceFields(siteId)) } }), 400);
    }
    return c.redirect('/account', 303);
  });

  pages.post('/account/connections/:siteId/disconnect', async (c) => {
    const got = await signedInForm(c, db);
    if (got instanceof Response) return got;
    if ('error' in got) throw got.error;
    const siteId = c.req.param('siteId');
    if (!(await disconnect(db, got.session.user.id, siteId))) {
      throw new ApiError('site_not_found', 'You are not connected to that site.', { param: 'siteId' });
    }
    // The wallet page posts here too, and asks to come back to itself.
    return c.redirect(safeNext(text(got.form, 'next')), 303);
  });

  pages.post('/account/sites', async (c) => {
    const got = await signedInForm(c, db);
    if (got instanceof Response) return got;
    if (!got.session.user.roles.includes('creator')) throw new ApiError('permission_denied', 'Only creators can register sites.');
    if ('error' in got) {
      return c.html(
        await render(c, got.session, { problem: { formId: 'new-site', problem: problemFor(got.error, NEW_SITE_FIELDS) } }),
        400,
      );
    }
    const name = text(got.form, 'name');
    const originsText = text(got.form, 'origins');
    const originList = lines(originsText);
    try {
      const created = await createSite(db, { ownerId: got.session.user.id, name, origins: originList });
      const revealed: Revealed = {
        siteId: created.site.id,
        siteName: created.site.name,
        kind: 'secret',
        key: created.secretKey,
        created: true,
      };
      return c.html(await render(c, got.session, { revealed }), 201);
    } catch (error) {
      if (!isApiError(error, 'invalid_request') && !isApiError(error, 'invalid_origin')) throw error;
      const state: AccountState = {
        problem: { formId: 'new-site', problem: problemFor(error, NEW_SITE_FIELDS) },
        newSite: { name, origins: originsText },
      };
      return c.html(await render(c, got.session, state), 400);
    }
  });

  pages.post('/account/sites/:siteId/origins', async (c) => {
    const got = await signedInForm(c, db);
    if (got instanceof Response) return got;
    if ('error' in got) throw got.error;
    const site = await ownedSite(db, got.session, c.req.param('siteId'));
    const originsText = text(got.form, 'origins');
    try {
      await updateOrigins(db, site.id, lines(originsText));
    } catch (error) {
      if (!isApiError(error, 'invalid_request') && !isApiError(error, 'invalid_origin')) throw error;
      const formId = `origins-form-${site.id}`;
      const problem = problemFor(error, { origins: [`origins-${site.id}`, 'Allowed origins'] });
      return c.html(await render(c, got.session, { problem: { formId, problem }, origins: { siteId: site.id, text: originsText } }), 400);
    }
    return c.html(await render(c, got.session, { notice: `Saved the allowed origins of ${site.name}.` }));
  });

  pages.post('/account/sites/:siteId/origins/add', async (c) => {
    const got = await signedInForm(c, db);
    if (got instanceof Response) return got;
    const site = await ownedSite(db, got.session, c.req.param('siteId'));
    const formId = `origin-add-${site.id}`;
    const fields = { origin: [`origin-${site.id}`, 'Origin'] } as const;
    if ('error' in got) return c.html(await render(c, got.session, { problem: { formId, problem: problemFor(got.error, fields) } }), 400);
    const value = text(got.form, 'origin');
    try {
      const before = site.origins.length;
      const updated = await addOrigin(db, site.id, value);
      const added = updated.origins.at(-1) ?? value;
      const notice =
        updated.origins.length === before
          ? `${site.name} already allows ${value.trim()}.`
          : `Added ${added} to the allowed origins of ${site.name}.`;
      return c.html(await render(c, got.session, { notice }));
    } catch (error) {
      if (!isApiError(error, 'invalid_request') && !isApiError(error, 'invalid_origin')) throw error;
      const state: AccountState = { problem: { formId, problem: problemFor(error, fields) }, addOrigin: { siteId: site.id, value } };
      return c.html(await render(c, got.session, state), 400);
    }
  });

  pages.post('/account/sites/:siteId/origins/remove', async (c) => {
    const got = await signedInForm(c, db);
    if (got instanceof Response) return got;
    if ('error' in got) throw got.error;
    const site = await ownedSite(db, got.session, c.req.param('siteId'));
    const value = text(got.form, 'origin');
    try {
      await removeOrigin(db, site.id, value);
    } catch (error) {
      if (!isApiError(error, 'invalid_request') && !isApiError(error, 'invalid_origin')) throw error;
      const problem: FormProblem = { message: error.message.replace(/^origin: /, 'Origin: ') };
      return c.html(await render(c, got.session, { problem: { formId: `origin-list-${site.id}`, problem } }), 400);
    }
    return c.html(await render(c, got.session, { notice: `Removed ${value} from the allowed origins of ${site.name}.` }));
  });

  siteWebhookRoutes(pages, db, {
    signedInForm: (c) => signedInForm(c, db),
    ownedSite: (session, siteId) => ownedSite(db, session, siteId),
    render: (c, session, state) => render(c, session, state),
  });

  siteCreatorRoutes(pages, db, {
    signedInForm: (c) => signedInForm(c, db),
    ownedSite: (session, siteId) => ownedSite(db, session, siteId),
    render: (c, session, state) => render(c, session, state),
  });

  pages.post('/account/sites/:siteId/keys/:kind/roll', async (c) => {
    const kind = c.req.param('kind');
    if (kind !== 'publishable' && kind !== 'secret') throw new ApiError('not_found', 'A site has a publishable and a secret key.');
    const got = await signedInForm(c, db);
    if (got instanceof Response) return got;
    if ('error' in got) throw got.error;
    const site = await ownedSite(db, got.session, c.req.param('siteId'));
    const key = await rollKey(db, site.id, kind);
    return c.html(await render(c, got.session, { revealed: { siteId: site.id, siteName: site.name, kind, key, created: false } }));
  });
}
