import {
  CurrencyCode,
  formatMajorUnits,
  isId,
  newId,
  type FiatMoney,
  type Payout,
  type PayoutProviderName,
  type PayoutQuote,
  type PayoutStatus,
} from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { earningsSummary } from '../earnings/summary.js';
import { ApiError } from '../errors.js';
import { appendEvent } from '../events/outbox.js';
import { isEmailVerified } from '../identity/email-verification.js';
import type { Ledger } from '../ledger/ledger.js';
import { moneyOperation, type MoneyFeature } from '../money/operations.js';
import { currentRate, payoutOf } from '../money/rates.js';
import type { PayoutFailure, TestPayoutBehaviour } from './provider.js';

/** How long a payout quote holds its rate while the creator confirms: 10 minutes. */
export const PAYOUT_QUOTE_TTL_MS = 10 * 60 * 1000;

/** The smallest payout when the operator sets none: 1,000 Diamonds. */
export const DEFAULT_PAYOUT_MINIMUM_DIAMONDS = 1_000;

/**
 * The smallest payout, in Diamonds: `DIAMONDS_PAYOUT_MINIMUM` (a whole number from 1) or
 * {@link DEFAULT_PAYOUT_MINIMUM_DIAMONDS}.
 *
 * @throws Error when the variable is set to anything else (a typo must not allow dust payouts).
 */
export function payoutMinimumDiamonds(env: Record<string, string | undefined> = process.env): number {
  const text = env.DIAMONDS_PAYOUT_MINIMUM?.trim();
  if (!text) return DEFAULT_PAYOUT_MINIMUM_DIAMONDS;
  if (!/^[1-9]\d{0,8}$/.test(text)) {
    throw new Error(`DIAMONDS_PAYOUT_MINIMUM must be a whole number of Diamonds from 1, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** A creator's way to be paid, as stored. */
export interface PayoutMethod {
  creatorId: string;
  provider: PayoutProviderName;
  testBehaviour: TestPayoutBehaviour | null;
  /** The creator's account at the provider (Stripe `acct_…`); `null` for the test provider. */
  accountRef: string | null;
  /** `ready` once the provider lets payouts go (verification done, Stripe's `payouts_enabled`). */
  status: 'pending' | 'ready';
  currency: CurrencyCode;
  /** Whether the weekly automatic payout is on. */
  automatic: boolean;
}

interface MethodRow {
  creator_id: string;
  provider: string;
  test_behaviour: string | null;
  account_ref: string | null;
  status: string;
  currency: string;
  automatic: number | string | boolean;
}

function toMethod(row: MethodRow): PayoutMethod {
  return {
    creatorId: row.creator_id,
    provider: row.provider as PayoutProviderName,
    testBehaviour: row.test_behaviour as TestPayoutBehaviour | null,
    accountRef: row.account_ref,
    status: row.status as PayoutMethod['status'],
    currency: row.currency as CurrencyCode,
    automatic: Number(row.automatic) === 1,
  };
}

const METHOD_COLUMNS = 'creator_id, provider, test_behaviour, account_ref, status, currency, automatic';

/** The creator's payout method, or `undefined`; `lock` takes its row on PostgreSQL (serialising the creator's payouts). */
export async function findPayoutMethod(db: SqlClient, creatorId: string, lock = false): Promise<PayoutMethod | undefined> {
  const forUpdate = lock && db.kind === 'postgres' ? ' FOR UPDATE' : '';
  const rows = await db.query<MethodRow>(`SELECT ${METHOD_COLUMNS} FROM payout_methods WHERE creator_id = ?${forUpdate}`, [creatorId]);
  return rows[0] ? toMethod(rows[0]) : undefined;
}

/** The payout method whose provider account is `accountRef` (a Stripe `acct_…`), or `undefined`. */
export async function findPayoutMethodByAccount(db: SqlClient, accountRef: string): Promise<PayoutMethod | undefined> {
  const rows = await db.query<MethodRow>(`SELECT ${METHOD_COLUMNS} FROM payout_methods WHERE account_ref = ?`, [accountRef]);
  return rows[0] ? toMethod(rows[0]) : undefined;
}

interface PayoutRow {
  id: string;
  creator_id: string;
  quote_id: string | null;
  diamonds: number | string;
  currency: string;
  amount_minor: number | string;
  provider: string;
  account_ref: string | null;
  test_behaviour: string | null;
  status: string;
  automatic_week: string | null;
  provider_ref: string | null;
  submitted_at: number | string | null;
  submit_attempts: number | string;
  next_submit_at: number | string | null;
  last_error: string | null;
  failure_code: string | null;
  failure_message: string | null;
  transfer_id: string;
  created_at: number | string;
  settled_at: number | string | null;
}

/** A payout as stored, with what the processor needs besides what the creator sees. */
export interface PayoutRecord {
  payout: Payout;
  creatorId: string;
  quoteId: string | null;
  accountRef: string | null;
  testBehaviour: TestPayoutBehaviour | null;
  providerRef: string | null;
  /** When the provider accepted it; `null` while it still has to be submitted. */
  submittedAt: number | null;
  submitAttempts: number;
  /** The last submission error (the provider could not be reached), for the operator. */
  lastError: string | null;
}

const PAYOUT_COLUMNS =
  'id, creator_id, quote_id, diamonds, currency, amount_minor, provider, account_ref, test_behaviour, status, automatic_week, provider_ref, ' +
  'submitted_at, submit_attempts, next_submit_at, last_error, failure_code, failure_message, transfer_id, created_at, settled_at';

function toRecord(row: PayoutRow): PayoutRecord {
  const currency = row.currency as CurrencyCode;
  return {
    payout: {
      object: 'payout',
      id: row.id as Payout['id'],
      status: row.status as PayoutStatus,
      diamonds: Number(row.diamonds),
      amount: { amountMinor: Number(row.amount_minor), currency },
      provider: row.provider as PayoutProviderName,
      automatic: row.automatic_week !== null,
      failure: row.failure_code ? { code: row.failure_code, message: row.failure_message ?? '' } : null,
      transferId: row.transfer_id as Payout['transferId'],
      createdAt: Number(row.created_at),
      settledAt: row.settled_at === null ? null : Number(row.settled_at),
    },
    creatorId: row.creator_id,
    quoteId: row.quote_id,
    accountRef: row.account_ref,
    testBehaviour: row.test_behaviour as TestPayoutBehaviour | null,
    providerRef: row.provider_ref,
    submittedAt: row.submitted_at === null ? null : Number(row.submitted_at),
    submitAttempts: Number(row.submit_attempts),
    lastError: row.last_error,
  };
}

/** A payout by id, or `undefined`; `lock` takes its row on PostgreSQL. */
export async function findPayout(db: SqlClient, payoutId: string, lock = false): Promise<PayoutRecord | undefined> {
  if (!isId('po', payoutId)) return undefined;
  const forUpdate = lock && db.kind === 'postgres' ? ' FOR UPDATE' : '';
  const rows = await db.query<PayoutRow>(`SELECT ${PAYOUT_COLUMNS} FROM payouts WHERE id = ?${forUpdate}`, [payoutId]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

/** The payout the provider knows as `providerRef`, or `undefined`. */
export async function findPayoutByProviderRef(
  db: SqlClient,
  provider: PayoutProviderName,
  providerRef: string,
): Promise<PayoutRecord | undefined> {
  const rows = await db.query<PayoutRow>(`SELECT ${PAYOUT_COLUMNS} FROM payouts WHERE provider = ? AND provider_ref = ?`, [
    provider,
    providerRef,
  ]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

/** Options of {@link listPayouts}. */
export interface PayoutListOptions {
  /** Only this creator's. */
  creatorId?: string | undefined;
  status?: PayoutStatus | undefined;
  /** Payouts made before this one (its id), for the next page. */
  before?: string | undefined;
  /** @defaultValue 20 */
  limit?: number | undefined;
}

/** Payouts, newest first, a page at a time (keyset on the id). */
export async function listPayouts(db: SqlClient, options: PayoutListOptions = {}): Promise<PayoutRecord[]> {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (options.creatorId) {
    where.push('creator_id = ?');
    params.push(options.creatorId);
  }
  if (options.status) {
    where.push('status = ?');
    params.push(options.status);
  }
  if (options.before) {
    where.push('id < ?');
    params.push(options.before);
  }
  const limit = Math.min(Math.max(options.limit ?? 20, 1), 100);
  const rows = await db.query<PayoutRow>(
    `SELECT ${PAYOUT_COLUMNS} FROM payouts${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
    [...params, limit],
  );
  return rows.map(toRecord);
}

/** The creator's payout in flight, or `undefined`. */
export async function payoutInFlight(db: SqlClient, creatorId: string): Promise<PayoutRecord | undefined> {
  const rows = await db.query<PayoutRow>(`SELECT ${PAYOUT_COLUMNS} FROM payouts WHERE creator_id = ? AND status = 'in_transit'`, [
    creatorId,
  ]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

interface QuoteRow {
  id: string;
  creator_id: string;
  diamonds: number | string;
  currency: string;
  amount_minor: number | string;
  rate_effective_at: number | string;
  expires_at: number | string;
  used_at: number | string | null;
}

function toQuote(row: QuoteRow): PayoutQuote {
  return {
    object: 'payout_quote',
    id: row.id as PayoutQuote['id'],
    diamonds: Number(row.diamonds),
    amount: { amountMinor: Number(row.amount_minor), currency: row.currency as CurrencyCode },
    rateEffectiveAt: Number(row.rate_effective_at),
    expiresAt: Number(row.expires_at),
  };
}

/** The creator's payout quote, or `undefined` (another creator's is not theirs to see). */
export async function findPayoutQuote(db: SqlClient, creatorId: string, quoteId: string): Promise<PayoutQuote | undefined> {
  if (!isId('pq', quoteId)) return undefined;
  const rows = await db.query<QuoteRow>('SELECT * FROM payout_quotes WHERE id = ? AND creator_id = ?', [quoteId, creatorId]);
  return rows[0] ? toQuote(rows[0]) : undefined;
}

/** What the payout checks need to know besides the request: the clock, the hold, the minimum. */
export interface PayoutRules {
  now: number;
  holdMs: number;
  minimumDiamonds: number;
}

/**
 * Refuses a payout the creator may not make now, in the order a creator would fix things:
 * a verified email, a ready method, nothing in flight, at least the minimum, no more than what
 * is available.
 *
 * @throws {@link ApiError} `email_unverified`, `payout_method_not_ready`, `payout_in_progress`,
 * `payout_below_minimum`, `insufficient_available_earnings`.
 */
export async function checkPayoutAllowed(tx: SqlClient, creatorId: string, diamonds: number, rules: PayoutRules): Promise<PayoutMethod> {
  if (!(await isEmailVerified(tx, creatorId))) {
    throw new ApiError(
      'email_unverified',
      'Verify your email address before your first payout: open the link we sent you, or send a new one from your account page.',
    );
  }
  const method = await findPayoutMethod(tx, creatorId, true);
  if (!method || method.status !== 'ready') {
    throw new ApiError(
      'payout_method_not_ready',
      method
        ? 'Your payout account is not ready yet: finish its verification on the payouts page.'
        : 'Add a payout account on the payouts page before cashing out.',
    );
  }
  const inFlight = await payoutInFlight(tx, creatorId);
  if (inFlight) {
    throw new ApiError(
      'payout_in_progress',
      `Payout ${inFlight.payout.id} is still on its way; you can cash out again once it is paid or has failed.`,
    );
  }
  if (!Number.isSafeInteger(diamonds) || diamonds < rules.minimumDiamonds) {
    throw new ApiError('payout_below_minimum', `The smallest payout is ${rules.minimumDiamonds} Diamonds.`, { param: 'diamonds' });
  }
  const summary = await earningsSummary(tx, creatorId, rules.now, rules.holdMs);
  if (diamonds > summary.availableDiamonds) {
    throw new ApiError(
      'insufficient_available_earnings',
      `You asked for ${diamonds} Diamonds but ${summary.availableDiamonds} are available (${summary.pendingDiamonds} are still pending).`,
      { param: 'diamonds' },
    );
  }
  return method;
}

/** Input of {@link setPayoutMethodOperation}. */
export interface SetPayoutMethodInput {
  creatorId: string;
  provider: PayoutProviderName;
  testBehaviour: TestPayoutBehaviour | null;
  accountRef: string | null;
  /** Ready at once (a test account that pays or fails), or pending the provider's verification. */
  status: 'pending' | 'ready';
  currency: CurrencyCode;
  now: number;
}

/**
 * Sets (or replaces) a creator's payout method. Not while a payout is in flight: it names the
 * account that payout is going to.
 *
 * @throws {@link ApiError} `payout_in_progress`, `invalid_currency`.
 */
export const setPayoutMethodOperation = moneyOperation<SetPayoutMethodInput, PayoutMethod>(
  'payouts.setMethod',
  async (tx, _money, input) => {
    if (!CurrencyCode.safeParse(input.currency).success) {
      throw new ApiError('invalid_currency', `Unsupported currency ${JSON.stringify(input.currency)}.`, { param: 'currency' });
    }
    const existing = await findPayoutMethod(tx, input.creatorId, true);
    const inFlight = await payoutInFlight(tx, input.creatorId);
    if (inFlight) throw new ApiError('payout_in_progress', 'Your payout account cannot change while a payout is on its way to it.');
    await tx.run(
      `INSERT INTO payout_methods (creator_id, provider, test_behaviour, account_ref, status, currency, automatic, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (creator_id) DO UPDATE SET provider = excluded.provider, test_behaviour = excluded.test_behaviour,
       account_ref = excluded.account_ref, status = excluded.status, currency = excluded.currency, updated_at = excluded.updated_at`,
      [
        input.creatorId,
        input.provider,
        input.testBehaviour,
        input.accountRef,
        input.status,
        input.currency,
        existing?.automatic ? 1 : 0,
        input.now,
        input.now,
      ],
    );
    const method = await findPayoutMethod(tx, input.creatorId);
    if (!method) throw new Error('payout method vanished after insert');
    return method;
  },
);

/** Input of {@link updatePayoutMethodOperation}: what changes, for the creator or the provider's account. */
export interface UpdatePayoutMethodInput {
  creatorId?: string;
  /** Finds the method by its provider account instead (Stripe's `account.updated`). */
  accountRef?: string;
  status?: 'pending' | 'ready';
  automatic?: boolean;
  currency?: CurrencyCode;
  now: number;
}

/**
 * Changes a payout method's readiness (verification done, Stripe's `payouts_enabled`), its
 * weekly automatic payout or its currency; `undefined` when there is no such method.
 */
export const updatePayoutMethodOperation = moneyOperation<UpdatePayoutMethodInput, PayoutMethod | undefined>(
  'payouts.updateMethod',
  async (tx, _money, input) => {
    const method = input.creatorId
      ? await findPayoutMethod(tx, input.creatorId, true)
      : input.accountRef
        ? await findPayoutMethodByAccount(tx, input.accountRef)
        : undefined;
    if (!method) return undefined;
    if (input.currency !== undefined && !CurrencyCode.safeParse(input.currency).success) {
      throw new ApiError('invalid_currency', `Unsupported currency ${JSON.stringify(input.currency)}.`, { param: 'currency' });
    }
    await tx.run('UPDATE payout_methods SET status = ?, automatic = ?, currency = ?, updated_at = ? WHERE creator_id = ?', [
      input.status ?? method.status,
      (input.automatic ?? method.automatic) ? 1 : 0,
      input.currency ?? method.currency,
      input.now,
      method.creatorId,
    ]);
    return findPayoutMethod(tx, method.creatorId);
  },
);

/** Input of {@link quotePayoutOperation}. */
export interface QuotePayoutInput extends PayoutRules {
  creatorId: string;
  diamonds: number;
}

/**
 * Locks the payout rate in force for `diamonds` of the creator's available earnings, in their
 * method's currency, for {@link PAYOUT_QUOTE_TTL_MS}, after the same checks a payout makes (so
 * the creator learns what is wrong before confirming).
 *
 * @throws {@link ApiError} as {@link checkPayoutAllowed}, and `rate_unavailable`.
 */
export const quotePayoutOperation = moneyOperation<QuotePayoutInput, PayoutQuote>('payouts.quote', async (tx, _money, input) => {
  const method = await checkPayoutAllowed(tx, input.creatorId, input.diamonds, input);
  const rate = await currentRate(tx, method.currency, input.now);
  const amountMinor = payoutOf(input.diamonds, rate);
  const quote: PayoutQuote = {
    object: 'payout_quote',
    id: newId('pq', input.now),
    diamonds: input.diamonds,
    amount: { amountMinor: Number(amountMinor), currency: method.currency },
    rateEffectiveAt: rate.effectiveAt,
    expiresAt: input.now + PAYOUT_QUOTE_TTL_MS,
  };
  await tx.run(
    `INSERT INTO payout_quotes (id, creator_id, diamonds, currency, amount_minor, rate_effective_at, created_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [quote.id, input.creatorId, quote.diamonds, method.currency, quote.amount.amountMinor, rate.effectiveAt, input.now, quote.expiresAt],
  );
  return quote;
});

/** Input of {@link requestPayoutOperation}. */
export interface RequestPayoutInput extends PayoutRules {
  creatorId: string;
  quoteId: string;
}

/** The platform accounts of a payout, locked with the creator's earnings in the ledger's one global order (PostgreSQL). */
async function lockPayoutAccounts(
  tx: SqlClient,
  ledger: Ledger,
  creatorId: string,
): Promise<{ earnings: string; inTransit: string; paidOut: string }> {
  const earnings = await ledger.accountId({ ownerId: creatorId, kind: 'earnings' }, tx);
  const inTransit = await ledger.accountId({ ownerId: null, kind: 'payouts_in_transit' }, tx);
  const paidOut = await ledger.accountId({ ownerId: null, kind: 'payouts' }, tx);
  if (tx.kind === 'postgres') {
    // The earnings are read (what is available) before they move: lock them first, with the
    // other accounts the transfer touches, in the order every transfer locks accounts.
    const ids = [earnings, inTransit].sort();
    await tx.query(`SELECT id FROM accounts WHERE id IN (?, ?) ORDER BY id FOR UPDATE`, ids);
  }
  return { earnings, inTransit, paidOut };
}

function describePayout(diamonds: number, amount: FiatMoney): string {
  return `Payout of ${diamonds} Diamonds (${formatMajorUnits(amount)} ${amount.currency})`;
}

async function createPayout(
  tx: SqlClient,
  ledger: Ledger,
  params: {
    creatorId: string;
    quote: PayoutQuote;
    quoteId: string | null;
    method: PayoutMethod;
    automaticWeek: string | null;
    now: number;
  },
): Promise<PayoutRecord> {
  const { creatorId, quote, method, now } = params;
  const payoutId = newId('po', now);
  const accounts = await lockPayoutAccounts(tx, ledger, creatorId);
  const { transfer } = await ledger.transferIn(
    tx,
    {
      idempotencyKey: `payout:${payoutId}`,
      code: 'payout',
      postings: [
        { accountId: accounts.earnings, amountDiamonds: -quote.diamonds },
        { accountId: accounts.inTransit, amountDiamonds: quote.diamonds },
      ],
      metadata: { payoutId, creatorId, description: describePayout(quote.diamonds, quote.amount) },
    },
    { fresh: true },
  );
  await tx.run(
    `INSERT INTO payouts (id, creator_id, quote_id, diamonds, currency, amount_minor, provider, account_ref, test_behaviour, status,
       automatic_week, submit_attempts, next_submit_at, transfer_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'in_transit', ?, 0, ?, ?, ?)`,
    [
      payoutId,
      creatorId,
      params.quoteId,
      quote.diamonds,
      quote.amount.currency,
      quote.amount.amountMinor,
      method.provider,
      method.accountRef,
      method.testBehaviour,
      params.automaticWeek,
      now,
      transfer.id,
      now,
    ],
  );
  const record = await findPayout(tx, payoutId);
  if (!record) throw new Error('payout vanished after insert');
  await appendEvent(tx, payoutEvent('payout.created', record), now);
  return record;
}

function payoutEvent(type: 'payout.created' | 'payout.paid' | 'payout.failed', record: PayoutRecord) {
  const { payout } = record;
  return {
    type,
    siteId: null,
    creatorId: record.creatorId,
    fanId: null,
    data: { payoutId: payout.id, status: payout.status, diamonds: payout.diamonds, amount: payout.amount, failure: payout.failure },
  } as const;
}

/**
 * Makes the payout a creator confirmed: their quote's Diamonds move from earnings to the
 * platform's `payouts_in_transit` account, the quote is used, and `payout.created` is
 * appended, in one transaction; the provider is asked afterwards (see `PayoutProcessor`).
 *
 * @remarks Idempotent on the quote: confirming the same quote again (a double click, a retry
 * after a lost answer) returns the payout it made. Of concurrent requests by one creator,
 * one makes a payout and the others get `payout_in_progress`: the creator's method row is
 * locked on PostgreSQL (the writer thread runs one at a time on SQLite), and a unique index
 * allows one payout in flight per creator whatever happens.
 * @throws {@link ApiError} `quote_not_found`, `quote_expired`, `quote_used`, and those of
 * {@link checkPayoutAllowed}.
 */
export const requestPayoutOperation = moneyOperation<RequestPayoutInput, Payout>('payouts.request', async (tx, money, input) => {
  const lock = tx.kind === 'postgres' ? ' FOR UPDATE' : '';
  const [row] = isId('pq', input.quoteId)
    ? await tx.query<QuoteRow>(`SELECT * FROM payout_quotes WHERE id = ? AND creator_id = ?${lock}`, [input.quoteId, input.creatorId])
    : [];
  if (!row) throw new ApiError('quote_not_found', 'No such payout quote: start the payout again.', { param: 'quote' });
  if (row.used_at !== null) {
    const [made] = await tx.query<PayoutRow>(`SELECT ${PAYOUT_COLUMNS} FROM payouts WHERE quote_id = ?`, [row.id]);
    if (made) return toRecord(made).payout;
    throw new ApiError('quote_used', 'This payout quote was already used; start the payout again.', { param: 'quote' });
  }
  if (Number(row.expires_at) <= input.now) {
    throw new ApiError(
      'quote_expired',
      'The payout quote expired (they hold the rate for 10 minutes); start the payout again for the current rate.',
      {
        param: 'quote',
      },
    );
  }
  const quote = toQuote(row);
  const method = await checkPayoutAllowed(tx, input.creatorId, quote.diamonds, input);
  if (method.currency !== quote.amount.currency) {
    throw new ApiError('quote_expired', 'Your payout currency changed since this quote; start the payout again.', { param: 'quote' });
  }
  await tx.run('UPDATE payout_quotes SET used_at = ? WHERE id = ?', [input.now, row.id]);
  const record = await createPayout(tx, money.ledger, {
    creatorId: input.creatorId,
    quote,
    quoteId: row.id,
    method,
    automaticWeek: null,
    now: input.now,
  });
  return record.payout;
});

/** The ISO week of `ms` (`2026-W49`): the weekly automatic payout's key. */
export function isoWeek(ms: number): string {
  const date = new Date(ms);
  // The week belongs to the year of its Thursday.
  const weekday = date.getUTCDay() || 7;
  const thursday = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 4 - weekday);
  const year = new Date(thursday).getUTCFullYear();
  const week = Math.ceil(((thursday - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** Input of {@link automaticPayoutsOperation}. */
export interface AutomaticPayoutsInput extends PayoutRules {
  /** Creators looked at in one run. @defaultValue 100 */
  limit?: number;
}

/**
 * The weekly automatic payouts: for each creator who turned them on and has no automatic
 * payout this ISO week, pays out everything available, when that is at least the minimum and
 * nothing else is in flight. Creators who cannot be paid now (unverified, method not ready,
 * too little) are skipped silently and looked at again next run.
 *
 * @remarks Idempotent per creator and week: a unique index on (creator, week) means two
 * runs, or two processes, make one payout.
 */
export const automaticPayoutsOperation = moneyOperation<AutomaticPayoutsInput, { created: string[] }>(
  'payouts.automatic',
  async (tx, money, input) => {
    const week = isoWeek(input.now);
    const creators = await tx.query<{ creator_id: string }>(
      `SELECT m.creator_id FROM payout_methods m
       WHERE m.automatic = 1 AND m.status = 'ready'
         AND NOT EXISTS (SELECT 1 FROM payouts p WHERE p.creator_id = m.creator_id AND (p.automatic_week = ? OR p.status = 'in_transit'))
       ORDER BY m.creator_id LIMIT ?`,
      [week, input.limit ?? 100],
    );
    const created: string[] = [];
    for (const { creator_id: creatorId } of creators) {
      const summary = await earningsSummary(tx, creatorId, input.now, input.holdMs);
      if (summary.availableDiamonds < input.minimumDiamonds) continue;
      let method: PayoutMethod;
      try {
        method = await checkPayoutAllowed(tx, creatorId, summary.availableDiamonds, input);
      } catch (error) {
        if (error instanceof ApiError) continue;
        throw error;
      }
      const rate = await currentRate(tx, method.currency, input.now).catch(() => undefined);
      if (!rate) continue;
      const quote: PayoutQuote = {
        object: 'payout_quote',
        id: newId('pq', input.now),
        diamonds: summary.availableDiamonds,
        amount: { amountMinor: Number(payoutOf(summary.availableDiamonds, rate)), currency: method.currency },
        rateEffectiveAt: rate.effectiveAt,
        expiresAt: input.now,
      };
      const record = await createPayout(tx, money.ledger, { creatorId, quote, quoteId: null, method, automaticWeek: week, now: input.now });
      created.push(record.payout.id);
    }
    return { created };
  },
);

/** Input of {@link claimSubmissionsOperation}. */
export interface ClaimSubmissionsInput {
  now: number;
  /** How long a claim keeps other processes off the payout (its submission's timeout and more). */
  leaseMs: number;
  limit: number;
}

/**
 * Claims payouts due for submission to their provider: in transit, not yet accepted, due
 * now. Each is leased (its next attempt moved past the lease), so another process does not
 * submit it at the same time; a crash lets the lease lapse and the payout is submitted again
 * (the providers are idempotent per payout).
 */
export const claimSubmissionsOperation = moneyOperation<ClaimSubmissionsInput, PayoutRecord[]>(
  'payouts.claimSubmissions',
  async (tx, _money, input) => {
    const skipLocked = tx.kind === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
    const rows = await tx.query<PayoutRow>(
      `SELECT ${PAYOUT_COLUMNS} FROM payouts WHERE status = 'in_transit' AND submitted_at IS NULL AND next_submit_at <= ?
       ORDER BY next_submit_at LIMIT ?${skipLocked}`,
      [input.now, input.limit],
    );
    for (const row of rows) {
      await tx.run('UPDATE payouts SET next_submit_at = ?, submit_attempts = submit_attempts + 1 WHERE id = ?', [
        input.now + input.leaseMs,
        row.id,
      ]);
    }
    return rows.map(toRecord);
  },
);

/** Input of {@link submissionOutcomeOperation}. */
export type SubmissionOutcomeInput = { payoutId: string; now: number } & (
  { kind: 'accepted'; providerRef: string } | { kind: 'unreachable'; error: string; retryAt: number }
);

/**
 * Records what a submission achieved: the provider accepted the payout (its reference kept, so
 * its events find the payout), or could not be reached (the error kept, the next attempt
 * scheduled). A refusal is a failure: {@link settlePayoutOperation}.
 */
export const submissionOutcomeOperation = moneyOperation<SubmissionOutcomeInput, void>(
  'payouts.submissionOutcome',
  async (tx, _money, input) => {
    if (input.kind === 'accepted') {
      await tx.run(
        `UPDATE payouts SET submitted_at = ?, provider_ref = ?, next_submit_at = NULL, last_error = NULL
       WHERE id = ? AND status = 'in_transit' AND submitted_at IS NULL`,
        [input.now, input.providerRef, input.payoutId],
      );
    } else {
      await tx.run(
        `UPDATE payouts SET last_error = ?, next_submit_at = ? WHERE id = ? AND status = 'in_transit' AND submitted_at IS NULL`,
        [input.error.slice(0, 500), input.retryAt, input.payoutId],
      );
    }
  },
);

/** Input of {@link settlePayoutOperation}. */
export type SettlePayoutInput = { payoutId: string; now: number } & (
  { outcome: 'paid' } | ({ outcome: 'failed' } & PayoutFailure) | ({ outcome: 'canceled' } & PayoutFailure)
);

/**
 * Settles a payout: `paid` moves its Diamonds from in transit to paid out; `failed` returns them
 * to the creator's earnings (available at once: they had passed the hold), also after `paid`
 * when the bank returns a payout later, as banks do; `canceled` (the operator, before the
 * provider accepted it) returns them too. Appends `payout.paid` or `payout.failed`.
 *
 * @remarks Idempotent: settling again to the state it is in changes nothing (a provider's
 * event delivered twice); any other change of a settled payout is refused.
 * @throws {@link ApiError} `payout_not_found`, `payout_not_cancelable`.
 */
export const settlePayoutOperation = moneyOperation<SettlePayoutInput, Payout>('payouts.settle', async (tx, money, input) => {
  const record = await findPayout(tx, input.payoutId, true);
  if (!record) throw new ApiError('payout_not_found', `No payout ${JSON.stringify(input.payoutId)}.`, { param: 'payout' });
  const { payout } = record;
  if (payout.status === input.outcome) return payout;
  if (input.outcome === 'canceled' && (payout.status !== 'in_transit' || record.submittedAt !== null)) {
    throw new ApiError(
      'payout_not_cancelable',
      payout.status === 'in_transit'
        ? `Payout ${payout.id} was accepted by the provider; it can no longer be canceled, only paid or failed.`
        : `Payout ${payout.id} is ${payout.status}; only a payout the provider has not accepted can be canceled.`,
    );
  }
  const returnedAfterPaid = payout.status === 'paid' && input.outcome === 'failed';
  if (payout.status !== 'in_transit' && !returnedAfterPaid) return payout;
  const accounts = await lockPayoutAccounts(tx, money.ledger, record.creatorId);
  const from = payout.status === 'paid' ? accounts.paidOut : accounts.inTransit;
  const to = input.outcome === 'paid' ? accounts.paidOut : accounts.earnings;
  const { diamonds } = payout;
  await money.ledger.transferIn(tx, {
    idempotencyKey: `payout:${payout.id}:${input.outcome}`,
    code: 'payout',
    postings: [
      { accountId: from, amountDiamonds: -diamonds },
      { accountId: to, amountDiamonds: diamonds },
    ],
    metadata: {
      payoutId: payout.id,
      creatorId: record.creatorId,
      description:
        input.outcome === 'paid'
          ? `Payout ${payout.id} paid`
          : `Payout ${payout.id} ${input.outcome === 'canceled' ? 'canceled' : 'failed'}: Diamonds returned`,
    },
  });
  const failure = input.outcome === 'paid' ? null : { code: input.code.slice(0, 64), message: input.message.slice(0, 500) };
  await tx.run(`UPDATE payouts SET status = ?, failure_code = ?, failure_message = ?, settled_at = ?, next_submit_at = NULL WHERE id = ?`, [
    input.outcome,
    failure?.code ?? null,
    failure?.message ?? null,
    input.now,
    payout.id,
  ]);
  const settled = await findPayout(tx, payout.id);
  if (!settled) throw new Error('payout vanished while settling');
  await appendEvent(tx, payoutEvent(input.outcome === 'paid' ? 'payout.paid' : 'payout.failed', settled), input.now);
  return settled.payout;
});

/** Input of {@link retryPayoutOperation}. */
export interface RetryPayoutInput {
  payoutId: string;
  now: number;
}

/**
 * Makes a payout whose submission failed (the provider could not be reached) due again now,
 * rather than at its next scheduled attempt.
 *
 * @throws {@link ApiError} `payout_not_found`, `payout_not_retryable` (settled, or already
 * accepted by the provider).
 */
export const retryPayoutOperation = moneyOperation<RetryPayoutInput, Payout>('payouts.retry', async (tx, _money, input) => {
  const record = await findPayout(tx, input.payoutId, true);
  if (!record) throw new ApiError('payout_not_found', `No payout ${JSON.stringify(input.payoutId)}.`, { param: 'payout' });
  if (record.payout.status !== 'in_transit' || record.submittedAt !== null) {
    throw new ApiError(
      'payout_not_retryable',
      record.payout.status === 'in_transit'
        ? `Payout ${record.payout.id} was accepted by the provider; its outcome comes from the provider.`
        : `Payout ${record.payout.id} is ${record.payout.status}: the creator can request a new payout.`,
    );
  }
  await tx.run('UPDATE payouts SET next_submit_at = ? WHERE id = ?', [input.now, record.payout.id]);
  return record.payout;
});

/** The payouts' part in the money path (see `features.ts`). */
export const payoutsMoney: MoneyFeature = {
  name: 'payouts',
  operations: [
    setPayoutMethodOperation,
    updatePayoutMethodOperation,
    quotePayoutOperation,
    requestPayoutOperation,
    automaticPayoutsOperation,
    claimSubmissionsOperation,
    submissionOutcomeOperation,
    settlePayoutOperation,
    retryPayoutOperation,
  ],
};
