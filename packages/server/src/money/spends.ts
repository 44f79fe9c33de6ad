import { newId, type Confirmation, type ConfirmationStatus, type Metadata, type SpendKind, type Transfer } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { ApiError, isApiError } from '../errors.js';
import { ALLOWANCE_WINDOW_MS, consumeAllowance } from '../identity/connections.js';
import type { Ledger, PostingInput } from '../ledger/ledger.js';
import { splitFee } from '../ledger/allocate.js';
import { appendEvent, insertRow, type RowInsert } from '../events/outbox.js';
import { assertNotInDebt } from '../payments/disputes.js';
import { recordSplitSpend, splitSpendPosted, type SplitSpend, type SplitSpendRecord } from '../collabs/collabs.js';
import { spendAtOnceOnPostgres } from './pg-spend.js';
import { AnswerTaken, claimAnswer, openAnswerClaim, type StoredResponse } from './idempotency.js';
import { moneyOperation, type MoneyContext, type MoneyFeature } from './operations.js';

/** How long a fan has to approve a spend beyond the allowance: 10 minutes. */
export const CONFIRMATION_TTL_MS = 10 * 60 * 1000;

/**
 * How much longer than the confirmation the ledger holds the Diamonds, so that the confirmation
 * sweep (which also runs the flow's own clean-up, such as returning stock) voids it first.
 */
const RESERVATION_GRACE_MS = 5 * 60 * 1000;

/** A request to spend a fan's Diamonds (see {@link spend}). */
export interface SpendRequest {
  kind: SpendKind;
  /** What is paid for: the flow's own row (`gift_…`, `ct_…`, `ord_…`), already written in `tx`. */
  subjectId: string;
  /** The fan who pays. */
  userId: string;
  /** The site the fan is spending on (its allowance applies). */
  siteId: string;
  /**
   * Who receives (the creator or the shop's owner): shown on the confirmation page. The
   * allowance pays only the site's own creators; a spend to anyone else is always confirmed.
   */
  recipientId: string;
  /** The Diamonds the fan pays: the sum of `credits`. */
  amount: number;
  /** Where the Diamonds go (earnings, the fee account…); the fan's wallet debit is added here. */
  credits: readonly PostingInput[];
  /** What it is, in the fan's words ("3 × Rose for Ada"): history and confirmation page. */
  description: string;
  /**
   * The origin of the page that asked (the fan's request's `Origin`, one the site allows): the
   * confirmation page names it, so the fan sees which page wants the money.
   */
  origin?: string | undefined;
  metadata?: Metadata;
  /** Unique per spend (the flow's row id will do): the ledger and allowance idempotency key. */
  reference: string;
  /**
   * True only when `reference` was made in this transaction (a new id, as a gift's): no
   * allowance spend or transfer can carry it yet, so the look-ups for an earlier one are
   * skipped. Leave it out whenever a spend may be retried with the same reference.
   * @defaultValue false
   */
  fresh?: boolean;
  /**
   * When the spend is on split items: the parts `credits` pays each party (collabs/collabs.ts
   * `splitCredits`), recorded with the spend and announced in `split.paid` once it is posted.
   */
  split?: SplitSpend | undefined;
  /**
   * The flow's own rows that exist only once the spend has moved (a gift's row, sent, and its
   * `gift.sent`), given the transfer's id: written by `spend` in its transaction when the
   * outcome is `succeeded`, on PostgreSQL in the spend's own round trip. Only with `fresh`.
   */
  rowsWhenPosted?: ((transferId: string) => readonly RowInsert[]) | undefined;
  /**
   * The API's answer when the spend posts at once, given the transfer's id: with an operation
   * that claims its Idempotency-Key in its spend (`claimsAnswerInSpend`), stored with the spend on
   * PostgreSQL (money/idempotency.ts).
   */
  answerWhenPosted?: ((transferId: string) => StoredResponse) | undefined;
}

/** What a spend did: moved at once, or waits for the fan's confirmation. */
export type SpendOutcome =
  { status: 'succeeded'; transfer: Transfer } | { status: 'confirmation_required'; confirmation: ConfirmationRecord };

/** A confirmation as stored; {@link presentConfirmation} makes the wire view. */
export interface ConfirmationRecord {
  id: string;
  kind: SpendKind;
  subjectId: string;
  userId: string;
  siteId: string;
  recipientId: string;
  amount: number;
  description: string;
  reservationId: string;
  transferId: string | null;
  status: ConfirmationStatus;
  createdAt: number;
  expiresAt: number;
  decidedAt: number | null;
  /** The origin of the page that asked for the spend; null when not known (see migration 31). */
  origin: string | null;
}

/** The fan's wallet account id, opened the first time (inside `tx`). */
export async function walletOf(tx: SqlClient, ledger: Ledger, userId: string): Promise<string> {
  return ledger.accountId({ ownerId: userId, kind: 'wallet' }, tx);
}

/** A creator's earnings account id, opened the first time (inside `tx`). */
export async function earningsOf(tx: SqlClient, ledger: Ledger, userId: string): Promise<string> {
  return ledger.accountId({ ownerId: userId, kind: 'earnings' }, tx);
}

async function addSupport(tx: SqlClient, userId: string, creatorId: string, amount: number, now: number): Promise<void> {
  await tx.run(
    `INSERT INTO creator_support (user_id, creator_id, gifted, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (user_id, creator_id) DO UPDATE SET gifted = creator_support.gifted + excluded.gifted, updated_at = excluded.updated_at`,
    [userId, creatorId, amount, now],
  );
}

/**
 * How many Diamonds a fan has gifted a creator in total (posted gifts only): what a support
 * threshold on content is measured against.
 */
export async function supportTotal(db: SqlClient, userId: string, creatorId: string): Promise<number> {
  const [row] = await db.query<{ gifted: number }>('SELECT gifted FROM creator_support WHERE user_id = ? AND creator_id = ?', [
    userId,
    creatorId,
  ]);
  return Number(row?.gifted ?? 0);
}

/**
 * The credits of a spend paid to a creator (or a shop's owner): their earnings get the amount
 * less the platform fee, the platform's fee account the fee, split exactly (see `splitFee`).
 * A zero part gets no posting.
 */
export async function creatorCredits(
  tx: SqlClient,
  ledger: Ledger,
  recipientId: string,
  amount: number,
  feeBasisPoints: number,
): Promise<PostingInput[]> {
  const { net, fee } = splitFee(amount, feeBasisPoints);
  const credits: PostingInput[] = [];
  if (net > 0) credits.push({ accountId: await earningsOf(tx, ledger, recipientId), amountDiamonds: net });
  if (fee > 0) credits.push({ accountId: await ledger.accountId({ ownerId: null, kind: 'fees' }, tx), amountDiamonds: fee });
  return credits;
}

/**
 * Spends a fan's Diamonds on a site: at once when it fits in the fan's remaining allowance for
 * the site and goes to one of the site's own creators (its owner or a listed creator), otherwise
 * held and answered with a confirmation the fan approves on the hosted page.
 *
 * @remarks
 * Call inside a transaction (the API uses `GroupCommit.run`), after writing the flow's own row:
 * the allowance taken, the transfer or the hold, and the confirmation all commit with it, or
 * none of them does. A fan who cannot afford the spend gets `insufficient_funds` either way.
 *
 * @throws {@link ApiError} `wallet_in_debt` (the fan owes Diamonds after a dispute),
 * `insufficient_funds` and the ledger's validation codes.
 */
export async function spend(tx: SqlClient, ledger: Ledger, request: SpendRequest, now = Date.now()): Promise<SpendOutcome> {
  if (request.rowsWhenPosted && request.fresh !== true)
    throw new TypeError('rowsWhenPosted needs a fresh reference: a replay writes no rows.');
  const wallet = await walletOf(tx, ledger, request.userId);
  const postings = [{ accountId: wallet, amountDiamonds: -request.amount }, ...request.credits];
  const metadata: Metadata = {
    description: request.description,
    kind: request.kind,
    subjectId: request.subjectId,
    siteId: request.siteId,
    payerId: request.userId,
    recipientId: request.recipientId,
    ...request.metadata,
  };
  // On PostgreSQL a spend within the allowance is one round trip (money/pg-spend.ts); what it
  // does not post (a debt, a hold, a retry) takes the general path below, nothing written yet.
  const claim = openAnswerClaim(tx);
  if (tx.kind === 'postgres' && Number.isSafeInteger(request.amount) && request.amount > 0) {
    const prepared = ledger.prepareTransfer({ idempotencyKey: `spend:${request.reference}`, code: request.kind, postings, metadata });
    const answer = claim && request.answerWhenPosted ? request.answerWhenPosted(prepared.id) : undefined;
    const answerJson = answer === undefined ? undefined : JSON.stringify(answer.body);
    const outcome = await spendAtOnceOnPostgres(
      tx,
      {
        userId: request.userId,
        siteId: request.siteId,
        recipientId: request.recipientId,
        amount: request.amount,
        reference: request.reference,
        fresh: request.fresh === true,
        support: request.kind === 'gift',
        windowStart: now - ALLOWANCE_WINDOW_MS,
        now,
        transfer: prepared,
        answer:
          claim && answer && answerJson !== undefined
            ? { scope: claim.scope, key: claim.key, fingerprint: claim.fingerprint, status: answer.status, json: answerJson }
            : undefined,
      },
      request.rowsWhenPosted?.(prepared.id),
    );
    // Another request holds the Idempotency-Key: nothing was written, its answer is replayed.
    if (outcome === 'claimed') throw new AnswerTaken();
    if (outcome === 'posted') {
      if (claim && answerJson !== undefined) {
        claim.state = 'answered';
        claim.json = answerJson;
      }
      if (request.split) await recordSplitSpend(tx, splitRecord(request, request.split, prepared.id), true, now);
      return { status: 'succeeded', transfer: prepared.transfer };
    }
  }
  // The general path claims the request's Idempotency-Key before anything else (see idempotent).
  if (claim) await claimAnswer(tx, claim);
  // A fan who owes Diamonds after a card dispute spends nothing until a top-up repays them.
  await assertNotInDebt(tx, request.userId);
  const withinAllowance = await consumeAllowance(
    tx,
    {
      reference: request.reference,
      userId: request.userId,
      siteId: request.siteId,
      recipientId: request.recipientId,
      amount: request.amount,
      fresh: request.fresh === true,
    },
    now,
  );
  const options = { fresh: request.fresh === true };
  if (withinAllowance) {
    const { transfer, replayed } = await ledger.transferIn(
      tx,
      { idempotencyKey: `spend:${request.reference}`, code: request.kind, postings, metadata },
      options,
    );
    if (!replayed && request.kind === 'gift') await addSupport(tx, request.userId, request.recipientId, request.amount, now);
    if (!replayed) for (const row of request.rowsWhenPosted?.(transfer.id) ?? []) await insertRow(tx, row);
    if (!replayed && request.split) await recordSplitSpend(tx, splitRecord(request, request.split, transfer.id), true, now);
    return { status: 'succeeded', transfer };
  }
  const { transfer: hold } = await ledger.transferIn(
    tx,
    {
      idempotencyKey: `spend:${request.reference}`,
      code: request.kind,
      postings,
      metadata,
      reserveForMs: CONFIRMATION_TTL_MS + RESERVATION_GRACE_MS,
    },
    options,
  );
  if (request.split) await recordSplitSpend(tx, splitRecord(request, request.split, hold.id), false, now);
  const confirmation: ConfirmationRecord = {
    id: newId('cnf', now),
    kind: request.kind,
    subjectId: request.subjectId,
    userId: request.userId,
    siteId: request.siteId,
    recipientId: request.recipientId,
    amount: request.amount,
    description: request.description,
    reservationId: hold.id,
    transferId: null,
    status: 'pending',
    createdAt: now,
    expiresAt: now + CONFIRMATION_TTL_MS,
    decidedAt: null,
    origin: request.origin ?? null,
  };
  await tx.run(
    `INSERT INTO confirmations (id, kind, subject_id, user_id, site_id, recipient_id, amount, description, reservation_id,
       transfer_id, status, created_at, expires_at, decided_at, origin)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'pending', ?, ?, NULL, ?)`,
    [
      confirmation.id,
      confirmation.kind,
      confirmation.subjectId,
      confirmation.userId,
      confirmation.siteId,
      confirmation.recipientId,
      confirmation.amount,
      confirmation.description,
      confirmation.reservationId,
      confirmation.createdAt,
      confirmation.expiresAt,
      confirmation.origin,
    ],
  );
  await appendConfirmationEvent(tx, confirmation, 'confirmation.required', now);
  return { status: 'confirmation_required', confirmation };
}

function splitRecord(request: SpendRequest, split: SplitSpend, transferId: string): SplitSpendRecord {
  return {
    transferId,
    kind: request.kind as 'gift' | 'unlock' | 'order',
    subjectId: request.subjectId,
    siteId: request.siteId,
    fanId: request.userId,
    amount: request.amount,
    split,
  };
}

interface ConfirmationRow {
  id: string;
  kind: string;
  subject_id: string;
  user_id: string;
  site_id: string;
  recipient_id: string;
  amount: number;
  description: string;
  reservation_id: string;
  transfer_id: string | null;
  status: string;
  created_at: number;
  expires_at: number;
  decided_at: number | null;
  origin: string | null;
}

function toRecord(row: ConfirmationRow): ConfirmationRecord {
  return {
    id: row.id,
    kind: row.kind as SpendKind,
    subjectId: row.subject_id,
    userId: row.user_id,
    siteId: row.site_id,
    recipientId: row.recipient_id,
    amount: Number(row.amount),
    description: row.description,
    reservationId: row.reservation_id,
    transferId: row.transfer_id,
    status: row.status as ConfirmationStatus,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    decidedAt: row.decided_at === null ? null : Number(row.decided_at),
    origin: row.origin ?? null,
  };
}

/**
 * A confirmation by id, as stored, with `status` reading `expired` once its time is up even
 * before the sweep has released the hold.
 */
export async function findConfirmation(db: SqlClient, id: string, now = Date.now(), lock = false): Promise<ConfirmationRecord | undefined> {
  const forUpdate = lock && db.kind === 'postgres' ? ' FOR UPDATE' : '';
  const [row] = await db.query<ConfirmationRow>(`SELECT * FROM confirmations WHERE id = ?${forUpdate}`, [id]);
  if (!row) return undefined;
  const record = toRecord(row);
  return record.status === 'pending' && record.expiresAt <= now ? { ...record, status: 'expired' } : record;
}

/** The wire view of a confirmation; `baseUrl` is the platform's public origin. */
export function presentConfirmation(record: ConfirmationRecord, baseUrl: string): Confirmation {
  return {
    object: 'confirmation',
    id: record.id as Confirmation['id'],
    kind: record.kind,
    status: record.status,
    amountDiamonds: record.amount,
    description: record.description,
    subjectId: record.subjectId,
    url: `${baseUrl}/confirm/${record.id}`,
    transferId: record.transferId as Confirmation['transferId'],
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    decidedAt: record.decidedAt,
  };
}

/** Appends a `confirmation.*` event for `record` (in the transaction that changed it). */
function appendConfirmationEvent(
  tx: SqlClient,
  record: ConfirmationRecord,
  type: 'confirmation.required' | 'confirmation.approved' | 'confirmation.declined' | 'confirmation.expired',
  now: number,
): Promise<void> {
  return appendEvent(
    tx,
    {
      type,
      siteId: record.siteId,
      creatorId: record.recipientId,
      fanId: record.userId,
      data: {
        confirmationId: record.id as `cnf_${string}`,
        kind: record.kind,
        subjectId: record.subjectId,
        amountDiamonds: record.amount,
        transferId: record.transferId as `txn_${string}` | null,
        expiresAt: record.expiresAt,
      },
    },
    now,
  );
}

async function settle(
  tx: SqlClient,
  money: MoneyContext,
  record: ConfirmationRecord,
  status: 'approved' | 'declined' | 'expired',
  now: number,
): Promise<ConfirmationRecord> {
  const { ledger } = money;
  const settlement = money.settlementOf(record.kind);
  let transferId: string | null = null;
  if (status === 'approved') {
    const { transfer } = await ledger.postIn(tx, { pendingId: record.reservationId, idempotencyKey: `confirm:${record.id}` });
    transferId = record.reservationId;
    if (record.kind === 'gift') await addSupport(tx, record.userId, record.recipientId, record.amount, now);
    // The decision first, then what it settled (gift.sent, content.unlocked, order.paid).
    await appendConfirmationEvent(tx, { ...record, status, transferId, decidedAt: now }, 'confirmation.approved', now);
    await settlement.posted(tx, { ...record, status, transferId, decidedAt: now }, transfer);
    await splitSpendPosted(tx, record.reservationId, now);
  } else {
    try {
      await ledger.voidIn(tx, { pendingId: record.reservationId, idempotencyKey: `confirm:${record.id}`, metadata: { reason: status } });
    } catch (error) {
      // The ledger's own expiry sweep may have released the hold already: nothing moved either way.
      if (!isApiError(error, 'transfer_already_resolved')) throw error;
    }
    await appendConfirmationEvent(tx, { ...record, status, decidedAt: now }, `confirmation.${status}`, now);
    await settlement.voided(tx, { ...record, status, decidedAt: now });
  }
  await tx.run('UPDATE confirmations SET status = ?, transfer_id = ?, decided_at = ? WHERE id = ?', [status, transferId, now, record.id]);
  return { ...record, status, transferId, decidedAt: now };
}

/**
 * The fan's decision on a pending confirmation: approve posts the held Diamonds (and runs the
 * flow's `posted`), decline releases them (and runs `voided`). Only the fan who owes the spend
 * may decide. Deciding again the same way answers the same; the other way is refused.
 *
 * @throws {@link ApiError} `confirmation_not_found`, `confirmation_expired`, `confirmation_decided`,
 * `wallet_in_debt` (approving while the fan owes Diamonds after a dispute)
 */
export async function decideConfirmation(
  tx: SqlClient,
  money: MoneyContext,
  decision: { id: string; userId: string; approve: boolean },
  now = Date.now(),
): Promise<ConfirmationRecord> {
  const record = await findConfirmation(tx, decision.id, now, true);
  if (!record || record.userId !== decision.userId) {
    throw new ApiError('confirmation_not_found', `No confirmation ${JSON.stringify(decision.id)} for this fan.`);
  }
  const wanted = decision.approve ? 'approved' : 'declined';
  if (record.status === wanted) return record;
  if (record.status === 'expired') {
    // The sweep releases the hold (a write here would roll back with the error anyway).
    throw new ApiError('confirmation_expired', 'This confirmation expired; nothing was charged. Start again from the site.');
  }
  if (record.status !== 'pending') {
    throw new ApiError('confirmation_decided', `This confirmation was already ${record.status}.`);
  }
  // Approving is spending: not while the fan owes Diamonds (declining always works).
  if (wanted === 'approved') await assertNotInDebt(tx, record.userId);
  return settle(tx, money, record, wanted, now);
}

/**
 * Releases the hold of one confirmation whose time is up (and runs its flow's `voided`),
 * exactly once even with several sweepers: one already decided or expired is left alone.
 *
 * @returns Whether this call expired it.
 */
export async function expireConfirmation(tx: SqlClient, money: MoneyContext, id: string, now = Date.now()): Promise<boolean> {
  const record = await findConfirmation(tx, id, now, true);
  if (!record || record.decidedAt !== null || record.status !== 'expired') return false;
  await settle(tx, money, record, 'expired', now);
  return true;
}

/** The ids of pending confirmations whose time is up, oldest first (read only: see `sweepExpired`). */
export async function dueConfirmations(db: SqlClient, now = Date.now(), limit = 200): Promise<string[]> {
  const due = await db.query<{ id: string }>(
    `SELECT id FROM confirmations WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
    [now, limit],
  );
  return due.map((row) => row.id);
}

/** The fan's decision on a confirmation (the hosted confirmation page). */
export const decideConfirmationOperation = moneyOperation(
  'confirmations.decide',
  (tx, money, input: { id: string; userId: string; approve: boolean; now?: number }) => decideConfirmation(tx, money, input, input.now),
);

/** One confirmation's expiry (the sweeper). */
export const expireConfirmationOperation = moneyOperation('confirmations.expire', (tx, money, input: { id: string; now?: number }) =>
  expireConfirmation(tx, money, input.id, input.now),
);

/** Confirmations of spends beyond the allowance: the fan's decision and the expiry sweep. */
export const confirmationsMoney: MoneyFeature = {
  name: 'confirmations',
  operations: [decideConfirmationOperation, expireConfirmationOperation],
};
