import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { MAX_TRANSFER_DIAMONDS, isId } from '@diamonds/protocol';
import { isApiError } from '../errors.js';
import type { Database } from '../db/types.js';
import { findConnection } from '../identity/connections.js';
import type { Session } from '../identity/sessions.js';
import { decideSignInRequest, getSignInRequest, type SignInRequest } from '../identity/signin.js';
import { findSite, type Site } from '../identity/sites.js';
import { checkSameOrigin, checkSessionToken } from './csrf.js';
import { readForm, text, type PagesEnv } from './forms.js';
import { STAMP_FIELD, checkDecisionStamp, guardHint, guardedButton, noImplicitSubmit, stampField } from './guard.js';
import { alertBox, csrfField, errorPage, page, type FormProblem, type Html } from './layout.js';
import { HOSTED_CSP_WITH_OWN_SCRIPT } from './security-headers.js';
import { currentSession, endSession } from './session.js';
import { STEP_UP_AFTER_MS, signedInRecently, stepUpUrl } from './step-up.js';

/*
 * The consent screen of the popup sign-in. The SDK on a creator's page opens
 * `/signin/authorize?request=sir_…` in a popup on the platform's origin; the fan signs in (if
 * needed), sees which site and which exact origin asks, picks a daily allowance and connects
 * or cancels. The SDK learns the outcome by polling the request (see identity/signin.ts); once
 * the fan connects, the "done" page hands the one-time code to its opener with `postMessage`
 * targeted at the request's registered origin (never `*`), so only a window on the site's own
 * origin can exchange the request for tokens. Without an opener (the link was opened directly,
 * or an opener policy severed it) the page says so and what to do.
 */

/** Where the consent screen lives. */
export const CONSENT_PATH = '/signin/authorize';

/**
 * The script of the "done" page, served from our origin (the page allows no inline script):
 * after an approval, posts the one-time code to the opener at the request's origin, then closes
 * the popup after a moment; without an opener, shows what to do and stays open.
 */
export const CLOSE_SCRIPT_PATH = '/hosted/close.js';

const CLOSE_SCRIPT = `// The consent popup's "done" page: hand the sign-in back to the page that opened the popup.
(function () {
  var done = document.getElementById('signin-done');
  var data = done ? done.dataset : {};
  if (data.code) {
    if (!window.opener) {
      // Opened directly, or cut off from its opener: the site cannot hear from us.
      document.getElementById('signin-connected').hidden = true;
      document.getElementById('signin-no-opener').hidden = false;
      return;
    }
    // Only a window on the request's origin receives it: never a wildcard target.
    window.opener.postMessage({ type: 'diamonds:signin', request: data.request, code: data.code }, data.origin);
  }
  setTimeout(function () {
    window.close();
  }, 1500);
})();
`;

/** The daily allowances offered as radio buttons; 0 ("always ask me") is the default. */
export const ALLOWANCE_PRESETS = [0, 50, 200, 1000] as const;

const CUSTOM = 'custom';
const WHOLE_NUMBER = /^\d{1,10}$/;

/** The fan's choice of allowance, as the form holds it. */
interface AllowanceChoice {
  /** A preset (its decimal string) or `'custom'`. */
  selected: string;
  custom: string;
}

interface ConsentView {
  request: SignInRequest;
  site: Site;
  session: Session;
  choice: AllowanceChoice;
  /** The allowance the site has now: its connection's, or 0 (choosing more is an increase). */
  current: number;
  problem?: FormProblem;
}

/*
 * The decisive button, Connect, is guarded like Approve on a confirmation (pages/guard.ts): inert
 * until the page has been in front for a second, after Cancel in the focus order, and refused by
 * the server when posted sooner than that after the page was rendered. Connecting with more than
 * the site's current allowance needs a sign-in of the last 15 minutes (pages/step-up.ts).
 */

/** What the signed stamp of a consent form is about. */
function stampSubject(requestId: string): string {
  return `consent:${requestId}`;
}

/** Why a Connect was refused before anything was stored: too soon after the page showed, or a stale form. */
const TOO_SOON: FormProblem = {
  message:
    'That was too quick: Connect works only once this page has been in front for a second, so that a click meant for another page cannot connect a site. Nothing was connected. Check the site and the allowance, then connect again.',
};
const STALE_FORM: FormProblem = {
  message: 'This form is out of date, so nothing was connected. Check the site and the allowance, then connect again.',
};

const number = new Intl.NumberFormat('en-US');

function consentUrl(requestId: string): string {
  return `${CONSENT_PATH}?request=${encodeURIComponent(requestId)}`;
}

function signInFirst(requestId: string | undefined): string {
  const next = requestId !== undefined && isId('sir', requestId) ? consentUrl(requestId) : CONSENT_PATH;
  return `/signin?next=${encodeURIComponent(next)}`;
}

/** The default choice: the allowance of an existing connection, else 0. */
function defaultChoice(allowance: number | undefined): AllowanceChoice {
  if (allowance === undefined || (ALLOWANCE_PRESETS as readonly number[]).includes(allowance)) {
    return { selected: String(allowance ?? 0), custom: '' };
  }
  return { selected: CUSTOM, custom: String(allowance) };
}

function presetLabel(preset: number): string {
  return preset === 0 ? '0 — always ask me' : `${number.format(preset)} Diamonds a day`;
}

function consentPage(view: ConsentView): Html {
  const { request, site, session, choice, problem } = view;
  const user = session.user;
  const customInvalid = problem?.fieldId === 'allowance-custom';
  const radiosInvalid = problem?.fieldId === 'allowance-0';
  const radioAria = radiosInvalid ? html` aria-invalid="true" aria-describedby="allowance-error"` : '';
  return page(
    `Connect ${site.name}?`,
    html`<h1>Connect ${site.name}?</h1>
      <p class="notice">
        <strong><code>${request.origin}</code></strong> wants to connect to your Diamonds account.
      </p>
      <p>
        This request comes from the site <strong>${site.name}</strong>, from the page at <strong><code>${request.origin}</code></strong
        >. Only continue if that is the site you are using.
      </p>
      <header class="top">
        <p>Signed in as <strong>${user.displayName}</strong><br /><span class="muted">${user.email}</span></p>
        <form method="post" action="${CONSENT_PATH}/signout">
          ${csrfField(session.csrfToken)}
          <input type="hidden" name="request" value="${request.id}" />
          <button type="submit" class="secondary">Not you? Sign out</button>
        </form>
      </header>
      <h2>Connecting lets ${site.name}</h2>
      <ul>
        <li>see your display name and your Diamonds balance;</li>
        <li>spend up to the daily allowance you choose below, in Diamonds per day, without asking you;</li>
        <li>anything more needs your confirmation, in a window like this one.</li>
      </ul>
      <p class="muted">You can change the allowance or disconnect ${site.name} at any time on your account page.</p>
      ${alertBox(problem)}
      <form method="post" action="${CONSENT_PATH}" novalidate>
        ${noImplicitSubmit()} ${csrfField(session.csrfToken)} ${stampField(session, stampSubject(request.id))}
        <input type="hidden" name="request" value="${request.id}" />
        <fieldset>
          <legend>Daily allowance: what ${site.name} may spend per day without asking</legend>
          <div class="choices">
            ${ALLOWANCE_PRESETS.map(
              (preset) =>
                html`<div class="choice">
                  <input
                    type="radio"
                    id="allowance-${preset}"
                    name="allowance"
                    value="${preset}"
                    ${choice.selected === String(preset) ? html` checked` : ''}${radioAria}
                  />
                  <label for="allowance-${preset}">${presetLabel(preset)}</label>
                </div>`,
            )}
            <div class="choice">
              <input
                type="radio"
                id="allowance-choose"
                name="allowance"
                value="${CUSTOM}"
                ${choice.selected === CUSTOM ? html` checked` : ''}${radioAria}
              />
              <label for="allowance-choose">Another amount (below)</label>
            </div>
          </div>
          ${radiosInvalid ? html`<p class="field-error" id="allowance-error">${problem.message}</p>` : ''}
          <div class="field">
            <label for="allowance-custom">Another amount, in Diamonds per day</label>
            <p class="muted" id="allowance-custom-hint">
              A whole number from 0 to ${number.format(MAX_TRANSFER_DIAMONDS)}. Used when “Another amount” is chosen.
            </p>
            <input
              id="allowance-custom"
              name="allowanceCustom"
              type="number"
              inputmode="numeric"
              autocomplete="off"
              min="0"
              max="${MAX_TRANSFER_DIAMONDS}"
              step="1"
              value="${choice.custom}"
              ${customInvalid ? html` aria-invalid="true"` : ''}
              aria-describedby="allowance-custom-hint${customInvalid ? ' allowance-custom-error' : ''}"
            />
            ${customInvalid ? html`<p class="field-error" id="allowance-custom-error">${problem.message}</p>` : ''}
          </div>
        </fieldset>
        ${
          signedInRecently(session)
            ? ''
            : html`<p class="muted">
                You signed in more than ${Math.round(STEP_UP_AFTER_MS / 60_000)} minutes ago: allowing more than
                ${number.format(view.current)} Diamonds a day will ask for your password first.
              </p>`
        }
        <div class="decision">
          <button type="submit" name="decision" value="deny" class="secondary">Cancel</button>
          ${guardedButton({ name: 'decision', value: 'approve', label: 'Connect' })}
        </div>
      </form>
      ${guardHint('Connect', 'connect a site', 'Cancel')}`,
  );
}

/**
 * The page after the fan's answer. After an approval it carries the one-time code, for
 * `/hosted/close.js` to post to the opener at the request's origin; the page itself is
 * `no-store` and only ever shown in the fan's popup.
 */
function donePage(request: SignInRequest, site: Site, code: string | undefined): Html {
  const approved = code !== undefined;
  const title = approved ? 'Connected' : 'Cancelled';
  return page(
    title,
    html`<h1>${title}</h1>
      ${
        approved
          ? html`<div id="signin-done" data-request="${request.id}" data-code="${code}" data-origin="${request.origin}">
              <p role="status" id="signin-connected">Connected. You can close this window and return to ${site.name}.</p>
              <p role="alert" id="signin-no-opener" hidden>
                Connected, but this window can no longer reach ${site.name}: it was opened on its own, or the browser cut it off from the
                site. Close this window, go back to ${site.name} and click Sign in again.
              </p>
            </div>`
          : html`<p role="status">Cancelled. ${site.name} was not connected. You can close this window and return to ${site.name}.</p>`
      }
      <script src="${CLOSE_SCRIPT_PATH}" defer></script>`,
  );
}

/** The error page for a request that cannot be answered (any more), with its status. */
async function requestProblem(c: Context<PagesEnv>, error: unknown): Promise<Response> {
  if (isApiError(error, 'signin_request_not_found')) return notFound(c);
  if (isApiError(error, 'signin_request_expired')) return expired(c);
  if (isApiError(error, 'signin_request_decided')) return answered(c);
  throw error;
}

async function notFound(c: Context<PagesEnv>): Promise<Response> {
  return c.html(
    errorPage('Sign-in request not found', 'This sign-in request does not exist. Go back to the site and start signing in again.'),
    404,
  );
}

async function expired(c: Context<PagesEnv>): Promise<Response> {
  return c.html(errorPage('Sign-in request expired', 'This sign-in request expired. Go back to the site and start signing in again.'), 410);
}

async function answered(c: Context<PagesEnv>): Promise<Response> {
  return c.html(
    errorPage(
      'Sign-in request already answered',
      'This sign-in request was already answered. You can close this window; to sign in again, start again from the site.',
    ),
    409,
  );
}

async function badRequest(c: Context<PagesEnv>, message: string): Promise<Response> {
  return c.html(errorPage('That did not work', message), 400);
}

/**
 * The pending request and its site, or the error page to send: 404 unknown (or a malformed
 * id), 410 expired, 409 already answered (approved, denied or exchanged for tokens).
 */
async function pendingRequest(c: Context<PagesEnv>, db: Database, id: string): Promise<{ request: SignInRequest; site: Site } | Response> {
  let request: SignInRequest;
  try {
    request = await getSignInRequest(db, id);
  } catch (error) {
    return requestProblem(c, error);
  }
  if (request.status === 'expired') return expired(c);
  if (request.status !== 'pending') return answered(c);
  const site = await findSite(db, request.siteId);
  if (!site) return notFound(c);
  return { request, site };
}

/** Reads the allowance the fan chose. @returns The number, or the problem to show. */
function readAllowance(form: Record<string, string>): { ok: true; allowance: number } | { ok: false; problem: FormProblem } {
  const selected = text(form, 'allowance');
  const custom = text(form, 'allowanceCustom').trim();
  if (selected === CUSTOM) {
    const range = `a whole number of Diamonds from 0 to ${number.format(MAX_TRANSFER_DIAMONDS)}`;
    if (custom === '') return { ok: false, problem: { message: `Enter another amount: ${range}.`, fieldId: 'allowance-custom' } };
    const n = WHOLE_NUMBER.test(custom) ? Number(custom) : Number.NaN;
    if (!Number.isSafeInteger(n) || n > MAX_TRANSFER_DIAMONDS) {
      return { ok: false, problem: { message: `The daily allowance must be ${range}.`, fieldId: 'allowance-custom' } };
    }
    return { ok: true, allowance: n };
  }
  const preset = ALLOWANCE_PRESETS.find((p) => String(p) === selected);
  if (preset === undefined) {
    return { ok: false, problem: { message: 'Choose a daily allowance.', fieldId: 'allowance-0' } };
  }
  if (custom !== '' && custom !== selected) {
    // Typed an amount but left a preset chosen: do not guess which one was meant.
    return {
      ok: false,
      problem: {
        message: `You chose ${number.format(preset)} and also typed ${custom}. Choose “Another amount” to use what you typed, or clear it.`,
        fieldId: 'allowance-custom',
      },
    };
  }
  return { ok: true, allowance: preset };
}

/** Adds the consent screen (`/signin/authorize`) and its close script to the hosted pages. */
export function consentRoutes(pages: Hono<PagesEnv>, db: Database): void {
  pages.get(CLOSE_SCRIPT_PATH, (c) => {
    c.header('Cache-Control', 'public, max-age=3600');
    return c.body(CLOSE_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
  });

  pages.get(CONSENT_PATH, async (c) => {
    const ids = c.req.queries('request') ?? [];
    const session = await currentSession(c, db);
    if (!session) {
      const url = new URL(c.req.url);
      const next = `${url.pathname}${url.search}`;
      return c.redirect(`/signin?next=${encodeURIComponent(next)}`, 303);
    }
    if (ids.length !== 1) return badRequest(c, 'This sign-in link is broken: it needs exactly one request. Start again from the site.');
    const found = await pendingRequest(c, db, ids[0] ?? '');
    if (found instanceof Response) return found;
    const existing = await findConnection(db, session.user.id, found.site.id);
    // The page loads the guard script (pages/guard.ts), from our own origin only.
    c.header('Content-Security-Policy', HOSTED_CSP_WITH_OWN_SCRIPT);
    const current = existing?.allowancePerDay ?? 0;
    return c.html(consentPage({ ...found, session, choice: defaultChoice(existing?.allowancePerDay), current }));
  });

  pages.post(CONSENT_PATH, async (c) => {
    checkSameOrigin(c);
    const session = await currentSession(c, db);
    const read = await readForm(c);
    if (!session) return c.redirect(signInFirst(read.ok ? read.form.request : undefined), 303);
    if (!read.ok) return badRequest(c, `${read.error.message} Go back, reload the page and try again.`);
    const form = read.form;
    checkSessionToken(session, form.csrf);

    const requestId = text(form, 'request');
    if (!isId('sir', requestId)) return badRequest(c, 'This form names no valid sign-in request. Start again from the site.');
    const found = await pendingRequest(c, db, requestId);
    if (found instanceof Response) return found;

    const decision = text(form, 'decision');
    const choice: AllowanceChoice = { selected: text(form, 'allowance'), custom: text(form, 'allowanceCustom') };
    const current = (await findConnection(db, session.user.id, found.site.id))?.allowancePerDay ?? 0;
    const again = (problem: FormProblem) => {
      c.header('Content-Security-Policy', HOSTED_CSP_WITH_OWN_SCRIPT);
      return c.html(consentPage({ ...found, session, choice, current, problem }), 400);
    };
    if (decision !== 'approve' && decision !== 'deny') return again({ message: 'Choose Connect or Cancel.' });
    let allowance = 0;
    if (decision === 'approve') {
      // The server's own clock behind the guard script: no Connect sooner than the delay after
      // the page was rendered, and only from a page we rendered for this session.
      const stamp = checkDecisionStamp(session, stampSubject(requestId), text(form, STAMP_FIELD));
      if (stamp !== 'ok') return again(stamp === 'early' ? TOO_SOON : STALE_FORM);
      const chosen = readAllowance(form);
      if (!chosen.ok) return again(chosen.problem);
      allowance = chosen.allowance;
      // More than the site may spend now, on an old sign-in: the password first. The fan chooses
      // again after it (the choice is not carried in the URL, where a site could preset it).
      if (allowance > current && !signedInRecently(session)) return c.redirect(stepUpUrl(consentUrl(requestId)), 303);
    }
    let code: string | undefined;
    try {
      ({ code } = await decideSignInRequest(db, {
        requestId,
        userId: session.user.id,
        approve: decision === 'approve',
        allowancePerDay: allowance,
      }));
    } catch (error) {
      if (isApiError(error, 'invalid_request')) return again({ message: error.message });
      return requestProblem(c, error);
    }
    c.header('Content-Security-Policy', HOSTED_CSP_WITH_OWN_SCRIPT);
    return c.html(donePage(found.request, found.site, code));
  });

  pages.post(`${CONSENT_PATH}/signout`, async (c) => {
    checkSameOrigin(c);
    const session = await currentSession(c, db);
    const read = await readForm(c);
    const requestId = read.ok ? read.form.request : undefined;
    if (!session) return c.redirect(signInFirst(requestId), 303);
    if (!read.ok) return badRequest(c, `${read.error.message} Go back, reload the page and try again.`);
    checkSessionToken(session, read.form.csrf);
    await endSession(c, db);
    return c.redirect(signInFirst(requestId), 303);
  });
}
