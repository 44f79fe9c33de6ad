import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { MAX_CONTENT_BODY_LENGTH, MAX_CONTENT_TEASER_LENGTH, MAX_CONTENT_TITLE_LENGTH, MAX_TRANSFER_DIAMONDS } from '@diamonds/protocol';
import type { AppContext } from '../context.js';
import type { Database } from '../db/types.js';
import { ApiError, isApiError } from '../errors.js';
import {
  createContent,
  findContent,
  listCreatorContent,
  updateContent,
  validateCreateContent,
  type ContentRecord,
} from '../content/content.js';
import type { Session } from '../identity/sessions.js';
import { listSites, type Site } from '../identity/sites.js';
import { checkSameOrigin, checkSessionToken } from './csrf.js';
import { problemFor, readForm, text, type PagesEnv } from './forms.js';
import { alertBox, csrfField, field, page, type FormProblem, type Html } from './layout.js';
import { currentSession } from './session.js';

const PATH = '/account/content';

/** Request parameters → the form's input ids and labels, for error messages beside the right field. */
const FIELDS = {
  siteId: ['content-site', 'Site'],
  title: ['content-title', 'Title'],
  teaser: ['content-teaser', 'Teaser'],
  body: ['content-body', 'Body'],
  externalUrl: ['content-url', 'External URL'],
  rule: ['content-rule-price', 'Rule'],
  amount: ['content-amount', 'Amount'],
  priceDiamonds: ['content-amount', 'Price'],
  thresholdDiamonds: ['content-amount', 'Threshold'],
} as const;

/** What the new-content form held when it was sent, to show it again beside a problem. */
interface Draft {
  siteId: string;
  title: string;
  teaser: string;
  body: string;
  externalUrl: string;
  rule: string;
  amount: string;
}

interface PageState {
  problem?: FormProblem;
  draft?: Draft;
  notice?: string;
}

function ruleText(content: ContentRecord): string {
  return content.priceDiamonds !== null
    ? `Price: ${content.priceDiamonds} Diamonds`
    : `Free for fans who gave you ${content.thresholdDiamonds ?? 0} Diamonds or more`;
}

function contentItem(content: ContentRecord, siteName: string, csrf: string): Html {
  const archived = content.archivedAt !== null;
  return html`<li class="item">
    <h3>${content.title}${archived ? html` <span class="muted">(archived)</span>` : ''}</h3>
    <p class="muted">On ${siteName} · <code>${content.id}</code></p>
    ${content.teaser ? html`<p>${content.teaser}</p>` : ''}
    <p>${ruleText(content)}</p>
    <p>${content.externalUrl === null ? 'Markdown body' : html`Links to <code>${content.externalUrl}</code>`}</p>
    <form method="post" action="${PATH}/${content.id}/${archived ? 'unarchive' : 'archive'}">
      ${csrfField(csrf)}
      <button type="submit" class="secondary">${archived ? 'Unarchive' : 'Archive'} “${content.title}”</button>
    </form>
  </li>`;
}

function invalidAttributes(problem: FormProblem | undefined, id: string, hintId?: string): Html | string {
  const invalid = problem?.fieldId === id;
  const describedBy = [hintId ?? '', invalid ? `${id}-error` : ''].filter(Boolean).join(' ');
  return html`${invalid ? html` aria-invalid="true"` : ''}${describedBy ? html` aria-describedby="${describedBy}"` : ''}`;
}

function fieldError(problem: FormProblem | undefined, id: string): Html | string {
  return problem?.fieldId === id ? html`<p class="field-error" id="${id}-error">${problem.message}</p>` : '';
}

function newContentForm(sites: Site[], csrf: string, state: PageState): Html {
  const { problem } = state;
  const draft = state.draft;
  const rule = draft?.rule === 'threshold' ? 'threshold' : 'price';
  return html`<h2>Publish new content</h2>
    ${alertBox(problem, 'new-content-error')}
    <form method="post" action="${PATH}">
      ${csrfField(csrf)}
      <div class="field">
        <label for="content-site">Site</label>
        <select id="content-site" name="siteId" required${invalidAttributes(problem, 'content-site')}>
          ${sites.map((site) => html`<option value="${site.id}" ${draft?.siteId === site.id ? html` selected` : ''}>${site.name}</option>`)}
        </select>
        ${fieldError(problem, 'content-site')}
      </div>
      ${field({
        id: 'content-title',
        name: 'title',
        label: 'Title',
        type: 'text',
        autocomplete: 'off',
        value: draft?.title,
        required: true,
        maxLength: MAX_CONTENT_TITLE_LENGTH,
        problem,
      })}
      <div class="field">
        <label for="content-teaser">Teaser</label>
        <p class="muted" id="content-teaser-hint">Everyone sees this, before unlocking.</p>
        <textarea
          id="content-teaser"
          name="teaser"
          rows="2"
          maxlength="${MAX_CONTENT_TEASER_LENGTH}"
          ${invalidAttributes(problem, 'content-teaser', 'content-teaser-hint')}
        >
${draft?.teaser ?? ''}</textarea>
        ${fieldError(problem, 'content-teaser')}
      </div>
      <div class="field">
        <label for="content-body">Body (Markdown)</label>
        <p class="muted" id="content-body-hint">Only fans who unlock it see this. HTML is shown as text. Leave empty to link elsewhere.</p>
        <textarea
          id="content-body"
          name="body"
          rows="8"
          maxlength="${MAX_CONTENT_BODY_LENGTH}"
          ${invalidAttributes(problem, 'content-body', 'content-body-hint')}
        >
${draft?.body ?? ''}</textarea>
        ${fieldError(problem, 'content-body')}
      </div>
      ${field({
        id: 'content-url',
        name: 'externalUrl',
        label: 'Or an external URL',
        type: 'text',
        autocomplete: 'url',
        value: draft?.externalUrl,
        hint: 'An https:// address entitled fans are sent to, instead of a body.',
        problem,
      })}
      <fieldset>
        <legend>Who can unlock it</legend>
        <input
          type="radio"
          id="content-rule-price"
          name="rule"
          value="price"
          ${rule === 'price' ? html` checked` : ''}${invalidAttributes(problem, 'content-rule-price')}
        />
        <label for="content-rule-price">Fans who pay a price</label>
        <input type="radio" id="content-rule-threshold" name="rule" value="threshold" ${rule === 'threshold' ? html` checked` : ''} />
        <label for="content-rule-threshold">Fans whose gifts to you reach a threshold</label>
        ${fieldError(problem, 'content-rule-price')}
      </fieldset>
      ${field({
        id: 'content-amount',
        name: 'amount',
        label: 'Amount (Diamonds)',
        type: 'number',
        autocomplete: 'off',
        value: draft?.amount,
        required: true,
        min: 1,
        max: MAX_TRANSFER_DIAMONDS,
        hint: 'The price, or the threshold of gifts, in whole Diamonds.',
        problem,
      })}
      <button type="submit">Publish</button>
    </form>`;
}

async function contentPage(db: Database, session: Session, state: PageState = {}): Promise<Html> {
  const { user, csrfToken: csrf } = session;
  const sites = await listSites(db, user.id);
  const names = new Map(sites.map((site) => [site.id, site.name]));
  const content = await listCreatorContent(db, user.id);
  return page(
    'Your content',
    html`<header class="top">
        <h1>Your content</h1>
        <p><a href="/account">Back to your account</a></p>
      </header>
      ${state.notice ? html`<p class="notice" role="status">${state.notice}</p>` : ''}
      <h2>Published</h2>
      ${
        content.length === 0
          ? html`<p class="muted">You have not published anything yet.</p>`
          : html`<ul class="plain">
              ${content.map((item) => contentItem(item, names.get(item.siteId) ?? item.siteId, csrf))}
            </ul>`
      }
      ${
        sites.length === 0
          ? html`<p>Register a site on <a href="/account">your account page</a> first: content is published on a site.</p>`
          : newContentForm(sites, csrf, state)
      }`,
  );
}

/** The signed-in creator's session, or the redirect to sign in. */
async function creatorSession(c: Context<PagesEnv>, db: Database): Promise<Session | Response> {
  const session = await currentSession(c, db);
  if (!session) return c.redirect(`/signin?next=${encodeURIComponent(PATH)}`, 303);
  if (!session.user.roles.includes('creator')) {
    throw new ApiError('permission_denied', 'Only creators publish content. Create a creator account to publish.');
  }
  return session;
}

/** A checked POST (same origin, session token) and its form, or the response to send instead. */
async function creatorForm(
  c: Context<PagesEnv>,
  db: Database,
): Promise<{ session: Session; form: Record<string, string> } | { session: Session; error: ApiError } | Response> {
  const session = await creatorSession(c, db);
  if (session instanceof Response) return session;
  checkSameOrigin(c);
  const read = await readForm(c);
  if (!read.ok) return { session, error: read.error };
  checkSessionToken(session, read.form.csrf);
  return { session, form: read.form };
}

function draftOf(form: Record<string, string>): Draft {
  return {
    siteId: text(form, 'siteId'),
    title: text(form, 'title'),
    teaser: text(form, 'teaser'),
    body: text(form, 'body'),
    externalUrl: text(form, 'externalUrl').trim(),
    rule: text(form, 'rule'),
    amount: text(form, 'amount').trim(),
  };
}

/** The API's request body for a draft, refusing what only a form can get wrong (the rule, a non-number amount). */
function requestOf(draft: Draft): Record<string, unknown> {
  if (draft.rule !== 'price' && draft.rule !== 'threshold') {
    throw new ApiError('invalid_request', 'Rule: choose a price or a threshold.', { param: 'rule' });
  }
  if (!/^\d{1,10}$/.test(draft.amount)) {
    throw new ApiError('invalid_amount', 'Amount: give a whole number of Diamonds, 1 or more.', { param: 'amount' });
  }
  // Text areas send CRLF line breaks; Markdown does not care, but stored text should be tidy.
  const body = draft.body.replace(/\r\n?/g, '\n');
  return {
    title: draft.title,
    teaser: draft.teaser.replace(/\r\n?/g, '\n'),
    ...(body.trim() === '' ? {} : { body }),
    ...(draft.externalUrl === '' ? {} : { externalUrl: draft.externalUrl }),
    [draft.rule === 'price' ? 'priceDiamonds' : 'thresholdDiamonds']: Number(draft.amount),
  };
}

async function ownedContent(db: Database, session: Session, id: string): Promise<ContentRecord> {
  const content = await findContent(db, id);
  if (!content || content.creatorId !== session.user.id) throw new ApiError('content_not_found', 'You have no such content.');
  return content;
}

/**
 * Adds the creator's hosted content page to the hosted pages: `/account/content` lists what
 * the signed-in creator published (on any of their sites) with a form to publish more and a
 * button to archive or unarchive each piece.
 *
 * @remarks Same session and CSRF rules as the account page; the same validation as
 * `POST /v1/content`, with problems shown beside their fields.
 */
export function creatorContentRoutes(pages: Hono<PagesEnv>, context: AppContext): void {
  const { db } = context;

  pages.get(PATH, async (c) => {
    const session = await creatorSession(c, db);
    if (session instanceof Response) return session;
    const published = c.req.query('published');
    const notice = published && /^ct_[0-9A-Z]{26}$/.test(published) ? `Published ${published}.` : undefined;
    return c.html(await contentPage(db, session, notice ? { notice } : {}));
  });

  pages.post(PATH, async (c) => {
    const got = await creatorForm(c, db);
    if (got instanceof Response) return got;
    if ('error' in got) return c.html(await contentPage(db, got.session, { problem: problemFor(got.error, FIELDS) }), 400);
    const draft = draftOf(got.form);
    try {
      const site = (await listSites(db, got.session.user.id)).find((s) => s.id === draft.siteId);
      if (!site) throw new ApiError('site_not_found', 'Site: choose one of your sites.', { param: 'siteId' });
      const input = validateCreateContent(requestOf(draft));
      const created = await db.transaction((tx) => createContent(tx, { siteId: site.id, creatorId: got.session.user.id }, input));
      return c.redirect(`${PATH}?published=${created.id}`, 303);
    } catch (error) {
      if (!isApiError(error) || (error.status !== 400 && error.code !== 'site_not_found')) throw error;
      return c.html(await contentPage(db, got.session, { problem: problemFor(error, FIELDS), draft }), 400);
    }
  });

  for (const action of ['archive', 'unarchive'] as const) {
    pages.post(`${PATH}/:id/${action}`, async (c) => {
      const got = await creatorForm(c, db);
      if (got instanceof Response) return got;
      if ('error' in got) throw got.error;
      const content = await ownedContent(db, got.session, c.req.param('id'));
      await db.transaction((tx) => updateContent(tx, content, { archived: action === 'archive' }));
      return c.redirect(PATH, 303);
    });
  }
}
