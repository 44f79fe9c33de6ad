import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import type { AppContext } from '../context.js';
import { ApiError, isApiError } from '../errors.js';
import type { Session } from '../identity/sessions.js';
import { listAllGiftTypes } from '../gifts/catalog.js';
import { hitRateLimit } from '../identity/rate-limit.js';
import { currentGoal, liveSessionOf } from '../live/fold.js';
import { OVERLAY_PATH, OVERLAY_PREVIEW_PATH } from '../live/overlay-page.js';
import {
  ALERT_SECONDS,
  CONNECTED_WITHIN_MS,
  GAP_SECONDS,
  MAX_TEST_MESSAGE_LENGTH,
  overlayOf,
  parseOverlayForm,
  regenerateOverlayOperation,
  setOverlayOptionsOperation,
  testAlertOperation,
  type OverlayState,
} from '../live/overlay.js';
import {
  endLiveOperation,
  liveSessionSummaries,
  liveSettingsOf,
  muteFanOperation,
  parseBlockedWords,
  setAnonymousOperation,
  setBlockedWordsOperation,
  setGoalOperation,
  startLiveOperation,
} from '../live/live.js';
import { copyButton, COPY_SCRIPT_PATH } from './copy.js';
import { checkSameOrigin, checkSessionToken } from './csrf.js';
import { readForm, text, type PagesEnv } from './forms.js';
import { alertBox, csrfField, errorPage, field, page, type FormProblem, type Html } from './layout.js';
import { HOSTED_CSP_WITH_OWN_SCRIPT } from './security-headers.js';
import { currentSession } from './session.js';

/** The creator's live page. */
export const LIVE_PATH = '/account/live';

const number = new Intl.NumberFormat('en-US');

function when(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function duration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** How many test alerts a creator may send a minute (each goes through the outbox to every overlay). */
const TEST_ALERTS_PER_MINUTE = 10;

type LiveForm = 'session' | 'goal' | 'words' | 'overlay' | 'test';

interface LiveState {
  problem?: { form: LiveForm; problem: FormProblem } | undefined;
  notice?: string | undefined;
  /** What a stream-alerts form did, said in its section. */
  overlayNotice?: string | undefined;
  /** The overlay URL just made: shown this once. */
  overlayUrl?: string | undefined;
  /** The options form as submitted (kept when it was refused). */
  overlayForm?: Record<string, string> | undefined;
}

/**
 * The "Stream alerts" part of the live page: the overlay URL (made or regenerated here, shown
 * once), whether an overlay is connected now, its options, the preview and a test alert.
 */
function overlaySection(
  overlay: OverlayState,
  giftTypes: Array<{ id: string; name: string }>,
  csrf: string,
  state: LiveState,
  problemOf: (form: LiveForm) => FormProblem | undefined,
  now: number,
): Html {
  const submitted = state.overlayForm;
  const options = overlay.options;
  const checked = (name: 'sound' | 'speech' | 'goalBar') => ((submitted ? submitted[name] === 'on' : options[name]) ? html` checked` : '');
  const seconds = (name: 'duration' | 'gap', ms: number) => submitted?.[name] ?? String(ms / 1000);
  const status = overlay.connected
    ? html`<strong>Connected</strong>: an overlay is open right now.`
    : overlay.hasOverlay
      ? html`<strong>Not connected</strong>${
            overlay.seenAt === null
              ? ': no overlay has opened this URL yet.'
              : `: last seen ${when(overlay.seenAt)} (${duration(now - overlay.seenAt)} ago).`
          }`
      : html`<strong>No overlay URL yet.</strong>`;
  return html`<h2 id="stream-alerts">Stream alerts</h2>
    <p>
      Show each gift on your stream: in OBS, add a <strong>Browser</strong> source of 1920 × 1080 with your overlay URL. One alert at a
      time, with the gift's animation, the fan's name, “×N” for combos and the message; and your goal's bar.
    </p>
    ${state.overlayNotice ? html`<p class="notice" role="status">${state.overlayNotice}</p>` : ''}
    ${
      state.overlayUrl
        ? html`<div class="notice" role="status">
            <p><strong>Your overlay URL</strong>: copy it now, it is shown only this once. Anyone with it sees your alerts.</p>
            <p>
              <label for="overlay-url">Overlay URL</label>
              <input id="overlay-url" type="text" readonly value="${state.overlayUrl}" />
              ${copyButton('overlay-url', 'Copy the overlay URL')}
            </p>
          </div>`
        : ''
    }
    <p id="overlay-status">Overlay: ${status}</p>
    <p class="muted">Connected means an overlay opened its stream within the last ${CONNECTED_WITHIN_MS / 1000} seconds.</p>
    <form method="post" action="${LIVE_PATH}/overlay/url">
      ${csrfField(csrf)}
      ${
        overlay.hasOverlay
          ? html`<p class="muted" id="overlay-regenerate-hint">A new URL replaces the old one: the old one stops working at once.</p>
              <button type="submit" class="secondary" aria-describedby="overlay-regenerate-hint">Regenerate overlay URL</button>`
          : html`<button type="submit">Create overlay URL</button>`
      }
    </form>
    <p><a href="${OVERLAY_PREVIEW_PATH}">Preview the overlay</a> (a sample alert, then your own test alerts)</p>
    <h3>Overlay options</h3>
    ${alertBox(problemOf('overlay'), 'overlay-error')}
    <form method="post" action="${LIVE_PATH}/overlay/options">
      ${csrfField(csrf)}
      ${field({
        id: 'overlay-duration',
        name: 'duration',
        label: 'Alert duration (seconds)',
        type: 'number',
        autocomplete: 'off',
        required: true,
        min: ALERT_SECONDS.min,
        max: ALERT_SECONDS.max,
        value: seconds('duration', options.durationMs),
        problem: problemOf('overlay'),
      })}
      ${field({
        id: 'overlay-gap',
        name: 'gap',
        label: 'Gap between alerts (seconds)',
        type: 'number',
        autocomplete: 'off',
        required: true,
        min: GAP_SECONDS.min,
        max: GAP_SECONDS.max,
        value: seconds('gap', options.gapMs),
        problem: problemOf('overlay'),
      })}
      <fieldset>
        <legend>On the overlay</legend>
        <div class="choice">
          <input type="checkbox" id="overlay-sound" name="sound" value="on" ${checked('sound')} />
          <label for="overlay-sound">Play a chime with each alert</label>
        </div>
        <div class="choice">
          <input type="checkbox" id="overlay-speech" name="speech" value="on" ${checked('speech')} />
          <label for="overlay-speech">Read messages aloud (text-to-speech)</label>
        </div>
        <div class="choice">
          <input type="checkbox" id="overlay-goal" name="goalBar" value="on" ${checked('goalBar')} />
          <label for="overlay-goal">Show the goal bar</label>
        </div>
      </fieldset>
      <button type="submit" class="secondary">Save overlay options</button>
    </form>
    <h3>Test alert</h3>
    ${alertBox(problemOf('test'), 'test-error')}
    <form method="post" action="${LIVE_PATH}/overlay/test">
      ${csrfField(csrf)}
      <div class="field">
        <label for="test-gift">Gift</label>
        <select id="test-gift" name="giftTypeId">
          ${giftTypes.map((type) => html`<option value="${type.id}">${type.name}</option>`)}
        </select>
      </div>
      ${field({
        id: 'test-message',
        name: 'message',
        label: 'Message (optional)',
        type: 'text',
        autocomplete: 'off',
        maxLength: MAX_TEST_MESSAGE_LENGTH,
        problem: problemOf('test'),
      })}
      <p class="muted" id="test-hint">
        It goes through the real pipeline to your overlay, marked as a test (your site’s live elements never show it); nothing is sent or
        counted.
      </p>
      <button type="submit" aria-describedby="test-hint">Send a test alert</button>
    </form>
    <script src="${COPY_SCRIPT_PATH}" defer></script>`;
}

async function livePage(context: AppContext, session: Session, state: LiveState = {}): Promise<Html> {
  const { db } = context;
  const creatorId = session.user.id;
  const now = context.earnings.now();
  const [live, goal, settings, sessions, fans, overlay, giftTypes] = await Promise.all([
    liveSessionOf(db, creatorId),
    currentGoal(db, creatorId),
    liveSettingsOf(db, creatorId),
    liveSessionSummaries(db, creatorId, now, 5),
    gifters(context, creatorId),
    overlayOf(db, creatorId, now),
    listAllGiftTypes(db),
  ]);
  const csrf = session.csrfToken;
  const problemOf = (form: LiveForm) => (state.problem?.form === form ? state.problem.problem : undefined);
  return page(
    'Live',
    html`<header class="top">
        <h1>Live</h1>
        <a href="/account">Your account</a>
      </header>
      ${state.notice ? html`<p class="notice" role="status">${state.notice}</p>` : ''}
      <p>
        While you are live, gifts count for the session; your site shows them as they arrive with
        <code>&lt;diamond-live-feed&gt;</code>, <code>&lt;diamond-goal&gt;</code> and <code>&lt;diamond-top-gifters&gt;</code>.
      </p>
      <h2>Session</h2>
      ${alertBox(problemOf('session'), 'session-error')}
      ${
        live
          ? html`<p>
                <strong>Live now</strong>: “${live.title}”, since ${when(live.startedAt)}, ${number.format(live.diamonds)} Diamonds so far.
              </p>
              <form method="post" action="${LIVE_PATH}/end">
                ${csrfField(csrf)}
                <button type="submit">End live</button>
              </form>`
          : html`<form method="post" action="${LIVE_PATH}/start">
              ${csrfField(csrf)}
              ${field({ id: 'live-title', name: 'title', label: 'Title', type: 'text', autocomplete: 'off', required: true, maxLength: 80, problem: problemOf('session') })}
              <button type="submit">Start live</button>
            </form>`
      }
      <h3>Recent sessions</h3>
      ${
        sessions.length === 0
          ? html`<p class="muted">No sessions yet.</p>`
          : html`<div class="table-wrap" role="region" aria-labelledby="sessions-caption" tabindex="0">
              <table>
                <caption id="sessions-caption">
                  Your last live sessions
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Session</th>
                    <th scope="col" class="num">Diamonds</th>
                    <th scope="col" class="num">Gifts</th>
                    <th scope="col" class="num">Gifters</th>
                    <th scope="col">Top gifts</th>
                    <th scope="col">Duration</th>
                  </tr>
                </thead>
                <tbody>
                  ${sessions.map(
                    (s) =>
                      html`<tr>
                        <th scope="row">
                          ${s.title}<br /><span class="muted">${when(s.startedAt)}${s.status === 'live' ? ', live now' : ''}</span>
                        </th>
                        <td class="num">${number.format(s.diamonds)}</td>
                        <td class="num">${number.format(s.gifts)}</td>
                        <td class="num">${number.format(s.gifters)}</td>
                        <td>
                          ${s.topGifts.map((g) => `${g.fanName}: ${g.quantity} × ${g.giftName} (${number.format(g.amountDiamonds)})`).join('; ')}
                        </td>
                        <td>${duration(s.durationMs)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }
      <h2>Goal</h2>
      ${
        goal
          ? html`<p>
              “${goal.title}”: ${number.format(goal.progressDiamonds)} of ${number.format(goal.targetDiamonds)}
              Diamonds${goal.reachedAt === null ? '' : ', reached'}.
            </p>`
          : html`<p class="muted">No goal yet.</p>`
      }
      ${alertBox(problemOf('goal'), 'goal-error')}
      <form method="post" action="${LIVE_PATH}/goal">
        ${csrfField(csrf)}
        ${field({ id: 'goal-title', name: 'title', label: 'Goal', type: 'text', autocomplete: 'off', required: true, maxLength: 80, problem: problemOf('goal') })}
        ${field({ id: 'goal-target', name: 'targetDiamonds', label: 'Target (Diamonds)', type: 'number', autocomplete: 'off', required: true, min: 1, problem: problemOf('goal') })}
        <button type="submit">${goal ? 'Set a new goal' : 'Set goal'}</button>
      </form>
      <h2>Moderation</h2>
      ${alertBox(problemOf('words'), 'words-error')}
      <form method="post" action="${LIVE_PATH}/blocked-words">
        ${csrfField(csrf)}
        <div class="field">
          <label for="blocked-words">Blocked words</label>
          <p class="muted" id="blocked-words-hint">One per line. A gift message containing one is never shown; the gift still counts.</p>
          <textarea id="blocked-words" name="blockedWords" rows="4" aria-describedby="blocked-words-hint">
${settings.blockedWords.join('\n')}</textarea>
        </div>
        <button type="submit" class="secondary">Save blocked words</button>
      </form>
      <h3>Fans</h3>
      <p class="muted">A muted fan's gifts still count, but never show on your live and their name is left out of the top gifters.</p>
      ${
        fans.length === 0
          ? html`<p class="muted">No gifters yet.</p>`
          : html`<ul class="plain">
              ${fans.map(
                (fan) =>
                  html`<li class="item">
                    <form method="post" action="${LIVE_PATH}/mute" class="row">
                      ${csrfField(csrf)}
                      <input type="hidden" name="fanId" value="${fan.id}" />
                      <input type="hidden" name="muted" value="${fan.muted ? 'off' : 'on'}" />
                      <span>${fan.name}${fan.muted ? html` <strong>(muted)</strong>` : ''}, ${number.format(fan.diamonds)} Diamonds</span>
                      <button type="submit" class="secondary">${fan.muted ? `Unmute ${fan.name}` : `Mute ${fan.name}`}</button>
                    </form>
                  </li>`,
              )}
            </ul>`
      }
      ${overlaySection(
        overlay,
        giftTypes.filter((type) => type.active),
        csrf,
        state,
        problemOf,
        now,
      )}`,
  );
}

/** The creator's gifters (largest first, at most 50), with whether each is muted. */
async function gifters(
  context: AppContext,
  creatorId: string,
): Promise<Array<{ id: string; name: string; diamonds: number; muted: boolean }>> {
  const rows = await context.db.query<{ fan_id: string; display_name: string | null; diamonds: number | string; muted: string | null }>(
    `SELECT g.fan_id, u.display_name, g.diamonds, m.fan_id AS muted FROM live_gifters g
     LEFT JOIN users u ON u.id = g.fan_id LEFT JOIN live_mutes m ON m.creator_id = g.creator_id AND m.fan_id = g.fan_id
     WHERE g.creator_id = ? AND g.scope = 'all' ORDER BY g.diamonds DESC, g.fan_id LIMIT 50`,
    [creatorId],
  );
  return rows.map((row) => ({
    id: row.fan_id,
    name: row.display_name ?? 'A fan',
    diamonds: Number(row.diamonds),
    muted: row.muted !== null,
  }));
}

/**
 * The creator's live page (`/account/live`): start and end a session (with the last sessions'
 * summaries), set the goal, list blocked words; and, for every signed-in user, whether their
 * name shows in live alerts (`/account/live/anonymous`).
 */
export function livePages(pages: Hono<PagesEnv>, context: AppContext): void {
  const { db } = context;
  async function signedIn(c: Context<PagesEnv>, creator: boolean): Promise<{ session: Session; form: Record<string, string> } | Response> {
    const session = await currentSession(c, db);
    if (!session) return c.redirect(`/signin?next=${encodeURIComponent(LIVE_PATH)}`, 303);
    if (creator && !session.user.roles.includes('creator')) {
      throw new ApiError('permission_denied', 'Going live is for creators: create a creator account to receive gifts.');
    }
    if (c.req.method !== 'POST') return { session, form: {} };
    checkSameOrigin(c);
    const read = await readForm(c);
    if (!read.ok) return c.html(errorPage('That did not work', `${read.error.message} Go back, reload the page and try again.`), 400);
    checkSessionToken(session, read.form.csrf);
    return { session, form: read.form };
  }
  const render = async (c: Context<PagesEnv>, session: Session, state: LiveState, status: 200 | 400 | 429 = 200) => {
    // The overlay URL's copy button: its script comes from our origin.
    c.header('Content-Security-Policy', HOSTED_CSP_WITH_OWN_SCRIPT);
    return c.html(await livePage(context, session, state), status);
  };
  const now = () => context.earnings.now();

  pages.get(LIVE_PATH, async (c) => {
    const got = await signedIn(c, true);
    if (got instanceof Response) return got;
    return render(c, got.session, {});
  });

  const action = (
    path: string,
    form: 'session' | 'goal' | 'words',
    run: (session: Session, values: Record<string, string>) => Promise<unknown>,
  ) =>
    pages.post(`${LIVE_PATH}/${path}`, async (c) => {
      const got = await signedIn(c, true);
      if (got instanceof Response) return got;
      try {
        await run(got.session, got.form);
      } catch (error) {
        if (!isApiError(error) || error.status !== 400) throw error;
        const fieldId =
          form === 'session' ? 'live-title' : form === 'goal' ? (error.param === 'title' ? 'goal-title' : 'goal-target') : 'blocked-words';
        return render(c, got.session, { problem: { form, problem: { message: error.message, fieldId } } }, 400);
      }
      return c.redirect(LIVE_PATH, 303);
    });

  action('start', 'session', (session, form) =>
    context.writer.run(startLiveOperation, { creatorId: session.user.id, title: text(form, 'title'), now: now() }),
  );
  action('end', 'session', (session) => context.writer.run(endLiveOperation, { creatorId: session.user.id, now: now() }));
  action('goal', 'goal', (session, form) => {
    const target = text(form, 'targetDiamonds').trim();
    return context.writer.run(setGoalOperation, {
      creatorId: session.user.id,
      goal: { title: text(form, 'title'), targetDiamonds: /^\d{1,10}$/.test(target) ? Number(target) : Number.NaN, endsAt: null },
      now: now(),
    });
  });
  action('blocked-words', 'words', (session, form) =>
    context.writer.run(setBlockedWordsOperation, {
      creatorId: session.user.id,
      words: parseBlockedWords(text(form, 'blockedWords')),
      now: now(),
    }),
  );

  action('mute', 'words', (session, form) =>
    context.writer.run(muteFanOperation, {
      creatorId: session.user.id,
      fanId: text(form, 'fanId'),
      muted: text(form, 'muted') === 'on',
      now: now(),
    }),
  );

  // Stream alerts: the overlay URL (shown once), its options, a test alert.
  pages.post(`${LIVE_PATH}/overlay/url`, async (c) => {
    const got = await signedIn(c, true);
    if (got instanceof Response) return got;
    const token = await context.writer.run(regenerateOverlayOperation, { creatorId: got.session.user.id, now: now() });
    const origin = context.settings.publicUrl ?? new URL(c.req.url).origin;
    return render(c, got.session, { overlayUrl: `${origin}${OVERLAY_PATH}/${token}` });
  });
  const overlayAction = (
    path: string,
    form: 'overlay' | 'test',
    run: (session: Session, values: Record<string, string>) => Promise<string>,
  ) =>
    pages.post(`${LIVE_PATH}/overlay/${path}`, async (c) => {
      const got = await signedIn(c, true);
      if (got instanceof Response) return got;
      let notice: string;
      try {
        notice = await run(got.session, got.form);
      } catch (error) {
        if (!isApiError(error) || error.status >= 500) throw error;
        const fieldId =
          form === 'test'
            ? error.param === 'message'
              ? 'test-message'
              : 'test-gift'
            : error.param === 'gap'
              ? 'overlay-gap'
              : 'overlay-duration';
        const overlayForm = form === 'overlay' ? got.form : undefined;
        const status = error.code === 'rate_limited' ? 429 : 400;
        return render(c, got.session, { problem: { form, problem: { message: error.message, fieldId } }, overlayForm }, status);
      }
      return render(c, got.session, { overlayNotice: notice });
    });
  overlayAction('options', 'overlay', async (session, form) => {
    await context.writer.run(setOverlayOptionsOperation, { creatorId: session.user.id, options: parseOverlayForm(form), now: now() });
    return 'Overlay options saved: an overlay open now takes them when it reloads.';
  });
  overlayAction('test', 'test', async (session, form) => {
    // Each test alert is an outbox event, a fold and a message to every overlay: bounded per creator.
    const verdict = await hitRateLimit(context.db, `live-test-alert:${session.user.id}`, TEST_ALERTS_PER_MINUTE, 60_000, now());
    if (!verdict.allowed) {
      throw new ApiError(
        'rate_limited',
        `At most ${TEST_ALERTS_PER_MINUTE} test alerts a minute: try again in ${Math.ceil(verdict.retryAfterMs / 1000)} s.`,
        { param: 'giftTypeId' },
      );
    }
    await context.writer.run(testAlertOperation, {
      creatorId: session.user.id,
      giftTypeId: text(form, 'giftTypeId'),
      message: text(form, 'message'),
      now: now(),
    });
    return 'Test alert sent: it shows on your overlay in a moment.';
  });

  pages.post(`${LIVE_PATH}/anonymous`, async (c) => {
    const got = await signedIn(c, false);
    if (got instanceof Response) return got;
    await context.writer.run(setAnonymousOperation, {
      fanId: got.session.user.id,
      anonymous: text(got.form, 'anonymous') === 'on',
      now: now(),
    });
    return c.redirect('/account', 303);
  });
}
