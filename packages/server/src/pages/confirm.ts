import { namedSplitSpend, type NamedSplitSpend } from '../collabs/collabs.js';
import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { isId } from '@diamonds/protocol';
import type { AppContext } from '../context.js';
import { isApiError } from '../errors.js';
import { giftTypeOfGift } from '../gifts/gifts.js';
import { findSite, type Site } from '../identity/sites.js';
import { isSiteCreator } from '../identity/site-creators.js';
import { findUser } from '../identity/users.js';
import type { Session } from '../identity/sessions.js';
import { decideConfirmationOperation, findConfirmation, type ConfirmationRecord } from '../money/spends.js';
import { CLOSE_SCRIPT_PATH } from './consent.js';
import { checkSameOrigin, checkSessionToken } from './csrf.js';
import { readForm, text, type PagesEnv } from './forms.js';
import { STAMP_FIELD, checkDecisionStamp, guardHint, guardedButton, stampField } from './guard.js';
import { alertBox, csrfField, errorPage, page, type FormProblem, type Html } from './layout.js';
import { HOSTED_CSP_WITH_OWN_SCRIPT } from './security-headers.js';
import { currentSession } from './session.js';
import { STEP_UP_AFTER_MS, STEP_UP_MIN_DIAMONDS, signedInRecently, stepUpUrl } from './step-up.js';

/*
 * The hosted confirmation page: where a fan approves or declines a spend beyond the allowance
 * a site has. The SDK opens `/confirm/cnf_…` in a popup on the platform's origin (framed by
 * nobody: `frame-ancestors 'none'`); the page shows the amount, the recipient and the site as
 * the server holds them, never anything the embedding page said. Only the signed-in fan the
 * spend belongs to can see it, and the decision is a CSRF-checked, same-origin form post, so
 * the embedding page can neither read nor press the buttons. Nor can it trick the fan into
 * pressing Approve with a click or key meant for itself: Approve is guarded (pages/guard.ts:
 * inert until the page has been in front for a second, never first in the focus order, and the
 * server refuses an approval posted sooner than that after it rendered the page), and a spend of
 * 1,000 Diamonds or more needs a sign-in of the last 15 minutes (pages/step-up.ts). The SDK
 * learns the outcome from `GET /v1/confirmations/{id}`.
 */

/** Where the confirmation page of `id` lives. */
export function confirmationPath(id: string): string {
  return `/confirm/${encodeURIComponent(id)}`;
}

const number = new Intl.NumberFormat('en-US');
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const clock = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: 'UTC' });

/** "1 Diamond", "1,500 Diamonds". */
export function formatDiamonds(amount: number): string {
  return `${number.format(amount)} ${amount === 1 ? 'Diamond' : 'Diamonds'}`;
}

/** "in 9 minutes", "in 40 seconds": how long the fan has left. */
export function formatTimeLeft(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  return seconds < 90 ? relative.format(seconds, 'second') : relative.format(Math.round(seconds / 60), 'minute');
}

const KIND_LABELS: Record<ConfirmationRecord['kind'], string> = { gift: 'A gift', unlock: 'An unlock', order: 'An order' };

/** What the page shows, all read from the server's own records. */
interface ConfirmView {
  record: ConfirmationRecord;
  recipientName: string;
  site: Site | undefined;
  /** The catalog id of a gift, for its art. */
  giftType: string | undefined;
  /** Whether the recipient is one of the site's own creators (whom its allowance pays). */
  recipientListed: boolean;
  /** How the creator share is split among collaborators, when the item is split (collabs/). */
  split: NamedSplitSpend | undefined;
  session: Session;
  now: number;
  /** Why the last approval was refused (posted too soon), shown before the buttons. */
  problem?: FormProblem;
}

/** What the signed stamp of a confirmation's form is about. */
function stampSubject(record: ConfirmationRecord): string {
  return `confirm:${record.id}`;
}

/** Whether approving `record` first needs the password again (see pages/step-up.ts). */
function needsStepUp(record: ConfirmationRecord, session: Session, now: number): boolean {
  return record.amount >= STEP_UP_MIN_DIAMONDS && !signedInRecently(session, now);
}

/**
 * The decision form: Decline first (it moves nothing, so it works at once and is where focus
 * lands first), then the guarded Approve; or, when approving needs the password again, a link
 * to the step-up page in Approve's place.
 */
function decisionForm(view: ConfirmView, amount: string): Html {
  const { record, session, now } = view;
  const stepUp = needsStepUp(record, session, now);
  return html`${alertBox(view.problem)}
    <form method="post" action="${confirmationPath(record.id)}" class="decision">
      ${csrfField(session.csrfToken)} ${stampField(session, stampSubject(record), now)}
      <button type="submit" name="decision" value="decline" class="secondary">Decline</button>
      ${
        stepUp
          ? html`<a class="button" href="${stepUpUrl(confirmationPath(record.id))}" aria-describedby="guard-hint"
              >Enter your password to approve</a
            >`
          : guardedButton({ name: 'decision', value: 'approve', label: `Approve ${amount}` })
      }
    </form>
    ${
      stepUp
        ? html`<p id="guard-hint" class="guard-hint">
            A payment of ${formatDiamonds(STEP_UP_MIN_DIAMONDS)} or more needs your password when you signed in more than
            ${Math.round(STEP_UP_AFTER_MS / 60_000)} minutes ago.
          </p>`
        : guardHint('Approve', 'approve a payment', 'Decline')
    }`;
}

function confirmPage(view: ConfirmView): Html {
  const { record, recipientName, site, giftType, session, now } = view;
  const amount = formatDiamonds(record.amount);
  const siteName = site?.name ?? 'A site you no longer have';
  return page(
    `Approve ${amount}?`,
    html`<h1>Approve ${amount}?</h1>
      ${giftType === undefined ? '' : html`<p><img src="/gifts/${giftType}.svg" alt="" width="96" height="96" /></p>`}
      <p class="notice">
        <strong>${siteName}</strong> asks you to approve a payment beyond the daily allowance you gave it. Only approve if you just asked
        for this on that site.
      </p>
      ${
        view.recipientListed || !site
          ? ''
          : html`<p class="notice">
              <strong>${recipientName}</strong> is not one of <strong>${site.name}</strong>’s creators. The daily allowance you gave
              ${site.name} pays only its own creators, so a payment to anyone else always needs your approval. Only approve if you meant to
              pay ${recipientName}.
            </p>`
      }
      <dl>
        <dt>Amount</dt>
        <dd><strong>${amount}</strong></dd>
        <dt>To</dt>
        <dd>${recipientName}</dd>
        ${
          view.split === undefined
            ? ''
            : html`<dt>Split</dt>
                <dd>
                  <ul class="split" aria-label="How the creators share it">
                    ${view.split.parts.map((part) => html`<li><strong>${part.displayName}</strong>: ${formatDiamonds(part.netDiamonds)}</li>`)}
                  </ul>
                  ${record.amount > view.split.net ? html`<span class="muted">and ${formatDiamonds(record.amount - view.split.net)} platform fee</span>` : ''}
                </dd>`
        }
        <dt>For</dt>
        <dd>${KIND_LABELS[record.kind]}: ${record.description}</dd>
        <dt>On the site</dt>
        <dd>
          ${
            record.origin !== null
              ? // The page that asked, not every origin the site allows ("https://*.example"): the one to check.
                html`${siteName}, asked by the page at <code>${record.origin}</code>`
              : html`${siteName}${site && site.origins.length > 0 ? html` (${site.origins.map((origin, i) => html`${i > 0 ? ', ' : ''}<code>${origin}</code>`)})` : ''}`
          }
        </dd>
        <dt>Time left</dt>
        <dd>
          Expires ${formatTimeLeft(record.expiresAt - now)} (at
          <time datetime="${new Date(record.expiresAt).toISOString()}" data-local>${clock.format(record.expiresAt)} UTC</time>). If you do
          nothing, nothing is charged.
        </dd>
      </dl>
      <p class="muted">Signed in as <strong>${session.user.displayName}</strong> (${session.user.email}).</p>
      ${decisionForm(view, amount)}`,
  );
}

function donePage(record: ConfirmationRecord, recipientName: string, approved: boolean): Html {
  const title = approved ? 'Approved' : 'Declined';
  return page(
    title,
    html`<h1>${title}</h1>
      <p role="status">
        ${
          approved
            ? html`Approved: ${formatDiamonds(record.amount)} went to ${recipientName}. You can close this window and return to the site.`
            : html`Declined: nothing was charged. You can close this window and return to the site.`
        }
      </p>
      <p><a href="/wallet">Your wallet</a>: balance, history and anything else waiting for your approval.</p>
      <script src="${CLOSE_SCRIPT_PATH}" defer></script>`,
  );
}

function notFound(c: Context<PagesEnv>): Response | Promise<Response> {
  return c.html(
    errorPage(
      'Confirmation not found',
      'There is no such confirmation for the account you are signed in with. If you have more than one account, sign out and sign in with the one you use on the site.',
    ),
    404,
  );
}

function expired(c: Context<PagesEnv>): Response | Promise<Response> {
  return c.html(
    errorPage('Confirmation expired', 'This confirmation expired, and nothing was charged. To try again, start again from the site.'),
    410,
  );
}

function alreadyDecided(c: Context<PagesEnv>, record: ConfirmationRecord): Response | Promise<Response> {
  const what = record.status === 'approved' ? 'approved: the Diamonds were paid' : 'declined: nothing was charged';
  return c.html(errorPage('Already answered', `You already ${what}. You can close this window.`), 409);
}

/** The signed-in fan's confirmation, or the page to send instead. */
async function ownConfirmation(
  c: Context<PagesEnv>,
  context: AppContext,
  session: Session,
  id: string,
): Promise<ConfirmationRecord | Response> {
  const record = isId('cnf', id) ? await findConfirmation(context.db, id) : undefined;
  if (!record || record.userId !== session.user.id) return notFound(c);
  if (record.status === 'expired') return expired(c);
  if (record.status !== 'pending') return alreadyDecided(c, record);
  return record;
}

async function recipientNameOf(context: AppContext, record: ConfirmationRecord): Promise<string> {
  return (await findUser(context.db, record.recipientId))?.displayName ?? 'a former member';
}

/** The confirmation page of `record`, with the problem of a refused approval if there is one. */
async function renderConfirmation(
  c: Context<PagesEnv>,
  context: AppContext,
  session: Session,
  found: ConfirmationRecord,
  problem?: FormProblem,
): Promise<Response> {
  const [recipientName, site, giftType, recipientListed, split] = await Promise.all([
    recipientNameOf(context, found),
    findSite(context.db, found.siteId),
    found.kind === 'gift' ? giftTypeOfGift(context.db, found.subjectId) : Promise.resolve(undefined),
    isSiteCreator(context.db, found.siteId, found.recipientId),
    namedSplitSpend(context.db, found.reservationId),
  ]);
  // The page loads the guard script (pages/guard.ts), from our own origin only.
  c.header('Content-Security-Policy', HOSTED_CSP_WITH_OWN_SCRIPT);
  const view: ConfirmView = { record: found, recipientName, site, giftType, recipientListed, split, session, now: Date.now() };
  if (problem) view.problem = problem;
  return c.html(confirmPage(view), problem ? 400 : 200);
}

/** Why an approval was refused before anything moved: too soon after the page showed, or a stale form. */
const TOO_SOON: FormProblem = {
  message:
    'That was too quick: Approve works only once this page has been in front for a second, so that a click meant for another page cannot approve. Nothing was charged. Check the details, then approve again.',
};
const STALE_FORM: FormProblem = {
  message: 'This form is out of date, so nothing was charged. Check the details, then approve again.',
};

/** Adds the hosted confirmation page (`/confirm/{id}`) to the hosted pages. */
export function confirmationRoutes(pages: Hono<PagesEnv>, context: AppContext): void {
  pages.get('/confirm/:id', async (c) => {
    const id = c.req.param('id');
    const session = await currentSession(c, context.db);
    if (!session) return c.redirect(`/signin?next=${encodeURIComponent(confirmationPath(id))}`, 303);
    const found = await ownConfirmation(c, context, session, id);
    if (found instanceof Response) return found;
    return renderConfirmation(c, context, session, found);
  });

  pages.post('/confirm/:id', async (c) => {
    checkSameOrigin(c);
    const id = c.req.param('id');
    const session = await currentSession(c, context.db);
    const read = await readForm(c);
    if (!session) return c.redirect(`/signin?next=${encodeURIComponent(confirmationPath(id))}`, 303);
    if (!read.ok) return c.html(errorPage('That did not work', `${read.error.message} Go back, reload the page and try again.`), 400);
    checkSessionToken(session, read.form.csrf);
    const decision = text(read.form, 'decision');
    if (decision !== 'approve' && decision !== 'decline') {
      return c.html(errorPage('That did not work', 'Choose Approve or Decline. Go back, reload the page and try again.'), 400);
    }
    const found = await ownConfirmation(c, context, session, id);
    if (found instanceof Response) return found;
    if (decision === 'approve') {
      // The server's own clock behind the guard script: no approval sooner than the delay after
      // the page was rendered, and only from a page we rendered for this session.
      const stamp = checkDecisionStamp(session, stampSubject(found), text(read.form, STAMP_FIELD));
      if (stamp !== 'ok') return renderConfirmation(c, context, session, found, stamp === 'early' ? TOO_SOON : STALE_FORM);
      if (needsStepUp(found, session, Date.now())) return c.redirect(stepUpUrl(confirmationPath(found.id)), 303);
    }
    let decided: ConfirmationRecord;
    try {
      decided = await context.writer.run(decideConfirmationOperation, {
        id: found.id,
        userId: session.user.id,
        approve: decision === 'approve',
      });
    } catch (error) {
      if (isApiError(error, 'confirmation_expired') || isApiError(error, 'reservation_expired')) return expired(c);
      if (isApiError(error, 'confirmation_not_found')) return notFound(c);
      if (isApiError(error, 'confirmation_decided')) {
        const now = await findConfirmation(context.db, found.id);
        return now ? alreadyDecided(c, now) : notFound(c);
      }
      throw error;
    }
    c.header('Content-Security-Policy', HOSTED_CSP_WITH_OWN_SCRIPT);
    return c.html(donePage(decided, await recipientNameOf(context, decided), decided.status === 'approved'));
  });
}
