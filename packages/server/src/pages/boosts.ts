import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { BOOST_CPM_DIAMONDS, type Boost, type DiscoverItem } from '@diamonds/protocol';
import { createBoostOperation, discoverItems, listBoosts, prepareBoost, settleDueBoosts, stopBoostOperation } from '../boosts/boosts.js';
import type { AppContext } from '../context.js';
import type { SqlClient } from '../db/types.js';
import { earningsSummary } from '../earnings/summary.js';
import { ApiError, isApiError } from '../errors.js';
import { findSite } from '../identity/sites.js';
import type { Session } from '../identity/sessions.js';
import { checkSameOrigin, checkSessionToken } from './csrf.js';
import { readForm, text, type PagesEnv } from './forms.js';
import { alertBox, csrfField, errorPage, field, page, type FormProblem, type Html } from './layout.js';
import { currentSession } from './session.js';

/** The creator's boosts page: boost an item, see each boost's figures, stop one. */
export const BOOSTS_PATH = '/dashboard/boosts';

/** The platform's public page of boosted items. */
export const DISCOVER_PATH = '/discover';

const DAY_MS = 86_400_000;
const number = new Intl.NumberFormat('en-US');

interface Boostable {
  id: string;
  siteId: string;
  label: string;
}

/** The creator's items that may be boosted: their content (not archived) and their sites' active products. */
async function boostableItems(db: SqlClient, creatorId: string): Promise<Boostable[]> {
  const content = await db.query<{ id: string; site_id: string; title: string }>(
    'SELECT id, site_id, title FROM content WHERE creator_id = ? AND archived_at IS NULL ORDER BY id DESC LIMIT 200',
    [creatorId],
  );
  const products = await db.query<{ id: string; site_id: string; name: string }>(
    `SELECT p.id, p.site_id, p.name FROM products p JOIN sites s ON s.id = p.site_id
     WHERE s.owner_id = ? AND p.active = 1 ORDER BY p.id DESC LIMIT 200`,
    [creatorId],
  );
  return [
    ...content.map((row) => ({ id: row.id, siteId: row.site_id, label: `Post: ${row.title}` })),
    ...products.map((row) => ({ id: row.id, siteId: row.site_id, label: `Product: ${row.name}` })),
  ];
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

function boostSection(boost: Boost, csrf: string): Html {
  const { stats } = boost;
  const state =
    boost.status === 'ended'
      ? `ended ${boost.endReason === 'stopped' ? '(stopped)' : boost.endReason === 'exhausted' ? '(budget spent)' : ''} ${day(boost.endedAt ?? boost.endsAt)} UTC`
      : boost.status === 'scheduled'
        ? `starts ${day(boost.startsAt)} UTC`
        : `running until ${day(boost.endsAt)} UTC`;
  return html`<section aria-labelledby="boost-${boost.id}" data-boost="${boost.id}" data-status="${boost.status}">
    <h2 id="boost-${boost.id}">${boost.title}</h2>
    <p class="muted">${state} · <a href="${boost.url}">${boost.url}</a></p>
    <dl class="stats">
      <div>
        <dt>Impressions</dt>
        <dd data-stat="impressions">${number.format(stats.impressions)}</dd>
      </div>
      <div>
        <dt>Clicks</dt>
        <dd data-stat="clicks">${number.format(stats.clicks)}</dd>
      </div>
      <div>
        <dt>Unlocks and sales</dt>
        <dd data-stat="conversions">${number.format(stats.conversions)}</dd>
      </div>
      <div>
        <dt>Spent</dt>
        <dd data-stat="spent">${number.format(stats.spentDiamonds)} of ${number.format(boost.budgetDiamonds)} Diamonds</dd>
      </div>
      <div>
        <dt>${boost.status === 'ended' ? 'Returned to your earnings' : 'Left'}</dt>
        <dd data-stat="left">${number.format(boost.status === 'ended' ? (stats.returnedDiamonds ?? 0) : stats.leftDiamonds)} Diamonds</dd>
      </div>
    </dl>
    ${
      boost.status === 'ended'
        ? ''
        : html`<form method="post" action="${BOOSTS_PATH}/${boost.id}/stop">
            ${csrfField(csrf)}
            <button type="submit" class="secondary">Stop and return what is left</button>
          </form>`
    }
  </section>`;
}

/** The boosts page of a signed-in creator. */
export async function boostsPage(
  context: AppContext,
  session: Session,
  state: { problem?: FormProblem; values?: Record<string, string>; notice?: string } = {},
): Promise<Html> {
  const { db } = context;
  const now = context.earnings.now();
  const [items, boosts, summary] = await Promise.all([
    boostableItems(db, session.user.id),
    listBoosts(db, session.user.id, now),
    earningsSummary(db, session.user.id, now, context.earnings.holdMs),
  ]);
  const values = state.values ?? {};
  const csrf = session.csrfToken;
  return page(
    'Boosts',
    html`<header class="top">
        <h1>Boosts</h1>
        <a href="/dashboard">Earnings</a>
      </header>
      <p>
        Spend Diamonds of your available earnings to show a post or product in <code>&lt;diamond-discover&gt;</code> on any site that shows
        it, and on the <a href="${DISCOVER_PATH}">discover page</a>. Each impression costs ${BOOST_CPM_DIAMONDS} Diamonds per 1,000 (counted
        once per viewer per day, only when it was really on screen); what is not spent comes back when the boost ends or you stop it.
      </p>
      ${state.notice ? html`<p role="status" class="notice">${state.notice}</p>` : ''}
      <h2 id="new-boost">Boost an item</h2>
      <p>Available earnings: <strong data-available>${number.format(summary.availableDiamonds)} Diamonds</strong>.</p>
      ${
        items.length === 0
          ? html`<p class="muted">Publish a post or a product first.</p>`
          : html`<form method="post" action="${BOOSTS_PATH}" aria-labelledby="new-boost" novalidate>
              ${csrfField(csrf)} ${alertBox(state.problem)}
              <div class="field">
                <label for="boost-item">Item</label>
                <select id="boost-item" name="itemId" required>
                  ${items.map((item) => html`<option value="${item.id}" ${values.itemId === item.id ? 'selected' : ''}>${item.label}</option>`)}
                </select>
              </div>
              ${field({
                id: 'boost-budget',
                name: 'budgetDiamonds',
                label: 'Budget (Diamonds)',
                type: 'number',
                autocomplete: 'off',
                required: true,
                min: 1,
                value: values.budgetDiamonds,
                problem: state.problem,
              })}
              ${field({
                id: 'boost-days',
                name: 'days',
                label: 'Days',
                type: 'number',
                autocomplete: 'off',
                required: true,
                min: 1,
                max: 90,
                value: values.days ?? '7',
                problem: state.problem,
              })}
              ${field({
                id: 'boost-url',
                name: 'url',
                label: 'Page a click leads to (optional)',
                type: 'text',
                autocomplete: 'url',
                hint: 'A page on the item’s site; by default the site’s address.',
                value: values.url,
                problem: state.problem,
              })}
              <button type="submit">Boost</button>
            </form>`
      }
      ${boosts.length === 0 ? html`<p class="muted">No boosts yet.</p>` : boosts.map((boost) => boostSection(boost, csrf))}`,
  );
}

function discoverCard(item: DiscoverItem): Html {
  return html`<li data-boost="${item.boostId}">
    <a href="${item.url}">
      <span class="muted">Boosted · ${item.itemKind === 'product' ? 'Product' : 'Post'}</span>
      <strong>${item.title}</strong>
      <span class="muted">by ${item.creator.displayName}</span>
      ${item.excerpt ? html`<span>${item.excerpt}</span>` : ''}
      ${item.priceDiamonds === null ? '' : html`<span>${number.format(item.priceDiamonds)} Diamonds</span>`}
    </a>
  </li>`;
}

/** The platform's discover page: the boosted items being shown now. */
export function discoverPage(items: readonly DiscoverItem[]): Html {
  return page(
    'Discover',
    html`<h1>Discover</h1>
      <p>Posts and products creators are boosting right now.</p>
      ${
        items.length === 0
          ? html`<p class="muted">Nothing to discover right now.</p>`
          : html`<ul class="discover">
              ${items.map(discoverCard)}
            </ul>`
      }`,
  );
}

/** Which form field an error is about. */
const FIELDS: Record<string, string> = { budgetDiamonds: 'boost-budget', endsAt: 'boost-days', url: 'boost-url' };

/** Registers {@link BOOSTS_PATH} (signed-in creators) and {@link DISCOVER_PATH} (anyone). */
export function boostsPages(pages: Hono<PagesEnv>, context: AppContext): void {
  const { db } = context;

  async function creator(c: Context<PagesEnv>): Promise<Session | Response> {
    const session = await currentSession(c, db);
    if (!session) return c.redirect(`/signin?next=${encodeURIComponent(BOOSTS_PATH)}`, 303);
    if (!session.user.roles.includes('creator')) throw new ApiError('permission_denied', 'Boosts are for creators.');
    return session;
  }

  async function creatorForm(c: Context<PagesEnv>): Promise<{ session: Session; form: Record<string, string> } | Response> {
    checkSameOrigin(c);
    const session = await creator(c);
    if (session instanceof Response) return session;
    const read = await readForm(c);
    if (!read.ok) return c.html(errorPage('That did not work', `${read.error.message} Go back, reload the page and try again.`), 400);
    checkSessionToken(session, read.form.csrf);
    return { session, form: read.form };
  }

  pages.get(BOOSTS_PATH, async (c) => {
    const session = await creator(c);
    if (session instanceof Response) return session;
    await settleDueBoosts(context.writer, db, context.earnings.now());
    const notice =
      c.req.query('done') === 'started' ? 'Your boost is running.' : c.req.query('done') === 'stopped' ? 'Boost stopped.' : undefined;
    return c.html(await boostsPage(context, session, { notice }));
  });

  pages.post(BOOSTS_PATH, async (c) => {
    const got = await creatorForm(c);
    if (got instanceof Response) return got;
    const { session, form } = got;
    const now = context.earnings.now();
    const budgetText = text(form, 'budgetDiamonds');
    const days = Number(text(form, 'days'));
    try {
      const item = await boostableItems(db, session.user.id).then((items) => items.find((i) => i.id === text(form, 'itemId')));
      const site = item ? await findSite(db, item.siteId) : undefined;
      if (!item || !site) throw new ApiError('boost_item_not_found', 'Choose one of your posts or products.', { param: 'itemId' });
      if (!Number.isInteger(days) || days < 1 || days > 90) {
        throw new ApiError('boost_dates_invalid', 'A boost runs for 1 to 90 days.', { param: 'endsAt' });
      }
      const input = await prepareBoost(
        db,
        site,
        session.user.id,
        {
          itemId: item.id,
          budgetDiamonds: budgetText === '' ? undefined : Number(budgetText),
          endsAt: now + days * DAY_MS,
          url: text(form, 'url') || undefined,
        },
        now,
        context.earnings.holdMs,
      );
      await context.writer.run(createBoostOperation, input);
      return c.redirect(`${BOOSTS_PATH}?done=started`, 303);
    } catch (error) {
      if (!isApiError(error) || error.status >= 500) throw error;
      const problem = {
        message: error.message,
        fieldId: FIELDS[error.param ?? ''] ?? (error.code === 'insufficient_earnings' ? 'boost-budget' : undefined),
      };
      return c.html(await boostsPage(context, session, { problem, values: form }), error.status as 400);
    }
  });

  pages.post(`${BOOSTS_PATH}/:id/stop`, async (c) => {
    const got = await creatorForm(c);
    if (got instanceof Response) return got;
    await context.writer.run(stopBoostOperation, {
      boostId: c.req.param('id'),
      siteId: null,
      creatorId: got.session.user.id,
      now: context.earnings.now(),
    });
    return c.redirect(`${BOOSTS_PATH}?done=stopped`, 303);
  });

  pages.get(DISCOVER_PATH, async (c) => {
    c.header('Cache-Control', 'no-store');
    return c.html(discoverPage(await discoverItems(db, context.earnings.now())));
  });
}
