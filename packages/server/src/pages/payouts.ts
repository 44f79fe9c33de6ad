import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { formatMajorUnits, isId, type CurrencyCode, type FiatMoney, type Payout, type PayoutQuote, type Rate } from '@diamonds/protocol';
import type { AppContext } from '../context.js';
import { earningsSummary, type EarningsSummary } from '../earnings/summary.js';
import { ApiError, isApiError } from '../errors.js';
import { isEmailVerified } from '../identity/email-verification.js';
import type { Session } from '../identity/sessions.js';
import { currentRates } from '../money/rates.js';
import {
  findPayout,
  findPayoutMethod,
  findPayoutQuote,
  listPayouts,
  quotePayoutOperation,
  requestPayoutOperation,
  setPayoutMethodOperation,
  updatePayoutMethodOperation,
  type PayoutMethod,
  type PayoutRecord,
} from '../payouts/payouts.js';
import { TEST_PAYOUT_ACCOUNTS, type TestPayoutBehaviour } from '../payouts/provider.js';
import { checkSameOrigin, checkSessionToken } from './csrf.js';
import { readForm, text, type PagesEnv } from './forms.js';
import { alertBox, csrfField, errorPage, field, page, type FormProblem, type Html } from './layout.js';
import { currentSession } from './session.js';
import { signedInRecently, stepUpUrl } from './step-up.js';

/** The creator's payouts page. */
export const PAYOUTS_PATH = '/account/payouts';

const number = new Intl.NumberFormat('en-US');

/** Money in its currency, from exact minor units (never a float). */
export function formatFiat(money: FiatMoney): string {
  const format = new Intl.NumberFormat('en-GB', { style: 'currency', currency: money.currency });
  // Intl formats decimal strings exactly (ES2023); the lib typings only list numbers.
  return format.format(formatMajorUnits(money) as unknown as number);
}

function when(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A payout's state in words, as the creator reads it. */
export function payoutStatusText(payout: Payout): string {
  switch (payout.status) {
    case 'in_transit':
      return 'On its way';
    case 'paid':
      return 'Paid';
    case 'failed':
      return 'Failed: Diamonds returned';
    case 'canceled':
      return 'Canceled: Diamonds returned';
  }
}

/** Where the pages may send a creator to finish a provider's onboarding (Stripe Connect adds itself here). */
export interface PayoutOnboarding {
  /** The label of the choice on the method form ("Stripe (bank account)"). */
  label: string;
  /** The form's `provider` value. */
  provider: 'stripe';
  /** Starts (or resumes) onboarding and returns where to send the creator. */
  start(c: Context<PagesEnv>, session: Session): Promise<string>;
}

interface PageState {
  problem?: FormProblem | undefined;
  /** The form the problem is about. */
  problemForm?: 'method' | 'cashout' | undefined;
  notice?: string | undefined;
}

function methodText(method: PayoutMethod): string {
  const name = method.provider === 'test' && method.testBehaviour ? TEST_PAYOUT_ACCOUNTS[method.testBehaviour] : 'Stripe account';
  return `${name}, paid in ${method.currency}`;
}

function methodForm(
  csrf: string,
  rates: readonly Rate[],
  method: PayoutMethod | undefined,
  onboarding: PayoutOnboarding | undefined,
  state: PageState,
): Html {
  const problem = state.problemForm === 'method' ? state.problem : undefined;
  const current = method?.provider === 'test' ? method.testBehaviour : method?.provider;
  const choices: [string, string][] = [
    ...(Object.entries(TEST_PAYOUT_ACCOUNTS) as [TestPayoutBehaviour, string][]).map(([value, label]): [string, string] => [
      `test:${value}`,
      label,
    ]),
    ...(onboarding ? [[onboarding.provider, onboarding.label] as [string, string]] : []),
  ];
  return html`<form method="post" action="${PAYOUTS_PATH}/method" aria-labelledby="method-heading">
    ${csrfField(csrf)} ${alertBox(problem, 'method-error')}
    <fieldset>
      <legend id="method-heading">${method ? 'Change where you are paid' : 'Choose where you are paid'}</legend>
      ${choices.map(
        ([value, label], index) =>
          html`<div class="choice">
            <input
              type="radio"
              id="method-${index}"
              name="method"
              value="${value}"
              required
              ${value === `test:${current}` || value === current || (!method && index === 0) ? html` checked` : ''}
            />
            <label for="method-${index}">${label}</label>
          </div>`,
      )}
    </fieldset>
    <div class="field">
      <label for="payout-currency">Currency</label>
      <select id="payout-currency" name="currency">
        ${rates.map((r) => html`<option value="${r.currency}" ${r.currency === (method?.currency ?? 'USD') ? html` selected` : ''}>${r.currency}</option>`)}
      </select>
    </div>
    <button type="submit" class="${method ? 'secondary' : ''}">${method ? 'Change payout account' : 'Save payout account'}</button>
  </form>`;
}

function payoutsTable(records: readonly PayoutRecord[]): Html {
  if (records.length === 0) return html`<p class="muted">No payouts yet.</p>`;
  return html`<div class="table-wrap" role="region" aria-labelledby="payouts-caption" tabindex="0">
    <table>
      <caption id="payouts-caption">
        Your payouts, newest first
      </caption>
      <thead>
        <tr>
          <th scope="col">Requested</th>
          <th scope="col" class="num">Diamonds</th>
          <th scope="col" class="num">Amount</th>
          <th scope="col">Status</th>
          <th scope="col">Details</th>
        </tr>
      </thead>
      <tbody>
        ${records.map(
          ({ payout }) =>
            html`<tr id="${payout.id}">
              <th scope="row">${when(payout.createdAt)}</th>
              <td class="num">${number.format(payout.diamonds)} ◆</td>
              <td class="num">${formatFiat(payout.amount)}</td>
              <td><strong>${payoutStatusText(payout)}</strong></td>
              <td>
                ${payout.failure ? payout.failure.message : payout.automatic ? 'Weekly automatic payout' : ''}${
                  payout.settledAt !== null && payout.status === 'paid' ? html`Paid ${when(payout.settledAt)}` : ''
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

async function payoutsPage(
  context: AppContext,
  session: Session,
  onboarding: PayoutOnboarding | undefined,
  state: PageState = {},
): Promise<Html> {
  const { db } = context;
  const creatorId = session.user.id;
  const now = context.earnings.now();
  const [summary, method, verified, records, rates] = await Promise.all([
    earningsSummary(db, creatorId, now, context.earnings.holdMs),
    findPayoutMethod(db, creatorId),
    isEmailVerified(db, creatorId),
    listPayouts(db, { creatorId, limit: 20 }),
    currentRates(db, now),
  ]);
  const minimum = context.earnings.minimumPayoutDiamonds;
  const csrf = session.csrfToken;
  const inFlight = records.find((record) => record.payout.status === 'in_transit');
  const cashoutProblem = state.problemForm === 'cashout' ? state.problem : undefined;
  return page(
    'Payouts',
    html`<header class="top">
        <h1>Payouts</h1>
        <a href="/dashboard">Earnings</a>
      </header>
      ${state.notice ? html`<div class="notice" role="status"><p>${state.notice}</p></div>` : ''} ${balancePart(summary, minimum)}
      ${
        verified
          ? ''
          : html`<div class="alert" role="alert">
              <p>Verify your email address before your first payout: open the link we sent you.</p>
              <form method="post" action="/account/email/verify">
                ${csrfField(csrf)}
                <button type="submit" class="secondary">Send the link again</button>
              </form>
            </div>`
      }
      <h2>Payout account</h2>
      ${
        method
          ? html`<p>
              ${methodText(method)}:
              <strong>${method.status === 'ready' ? 'ready' : 'verification needed'}</strong>
            </p>`
          : html`<p class="muted">No payout account yet.</p>`
      }
      ${
        method?.status === 'pending'
          ? method.provider === 'test'
            ? html`<form method="post" action="${PAYOUTS_PATH}/method/verify">
                ${csrfField(csrf)}
                <p>The test account needs verification first, as a real bank or Stripe would ask for identity documents.</p>
                <button type="submit">Complete verification (test)</button>
              </form>`
            : html`<form method="post" action="${PAYOUTS_PATH}/stripe/onboard">
                ${csrfField(csrf)}
                <button type="submit">Finish setting up with Stripe</button>
              </form>`
          : ''
      }
      ${methodForm(csrf, rates, method, onboarding, state)}
      ${
        method
          ? html`<form method="post" action="${PAYOUTS_PATH}/automatic">
              ${csrfField(csrf)}
              <input type="hidden" name="automatic" value="${method.automatic ? 'off' : 'on'}" />
              <p>
                Weekly automatic payouts are <strong>${method.automatic ? 'on' : 'off'}</strong>:
                ${
                  method.automatic
                    ? 'every week, everything available is paid out when it is at least the minimum.'
                    : 'turn them on to be paid everything available every week, without asking.'
                }
              </p>
              <button type="submit" class="secondary">${method.automatic ? 'Turn off weekly payouts' : 'Turn on weekly payouts'}</button>
            </form>`
          : ''
      }
      <h2>Cash out</h2>
      ${
        inFlight
          ? html`<p>
              Payout of ${number.format(inFlight.payout.diamonds)} Diamonds is on its way; you can cash out again once it arrives.
            </p>`
          : summary.availableDiamonds < minimum && !cashoutProblem
            ? html`<p>You can cash out once at least ${number.format(minimum)} Diamonds are available.</p>`
            : html`<form method="post" action="${PAYOUTS_PATH}/quote" aria-labelledby="cashout-heading">
                <p id="cashout-heading" class="muted">
                  Get a price for your available Diamonds at today's payout rate; it holds for 10 minutes while you confirm.
                </p>
                ${csrfField(csrf)} ${alertBox(cashoutProblem, 'cashout-error')}
                ${field({
                  id: 'payout-diamonds',
                  name: 'diamonds',
                  label: 'Diamonds to cash out',
                  type: 'number',
                  autocomplete: 'off',
                  value: state.problemForm === 'cashout' ? undefined : Math.max(summary.availableDiamonds, 0),
                  min: 1,
                  hint: `At least ${number.format(minimum)}; up to ${number.format(summary.availableDiamonds)} available.`,
                  problem: cashoutProblem,
                })}
                <button type="submit">Get a price</button>
              </form>`
      }
      <h2>History</h2>
      ${payoutsTable(records)}`,
  );
}

function balancePart(summary: EarningsSummary, minimum: number): Html {
  return html`<dl class="stats">
      <div>
        <dt id="payout-available">Available</dt>
        <dd aria-labelledby="payout-available">${number.format(summary.availableDiamonds)} ◆</dd>
      </div>
      <div>
        <dt id="payout-pending">Pending</dt>
        <dd aria-labelledby="payout-pending">${number.format(summary.pendingDiamonds)} ◆</dd>
      </div>
    </dl>
    <p class="muted">Pending earnings become available after the hold. The smallest payout is ${number.format(minimum)} Diamonds.</p>`;
}

function quotePage(session: Session, quote: PayoutQuote, method: PayoutMethod): Html {
  return page(
    'Confirm your payout',
    html`<h1>Confirm your payout</h1>
      <dl class="stats">
        <div>
          <dt id="quote-diamonds">Diamonds</dt>
          <dd aria-labelledby="quote-diamonds">${number.format(quote.diamonds)} ◆</dd>
        </div>
        <div>
          <dt id="quote-amount">You receive</dt>
          <dd aria-labelledby="quote-amount">${formatFiat(quote.amount)}</dd>
        </div>
      </dl>
      <p>To ${methodText(method)}. This price holds until ${when(quote.expiresAt)}.</p>
      <form method="post" action="${PAYOUTS_PATH}/confirm">
        ${csrfField(session.csrfToken)}
        <input type="hidden" name="quote" value="${quote.id}" />
        <button type="submit">Confirm payout</button>
      </form>
      <p><a href="${PAYOUTS_PATH}">Cancel</a></p>`,
  );
}

/** The form fields the payout errors are about. */
const CASHOUT_PROBLEMS: ReadonlySet<string> = new Set([
  'payout_below_minimum',
  'insufficient_available_earnings',
  'email_unverified',
  'payout_method_not_ready',
  'payout_in_progress',
  'quote_expired',
  'quote_used',
  'quote_not_found',
  'rate_unavailable',
  'invalid_amount',
]);

/**
 * The creator's payouts (`/account/payouts`): the payout account (the test provider's accounts,
 * Stripe when configured), weekly automatic payouts, cash-out through a locked quote, and the
 * history with each state in words. Changing the account and confirming a payout need a recent
 * sign-in (the password again after 15 minutes), as a bank or Stripe would ask.
 */
export function payoutPages(pages: Hono<PagesEnv>, context: AppContext, onboarding?: PayoutOnboarding): void {
  const { db } = context;
  const rules = () => ({
    now: context.earnings.now(),
    holdMs: context.earnings.holdMs,
    minimumDiamonds: context.earnings.minimumPayoutDiamonds,
  });

  async function creator(c: Context<PagesEnv>): Promise<Session | Response> {
    const session = await currentSession(c, db);
    if (!session) return c.redirect(`/signin?next=${encodeURIComponent(PAYOUTS_PATH)}`, 303);
    if (!session.user.roles.includes('creator')) {
      throw new ApiError('permission_denied', 'Payouts are for creators: create a creator account to receive gifts and cash them out.');
    }
    return session;
  }

  /** A signed-in creator's POST with a good CSRF token, and its form. */
  async function creatorForm(c: Context<PagesEnv>): Promise<{ session: Session; form: Record<string, string> } | Response> {
    checkSameOrigin(c);
    const session = await creator(c);
    if (session instanceof Response) return session;
    const read = await readForm(c);
    if (!read.ok) return c.html(errorPage('That did not work', `${read.error.message} Go back, reload the page and try again.`), 400);
    checkSessionToken(session, read.form.csrf);
    return { session, form: read.form };
  }

  const render = async (c: Context<PagesEnv>, session: Session, state: PageState, status: 200 | 400 | 409 | 403 | 402 = 200) =>
    c.html(await payoutsPage(context, session, onboarding, state), status);

  pages.get(PAYOUTS_PATH, async (c) => {
    const session = await creator(c);
    if (session instanceof Response) return session;
    const requested = c.req.query('requested');
    const record = requested && isId('po', requested) ? await findPayout(db, requested) : undefined;
    const mine = record?.creatorId === session.user.id ? record.payout : undefined;
    const notice = mine
      ? mine.status === 'in_transit'
        ? 'Your payout is on its way: its state below updates as the provider reports it.'
        : mine.status === 'paid'
          ? `Your payout of ${formatFiat(mine.amount)} was paid to your account.`
          : `Your payout did not go through: ${mine.failure?.message ?? 'no reason given.'} The Diamonds are back in your available earnings.`
      : c.req.query('saved') === '1'
        ? 'Your payout account was saved.'
        : undefined;
    return render(c, session, { notice });
  });

  pages.post(`${PAYOUTS_PATH}/method`, async (c) => {
    const got = await creatorForm(c);
    if (got instanceof Response) return got;
    const { session, form } = got;
    if (!signedInRecently(session, Date.now())) return c.redirect(stepUpUrl(PAYOUTS_PATH), 303);
    const choice = text(form, 'method');
    const currency = text(form, 'currency').toUpperCase() as CurrencyCode;
    const now = context.earnings.now();
    try {
      if (choice.startsWith('test:') && Object.hasOwn(TEST_PAYOUT_ACCOUNTS, choice.slice(5))) {
        const behaviour = choice.slice(5) as TestPayoutBehaviour;
        await context.writer.run(setPayoutMethodOperation, {
          creatorId: session.user.id,
          provider: 'test',
          testBehaviour: behaviour,
          accountRef: null,
          status: behaviour === 'needs_verification' ? 'pending' : 'ready',
          currency,
          now,
        });
        return c.redirect(`${PAYOUTS_PATH}?saved=1`, 303);
      }
      if (onboarding && choice === onboarding.provider) {
        // Choosing Stripe again (another currency, say) keeps the account already onboarded.
        const existing = await findPayoutMethod(db, session.user.id);
        const kept = existing?.provider === onboarding.provider ? existing : undefined;
        await context.writer.run(setPayoutMethodOperation, {
          creatorId: session.user.id,
          provider: onboarding.provider,
          testBehaviour: null,
          accountRef: kept?.accountRef ?? null,
          status: kept?.status ?? 'pending',
          currency,
          now,
        });
        if (kept?.status === 'ready') return c.redirect(`${PAYOUTS_PATH}?saved=1`, 303);
        return c.redirect(await onboarding.start(c, session), 303);
      }
      return render(c, session, { problemForm: 'method', problem: { message: 'Choose one of the payout accounts.' } }, 400);
    } catch (error) {
      if (isApiError(error, 'payout_in_progress') || isApiError(error, 'invalid_currency')) {
        return render(c, session, { problemForm: 'method', problem: { message: error.message } }, error.status as 409);
      }
      throw error;
    }
  });

  pages.post(`${PAYOUTS_PATH}/method/verify`, async (c) => {
    const got = await creatorForm(c);
    if (got instanceof Response) return got;
    const method = await findPayoutMethod(db, got.session.user.id);
    if (method?.provider === 'test' && method.testBehaviour === 'needs_verification') {
      await context.writer.run(updatePayoutMethodOperation, {
        creatorId: got.session.user.id,
        status: 'ready',
        now: context.earnings.now(),
      });
    }
    return c.redirect(`${PAYOUTS_PATH}?saved=1`, 303);
  });

  if (onboarding) {
    pages.post(`${PAYOUTS_PATH}/stripe/onboard`, async (c) => {
      const got = await creatorForm(c);
      if (got instanceof Response) return got;
      return c.redirect(await onboarding.start(c, got.session), 303);
    });
  }

  pages.post(`${PAYOUTS_PATH}/automatic`, async (c) => {
    const got = await creatorForm(c);
    if (got instanceof Response) return got;
    await context.writer.run(updatePayoutMethodOperation, {
      creatorId: got.session.user.id,
      automatic: text(got.form, 'automatic') === 'on',
      now: context.earnings.now(),
    });
    return c.redirect(PAYOUTS_PATH, 303);
  });

  pages.post(`${PAYOUTS_PATH}/quote`, async (c) => {
    const got = await creatorForm(c);
    if (got instanceof Response) return got;
    const { session, form } = got;
    const wanted = text(form, 'diamonds').trim();
    if (!/^\d{1,12}$/.test(wanted) || Number(wanted) < 1) {
      return render(
        c,
        session,
        { problemForm: 'cashout', problem: { message: 'Enter a whole number of Diamonds.', fieldId: 'payout-diamonds' } },
        400,
      );
    }
    try {
      const quote = await context.writer.run(quotePayoutOperation, { creatorId: session.user.id, diamonds: Number(wanted), ...rules() });
      const method = await findPayoutMethod(db, session.user.id);
      if (!method) throw new Error('payout method vanished after its quote');
      return c.html(quotePage(session, quote, method));
    } catch (error) {
      if (error instanceof ApiError && CASHOUT_PROBLEMS.has(error.code)) {
        const fieldId = error.param === 'diamonds' ? 'payout-diamonds' : undefined;
        return render(c, session, { problemForm: 'cashout', problem: { message: error.message, fieldId } }, error.status as 400);
      }
      throw error;
    }
  });

  pages.post(`${PAYOUTS_PATH}/confirm`, async (c) => {
    const got = await creatorForm(c);
    if (got instanceof Response) return got;
    const { session, form } = got;
    const quoteId = text(form, 'quote');
    if (!signedInRecently(session, Date.now())) {
      // The quote may expire meanwhile; the creator gets a new price after the password.
      return c.redirect(stepUpUrl(PAYOUTS_PATH), 303);
    }
    try {
      const payout = await context.writer.run(requestPayoutOperation, { creatorId: session.user.id, quoteId, ...rules() });
      return c.redirect(`${PAYOUTS_PATH}?requested=${payout.id}#${payout.id}`, 303);
    } catch (error) {
      if (error instanceof ApiError && CASHOUT_PROBLEMS.has(error.code)) {
        const quote = await findPayoutQuote(db, session.user.id, quoteId);
        const message = quote ? error.message : 'That payout quote is not yours or does not exist; get a new price.';
        return render(c, session, { problemForm: 'cashout', problem: { message } }, error.status as 400);
      }
      throw error;
    }
  });
}
