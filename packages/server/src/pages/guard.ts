import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { Session } from '../identity/sessions.js';
import type { PagesEnv } from './forms.js';
import type { Html } from './layout.js';

/*
 * The guard of a hosted page's decisive button (Approve on a confirmation, Connect on the
 * consent screen): a hostile page cannot click or type it for the fan.
 *
 * The attacks (issue 11): a page that holds a fan token creates a held spend, shows "double-click
 * here", and on the first mousedown sends the top window (or a popup under the cursor) to the
 * confirmation; the fan's session cookie rides along and the second click, 165–294 ms later,
 * lands on Approve. Or "press Enter to play", then Tab, Enter. Browsers met the same attacks on
 * their own permission and download prompts, and answered them the same way we do:
 *
 * - The button is `disabled` in the HTML. Our script (`/hosted/guard.js`, served from our origin
 *   under {@link HOSTED_CSP_WITH_OWN_SCRIPT}; no inline script) takes it over as
 *   `aria-disabled="true"`, still inert, and turns it on only once the page has been visible AND
 *   focused for {@link DECISION_DELAY_MS} without a break. The second starts again when the window
 *   loses focus or visibility, comes back from the back-forward cache (`pageshow`), moves or is resized (a popup moved
 *   under the cursor), on every pointerdown that is not a decision (so a burst of clicks never
 *   lets it turn on), on every Enter or Space that is not one, and when focus moves onto the
 *   button from the keyboard (so Tab, Tab, Enter never decides: the fan sees the button wait).
 *   `aria-disabled` rather than `disabled`, so that the script sees every press on it (Chromium
 *   drops mouse events on disabled controls) and the button stays focusable with its hint read.
 * - A decision needs an activation that began on the page: a primary pointerdown and pointerup
 *   both inside the turned-on button, or an Enter or Space whose keydown (not a repeat) the page
 *   saw on that button while it was on; anything else is cancelled before the form submits. A
 *   click that no press came with (assistive technology's "activate") counts when the button is on.
 * - Decline and Cancel are never guarded (they move nothing) and come first in the focus order;
 *   the decisive button is never autofocused. A form with a text field starts with a hidden,
 *   disabled submit button, so Enter in the field (implicit submission) submits nothing.
 * - The fan sees why: a hint under the buttons, which the button names in `aria-describedby`.
 *
 * {@link DECISION_DELAY_MS} is one second: Firefox holds its security dialogs' buttons for 1 s
 * (`security.dialog_enable_delay`), Chromium ignores input to its prompts for its double-click
 * interval (500 ms on Windows by default, up to 900 ms at the slowest setting); a second covers
 * the slowest double-click and the 165–294 ms the issue measured, with room for a slow page load
 * that hid part of it. The honest fan loses nothing: reading the amount, the recipient and the site
 * takes longer than a second (the end-to-end test measures the page at ~1.0 s from arrival to on).
 *
 * Without JavaScript the decisive button stays disabled: approving needs our script, and the page
 * says so (`<noscript>`); declining works without it. Every way to open these pages (the SDK's
 * popup, a link from a site) runs script anyway, and a button that no script guards would be the
 * hole again. Behind the script, the server keeps its own clock: the form carries a stamp of when
 * the server rendered it, signed with a key of the session that never leaves the server
 * ({@link decisionStamp}), and a decision posted sooner than the delay after it, or without a good
 * stamp, is refused and moves nothing.
 */

/** How long the decisive button stays inert after the page is shown, focused or pressed elsewhere: 1 s. */
export const DECISION_DELAY_MS = 1000;

/** The form field carrying the page's signed "rendered at" stamp. */
export const STAMP_FIELD = 'shown';

const GUARD_SCRIPT = `// Keeps the decisive button of a Diamonds decision page inert until the fan has seen the page
// for a moment: see packages/server/src/pages/guard.ts for why and how.
(() => {
  'use strict';
  // A time the page gives in UTC (<time datetime data-local>), shown in the fan's own time zone,
  // written as the fan's language writes it ("6:39:03 AM EST", "06:39:03 GMT-5").
  for (const time of document.querySelectorAll('time[data-local]')) {
    const at = new Date(time.dateTime);
    if (!Number.isNaN(at.getTime())) {
      time.textContent = at.toLocaleTimeString([], { timeStyle: 'long' });
    }
  }
  const DELAY_MS = ${DECISION_DELAY_MS};
  const buttons = Array.from(document.querySelectorAll('button[data-guard]'));
  if (buttons.length === 0) return;
  const hint = document.getElementById('guard-hint');
  const waiting = hint ? hint.textContent : '';
  const ready = hint ? hint.dataset.ready || '' : '';
  const now = () => performance.now();
  const guarded = (target) => (target instanceof Element ? target.closest('button[data-guard]') : null);
  const shown = () => document.visibilityState === 'visible' && document.hasFocus();
  const where = () => [window.screenX, window.screenY, window.innerWidth, window.innerHeight].join();

  let on = false;
  let timer = 0;
  let placed = '';
  let pointerDown = false;
  /** The button a counted pointerdown went down on, and with which pointer. */
  let pressed = null;
  /** The button the fan has just activated (pointer or key), for the click that follows. */
  let activated = null;

  function off() {
    on = false;
    clearTimeout(timer);
    timer = 0;
    pressed = null;
    activated = null;
    for (const button of buttons) button.setAttribute('aria-disabled', 'true');
    if (hint) hint.textContent = waiting;
  }
  function turnOn() {
    timer = 0;
    if (!shown()) return;
    on = true;
    placed = where();
    for (const button of buttons) button.removeAttribute('aria-disabled');
    if (hint) hint.textContent = ready;
  }
  function restart() {
    off();
    if (shown()) timer = setTimeout(turnOn, DELAY_MS);
  }
  // Still on, and the window has not moved or changed size since it turned on.
  function stillOn() {
    if (on && where() !== placed) restart();
    return on;
  }

  // The script owns the buttons from here: focusable, announced with the hint, and still inert.
  for (const button of buttons) {
    button.setAttribute('aria-disabled', 'true');
    button.disabled = false;
  }
  restart();

  addEventListener('focus', restart);
  addEventListener('blur', off);
  addEventListener('pageshow', (event) => {
    if (event.persisted) restart();
  });
  addEventListener('resize', restart);
  document.addEventListener('visibilitychange', restart);

  addEventListener(
    'pointerdown',
    (event) => {
      pointerDown = true;
      const button = guarded(event.target);
      if (button && event.isPrimary && event.button === 0 && stillOn()) {
        pressed = { button, pointerId: event.pointerId };
        return;
      }
      restart();
    },
    true,
  );
  addEventListener(
    'pointerup',
    (event) => {
      pointerDown = false;
      if (pressed && pressed.pointerId === event.pointerId && guarded(event.target) === pressed.button && stillOn()) {
        activated = pressed.button;
      }
      pressed = null;
    },
    true,
  );
  addEventListener(
    'pointercancel',
    () => {
      pointerDown = false;
      pressed = null;
    },
    true,
  );

  addEventListener(
    'keydown',
    (event) => {
      if (event.key !== 'Enter' && event.key !== ' ') return;
      const button = guarded(event.target);
      if (button && !event.repeat && stillOn()) {
        activated = button;
        return;
      }
      activated = null;
      restart();
    },
    true,
  );
  // Focus arriving on the button from the keyboard (not from a press on it) starts the second again.
  addEventListener(
    'focusin',
    (event) => {
      if (guarded(event.target) && !pointerDown) restart();
    },
    true,
  );

  document.addEventListener(
    'click',
    (event) => {
      const button = guarded(event.target);
      if (!button) return;
      const ok = stillOn() && (activated === button || (activated === null && pressed === null && !pointerDown));
      activated = null;
      if (ok) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      restart();
    },
    true,
  );
})();
`;

/** Where the guard script lives; its URL carries a hash of its text, so a long cache is safe. */
export const GUARD_SCRIPT_PATH = '/hosted/guard.js';

/** The script's URL, versioned by its content. */
export const GUARD_SCRIPT_SRC = `${GUARD_SCRIPT_PATH}?v=${createHash('sha256').update(GUARD_SCRIPT).digest('base64url').slice(0, 12)}`;

/** The guard script's text (tests read it). */
export function guardScript(): string {
  return GUARD_SCRIPT;
}

/** Serves the guard script. */
export function guardRoutes(pages: Hono<PagesEnv>): void {
  pages.get(GUARD_SCRIPT_PATH, (c) => {
    c.header('Cache-Control', 'public, max-age=31536000, immutable');
    return c.body(GUARD_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
  });
}

/**
 * The decisive submit button, `disabled` until the guard script turns it on, described by the
 * hint ({@link guardHint}).
 */
export function guardedButton(options: { name: string; value: string; label: string }): Html {
  const { name, value, label } = options;
  return html`<button type="submit" name="${name}" value="${value}" disabled data-guard aria-describedby="guard-hint">${label}</button>`;
}

/**
 * For a form with a text field: a hidden, disabled first submit button, the form's default
 * button, so that Enter in the field submits nothing (with Cancel first, it would otherwise cancel).
 */
export function noImplicitSubmit(): Html {
  return html`<button type="submit" disabled hidden aria-hidden="true" tabindex="-1"></button>`;
}

/**
 * Why the button waits (shown under the buttons, and updated by the script once it turns on),
 * what to do without JavaScript, and the script itself.
 *
 * @param button - The decisive button's label (`Approve`, `Connect`).
 * @param verb - What it does, lowercase (`approve`, `connect a site`).
 * @param safe - The button that works without waiting (`Decline`, `Cancel`).
 */
export function guardHint(button: string, verb: string, safe: string): Html {
  return html`<p id="guard-hint" class="guard-hint" data-ready="${button} is ready.">
      ${button} turns on once this window has been in front for a second, so that a click or key press meant for another page cannot
      ${verb}. Clicking elsewhere on this page starts the second again.
    </p>
    <noscript>
      <p class="alert">
        To ${verb} here, turn on JavaScript for this site and reload: it keeps a click meant for another page from landing on ${button}.
        ${safe} works without it.
      </p>
    </noscript>
    <script src="${GUARD_SCRIPT_SRC}" defer></script>`;
}

function stampMac(session: Session, subject: string, renderedAtMs: number): Buffer {
  return createHmac('sha256', session.formKey).update(`${subject}\n${renderedAtMs}`).digest();
}

/**
 * The signed "rendered at" stamp of a decision form about `subject` (`confirm:cnf_…`,
 * `consent:sir_…`): the server's clock, and an HMAC keyed by the session's own secret (which never
 * leaves the server, works in every server process, and dies with the session).
 */
export function decisionStamp(session: Session, subject: string, renderedAtMs = Date.now()): string {
  return `${renderedAtMs}.${stampMac(session, subject, renderedAtMs).toString('base64url')}`;
}

const STAMP_PATTERN = /^(\d{1,15})\.([A-Za-z0-9_-]{43})$/;

/**
 * Checks a decision form's stamp: `ok`, `early` (posted sooner than {@link DECISION_DELAY_MS}
 * after the page was rendered), or `invalid` (missing, malformed, not ours, from the future).
 */
export function checkDecisionStamp(session: Session, subject: string, value: unknown, now = Date.now()): 'ok' | 'early' | 'invalid' {
  const match = typeof value === 'string' ? STAMP_PATTERN.exec(value) : null;
  if (!match) return 'invalid';
  const renderedAtMs = Number(match[1]);
  const given = Buffer.from(match[2]!, 'base64url');
  const expected = stampMac(session, subject, renderedAtMs);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
  if (renderedAtMs > now) return 'invalid';
  return now - renderedAtMs < DECISION_DELAY_MS ? 'early' : 'ok';
}

/** The hidden field carrying a decision form's stamp. */
export function stampField(session: Session, subject: string, renderedAtMs = Date.now()): Html {
  return html`<input type="hidden" name="${STAMP_FIELD}" value="${decisionStamp(session, subject, renderedAtMs)}" />`;
}
