import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { formatMajorUnits, type Rate } from '@diamonds/protocol';
import type { AppContext } from '../context.js';
import type { Database } from '../db/types.js';
import { DAY_MS } from '../earnings/aggregates.js';
import { earningsCsvLines, parseDateRange, CSV_HEADER, MAX_CSV_DAYS } from '../earnings/csv.js';
import { dashboardData, type DashboardData, type DayEarnings, type ItemEarnings, type SourceTotals } from '../earnings/dashboard-data.js';
import { earningsSummary, type EarningsSummary } from '../earnings/summary.js';
import { ApiError } from '../errors.js';
import type { Session } from '../identity/sessions.js';
import { BASIS_POINTS } from '../ledger/allocate.js';
import { currentRates, payoutOf } from '../money/rates.js';
import type { PagesEnv } from './forms.js';
import { page, type Html } from './layout.js';
import { currentSession } from './session.js';

/** The dashboard's paths: `/account/earnings` shows the same page. */
export const DASHBOARD_PATHS = ['/dashboard', '/account/earnings'] as const;

/** The CSV export of earnings and payouts. */
export const EARNINGS_CSV_PATH = '/dashboard/earnings.csv';

/** The chart's windows, in days. */
const WINDOWS = [30, 90] as const;

const number = new Intl.NumberFormat('en-US');

const SOURCE_NAMES = { gift: 'Gifts', unlock: 'Unlocks', order: 'Orders' } as const;

function diamonds(amount: number): string {
  return `${number.format(amount)} ◆`;
}

function isoDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Diamonds in the creator's currency at the published payout rate: exact integers (minor
 * units, rounded down as a payout would be), formatted from the decimal string, never a float.
 */
function fiat(amount: number, rate: Rate | undefined): string {
  if (!rate) return '';
  const minor = payoutOf(Math.abs(amount), rate);
  const text = formatMajorUnits({ amountMinor: Number(minor), currency: rate.currency });
  const format = new Intl.NumberFormat('en-GB', { style: 'currency', currency: rate.currency });
  // Intl formats decimal strings exactly (ES2023); the lib typings only list numbers.
  const formatted = format.format(text as unknown as number);
  return amount < 0 ? `−${formatted}` : formatted;
}

function percent(bps: number): string {
  return `${number.format(bps / 100)}%`;
}

/** The signed-in creator, or the redirect to sign in; a fan is refused (403). */
async function creatorSession(c: Context<PagesEnv>, db: Database, path: string): Promise<Session | Response> {
  const session = await currentSession(c, db);
  if (!session) return c.redirect(`/signin?next=${encodeURIComponent(path)}`, 303);
  if (!session.user.roles.includes('creator')) {
    throw new ApiError('permission_denied', 'The earnings dashboard is for creators. Create a creator account to receive gifts.');
  }
  return session;
}

/** The stacked bar chart of daily net earnings, drawn on the server: readable without script. */
function chart(days: readonly DayEarnings[], windowDays: number): Html {
  const width = 720;
  const height = 240;
  const left = 48;
  const bottom = 24;
  const top = 12;
  const plotWidth = width - left - 8;
  const plotHeight = height - top - bottom;
  const totals = days.map((day) => Math.max(0, day.gift) + Math.max(0, day.unlock) + Math.max(0, day.order));
  const max = Math.max(1, ...totals);
  const slot = plotWidth / days.length;
  const barWidth = Math.max(1, slot * 0.8);
  const scale = (value: number) => (Math.max(0, value) / max) * plotHeight;
  const bars = days.map((day, i) => {
    const x = (left + i * slot + (slot - barWidth) / 2).toFixed(2);
    let y = top + plotHeight;
    const parts = (['gift', 'unlock', 'order'] as const).map((source) => {
      const h = scale(day[source]);
      if (h <= 0) return '';
      y -= h;
      return html`<rect class="bar-${source}" x="${x}" y="${y.toFixed(2)}" width="${barWidth.toFixed(2)}" height="${h.toFixed(2)}"></rect>`;
    });
    const total = totals[i] ?? 0;
    return html`<g>
      <title>
        ${isoDay(day.day)}: ${diamonds(total)} (gifts ${number.format(day.gift)}, unlocks ${number.format(day.unlock)}, orders
        ${number.format(day.order)})
      </title>
      ${parts}
    </g>`;
  });
  const sum = totals.reduce((a, b) => a + b, 0);
  const best = days[totals.indexOf(Math.max(...totals))];
  const drawing = html`<svg
    class="chart"
    viewBox="0 0 ${width} ${height}"
    role="img"
    aria-labelledby="chart-title chart-desc"
    xmlns="http://www.w3.org/2000/svg"
  >
    <title id="chart-title">Daily net earnings, last ${windowDays} days, gifts, unlocks and orders stacked</title>
    <desc id="chart-desc">
      ${diamonds(sum)} in ${windowDays}
      days${sum > 0 && best ? `; the best day was ${isoDay(best.day)} with ${diamonds(Math.max(...totals))}` : ''}. The table below lists
      every day.
    </desc>
    <line class="chart-axis" x1="${left}" y1="${top + plotHeight}" x2="${width - 8}" y2="${top + plotHeight}"></line>
    <line class="chart-axis" x1="${left}" y1="${top}" x2="${width - 8}" y2="${top}"></line>
    <text class="chart-label" x="${left - 6}" y="${top + 4}" text-anchor="end">${number.format(max)}</text>
    <text class="chart-label" x="${left - 6}" y="${top + plotHeight + 4}" text-anchor="end">0</text>
    <text class="chart-label" x="${left}" y="${height - 6}">${isoDay(days[0]?.day ?? 0)}</text>
    <text class="chart-label" x="${width - 8}" y="${height - 6}" text-anchor="end">${isoDay(days.at(-1)?.day ?? 0)}</text>
    ${bars}
  </svg>`;
  // Shown on a phone instead of the chart's labels, which the chart's scale makes too small there.
  const legend = html`<p class="chart-scale muted">
    ${isoDay(days[0]?.day ?? 0)} to ${isoDay(days.at(-1)?.day ?? 0)}; bars up to ${diamonds(max)} a day.
  </p>`;
  return html`${drawing}${legend}`;
}

function dailyTable(days: readonly DayEarnings[], windowDays: number): Html {
  return html`<div class="table-wrap" role="region" aria-labelledby="daily-caption" tabindex="0">
    <table>
      <caption id="daily-caption">
        Net earnings per day, last ${windowDays} days (Diamonds, after the fee)
      </caption>
      <thead>
        <tr>
          <th scope="col">Day</th>
          <th scope="col" class="num">Gifts</th>
          <th scope="col" class="num">Unlocks</th>
          <th scope="col" class="num">Orders</th>
          <th scope="col" class="num">Total</th>
        </tr>
      </thead>
      <tbody>
        ${[...days].reverse().map(
          (day) =>
            html`<tr>
              <th scope="row">${isoDay(day.day)}</th>
              <td class="num">${number.format(day.gift)}</td>
              <td class="num">${number.format(day.unlock)}</td>
              <td class="num">${number.format(day.order)}</td>
              <td class="num">${number.format(day.gift + day.unlock + day.order)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** A table row with the fee shown: count, gross, fee, net, net in the creator's currency. */
function moneyCells(totals: Pick<SourceTotals, 'gross' | 'net'> & { count: number }, rate: Rate | undefined): Html {
  return html`<td class="num">${number.format(totals.count)}</td>
    <td class="num">${diamonds(totals.gross)}</td>
    <td class="num">${diamonds(totals.gross - totals.net)}</td>
    <td class="num">${diamonds(totals.net)}</td>
    ${rate ? html`<td class="num">${fiat(totals.net, rate)}</td>` : ''}`;
}

function moneyHeads(first: string, countLabel: string, rate: Rate | undefined): Html {
  return html`<tr>
    <th scope="col">${first}</th>
    <th scope="col" class="num">${countLabel}</th>
    <th scope="col" class="num">Paid by fans</th>
    <th scope="col" class="num">Platform fee</th>
    <th scope="col" class="num">You receive</th>
    ${rate ? html`<th scope="col" class="num">In ${rate.currency}</th>` : ''}
  </tr>`;
}

/** A table of earnings per item (a piece of content, a product), or `empty` when there are none. */
function itemTable(
  id: string,
  caption: string,
  [itemLabel, countLabel]: [string, string],
  items: readonly ItemEarnings[],
  rate: Rate | undefined,
  empty: string,
): Html {
  if (items.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<div class="table-wrap" role="region" aria-labelledby="${id}-caption" tabindex="0">
    <table>
      <caption id="${id}-caption">
        ${caption}
      </caption>
      <thead>
        ${moneyHeads(itemLabel, countLabel, rate)}
      </thead>
      <tbody>
        ${items.map(
          (item) =>
            html`<tr>
              <th scope="row">${item.name}</th>
              ${moneyCells(item, rate)}
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function summaryPart(summary: EarningsSummary, rate: Rate | undefined): Html {
  const holdDays = Math.round(summary.holdMs / DAY_MS);
  const item = (label: string, amount: number, id: string) =>
    html`<div>
      <dt id="${id}">${label}</dt>
      <dd aria-labelledby="${id}">${diamonds(amount)}${rate ? html`<br /><span class="muted">${fiat(amount, rate)}</span>` : ''}</dd>
    </div>`;
  return html`<dl class="stats">
      ${item('Available', summary.availableDiamonds, 'stat-available')} ${item('Pending', summary.pendingDiamonds, 'stat-pending')}
      ${item('Total', summary.totalDiamonds, 'stat-total')}
    </dl>
    <p class="muted">
      Earnings stay <strong>pending</strong> for ${holdDays} day${holdDays === 1 ? '' : 's'} after each gift, unlock or order, while a fan
      can still be refunded or dispute a card payment; then they become <strong>available</strong> to cash out.
    </p>
    <p><a href="/account/payouts">Cash out available earnings</a></p>
    <p><a href="/dashboard/fund">Creator fund: your score and share</a></p>
    <p><a href="/dashboard/boosts">Boosts: promote a post or product</a></p>
    <p><a href="/account/collaborations">Collaborations and splits</a></p>`;
}

function currencyPicker(rates: readonly Rate[], rate: Rate | undefined, windowDays: number): Html | string {
  if (rates.length === 0) return '';
  return html`<form method="get" action="/dashboard" class="row">
      <input type="hidden" name="days" value="${windowDays}" />
      <div class="field">
        <label for="currency">Show amounts in</label>
        <select id="currency" name="currency">
          ${rates.map((r) => html`<option value="${r.currency}" ${r.currency === rate?.currency ? html` selected` : ''}>${r.currency}</option>`)}
        </select>
      </div>
      <button type="submit" class="secondary">Show</button>
    </form>
    ${
      rate
        ? html`<p class="muted">
            At the published payout rate: 1,000 Diamonds = ${fiat(1000, rate)}, in force since ${isoDate(rate.effectiveAt)}.
          </p>`
        : ''
    }`;
}

function dashboardPage(
  session: Session,
  data: DashboardData,
  summary: EarningsSummary,
  options: { windowDays: number; rates: readonly Rate[]; rate: Rate | undefined; feeBps: number; now: number },
): Html {
  const { windowDays, rate, feeBps } = options;
  const currencyQuery = rate ? `&currency=${rate.currency}` : '';
  const monthAgo = isoDate(options.now - 29 * DAY_MS);
  const today = isoDate(options.now);
  return page(
    'Earnings',
    html`<header class="top">
        <h1>Earnings</h1>
        <a href="/account">Your account</a>
      </header>
      <p>Signed in as ${session.user.displayName}.</p>
      <p id="fee-explained">
        Diamonds keeps ${percent(feeBps)} of what fans pay for every gift, unlock and order (the platform fee, which pays for payments,
        refunds and the service); you receive the other ${percent(BASIS_POINTS - feeBps)}. Every line below shows what fans paid, the fee
        and what you receive.
      </p>
      ${currencyPicker(options.rates, rate, windowDays)}
      <h2>Balance</h2>
      ${summaryPart(summary, rate)}

      <h2>Daily earnings</h2>
      <nav aria-label="Chart period">
        <ul class="legend">
          ${WINDOWS.map((days) =>
            days === windowDays
              ? html`<li>
                  <a href="/dashboard?days=${days}${currencyQuery}" aria-current="page"><strong>Last ${days} days</strong></a>
                </li>`
              : html`<li><a href="/dashboard?days=${days}${currencyQuery}">Last ${days} days</a></li>`,
          )}
        </ul>
      </nav>
      <ul class="legend" aria-label="Chart colours">
        ${(['gift', 'unlock', 'order'] as const).map((source) => html`<li><span class="swatch swatch-${source}" aria-hidden="true"></span>${SOURCE_NAMES[source]}</li>`)}
      </ul>
      ${chart(data.days, windowDays)} ${dailyTable(data.days, windowDays)}

      <h2>By source</h2>
      <div class="table-wrap" role="region" aria-labelledby="sources-caption" tabindex="0">
        <table>
          <caption id="sources-caption">
            Last ${windowDays} days, and since your first supporter
          </caption>
          <thead>
            ${moneyHeads('Source', 'Count', rate)}
          </thead>
          <tbody>
            ${(['gift', 'unlock', 'order'] as const).map(
              (source) =>
                html`<tr>
                  <th scope="row">${SOURCE_NAMES[source]}, last ${windowDays} days</th>
                  ${moneyCells(data.window[source], rate)}
                </tr>`,
            )}
            <tr>
              <th scope="row">All, last ${windowDays} days</th>
              ${moneyCells(data.window.all, rate)}
            </tr>
            <tr>
              <th scope="row">All, since the start</th>
              ${moneyCells(data.lifetime.all, rate)}
            </tr>
          </tbody>
        </table>
      </div>

      <h2>Supporters</h2>
      <p>${number.format(data.supporterCount)} fan${data.supporterCount === 1 ? '' : 's'} supported you.</p>
      ${
        data.topSupporters.length === 0
          ? html`<p class="muted">No supporters yet: share your page, and the first gift will show here.</p>`
          : html`<div class="table-wrap" role="region" aria-labelledby="supporters-caption" tabindex="0">
              <table>
                <caption id="supporters-caption">
                  Top supporters
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Fan</th>
                    <th scope="col" class="num">Supports</th>
                    <th scope="col" class="num">Paid by the fan</th>
                    <th scope="col" class="num">Platform fee</th>
                    <th scope="col" class="num">You receive</th>
                    <th scope="col">First support</th>
                    <th scope="col">Last support</th>
                  </tr>
                </thead>
                <tbody>
                  ${data.topSupporters.map(
                    (s) =>
                      html`<tr>
                        <th scope="row">${s.displayName}</th>
                        <td class="num">${number.format(s.count)}</td>
                        <td class="num">${diamonds(s.gross)}</td>
                        <td class="num">${diamonds(s.gross - s.net)}</td>
                        <td class="num">${diamonds(s.net)}</td>
                        <td>${isoDate(s.firstAt)}</td>
                        <td>${isoDate(s.lastAt)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }
      <h3>Latest gift messages</h3>
      ${
        data.messages.length === 0
          ? html`<p class="muted">No messages yet.</p>`
          : html`<ul class="plain">
              ${data.messages.map(
                (m) =>
                  html`<li class="item">
                    <blockquote>${m.message}</blockquote>
                    <p class="muted">${m.displayName}, ${diamonds(m.amount)}, ${isoDate(m.createdAt)}</p>
                  </li>`,
              )}
            </ul>`
      }

      <h2>Unlocks per piece of content</h2>
      ${itemTable('content', 'Unlocks per piece of content, since the start', ['Content', 'Unlocks'], data.content, rate, 'No unlocks yet.')}

      <h2>Sales per product</h2>
      ${itemTable('products', 'Sales per product, since the start (refunds deducted)', ['Product', 'Units'], data.products, rate, 'No sales yet.')}

      <h2>Export</h2>
      <p>
        A CSV file of every movement of your earnings in a date range (UTC), at most ${MAX_CSV_DAYS} days: gifts, unlocks, orders, refunds
        and payouts, with the fee. Its lines add up to your balance's movement.
      </p>
      <form method="get" action="${EARNINGS_CSV_PATH}" class="row">
        <div class="field">
          <label for="csv-from">From</label><input id="csv-from" name="from" type="date" required value="${monthAgo}" />
        </div>
        <div class="field"><label for="csv-to">To</label><input id="csv-to" name="to" type="date" required value="${today}" /></div>
        <button type="submit">Download CSV</button>
      </form>`,
  );
}

/**
 * The creator's dashboard (`/dashboard`, also `/account/earnings`) and the CSV export
 * (`/dashboard/earnings.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`), for a creator signed in on the
 * platform; a fan is refused (403), a visitor sent to sign in.
 *
 * @remarks Everything shown comes from the aggregates kept by the outbox consumer and, for
 * pending and available, from the ledger (`earningsSummary`): a few index reads, whatever the
 * number of gifts. Amounts in the creator's currency use the published payout rate
 * (`?currency=`, USD by default), in exact minor units.
 */
export function dashboardRoutes(pages: Hono<PagesEnv>, context: AppContext, options: { now?: () => number; holdMs?: number } = {}): void {
  const { db } = context;
  const now = options.now ?? context.earnings.now;
  const holdMs = options.holdMs ?? context.earnings.holdMs;
  for (const path of DASHBOARD_PATHS) {
    pages.get(path, async (c) => {
      const session = await creatorSession(c, db, path);
      if (session instanceof Response) return session;
      const at = now();
      const asked = Number(c.req.query('days'));
      const windowDays = (WINDOWS as readonly number[]).includes(asked) ? asked : 30;
      const rates = await currentRates(db, at);
      const wanted = (c.req.query('currency') ?? 'USD').toUpperCase();
      const rate = rates.find((r) => r.currency === wanted) ?? rates.find((r) => r.currency === 'USD') ?? rates[0];
      const [data, summary] = await Promise.all([
        dashboardData(db, session.user.id, { now: at, windowDays }),
        earningsSummary(db, session.user.id, at, holdMs),
      ]);
      return c.html(dashboardPage(session, data, summary, { windowDays, rates, rate, feeBps: context.settings.platformFeeBps, now: at }));
    });
  }

  pages.get(EARNINGS_CSV_PATH, async (c) => {
    const session = await creatorSession(c, db, '/dashboard');
    if (session instanceof Response) return session;
    const range = parseDateRange(c.req.query('from'), c.req.query('to'));
    const lines = earningsCsvLines(db, session.user.id, range);
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(CSV_HEADER));
      },
      async pull(controller) {
        try {
          const next = await lines.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(next.value));
        } catch (error) {
          controller.error(error);
        }
      },
      async cancel() {
        await lines.return(undefined);
      },
    });
    return c.body(body, 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="earnings-${range.from}-to-${range.to}.csv"`,
    });
  });
}
