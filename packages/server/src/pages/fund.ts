import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { AppContext } from '../context.js';
import { ApiError } from '../errors.js';
import { creatorFundReports, FUND_RULES, type FundPeriodReport } from '../fund/fund.js';
import type { PagesEnv } from './forms.js';
import { page, type Html } from './layout.js';
import { currentSession } from './session.js';

/** The creator's fund page: the running estimate of open periods, the breakdown of closed ones. */
export const FUND_PATH = '/dashboard/fund';

const number = new Intl.NumberFormat('en-US');

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function periodSection(report: FundPeriodReport): Html {
  const { period } = report;
  const line = report.lines[0];
  const lastDay = day(period.endsAt - 1);
  const title = report.estimate ? 'running estimate' : 'paid';
  const body = line
    ? html`<dl class="stats">
          <div>
            <dt>Distinct supporters</dt>
            <dd data-fund="supporters">${number.format(line.supporters)}</dd>
          </div>
          <div>
            <dt>Unlocks</dt>
            <dd data-fund="unlocks">${number.format(line.unlocks)}</dd>
          </div>
          <div>
            <dt>Gifts</dt>
            <dd data-fund="gifts">${number.format(line.gifts)}</dd>
          </div>
          <div>
            <dt>Points before the cap</dt>
            <dd data-fund="raw-points">${number.format(line.rawPoints)}</dd>
          </div>
          <div>
            <dt>Score</dt>
            <dd data-fund="score">${number.format(line.score)}</dd>
          </div>
          <div>
            <dt>${report.estimate ? 'Estimated share' : 'Paid to your earnings'}</dt>
            <dd data-fund="amount">${number.format(line.amountDiamonds)} Diamonds</dd>
          </div>
        </dl>
        <p class="muted">
          ${
            line.qualified
              ? html`Your score is ${number.format(line.score)} of ${number.format(report.totalScore)} points of every qualifying creator;
                the pool of ${number.format(period.poolDiamonds)} Diamonds is shared in proportion.`
              : html`You need at least ${FUND_RULES.minimumSupporters} distinct supporters in the period to qualify.`
          }
          ${report.estimate ? 'The estimate changes with every gift and unlock until the period closes.' : ''}
        </p>`
    : html`<p class="muted">No gift or unlock counted for you in this period yet.</p>`;
  return html`<section aria-labelledby="fund-${period.id}" data-period="${period.id}" data-state="${report.estimate ? 'estimate' : 'paid'}">
    <h2 id="fund-${period.id}">${day(period.startsAt)} to ${lastDay}: ${title}</h2>
    ${body}
  </section>`;
}

/** The fund page of `creatorId`. */
export function fundPage(displayName: string, reports: readonly FundPeriodReport[]): Html {
  const rules = FUND_RULES;
  return page(
    'Creator fund',
    html`<header class="top">
        <h1>Creator fund</h1>
        <a href="/dashboard">Earnings</a>
      </header>
      <p>Signed in as ${displayName}.</p>
      <p id="fund-formula">
        Each period, the platform shares a pool of Diamonds among creators by engagement. Each distinct fan who paid you in the period
        brings ${rules.supporterPoints} points, plus ${rules.unlockPoints} per unlock and ${rules.giftPoints} per gift, at most
        ${rules.capPerSupporter} points per fan. You qualify with at least ${rules.minimumSupporters} distinct fans. Your own spends, spends
        between accounts linked by a site (its owner and the creators it lists) and refunded spends do not count.
      </p>
      ${reports.length === 0 ? html`<p class="muted">No fund period has started yet.</p>` : reports.map(periodSection)}`,
  );
}

/** Registers {@link FUND_PATH}: a signed-in creator's estimate and breakdown. */
export function fundPages(pages: Hono<PagesEnv>, context: AppContext): void {
  const { db } = context;
  pages.get(FUND_PATH, async (c) => {
    const session = await currentSession(c, db);
    if (!session) return c.redirect(`/signin?next=${encodeURIComponent(FUND_PATH)}`, 303);
    if (!session.user.roles.includes('creator')) {
      throw new ApiError('permission_denied', 'The creator fund is for creators: create a creator account to receive gifts.');
    }
    const reports = await creatorFundReports(db, session.user.id, context.earnings.now());
    return c.html(fundPage(session.user.displayName, reports));
  });
}
