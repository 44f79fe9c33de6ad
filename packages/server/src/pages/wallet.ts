import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { isId, MAX_PAGE_LIMIT, type ReceiptClaims, type WalletEntry } from '@diamonds/protocol';
import type { AppContext } from '../context.js';
import type { SqlClient } from '../db/types.js';
import { isApiError } from '../errors.js';
import { allowanceSpent, listConnections, type Connection } from '../identity/connections.js';
import type { Session } from '../identity/sessions.js';
import { findSite } from '../identity/sites.js';
import { findUser } from '../identity/users.js';
import { jwks, verifyReceiptWith } from '../money/receipts.js';
import { decideConfirmationOperation, findConfirmation, type ConfirmationRecord } from '../money/spends.js';
import { walletBalances, walletHistory } from '../money/wallet.js';
import { debtOf } from '../payments/disputes.js';
import { confirmationPath, formatDiamonds, formatTimeLeft } from './confirm.js';
import { copyButton, COPY_SCRIPT_PATH } from './copy.js';
import { checkSameOrigin, checkSessionToken } from './csrf.js';
import { readForm, type PagesEnv } from './forms.js';
import { csrfField, errorPage, page, type Html } from './layout.js';
import { HOSTED_CSP_WITH_OWN_SCRIPT } from './security-headers.js';
import { currentSession } from './session.js';

/*
 * The fan's wallet on the platform's own origin: what the sites' widgets show piecemeal, in one
 * place the fan trusts. Balances; the spends held for their approval, each with Approve (a link
 * to the confirmation page, so approving keeps that page's guard and step-up: no weaker path
 * here) and Release (the money writer's own decline, the same operation as the confirmation
 * page's Decline); the history, newest first, told in full (no site in view, unlike the API's
 * history for a site's page); the signed receipts of unlocks and orders; and the connected sites
 * with their allowances and a Disconnect that revokes the site's tokens (the account page's own
 * form, which this page posts to).
 */

/** Where the fan's wallet page lives. */
export const WALLET_PATH = '/wallet';

/** How many history entries a page of the wallet shows. */
const HISTORY_PAGE_SIZE = Math.min(25, MAX_PAGE_LIMIT);

/** Where the Release form of confirmation `id` posts. */
export function releasePath(id: string): string {
  return `${WALLET_PATH}/holds/${encodeURIComponent(id)}/release`;
}

/** Where the receipt of `subjectId` (`ct_…` for an unlock, `ord_…` for an order) is shown. */
export function receiptPath(subjectId: string): string {
  return `${WALLET_PATH}/receipts/${encodeURIComponent(subjectId)}`;
}

const dateTime = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  timeZone: 'UTC',
});

/** "4 Dec 2026, 13:42 UTC" in a `<time>`. */
function when(ms: number): Html {
  return html`<time datetime="${new Date(ms).toISOString()}">${dateTime.format(ms)} UTC</time>`;
}

/** A held spend as the wallet lists it, with the names the fan knows. */
interface HeldSpend {
  record: ConfirmationRecord;
  recipientName: string;
  siteName: string;
}

/** A connected site with what it spent of its allowance in the last 24 hours. */
interface SiteAllowance {
  connection: Connection;
  spentDiamonds: number;
}

/** What an entry of the history says beyond the API's entry: its state in words, and its receipt. */
interface HistoryLine {
  entry: WalletEntry;
  /** The entry's state, in words ("Declined: nothing was charged"). */
  state: string;
  /** The path of the entry's signed receipt, when it has one. */
  receipt: string | undefined;
}

/** Everything the wallet page shows. */
interface WalletView {
  session: Session;
  balances: Awaited<ReturnType<typeof walletBalances>>;
  /** Diamonds owed after a card dispute or refund of a top-up (see `payments/disputes.ts`). */
  debtDiamonds: number;
  held: HeldSpend[];
  history: HistoryLine[];
  /** The cursor of the next (older) page of history, if there is one. */
  olderCursor: string | null;
  /** Whether this is a later page of history (a link back to the newest). */
  paged: boolean;
  sites: SiteAllowance[];
  notice: string | undefined;
  now: number;
}

/** The fan's pending confirmations whose time is not up, newest first. */
async function pendingConfirmations(db: SqlClient, userId: string, now: number): Promise<ConfirmationRecord[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT id FROM confirmations WHERE user_id = ? AND status = 'pending' AND expires_at > ? ORDER BY id DESC LIMIT 100`,
    [userId, now],
  );
  const found = await Promise.all(rows.map((row) => findConfirmation(db, row.id, now)));
  return found.filter((record): record is ConfirmationRecord => record?.status === 'pending');
}

async function heldSpends(db: SqlClient, userId: string, now: number): Promise<HeldSpend[]> {
  const records = await pendingConfirmations(db, userId, now);
  return Promise.all(
    records.map(async (record) => {
      const [recipient, site] = await Promise.all([findUser(db, record.recipientId), findSite(db, record.siteId)]);
      return { record, recipientName: recipient?.displayName ?? 'a former member', siteName: site?.name ?? 'a site you no longer have' };
    }),
  );
}

/** `?` placeholders for a list of values. */
function placeholders(values: readonly unknown[]): string {
  return values.map(() => '?').join(', ');
}

/**
 * Why each voided reservation of the page was voided, by reservation id: the fan declined it
 * (here or on the confirmation page), it expired, or the ledger voided it for another reason.
 */
async function voidReasons(db: SqlClient, userId: string, reservationIds: readonly string[]): Promise<Map<string, string>> {
  if (reservationIds.length === 0) return new Map();
  const rows = await db.query<{ reservation_id: string; status: string }>(
    `SELECT reservation_id, status FROM confirmations WHERE user_id = ? AND reservation_id IN (${placeholders(reservationIds)})`,
    [userId, ...reservationIds],
  );
  return new Map(rows.map((row) => [row.reservation_id, row.status]));
}

/** The page's posted order payments that were refunded since, by transfer id. */
async function refundedOrders(db: SqlClient, userId: string, orderIds: readonly string[]): Promise<Set<string>> {
  if (orderIds.length === 0) return new Set();
  const rows = await db.query<{ transfer_id: string }>(
    `SELECT transfer_id FROM orders WHERE user_id = ? AND status = 'refunded' AND id IN (${placeholders(orderIds)})`,
    [userId, ...orderIds],
  );
  return new Set(rows.map((row) => row.transfer_id));
}

/** The transfers of the page that have a signed receipt (unlocks and orders), by transfer id → subject. */
async function receiptTransfers(db: SqlClient, userId: string, entries: readonly WalletEntry[]): Promise<Map<string, string>> {
  const subjects = (prefix: 'ct' | 'ord') =>
    entries.flatMap((entry) => (entry.subjectId !== null && isId(prefix, entry.subjectId) ? [entry.subjectId] : []));
  const contentIds = subjects('ct');
  const orderIds = subjects('ord');
  // Looked up by the subject (the unique fan+content key, the order's id), never by transfer id,
  // which neither table indexes.
  const [unlocks, orders] = await Promise.all([
    contentIds.length === 0
      ? []
      : db.query<{ transfer_id: string | null; subject: string }>(
          `SELECT transfer_id, content_id AS subject FROM entitlements WHERE user_id = ? AND receipt IS NOT NULL AND content_id IN (${placeholders(contentIds)})`,
          [userId, ...contentIds],
        ),
    orderIds.length === 0
      ? []
      : db.query<{ transfer_id: string | null; subject: string }>(
          `SELECT transfer_id, id AS subject FROM orders WHERE user_id = ? AND receipt IS NOT NULL AND id IN (${placeholders(orderIds)})`,
          [userId, ...orderIds],
        ),
  ]);
  return new Map([...unlocks, ...orders].flatMap((row) => (row.transfer_id === null ? [] : [[row.transfer_id, row.subject] as const])));
}

/** An entry's state, in words a fan understands. */
function stateInWords(entry: WalletEntry, voidStatus: string | undefined, refunded: boolean): string {
  if (entry.status === 'pending') return 'Waiting for your approval';
  if (entry.status === 'voided') {
    if (voidStatus === 'declined') return 'Declined: nothing was charged';
    if (voidStatus === 'expired') return 'Expired unapproved: nothing was charged';
    return 'Voided: nothing was charged';
  }
  if (refunded) return 'Refunded';
  return entry.direction === 'in' ? 'Received' : 'Paid';
}

/** One page of the fan's wallet history, each entry with its state in words and its receipt. */
async function historyPage(
  db: SqlClient,
  userId: string,
  cursor: string | undefined,
): Promise<{ lines: HistoryLine[]; olderCursor: string | null }> {
  const query = { limit: HISTORY_PAGE_SIZE, account: 'wallet' as const, ...(cursor === undefined ? {} : { cursor }) };
  const found = await walletHistory(db, userId, query);
  const entries = found.data;
  const orderIds = entries.flatMap((entry) =>
    entry.kind === 'order' && entry.status === 'posted' && entry.subjectId !== null ? [entry.subjectId] : [],
  );
  const [reasons, refunded, receipts] = await Promise.all([
    voidReasons(
      db,
      userId,
      entries.filter((entry) => entry.status === 'voided').map((entry) => entry.transferId),
    ),
    refundedOrders(db, userId, orderIds),
    receiptTransfers(db, userId, entries),
  ]);
  const lines = entries.map((entry): HistoryLine => {
    const subject = entry.status === 'posted' ? receipts.get(entry.transferId) : undefined;
    return {
      entry,
      state: stateInWords(entry, reasons.get(entry.transferId), refunded.has(entry.transferId)),
      receipt: subject === undefined ? undefined : receiptPath(subject),
    };
  });
  return { lines, olderCursor: found.nextCursor };
}

function balancesPart(view: WalletView): Html {
  const { balances } = view;
  return html`<h2 id="balance-title">Balance</h2>
    ${view.debtDiamonds > 0 ? html`<p id="debt" role="alert">You owe ${formatDiamonds(view.debtDiamonds)} after a card dispute or refund of a top-up: you can spend again once a top-up repays it.</p>` : ''}
    <dl aria-labelledby="balance-title">
      <dt>Available</dt>
      <dd><strong id="available">${formatDiamonds(balances.availableDiamonds)}</strong></dd>
      <dt>Held for your approval</dt>
      <dd id="held">${formatDiamonds(balances.heldDiamonds)}</dd>
      ${
        balances.earningsDiamonds > 0
          ? html`<dt>Your earnings as a creator</dt>
              <dd>${formatDiamonds(balances.earningsDiamonds)}</dd>`
          : ''
      }
    </dl>`;
}

function heldItem(held: HeldSpend, csrf: string, now: number): Html {
  const { record } = held;
  const amount = formatDiamonds(record.amount);
  return html`<li class="item">
    <h3>${amount} to ${held.recipientName}</h3>
    <p>${record.description}, on ${held.siteName}.</p>
    <p class="muted">
      Held since ${when(record.createdAt)}; released by itself ${formatTimeLeft(record.expiresAt - now)} if you do nothing.
    </p>
    <form method="post" action="${releasePath(record.id)}" class="row">
      ${csrfField(csrf)}
      <button type="submit" class="secondary">Release ${amount}</button>
      <a class="button" href="${confirmationPath(record.id)}">Review and approve ${amount}</a>
    </form>
  </li>`;
}

function heldPart(view: WalletView): Html {
  return html`<h2>Waiting for your approval</h2>
    ${
      view.held.length === 0
        ? html`<p class="muted">Nothing is waiting for your approval.</p>`
        : html`<p>
              Sites asked for these payments beyond the daily allowance you gave them. Release gives the Diamonds back to you at once;
              approving shows you the payment first.
            </p>
            <ul class="plain">
              ${view.held.map((held) => heldItem(held, view.session.csrfToken, view.now))}
            </ul>`
    }`;
}

function historyRow(line: HistoryLine): Html {
  const { entry } = line;
  const sign = entry.direction === 'in' ? '+' : '−';
  const receipt =
    line.receipt === undefined
      ? ''
      : html` · <a href="${line.receipt}">Receipt<span class="visually-hidden"> of ${entry.description}</span></a>`;
  return html`<tr>
    <td>${when(entry.createdAt)}</td>
    <td>${entry.description}<br /><span class="muted">${line.state}</span>${receipt}</td>
    <td class="num">${sign}${formatDiamonds(entry.amountDiamonds)}</td>
  </tr>`;
}

function historyPart(view: WalletView): Html {
  // Three columns that wrap on a phone, the state and the receipt under what the entry was:
  // nothing hides behind a sideways scroll.
  return html`<h2>History</h2>
    ${
      view.history.length === 0
        ? html`<p class="muted">${view.paged ? 'No older entries.' : 'Nothing yet: your top-ups and spends will show here.'}</p>`
        : html`<table class="compact">
            <caption>
              Your wallet’s history, newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col" class="num">Diamonds</th>
              </tr>
            </thead>
            <tbody>
              ${view.history.map((line) => historyRow(line))}
            </tbody>
          </table>`
    }
    ${pager(view)}`;
}

/** Links to the newest and to older entries, those that lead somewhere. */
function pager(view: WalletView): Html | string {
  const links = [
    ...(view.paged ? [html`<a href="${WALLET_PATH}">Newest entries</a>`] : []),
    ...(view.olderCursor === null ? [] : [html`<a href="${WALLET_PATH}?cursor=${encodeURIComponent(view.olderCursor)}">Older entries</a>`]),
  ];
  if (links.length === 0) return '';
  return html`<nav aria-label="History pages">
    <p>${links.map((link, i) => html`${i > 0 ? ' · ' : ''}${link}`)}</p>
  </nav>`;
}

function siteItem(allowance: SiteAllowance, csrf: string): Html {
  const { site, allowancePerDay } = allowance.connection;
  return html`<li class="item">
    <h3>${site.name}</h3>
    <p>Daily allowance: <strong>${formatDiamonds(allowancePerDay)}</strong> without asking.</p>
    <p>
      Spent from it in the last 24 hours: <strong>${formatDiamonds(allowance.spentDiamonds)}</strong> (payments you approved one by one are
      not counted).
    </p>
    <form method="post" action="/account/connections/${site.id}/disconnect" class="inline">
      ${csrfField(csrf)}
      <input type="hidden" name="next" value="${WALLET_PATH}?disconnected=${site.id}" />
      <button type="submit" class="secondary">Disconnect ${site.name}</button>
    </form>
    <a href="/account">Change the allowance of ${site.name}</a>
  </li>`;
}

function sitesPart(view: WalletView): Html {
  return html`<h2>Connected sites</h2>
    ${
      view.sites.length === 0
        ? html`<p class="muted">You have not connected any sites.</p>`
        : html`<p class="muted">
              Disconnecting a site signs you out of it at once: it can no longer read your wallet or spend your Diamonds.
            </p>
            <ul class="plain">
              ${view.sites.map((site) => siteItem(site, view.session.csrfToken))}
            </ul>`
    }`;
}

function walletPage(view: WalletView): Html {
  const { user } = view.session;
  return page(
    'Your wallet',
    html`<header class="top">
        <h1>Your wallet</h1>
        <a href="/account">Your account</a>
      </header>
      ${view.notice === undefined ? '' : html`<p class="notice" role="status">${view.notice}</p>`}
      <p class="muted">Signed in as <strong>${user.displayName}</strong> (${user.email}).</p>
      ${balancesPart(view)} ${heldPart(view)} ${historyPart(view)} ${sitesPart(view)}`,
  );
}

/** The notice a redirect back to the wallet asks for (`?released=cnf_…`, `?disconnected=site_…`), if it is true now. */
async function noticeOf(c: Context<PagesEnv>, db: SqlClient, userId: string, sites: readonly SiteAllowance[]): Promise<string | undefined> {
  const released = c.req.query('released');
  if (released !== undefined && isId('cnf', released)) {
    const record = await findConfirmation(db, released);
    if (record?.userId === userId && record.status === 'declined') {
      return `Released ${formatDiamonds(record.amount)}: nothing was charged, and the Diamonds are back in your wallet.`;
    }
  }
  const disconnected = c.req.query('disconnected');
  if (disconnected !== undefined && isId('site', disconnected) && !sites.some((s) => s.connection.site.id === disconnected)) {
    const site = await findSite(db, disconnected);
    if (site) return `Disconnected ${site.name}: it can no longer read your wallet or spend your Diamonds. To use it again, sign in on it.`;
  }
  return undefined;
}

/** The receipt of an unlock (`ct_…`) or an order (`ord_…`) the fan paid, as stored. */
async function findReceipt(db: SqlClient, userId: string, subjectId: string): Promise<{ jwt: string; title: string } | undefined> {
  if (isId('ct', subjectId)) {
    const [row] = await db.query<{ receipt: string | null; title: string }>(
      `SELECT e.receipt, c.title FROM entitlements e JOIN content c ON c.id = e.content_id WHERE e.user_id = ? AND e.content_id = ?`,
      [userId, subjectId],
    );
    return row?.receipt ? { jwt: row.receipt, title: `Unlock of “${row.title}”` } : undefined;
  }
  if (isId('ord', subjectId)) {
    const [row] = await db.query<{ receipt: string | null }>('SELECT receipt FROM orders WHERE id = ? AND user_id = ?', [
      subjectId,
      userId,
    ]);
    return row?.receipt ? { jwt: row.receipt, title: `Order ${subjectId}` } : undefined;
  }
  return undefined;
}

function receiptPage(title: string, jwt: string, claims: ReceiptClaims, siteName: string): Html {
  return page(
    'Receipt',
    html`<header class="top">
        <h1>Receipt</h1>
        <a href="${WALLET_PATH}">Your wallet</a>
      </header>
      <p>${title}</p>
      <dl>
        <dt>Paid</dt>
        <dd>${formatDiamonds(claims.amountDiamonds)}</dd>
        <dt>On the site</dt>
        <dd>${siteName}</dd>
        <dt>Issued</dt>
        <dd>${when(claims.iat * 1000)}</dd>
        <dt>Receipt id</dt>
        <dd><code>${claims.jti}</code></dd>
        <dt>Payment</dt>
        <dd>${claims.transferId === null ? 'None: unlocked by your support' : html`<code>${claims.transferId}</code>`}</dd>
        <dt>Signature</dt>
        <dd>Verified against the platform’s published keys (<a href="/.well-known/jwks.json">JWKS</a>)</dd>
      </dl>
      <div class="field">
        <label for="receipt-jwt">The signed receipt</label>
        <p class="muted" id="receipt-jwt-hint">A JSON Web Token the site’s backend can check offline.</p>
        <textarea id="receipt-jwt" class="snippet" rows="4" readonly aria-describedby="receipt-jwt-hint">${jwt}</textarea>
        ${copyButton('receipt-jwt', 'Copy the receipt')}
      </div>
      <script src="${COPY_SCRIPT_PATH}" defer></script>`,
  );
}

function holdNotFound(c: Context<PagesEnv>): Response | Promise<Response> {
  return c.html(
    errorPage(
      'Held spend not found',
      'There is no such held spend in your wallet. If you have more than one account, sign in with the other.',
    ),
    404,
  );
}

/** Adds the fan's wallet (`/wallet`), its Release forms and its receipts to the hosted pages. */
export function walletRoutes(pages: Hono<PagesEnv>, context: AppContext): void {
  const { db } = context;

  pages.get(WALLET_PATH, async (c) => {
    const session = await currentSession(c, db);
    if (!session) return c.redirect(`/signin?next=${encodeURIComponent(WALLET_PATH)}`, 303);
    const userId = session.user.id;
    const cursor = c.req.query('cursor');
    const now = Date.now();
    const [balances, debtDiamonds, held, history, connections] = await Promise.all([
      walletBalances(db, userId),
      debtOf(db, userId),
      heldSpends(db, userId, now),
      historyPage(db, userId, cursor),
      listConnections(db, userId),
    ]);
    const sites = await Promise.all(
      connections.map(async (connection) => ({ connection, spentDiamonds: await allowanceSpent(db, userId, connection.site.id, now) })),
    );
    const notice = await noticeOf(c, db, userId, sites);
    return c.html(
      walletPage({
        session,
        balances,
        debtDiamonds,
        held,
        history: history.lines,
        olderCursor: history.olderCursor,
        paged: cursor !== undefined,
        sites,
        notice,
        now,
      }),
    );
  });

  // Release = the confirmation's Decline, through the money writer: deciding twice the same way
  // answers the same, so a double submit or a retry releases once; an approval that got there
  // first wins, and this answers that it was approved.
  pages.post(`${WALLET_PATH}/holds/:id/release`, async (c) => {
    checkSameOrigin(c);
    const session = await currentSession(c, db);
    const read = await readForm(c);
    if (!session) return c.redirect(`/signin?next=${encodeURIComponent(WALLET_PATH)}`, 303);
    if (!read.ok) return c.html(errorPage('That did not work', `${read.error.message} Go back, reload the page and try again.`), 400);
    checkSessionToken(session, read.form.csrf);
    const id = c.req.param('id');
    if (!isId('cnf', id)) return holdNotFound(c);
    try {
      await context.writer.run(decideConfirmationOperation, { id, userId: session.user.id, approve: false });
    } catch (error) {
      if (isApiError(error, 'confirmation_not_found')) return holdNotFound(c);
      if (isApiError(error, 'confirmation_expired') || isApiError(error, 'reservation_expired')) {
        return c.html(errorPage('Already released', 'This spend expired unapproved, so nothing was charged. Go back to your wallet.'), 410);
      }
      if (isApiError(error, 'confirmation_decided')) {
        return c.html(
          errorPage('Already approved', 'You already approved this spend: the Diamonds were paid. Go back to your wallet.'),
          409,
        );
      }
      throw error;
    }
    return c.redirect(`${WALLET_PATH}?released=${encodeURIComponent(id)}`, 303);
  });

  pages.get(`${WALLET_PATH}/receipts/:subjectId`, async (c) => {
    const subjectId = c.req.param('subjectId');
    const session = await currentSession(c, db);
    if (!session) return c.redirect(`/signin?next=${encodeURIComponent(receiptPath(subjectId))}`, 303);
    const found = await findReceipt(db, session.user.id, subjectId);
    if (!found) return c.html(errorPage('Receipt not found', 'There is no such receipt in your wallet.'), 404);
    // Checked as a site's backend would, so the page never vouches for a receipt that does not verify.
    const claims = verifyReceiptWith(found.jwt, (await jwks(db)).keys);
    const site = await findSite(db, claims.aud);
    c.header('Content-Security-Policy', HOSTED_CSP_WITH_OWN_SCRIPT);
    return c.html(receiptPage(found.title, found.jwt, claims, site?.name ?? 'a site that no longer exists'));
  });
}
