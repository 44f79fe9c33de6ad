import {
  formatMajorUnits,
  isId,
  type CurrencyCode,
  type FiatMoney,
  type PaymentProviderName,
  type TopUp,
  type TopUpStatus,
} from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { appendEvent } from '../events/outbox.js';
import { ApiError, isApiError } from '../errors.js';
import { hitRateLimit, type RateLimitVerdict } from '../identity/rate-limit.js';
import type { Ledger } from '../ledger/ledger.js';
import { redeemQuote } from '../money/quotes.js';
import type { StoredResponse } from '../money/idempotency.js';
import { moneyOperation, type MoneyFeature } from '../money/operations.js';
import { creditShare, recordPaymentRefs, reverseTopUp, topUpByRefs } from './disputes.js';
import type { StartedPayment, TestCardOutcome } from './provider.js';
import type { PaymentReport } from './stripe.js';

/*
 * Top-ups: a fan buys Diamonds at the price of one quote. The top-up is written when the fan
 * starts it (`requires_payment`); the provider reports the outcome (the test provider's hosted
 * page, or Stripe's webhook) and `creditTopUp` credits the wallet exactly once: the quote
 * redeemed, the ledger transfer (code `purchase`, from the platform's issuance account) and the
 * status change commit together or not at all, and the transfer's idempotency key is the
 * top-up's id, so even a bug that credited twice would replay instead.
 */

/** Top-ups a fan may start per {@link TOPUP_WINDOW_MS}. */
export const TOPUP_LIMIT_PER_FAN = 10;
/** Top-ups one client IP may start per {@link TOPUP_WINDOW_MS} (several fans may share an IP). */
export const TOPUP_LIMIT_PER_IP = 30;
/** Failed card attempts (declined, failed authentication, invalid number) a fan may make per window. */
export const CARD_FAILURE_LIMIT_PER_FAN = 5;
/** Failed card attempts one client IP may make per window. */
export const CARD_FAILURE_LIMIT_PER_IP = 20;
/** The window of every top-up rate limit: one hour. */
export const TOPUP_WINDOW_MS = 60 * 60 * 1000;

/** A top-up as stored; {@link presentTopUp} makes the wire view. */
export interface TopUpRecord {
  id: string;
  userId: string;
  siteId: string;
  quoteId: string;
  provider: PaymentProviderName;
  diamonds: number;
  price: FiatMoney;
  status: TopUpStatus;
  failureCode: string | null;
  paymentUrl: string | null;
  providerRef: string | null;
  transferId: string | null;
  createdAt: number;
  updatedAt: number;
  /** When the quote's price lapses: the test provider refuses to charge from then on. */
  quoteExpiresAt: number;
}

interface TopUpRow {
  id: string;
  user_id: string;
  site_id: string;
  quote_id: string;
  provider: string;
  diamonds: number | string;
  currency: string;
  amount_minor: number | string;
  status: string;
  failure_code: string | null;
  payment_url: string | null;
  provider_ref: string | null;
  transfer_id: string | null;
  created_at: number | string;
  updated_at: number | string;
  quote_expires_at: number | string;
}

function toRecord(row: TopUpRow): TopUpRecord {
  return {
    id: row.id,
    userId: row.user_id,
    siteId: row.site_id,
    quoteId: row.quote_id,
    provider: row.provider as PaymentProviderName,
    diamonds: Number(row.diamonds),
    price: { amountMinor: Number(row.amount_minor), currency: row.currency as CurrencyCode },
    status: row.status as TopUpStatus,
    failureCode: row.failure_code,
    paymentUrl: row.payment_url,
    providerRef: row.provider_ref,
    transferId: row.transfer_id,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    quoteExpiresAt: Number(row.quote_expires_at),
  };
}

const number = new Intl.NumberFormat('en-US');

/**
 * A price for people, with an unambiguous symbol: "US$6.50", "€11.99", "¥1,980".
 *
 * @remarks Formatted from the exact decimal string (never through a float), in the en-GB
 * locale, which writes the dollar as "US$".
 */
export function formatPrice(price: FiatMoney): string {
  const format = new Intl.NumberFormat('en-GB', { style: 'currency', currency: price.currency });
  // Intl formats decimal strings exactly (ES2023); the lib typings only list numbers.
  return format.format(formatMajorUnits(price) as unknown as number);
}

/** What a top-up buys, for a provider's page: "500 Diamonds". */
export function productName(diamonds: number): string {
  return `${number.format(diamonds)} Diamond${diamonds === 1 ? '' : 's'}`;
}

/** The wallet history's words for a top-up: "Top-up: 500 Diamonds (US$6.50)". */
export function topUpDescription(diamonds: number, price: FiatMoney): string {
  return `Top-up: ${productName(diamonds)} (${formatPrice(price)})`;
}

/** Whether a test-provider top-up can no longer be paid because its quote lapsed. */
function lapsed(record: TopUpRecord, now: number): boolean {
  return (
    record.provider === 'test' &&
    (record.status === 'requires_payment' || record.status === 'requires_action') &&
    record.quoteExpiresAt <= now
  );
}

/**
 * The wire view of a top-up. A test-provider top-up whose quote lapsed before it was paid
 * reads `failed` (`quote_expired`) at once, even before anyone tried to pay it.
 */
export function presentTopUp(record: TopUpRecord, now = Date.now()): TopUp {
  const expired = lapsed(record, now);
  const status: TopUpStatus = expired ? 'failed' : record.status;
  const open = status === 'requires_payment' || status === 'requires_action';
  return {
    object: 'topup',
    id: record.id as TopUp['id'],
    status,
    provider: record.provider,
    diamonds: record.diamonds,
    price: record.price,
    quoteId: record.quoteId as TopUp['quoteId'],
    paymentUrl: open ? record.paymentUrl : null,
    failureCode: expired ? 'quote_expired' : record.failureCode,
    transferId: record.transferId as TopUp['transferId'],
    createdAt: record.createdAt,
  };
}

/** A top-up by id (with its quote's expiry), locked for update on PostgreSQL when `lock`. */
export async function findTopUp(db: SqlClient, id: string, lock = false): Promise<TopUpRecord | undefined> {
  if (!isId('tu', id)) return undefined;
  const forUpdate = lock && db.kind === 'postgres' ? ' FOR UPDATE OF t' : '';
  const [row] = await db.query<TopUpRow>(
    `SELECT t.*, q.expires_at AS quote_expires_at FROM topups t JOIN quotes q ON q.id = t.quote_id WHERE t.id = ?${forUpdate}`,
    [id],
  );
  return row ? toRecord(row) : undefined;
}

/**
 * The fan's own top-up.
 *
 * @throws {@link ApiError} `payment_not_found` when there is none, or it is another fan's.
 */
export async function findOwnTopUp(db: SqlClient, id: string, userId: string, lock = false): Promise<TopUpRecord> {
  const record = await findTopUp(db, id, lock);
  if (!record || record.userId !== userId) {
    throw new ApiError('payment_not_found', `No top-up ${JSON.stringify(id.slice(0, 40))} for this fan.`, { param: 'id' });
  }
  return record;
}

/** A quote that may pay for a new top-up. */
export interface PayableQuote {
  id: string;
  diamonds: number;
  /** The quote's total: what the fan pays. */
  total: FiatMoney;
  expiresAt: number;
}

/**
 * Checks that a quote can pay for a new top-up: it exists, has not expired, and neither a
 * purchase nor another top-up has used it.
 *
 * @throws {@link ApiError} `quote_not_found`, `quote_expired`, `quote_used` (with `param: 'quoteId'`).
 */
export async function payableQuote(db: SqlClient, quoteId: string, now = Date.now()): Promise<PayableQuote> {
  const [row] = isId('qt', quoteId)
    ? await db.query<{
        diamonds: number | string;
        currency: string;
        amount_minor: number | string;
        fee_minor: number | string;
        expires_at: number | string;
        used_at: number | string | null;
        topup_id: string | null;
      }>(
        `SELECT q.diamonds, q.currency, q.amount_minor, q.fee_minor, q.expires_at, q.used_at, t.id AS topup_id
         FROM quotes q LEFT JOIN topups t ON t.quote_id = q.id WHERE q.id = ?`,
        [quoteId],
      )
    : [];
  if (!row) throw new ApiError('quote_not_found', `No quote ${quoteId}: create one with POST /v1/quotes.`, { param: 'quoteId' });
  if (row.used_at !== null || row.topup_id !== null) {
    throw new ApiError('quote_used', `Quote ${quoteId} already pays for a top-up; get a new quote.`, { param: 'quoteId' });
  }
  const expiresAt = Number(row.expires_at);
  if (expiresAt <= now) {
    throw new ApiError('quote_expired', `Quote ${quoteId} expired; get a new quote for the current price.`, { param: 'quoteId' });
  }
  return {
    id: quoteId,
    diamonds: Number(row.diamonds),
    total: { amountMinor: Number(row.amount_minor) + Number(row.fee_minor), currency: row.currency as CurrencyCode },
    expiresAt,
  };
}

/** What {@link createTopUp} writes. */
export interface NewTopUp {
  id: string;
  userId: string;
  siteId: string;
  quoteId: string;
  provider: PaymentProviderName;
  payment: StartedPayment;
}

/**
 * Writes a new top-up, `requires_payment`, for an unexpired, unused quote (checked again here,
 * inside the transaction: of two top-ups racing for one quote, the UNIQUE quote decides).
 *
 * @throws {@link ApiError} `quote_not_found`, `quote_expired`, `quote_used`.
 */
export async function createTopUp(tx: SqlClient, input: NewTopUp, now = Date.now()): Promise<TopUpRecord> {
  const quote = await payableQuote(tx, input.quoteId, now);
  const inserted = await tx.run(
    `INSERT INTO topups (id, user_id, site_id, quote_id, provider, diamonds, currency, amount_minor, status, failure_code,
       payment_url, provider_ref, transfer_id, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'requires_payment', NULL, ?, ?, NULL, ?, ?)
     ON CONFLICT (quote_id) DO NOTHING`,
    [
      input.id,
      input.userId,
      input.siteId,
      quote.id,
      input.provider,
      quote.diamonds,
      quote.total.currency,
      quote.total.amountMinor,
      input.payment.paymentUrl,
      input.payment.providerRef,
      now,
      now,
    ],
  );
  if (inserted === 0) {
    throw new ApiError('quote_used', `Quote ${quote.id} already pays for a top-up; get a new quote.`, { param: 'quoteId' });
  }
  return {
    id: input.id,
    userId: input.userId,
    siteId: input.siteId,
    quoteId: quote.id,
    provider: input.provider,
    diamonds: quote.diamonds,
    price: quote.total,
    status: 'requires_payment',
    failureCode: null,
    paymentUrl: input.payment.paymentUrl,
    providerRef: input.payment.providerRef,
    transferId: null,
    createdAt: now,
    updatedAt: now,
    quoteExpiresAt: quote.expiresAt,
  };
}

/** Options of {@link creditTopUp}. */
export interface CreditOptions {
  /**
   * The instant the quote is redeemed as of. The test provider charges now, so a lapsed quote
   * is refused; Stripe charged the price the quote locked when the session was made, so its
   * webhook redeems as of the top-up's creation (a late webhook still credits what was paid).
   */
  quoteAsOf: number;
  now?: number;
}

/**
 * Credits a paid top-up's Diamonds to the fan's wallet, exactly once, inside `tx`: redeems the
 * quote, moves the Diamonds from the platform's issuance account (transfer code `purchase`),
 * and marks the top-up `succeeded`. Crediting a top-up that already succeeded changes nothing.
 *
 * @remarks A Stripe top-up may succeed after an earlier attempt failed (the fan retried on
 * Checkout); a test-provider top-up that failed stays failed.
 * @throws {@link ApiError} `payment_not_found`; `quote_expired` when the quote lapsed (then
 * nothing is written: mark the top-up failed in a new transaction).
 */
export async function creditTopUp(tx: SqlClient, ledger: Ledger, id: string, options: CreditOptions): Promise<TopUpRecord> {
  const now = options.now ?? Date.now();
  const record = await findTopUp(tx, id, true);
  if (!record) throw new ApiError('payment_not_found', `No top-up ${id}.`);
  if (record.status === 'succeeded') return record;
  if (record.status === 'failed' && record.provider !== 'stripe') {
    throw new ApiError('payment_failed', `Top-up ${id} failed (${record.failureCode ?? 'unknown'}); start a new one.`);
  }
  await redeemQuote(tx, record.quoteId, options.quoteAsOf);
  // A fan in debt after a dispute repays it first; only the rest reaches the wallet.
  const share = await creditShare(tx, ledger, record.userId, record.diamonds);
  const { transfer } = await ledger.transferIn(tx, {
    idempotencyKey: `topup:${record.id}`,
    code: 'purchase',
    postings: share.postings,
    metadata: {
      ...(share.repaidDiamonds > 0 ? { repaidDebt: share.repaidDiamonds } : {}),
      description: topUpDescription(record.diamonds, record.price),
      topupId: record.id,
      quoteId: record.quoteId,
      provider: record.provider,
      siteId: record.siteId,
      priceMinor: record.price.amountMinor,
      currency: record.price.currency,
    },
  });
  await tx.run(
    `UPDATE topups SET status = 'succeeded', failure_code = NULL, transfer_id = ?, updated_at = ? WHERE id = ? AND status <> 'succeeded'`,
    [transfer.id, now, record.id],
  );
  // A fan's private event: no site ever reads it.
  await appendEvent(
    tx,
    {
      type: 'topup.succeeded',
      siteId: null,
      creatorId: null,
      fanId: record.userId,
      data: { topUpId: record.id as `tu_${string}`, amountDiamonds: record.diamonds, transferId: transfer.id },
    },
    now,
  );
  return { ...record, status: 'succeeded', failureCode: null, transferId: transfer.id, updatedAt: now };
}

/**
 * Marks an unpaid top-up failed with `failureCode`; nothing is credited. A top-up that already
 * succeeded stays succeeded (a late failure report of an earlier attempt changes nothing).
 */
export async function failTopUp(tx: SqlClient, id: string, failureCode: string, now = Date.now()): Promise<void> {
  const before = await findTopUp(tx, id, true);
  const changed = await tx.run(
    `UPDATE topups SET status = 'failed', failure_code = ?, updated_at = ? WHERE id = ? AND status <> 'succeeded'`,
    [failureCode, now, id],
  );
  // `topup.failed` once, when it becomes failed (a fan's private event: no site reads it).
  if (changed > 0 && before && before.status !== 'failed') {
    await appendEvent(
      tx,
      {
        type: 'topup.failed',
        siteId: null,
        creatorId: null,
        fanId: before.userId,
        data: { topUpId: before.id as `tu_${string}`, amountDiamonds: before.diamonds, failureCode },
      },
      now,
    );
  }
}

/** Marks a test-provider top-up as waiting for the card's extra authentication step. */
export async function requireAction(tx: SqlClient, id: string, now = Date.now()): Promise<void> {
  await tx.run(`UPDATE topups SET status = 'requires_action', updated_at = ? WHERE id = ? AND status = 'requires_payment'`, [now, id]);
}

/**
 * Charges a test-provider top-up: credits it, or, when its quote lapsed meanwhile, marks it
 * failed (`quote_expired`) and credits nothing. Call inside a transaction.
 *
 * @returns The top-up after the attempt.
 */
export async function completeTestPayment(tx: SqlClient, ledger: Ledger, id: string, now = Date.now()): Promise<TopUpRecord> {
  await tx.run('SAVEPOINT topup_credit');
  try {
    const credited = await creditTopUp(tx, ledger, id, { quoteAsOf: now, now });
    await tx.run('RELEASE SAVEPOINT topup_credit');
    return credited;
  } catch (error) {
    await tx.run('ROLLBACK TO SAVEPOINT topup_credit');
    await tx.run('RELEASE SAVEPOINT topup_credit');
    if (!isApiError(error, 'quote_expired')) throw error;
    await failTopUp(tx, id, 'quote_expired', now);
    const record = await findTopUp(tx, id);
    if (!record) throw error;
    return record;
  }
}

/** What a test card did to a top-up (see {@link payWithTestCard}). */
export type TestCardResult = 'succeeded' | 'declined' | 'requires_action' | 'quote_expired' | 'not_payable';

/**
 * Pays a test-provider top-up with a test card's outcome, inside `tx`: `succeeds` credits it,
 * `declines` fails it (`card_declined`), `requires_action` waits for the authentication step,
 * `disputes` (Stripe's dispute card) credits it and then takes it back as a card dispute would.
 * Only a top-up still `requires_payment` is charged; anything else answers `not_payable` and
 * changes nothing (a second submit of the form never charges twice).
 */
export async function payWithTestCard(
  tx: SqlClient,
  ledger: Ledger,
  id: string,
  outcome: TestCardOutcome | 'disputes',
  now = Date.now(),
): Promise<TestCardResult> {
  const record = await findTopUp(tx, id, true);
  if (!record || record.provider !== 'test' || record.status !== 'requires_payment') return 'not_payable';
  if (lapsed(record, now)) {
    await failTopUp(tx, id, 'quote_expired', now);
    return 'quote_expired';
  }
  if (outcome === 'declines') {
    await failTopUp(tx, id, 'card_declined', now);
    return 'declined';
  }
  if (outcome === 'requires_action') {
    await requireAction(tx, id, now);
    return 'requires_action';
  }
  const after = await completeTestPayment(tx, ledger, id, now);
  if (after.status !== 'succeeded') return 'quote_expired';
  if (outcome === 'disputes') await reverseTopUp(tx, ledger, { topUpId: id, reason: 'dispute', source: 'test', now });
  return 'succeeded';
}

/**
 * Finishes the authentication step of a test-provider top-up, inside `tx`: `complete` credits
 * it, otherwise it fails (`authentication_failed`). Only a top-up that `requires_action` moves.
 */
export async function authenticateTestPayment(
  tx: SqlClient,
  ledger: Ledger,
  id: string,
  complete: boolean,
  now = Date.now(),
): Promise<TestCardResult> {
  const record = await findTopUp(tx, id, true);
  if (!record || record.provider !== 'test' || record.status !== 'requires_action') return 'not_payable';
  if (lapsed(record, now)) {
    await failTopUp(tx, id, 'quote_expired', now);
    return 'quote_expired';
  }
  if (!complete) {
    await failTopUp(tx, id, 'authentication_failed', now);
    return 'declined';
  }
  const after = await completeTestPayment(tx, ledger, id, now);
  return after.status === 'succeeded' ? 'succeeded' : 'quote_expired';
}

/** What a provider event did. */
export type ReportOutcome = 'credited' | 'failed' | 'reversed' | 'duplicate' | 'ignored';

/**
 * Applies what a provider reported about a top-up, once per provider event id, inside `tx`.
 *
 * @remarks The event id is inserted first; its primary key makes a second delivery of the same
 * event (concurrent or later, from any process) a `duplicate` that moves nothing. An event
 * about an unknown top-up is recorded and `ignored`.
 * @throws {@link ApiError} `payment_amount_mismatch` when the amount or currency paid differs
 * from the top-up's price: nothing is credited nor recorded, so the provider delivers it again
 * while someone looks.
 */
export async function applyPaymentReport(
  tx: SqlClient,
  ledger: Ledger,
  event: { provider: PaymentProviderName; id: string; type: string },
  report: PaymentReport,
  now = Date.now(),
  holdMs?: number,
): Promise<ReportOutcome> {
  const topUpId = report.kind === 'ignored' ? null : report.topUpId;
  const claimed = await tx.run(
    `INSERT INTO payment_events (provider, event_id, type, topup_id, outcome, received_at) VALUES (?, ?, ?, ?, 'received', ?)
     ON CONFLICT (provider, event_id) DO NOTHING`,
    [event.provider, event.id, event.type, topUpId, now],
  );
  if (claimed === 0) return 'duplicate';
  const outcome = await applyReport(tx, ledger, event, report, now, holdMs);
  await tx.run('UPDATE payment_events SET outcome = ? WHERE provider = ? AND event_id = ?', [outcome, event.provider, event.id]);
  return outcome;
}

async function applyReport(
  tx: SqlClient,
  ledger: Ledger,
  event: { provider: PaymentProviderName; id: string; type: string },
  report: PaymentReport,
  now: number,
  holdMs: number | undefined,
): Promise<ReportOutcome> {
  if (report.kind === 'ignored') return 'ignored';
  if (report.kind === 'reversed') return applyReversal(tx, ledger, event, report, now, holdMs);
  const record = await findTopUp(tx, report.topUpId, true);
  if (!record || record.provider !== event.provider) {
    console.warn(`[payments] ${event.provider} event ${event.id} (${event.type}) names unknown top-up ${report.topUpId}: ignored`);
    return 'ignored';
  }
  if (report.kind === 'failed') {
    if (record.status === 'succeeded') return 'ignored';
    await failTopUp(tx, record.id, report.failureCode, now);
    return 'failed';
  }
  if (report.amountMinor !== record.price.amountMinor || report.currency !== record.price.currency) {
    console.error(
      `[payments] ${event.provider} event ${event.id} paid ${report.amountMinor} ${report.currency} for top-up ${record.id}, ` +
        `priced ${record.price.amountMinor} ${record.price.currency}: nothing credited`,
    );
    throw new ApiError(
      'payment_amount_mismatch',
      `The payment (${report.amountMinor} ${report.currency}) does not match top-up ${record.id} (${record.price.amountMinor} ${record.price.currency}); nothing was credited.`,
    );
  }
  // Stripe's ids of the payment: a dispute names only them.
  if (report.refs && report.refs.length > 0) await recordPaymentRefs(tx, event.provider, record.id, report.refs);
  if (record.status === 'succeeded') return 'ignored';
  await creditTopUp(tx, ledger, record.id, { quoteAsOf: record.createdAt, now });
  return 'credited';
}

/**
 * A dispute or a full refund reported by the provider takes the top-up's Diamonds back (see
 * `disputes.ts`). A top-up that is unknown, never credited or already taken back is recorded
 * and `ignored`: nothing moves, and the provider stops redelivering.
 */
async function applyReversal(
  tx: SqlClient,
  ledger: Ledger,
  event: { provider: PaymentProviderName; id: string; type: string },
  report: Extract<PaymentReport, { kind: 'reversed' }>,
  now: number,
  holdMs: number | undefined,
): Promise<ReportOutcome> {
  const topUpId = report.topUpId ?? (await topUpByRefs(tx, event.provider, report.refs));
  const record = topUpId === undefined ? undefined : await findTopUp(tx, topUpId, true);
  if (!record || record.provider !== event.provider) {
    console.warn(`[payments] ${event.provider} event ${event.id} (${event.type}) names no known top-up: ignored`);
    return 'ignored';
  }
  await tx.run('UPDATE payment_events SET topup_id = ? WHERE provider = ? AND event_id = ?', [record.id, event.provider, event.id]);
  await tx.run('SAVEPOINT topup_reversal');
  try {
    await reverseTopUp(tx, ledger, {
      topUpId: record.id,
      reason: report.reason,
      source: event.provider,
      providerEventId: event.id,
      now,
      holdMs,
    });
    await tx.run('RELEASE SAVEPOINT topup_reversal');
    return 'reversed';
  } catch (error) {
    await tx.run('ROLLBACK TO SAVEPOINT topup_reversal');
    await tx.run('RELEASE SAVEPOINT topup_reversal');
    if (isApiError(error, 'topup_not_credited') || isApiError(error, 'topup_already_reversed')) {
      console.warn(`[payments] ${event.provider} event ${event.id} (${event.type}): ${(error as ApiError).message}`);
      return 'ignored';
    }
    throw error;
  }
}

/** How many hits a rate-limit bucket holds in its current window (without counting one). */
export async function rateLimitHits(db: SqlClient, bucket: string, windowMs: number, now = Date.now()): Promise<RateLimitVerdict> {
  const windowStart = now - (now % windowMs);
  const [row] = await db.query<{ window_start: number | string; hits: number | string }>(
    'SELECT window_start, hits FROM rate_limits WHERE bucket = ?',
    [bucket],
  );
  const hits = row && Number(row.window_start) === windowStart ? Number(row.hits) : 0;
  return { allowed: true, hits, retryAfterMs: windowStart + windowMs - now };
}

/** The rate-limit buckets of a fan and of a client IP. */
function buckets(kind: 'start' | 'card-failure', userId: string, ip: string): { fan: string; ip: string } {
  return { fan: `topup:${kind}:fan:${userId}`, ip: `topup:${kind}:ip:${ip}` };
}

/** The `rate_limited` error for the slowest of refused verdicts, with the seconds to wait. */
export class TopUpRateLimited extends ApiError {
  /** Seconds until the caller may try again: the `Retry-After` value. */
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterMs: number) {
    super('rate_limited', message);
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  }
}

function minutes(ms: number): string {
  const n = Math.max(1, Math.ceil(ms / 60_000));
  return `${n} minute${n === 1 ? '' : 's'}`;
}

/** Refuses when the fan or the IP has had too many failed card attempts this window. */
async function checkCardFailures(db: SqlClient, userId: string, ip: string, now: number): Promise<void> {
  const names = buckets('card-failure', userId, ip);
  const byFan = await rateLimitHits(db, names.fan, TOPUP_WINDOW_MS, now);
  const byIp = await rateLimitHits(db, names.ip, TOPUP_WINDOW_MS, now);
  if (byFan.hits >= CARD_FAILURE_LIMIT_PER_FAN || byIp.hits >= CARD_FAILURE_LIMIT_PER_IP) {
    const wait = Math.max(byFan.retryAfterMs, byIp.retryAfterMs);
    throw new TopUpRateLimited(`Too many failed card attempts. Try again in ${minutes(wait)}.`, wait);
  }
}

/**
 * Counts a top-up start against the fan's and the IP's limits ({@link TOPUP_LIMIT_PER_FAN},
 * {@link TOPUP_LIMIT_PER_IP} an hour), and refuses a fan or IP with too many failed cards.
 *
 * @throws {@link TopUpRateLimited} (`rate_limited`).
 */
export async function limitTopUpStart(db: SqlClient, userId: string, ip: string, now = Date.now()): Promise<void> {
  await checkCardFailures(db, userId, ip, now);
  const names = buckets('start', userId, ip);
  const byFan = await hitRateLimit(db, names.fan, TOPUP_LIMIT_PER_FAN, TOPUP_WINDOW_MS, now);
  const byIp = await hitRateLimit(db, names.ip, TOPUP_LIMIT_PER_IP, TOPUP_WINDOW_MS, now);
  const refused = [byFan, byIp].filter((verdict) => !verdict.allowed);
  if (refused.length > 0) {
    const wait = Math.max(...refused.map((verdict) => verdict.retryAfterMs));
    throw new TopUpRateLimited(`Too many top-ups started. Try again in ${minutes(wait)}.`, wait);
  }
}

/**
 * Refuses a card attempt when the fan or the IP already failed too often this window.
 *
 * @throws {@link TopUpRateLimited} (`rate_limited`).
 */
export function limitCardAttempt(db: SqlClient, userId: string, ip: string, now = Date.now()): Promise<void> {
  return checkCardFailures(db, userId, ip, now);
}

/** Counts a failed card attempt (declined, failed authentication, invalid number) for the fan and the IP. */
export async function countCardFailure(db: SqlClient, userId: string, ip: string, now = Date.now()): Promise<void> {
  const names = buckets('card-failure', userId, ip);
  await hitRateLimit(db, names.fan, CARD_FAILURE_LIMIT_PER_FAN, TOPUP_WINDOW_MS, now);
  await hitRateLimit(db, names.ip, CARD_FAILURE_LIMIT_PER_IP, TOPUP_WINDOW_MS, now);
}

/**
 * What `POST /v1/topups` asks the money writer: the new top-up, its payment already started
 * with the provider (outside the transaction); `null` when an earlier request with the same key
 * was found in progress, so the payment was not started again.
 */
export interface CreateTopUpInput {
  topUp: NewTopUp | null;
}

/** A fan starts a top-up (`POST /v1/topups`): 201 with where to pay. */
export const createTopUpOperation = moneyOperation(
  'topups.create',
  async (tx, _money, input: CreateTopUpInput): Promise<StoredResponse<TopUp>> => {
    if (!input.topUp) {
      // The earlier request with this key was rolled back after we looked: the caller retries.
      throw new ApiError('idempotency_request_in_progress', 'A request with this Idempotency-Key was still in progress; retry shortly.');
    }
    return { status: 201, body: presentTopUp(await createTopUp(tx, input.topUp)) };
  },
);

/** The test provider's card page pays a top-up with a test card's outcome. */
export const payWithTestCardOperation = moneyOperation(
  'topups.payWithTestCard',
  (tx, money, input: { id: string; outcome: TestCardOutcome | 'disputes' }) => payWithTestCard(tx, money.ledger, input.id, input.outcome),
);

/** The test provider's authentication step completes or fails a top-up. */
export const authenticateTestPaymentOperation = moneyOperation(
  'topups.authenticateTestPayment',
  (tx, money, input: { id: string; complete: boolean }) => authenticateTestPayment(tx, money.ledger, input.id, input.complete),
);

/**
 * A provider's verified report (Stripe's webhook) credits, fails or takes back a top-up, once
 * per event (`holdMs`: the earnings hold, which says what a reversal may take back).
 */
export const applyPaymentReportOperation = moneyOperation(
  'topups.applyPaymentReport',
  (tx, money, input: { event: { provider: PaymentProviderName; id: string; type: string }; report: PaymentReport; holdMs?: number }) =>
    applyPaymentReport(tx, money.ledger, input.event, input.report, Date.now(), input.holdMs),
);

/** Top-ups' part in the money path: starting one, and every way it is credited or fails. */
export const topUpsMoney: MoneyFeature = {
  name: 'topups',
  operations: [createTopUpOperation, payWithTestCardOperation, authenticateTestPaymentOperation, applyPaymentReportOperation],
};
