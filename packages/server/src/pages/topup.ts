import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import type { AppContext } from '../context.js';
import type { Session } from '../identity/sessions.js';
import { DISPUTE_TEST_CARD, TEST_CARDS, testCardOutcome } from '../payments/provider.js';
import {
  TopUpRateLimited,
  authenticateTestPaymentOperation,
  countCardFailure,
  findTopUp,
  formatPrice,
  limitCardAttempt,
  payWithTestCardOperation,
  presentTopUp,
  productName,
  type TestCardResult,
  type TopUpRecord,
} from '../payments/topups.js';
import { clientIp } from './auth.js';
import { CLOSE_SCRIPT_PATH } from './consent.js';
import { checkSameOrigin, checkSessionToken } from './csrf.js';
import { readForm, text, type PagesEnv } from './forms.js';
import { alertBox, csrfField, errorPage, field, page, type FormProblem, type Html } from './layout.js';
import { HOSTED_CSP_WITH_OWN_SCRIPT } from './security-headers.js';
import { currentSession } from './session.js';

/*
 * The hosted top-up page (`/topup/{id}`), opened by the SDK in a popup on the platform's own
 * origin. With the test provider the fan pays here with a test card; a Stripe top-up's page
 * shows where the payment stands (Stripe Checkout sends the fan back here). Only the fan who
 * started the top-up may see or pay it; every form is CSRF-checked with the session's token.
 */

/** Where the top-up pages live. */
export const TOPUP_PATH = '/topup';

const number = new Intl.NumberFormat('en-US');

function spaced(cardNumber: string): string {
  return cardNumber.replace(/(\d{4})(?=\d)/g, '$1 ');
}

const CARD_HINTS: Record<string, string> = {
  succeeds: 'pays',
  declines: 'is declined',
  requires_action: 'asks for an extra authentication step',
};

function summary(record: TopUpRecord): Html {
  return html`<dl class="summary">
    <dt>You get</dt>
    <dd><strong>${productName(record.diamonds)}</strong></dd>
    <dt>You pay</dt>
    <dd><strong>${formatPrice(record.price)}</strong></dd>
  </dl>`;
}

function header(session: Session): Html {
  return html`<p class="muted">Signed in as <strong>${session.user.displayName}</strong></p>`;
}

function cardPage(record: TopUpRecord, session: Session, now: number, problem?: FormProblem): Html {
  const minutesLeft = Math.max(1, Math.ceil((record.quoteExpiresAt - now) / 60_000));
  return page(
    `Buy ${productName(record.diamonds)}`,
    html`<h1>Buy ${productName(record.diamonds)}</h1>
      ${header(session)} ${summary(record)}
      <p class="muted">This price is held for ${minutesLeft} more minute${minutesLeft === 1 ? '' : 's'}.</p>
      <div class="notice">
        <h2>Test mode</h2>
        <p>No real money moves. Use one of these test card numbers:</p>
        <ul>
          ${Object.entries(TEST_CARDS).map(([card, outcome]) => html`<li><code>${spaced(card)}</code> ${CARD_HINTS[outcome]}</li>`)}
          <li><code>${spaced(DISPUTE_TEST_CARD)}</code> pays, then the payment is disputed: the Diamonds are taken back</li>
        </ul>
      </div>
      ${alertBox(problem)}
      <form method="post" action="${TOPUP_PATH}/${record.id}" novalidate>
        ${csrfField(session.csrfToken)}
        ${field({
          id: 'card-number',
          name: 'cardNumber',
          label: 'Card number',
          type: 'text',
          autocomplete: 'cc-number',
          required: true,
          maxLength: 23,
          hint: '16 digits; spaces are fine.',
          problem,
          autofocus: true,
        })}
        <button type="submit">Pay ${formatPrice(record.price)}</button>
      </form>`,
  );
}

function authenticatePage(record: TopUpRecord, session: Session): Html {
  return page(
    'Authenticate this payment',
    html`<h1>Authenticate this payment</h1>
      ${header(session)} ${summary(record)}
      <p>Your bank asks you to confirm this payment. (Test mode: choose what the bank answers.)</p>
      <form method="post" action="${TOPUP_PATH}/${record.id}/authenticate">
        ${csrfField(session.csrfToken)}
        <button type="submit" name="decision" value="complete">Complete</button>
        <button type="submit" name="decision" value="fail" class="secondary">Fail</button>
      </form>`,
  );
}

function donePage(record: TopUpRecord): Html {
  return page(
    'Payment complete',
    html`<h1>Payment complete</h1>
      <p role="status">
        ${number.format(record.diamonds)} Diamonds were added to your wallet for ${formatPrice(record.price)}. You can close this window and
        return to the site.
      </p>
      <script src="${CLOSE_SCRIPT_PATH}" defer></script>`,
  );
}

const FAILURES: Record<string, string> = {
  card_declined: 'Your card was declined.',
  authentication_failed: 'The payment was not authenticated.',
  quote_expired: 'The price we held for you expired before the payment.',
  payment_expired: 'The payment page expired before the payment.',
  payment_failed: 'The payment failed.',
};

function failedPage(record: TopUpRecord, failureCode: string): Html {
  return page(
    'Payment failed',
    html`<h1>Payment failed</h1>
      <div class="alert" role="alert">
        <p>${FAILURES[failureCode] ?? FAILURES.payment_failed} Nothing was charged and no Diamonds were added.</p>
      </div>
      ${summary(record)}
      <p>Go back to the site to start a new top-up${failureCode === 'card_declined' ? ' with another card' : ''}.</p>`,
  );
}

function waitingPage(record: TopUpRecord, session: Session): Html {
  return page(
    'Waiting for the payment',
    html`<h1>Waiting for the payment</h1>
      ${header(session)} ${summary(record)}
      <p role="status">
        Your Diamonds are added as soon as the payment provider confirms the payment. Reload this page to see where it stands.
      </p>
      ${record.paymentUrl ? html`<p><a href="${record.paymentUrl}">Pay with Stripe</a></p>` : ''}`,
  );
}

/** The page that shows a top-up as it stands (for GET, and after a form that changed nothing). */
function statusPage(c: Context<PagesEnv>, record: TopUpRecord, session: Session, now: number, status = 200): Response | Promise<Response> {
  const shown = presentTopUp(record, now);
  if (shown.status === 'succeeded') {
    c.header('Content-Security-Policy', HOSTED_CSP_WITH_OWN_SCRIPT);
    return c.html(donePage(record), status as 200);
  }
  if (shown.status === 'failed') return c.html(failedPage(record, shown.failureCode ?? 'payment_failed'), status as 200);
  if (record.provider !== 'test') return c.html(waitingPage(record, session), status as 200);
  if (shown.status === 'requires_action') return c.html(authenticatePage(record, session), status as 200);
  return c.html(cardPage(record, session, now), status as 200);
}

/** The fan's own top-up, or the error page to send (sign in first; 404 unknown; 403 someone else's). */
async function ownTopUp(
  c: Context<PagesEnv>,
  context: AppContext,
  session: Session | undefined,
): Promise<{ record: TopUpRecord; session: Session } | Response> {
  const id = c.req.param('id') ?? '';
  if (!session) return c.redirect(`/signin?next=${encodeURIComponent(`${TOPUP_PATH}/${id}`)}`, 303);
  const record = await findTopUp(context.db, id);
  if (!record) {
    return c.html(errorPage('Top-up not found', 'This top-up does not exist. Go back to the site and start a new top-up.'), 404);
  }
  if (record.userId !== session.user.id) {
    return c.html(
      errorPage(
        'Not your top-up',
        'This top-up was started by another Diamonds account. Only the fan who started it can pay it: sign in as that account.',
      ),
      403,
    );
  }
  return { record, session };
}

/** Reads a signed-in form: same origin, the session, the body and its CSRF token. */
async function signedInForm(
  c: Context<PagesEnv>,
  context: AppContext,
): Promise<{ session: Session | undefined; form: Record<string, string> }> {
  checkSameOrigin(c);
  const session = await currentSession(c, context.db);
  const read = await readForm(c);
  if (!session) return { session, form: {} };
  if (!read.ok) throw read.error;
  checkSessionToken(session, read.form.csrf);
  return { session, form: read.form };
}

/** Whether new test-card payments are taken here: the top-up is the test provider's and so is the platform. */
function testPaymentsOpen(context: AppContext, record: TopUpRecord): boolean {
  return record.provider === 'test' && context.settings.paymentProvider === 'test';
}

function disabled(c: Context<PagesEnv>): Response | Promise<Response> {
  return c.html(
    errorPage('Test payments are off', 'This platform no longer takes test card payments. Go back to the site and start a new top-up.'),
    409,
  );
}

/** Adds the hosted top-up page of the test payment provider to the hosted pages. */
export function topUpRoutes(pages: Hono<PagesEnv>, context: AppContext): void {
  const { db } = context;

  /** Renders the outcome of a payment attempt, counting failures against the rate limits. */
  async function answer(c: Context<PagesEnv>, session: Session, id: string, result: TestCardResult): Promise<Response> {
    const now = Date.now();
    if (result === 'declined') await countCardFailure(db, session.user.id, clientIp(c), now);
    if (result === 'requires_action') return c.redirect(`${TOPUP_PATH}/${id}`, 303);
    const record = await findTopUp(db, id);
    if (!record) return c.html(errorPage('Top-up not found', 'This top-up does not exist.'), 404);
    const status = result === 'declined' ? 402 : result === 'quote_expired' ? 409 : 200;
    return statusPage(c, record, session, now, status);
  }

  pages.get(`${TOPUP_PATH}/:id`, async (c) => {
    const found = await ownTopUp(c, context, await currentSession(c, db));
    if (found instanceof Response) return found;
    return statusPage(c, found.record, found.session, Date.now());
  });

  pages.post(`${TOPUP_PATH}/:id`, async (c) => {
    const { session, form } = await signedInForm(c, context);
    const found = await ownTopUp(c, context, session);
    if (found instanceof Response) return found;
    const { record } = found;
    const now = Date.now();
    if (presentTopUp(record, now).status !== 'requires_payment') return statusPage(c, record, found.session, now);
    if (!testPaymentsOpen(context, record)) return disabled(c);
    const ip = clientIp(c);
    try {
      await limitCardAttempt(db, found.session.user.id, ip, now);
    } catch (error) {
      if (!(error instanceof TopUpRateLimited)) throw error;
      c.header('Retry-After', String(error.retryAfterSeconds));
      return c.html(cardPage(record, found.session, now, { message: error.message }), 429);
    }
    const cardNumber = text(form, 'cardNumber');
    const outcome = testCardOutcome(cardNumber);
    if (!outcome) {
      await countCardFailure(db, found.session.user.id, ip, now);
      const message =
        cardNumber.trim() === ''
          ? 'Enter a card number.'
          : 'This is not a test card number (invalid_card). Use one of the test cards listed above.';
      return c.html(cardPage(record, found.session, now, { message, fieldId: 'card-number' }), 400);
    }
    const result = await context.writer.run(payWithTestCardOperation, { id: record.id, outcome });
    return answer(c, found.session, record.id, result);
  });

  pages.post(`${TOPUP_PATH}/:id/authenticate`, async (c) => {
    const { session, form } = await signedInForm(c, context);
    const found = await ownTopUp(c, context, session);
    if (found instanceof Response) return found;
    const { record } = found;
    const now = Date.now();
    if (presentTopUp(record, now).status !== 'requires_action') return statusPage(c, record, found.session, now);
    if (!testPaymentsOpen(context, record)) return disabled(c);
    const decision = text(form, 'decision');
    if (decision !== 'complete' && decision !== 'fail') {
      return c.html(errorPage('That did not work', 'Choose Complete or Fail.'), 400);
    }
    const result = await context.writer.run(authenticateTestPaymentOperation, { id: record.id, complete: decision === 'complete' });
    return answer(c, found.session, record.id, result);
  });
}
