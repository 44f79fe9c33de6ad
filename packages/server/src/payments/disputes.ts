import { isId, type Metadata, type PaymentProviderName, type SpendKind } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { ApiError, isApiError } from '../errors.js';
import { appendEvent } from '../events/outbox.js';
import type { Ledger, PostingInput } from '../ledger/ledger.js';
import { earningsHoldMs, lastTransferIdAt } from '../earnings/summary.js';
import { moneyOperation, type MoneyFeature } from '../money/operations.js';
import { splitSpendRefunded } from '../collabs/collabs.js';
import { apportionRefund } from '../collabs/split.js';

/*
 * Disputes and refunds of top-ups (issue 14). The policy, with a worked example, is in
 * docs/money-flows.md ("Disputes and refunds of top-ups"); in short:
 *
 * 1. All the top-up's Diamonds are taken back (to the issuance account: the money went back to
 *    the card). What the wallet has available pays first; the rest is the fan's debt, held in
 *    the fan's `debt` account (never above zero; its balance is minus what the fan owes).
 * 2. The Diamonds the wallet no longer had were spent. The spends that used them are the fan's
 *    posted gifts, unlocks and orders made after the top-up's credit, newest first (so money
 *    flows first in, first out through the wallet: what was spent last was the disputed
 *    money), less any spend refunded since and any part an earlier reversal already covered.
 * 3. A covered spend whose earnings are still pending (inside the hold) gives back the covered
 *    part, shared pro rata between the creator's earnings and the platform's fee exactly as the
 *    spend was (largest remainder), to the fan's debt: one `refund` transfer per spend with
 *    `refundOf`, which the earnings summary and the release job already subtract from pending.
 *    A spend whose earnings were released keeps them: the platform bears that loss, and the
 *    fan owes it.
 * 4. While the debt account is below zero the fan cannot spend (`wallet_in_debt`); the next
 *    top-up's credit repays the debt first and only the rest reaches the wallet.
 *
 * Everything is one money operation, in one transaction: a second reversal of the same top-up
 * (a redelivered event, a refund after a dispute, the operator twice) finds its row and moves
 * nothing.
 */

/** Why a top-up's Diamonds are taken back. */
export type ReversalReason = 'dispute' | 'refund';

/** Who reported the reversal: the provider's webhook, the test provider, or the operator's CLI. */
export type ReversalSource = PaymentProviderName | 'operator';

/** What {@link reverseTopUp} is asked to do. */
export interface ReversalRequest {
  topUpId: string;
  reason: ReversalReason;
  source: ReversalSource;
  /** The provider's event that reported it, if one did. */
  providerEventId?: string | null | undefined;
  /** The time it happens as of (tests move it); @defaultValue Date.now() */
  now?: number | undefined;
  /** The earnings hold (what is still pending); @defaultValue `earningsHoldMs()` */
  holdMs?: number | undefined;
}

/** One spend a reversal took as paid with the disputed Diamonds. */
export interface ReversedSpend {
  /** The transfer whose postings moved the Diamonds (a confirmed spend's posting transfer). */
  spendTransferId: string;
  kind: SpendKind;
  /** Diamonds of the spend counted as disputed. */
  coveredDiamonds: number;
  /** Of those, what its creator's earnings and the fee gave back (0 once released). */
  reversedDiamonds: number;
  /** The `refund` transfer that gave them back, or null. */
  transferId: string | null;
}

/** What a reversal did. */
export interface ReversalResult {
  topUpId: string;
  userId: string;
  reason: ReversalReason;
  /** The top-up's Diamonds, all taken back. */
  amountDiamonds: number;
  /** What came out of the wallet. */
  fromWalletDiamonds: number;
  /** What the wallet no longer had: spent Diamonds, first charged to the fan's debt. */
  shortfallDiamonds: number;
  /** What the reversed spends gave back to the debt. */
  reversedDiamonds: number;
  /** What the fan owes after it, all reversals together. */
  debtDiamonds: number;
  /** The main transfer (wallet and debt to issuance). */
  transferId: string;
  spends: ReversedSpend[];
}

const SPEND_CODES = ['gift', 'unlock', 'order'] as const;

/** The owner lookup written like the accounts' unique index, so both engines use it. */
function ownerExpression(db: SqlClient): string {
  return db.kind === 'sqlite' ? "ifnull(owner_id, '')" : "coalesce(owner_id, '')";
}

/**
 * What a fan owes (0 when nothing): minus the balance of their `debt` account. A read: it
 * opens no account.
 */
export async function debtOf(db: SqlClient, userId: string): Promise<number> {
  // Constant texts (every spend asks): one per engine, as the unique index on each says it.
  const sql =
    db.kind === 'sqlite'
      ? "SELECT balance FROM accounts WHERE ifnull(owner_id, '') = ? AND kind = 'debt'"
      : "SELECT balance FROM accounts WHERE coalesce(owner_id, '') = ? AND kind = 'debt'";
  const [row] = await db.query<{ balance: number | string }>(sql, [userId]);
  return row ? Math.max(0, -Number(row.balance)) : 0;
}

/**
 * Refuses a spend while the fan owes Diamonds: the spend path calls it before anything moves.
 *
 * @throws {@link ApiError} `wallet_in_debt` (402), with what is owed.
 */
export async function assertNotInDebt(db: SqlClient, userId: string): Promise<void> {
  const owed = await debtOf(db, userId);
  if (owed > 0) {
    throw new ApiError(
      'wallet_in_debt',
      `Your wallet owes ${owed} Diamond${owed === 1 ? '' : 's'} after a card dispute or refund of a top-up. ` +
        'Top up to repay it; you can spend again once it is repaid.',
    );
  }
}

/**
 * Locks accounts for update, one after the other in the order given (PostgreSQL; SQLite has one
 * writer). A fan's wallet is always locked before their debt, by credits and reversals alike.
 */
async function lockAccounts(tx: SqlClient, ids: readonly string[]): Promise<void> {
  if (tx.kind !== 'postgres') return;
  for (const id of ids) await tx.query('SELECT id FROM accounts WHERE id = ? FOR UPDATE', [id]);
}

/** How a top-up's credit is shared between the fan's debt and their wallet. */
export interface CreditShare {
  /** The credit's postings: issuance out, debt repaid, the rest to the wallet. */
  postings: PostingInput[];
  /** Diamonds that repaid debt. */
  repaidDiamonds: number;
  /** Diamonds that reached the wallet. */
  walletDiamonds: number;
}

/**
 * The postings of a top-up's credit of `diamonds`: the fan's debt is repaid first, the rest
 * goes to the wallet. Call inside the credit's transaction; on PostgreSQL it locks the wallet,
 * then the debt (the order a reversal uses), so a reversal running at the same time waits and
 * then sees the repaid debt, never a stale one.
 */
export async function creditShare(tx: SqlClient, ledger: Ledger, userId: string, diamonds: number): Promise<CreditShare> {
  const wallet = await ledger.accountId({ ownerId: userId, kind: 'wallet' }, tx);
  const issuance = await ledger.accountId({ ownerId: null, kind: 'issuance' }, tx);
  // The wallet first, as a reversal locks it: a reversal that is opening the fan's debt right
  // now commits before this looks for it, so the credit repays it rather than missing it.
  await lockAccounts(tx, [wallet]);
  const [debtRow] = await tx.query<{ id: string }>(`SELECT id FROM accounts WHERE ${ownerExpression(tx)} = ? AND kind = 'debt'`, [userId]);
  if (!debtRow) {
    // Never in debt: the common case costs one read.
    return {
      postings: [
        { accountId: issuance, amountDiamonds: -diamonds },
        { accountId: wallet, amountDiamonds: diamonds },
      ],
      repaidDiamonds: 0,
      walletDiamonds: diamonds,
    };
  }
  await lockAccounts(tx, [debtRow.id]);
  const owed = await debtOf(tx, userId);
  const repaid = Math.min(owed, diamonds);
  const toWallet = diamonds - repaid;
  const postings: PostingInput[] = [{ accountId: issuance, amountDiamonds: -diamonds }];
  if (repaid > 0) postings.push({ accountId: debtRow.id, amountDiamonds: repaid });
  if (toWallet > 0) postings.push({ accountId: wallet, amountDiamonds: toWallet });
  return { postings, repaidDiamonds: repaid, walletDiamonds: toWallet };
}

/**
 * Records the provider's ids of a top-up's payment (`pi_…`, `ch_…`), which disputes name.
 * An id already recorded keeps its top-up.
 */
export async function recordPaymentRefs(
  tx: SqlClient,
  provider: PaymentProviderName,
  topUpId: string,
  refs: readonly string[],
): Promise<void> {
  for (const ref of refs) {
    await tx.run('INSERT INTO payment_refs (provider, ref, topup_id) VALUES (?, ?, ?) ON CONFLICT (provider, ref) DO NOTHING', [
      provider,
      ref,
      topUpId,
    ]);
  }
}

/** The top-up a provider's payment ids belong to, if any. */
export async function topUpByRefs(db: SqlClient, provider: PaymentProviderName, refs: readonly string[]): Promise<string | undefined> {
  for (const ref of refs) {
    const [row] = await db.query<{ topup_id: string }>('SELECT topup_id FROM payment_refs WHERE provider = ? AND ref = ?', [provider, ref]);
    if (row) return row.topup_id;
  }
  return undefined;
}

interface TopUpRow {
  id: string;
  user_id: string;
  site_id: string;
  provider: string;
  diamonds: number | string;
  currency: string;
  amount_minor: number | string;
  status: string;
  transfer_id: string | null;
}

interface SpendRow {
  id: string;
  pending_id: string | null;
  code: string;
  metadata: string;
  created_at: number | string;
  amount: number | string;
}

function parseMetadata(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function plural(n: number): string {
  return `${n} Diamond${n === 1 ? '' : 's'}`;
}

/**
 * Takes a credited top-up's Diamonds back after a card dispute or a refund, inside `tx`: the
 * wallet's available Diamonds first, the rest as the fan's debt, lowered by the pending
 * earnings (and fee) of the spends that used them (see the module's comment).
 *
 * @throws {@link ApiError} `payment_not_found` (no such top-up), `topup_not_credited` (never
 * credited: nothing to take back), `topup_already_reversed` (a dispute or refund was already
 * applied: nothing moves again).
 */
export async function reverseTopUp(tx: SqlClient, ledger: Ledger, request: ReversalRequest): Promise<ReversalResult> {
  const now = request.now ?? Date.now();
  const holdMs = request.holdMs ?? earningsHoldMs();
  const lock = tx.kind === 'postgres' ? ' FOR UPDATE' : '';
  // The top-up's row first: two reversals of one top-up queue here (PostgreSQL), and the second
  // then finds the first's row below.
  const [topUp] = isId('tu', request.topUpId)
    ? await tx.query<TopUpRow>(
        `SELECT id, user_id, site_id, provider, diamonds, currency, amount_minor, status, transfer_id FROM topups WHERE id = ?${lock}`,
        [request.topUpId],
      )
    : [];
  if (!topUp) {
    throw new ApiError('payment_not_found', `No top-up ${JSON.stringify(request.topUpId.slice(0, 40))}.`, { param: 'id' });
  }
  if (topUp.status !== 'succeeded' || topUp.transfer_id === null) {
    throw new ApiError('topup_not_credited', `Top-up ${topUp.id} was never credited (${topUp.status}): there is nothing to take back.`);
  }
  const [earlier] = await tx.query<{ reason: string }>('SELECT reason FROM topup_reversals WHERE topup_id = ?', [topUp.id]);
  if (earlier) {
    throw new ApiError('topup_already_reversed', `Top-up ${topUp.id} was already taken back (${earlier.reason}); nothing moved again.`);
  }

  const userId = topUp.user_id;
  const amount = Number(topUp.diamonds);
  const wallet = await ledger.accountId({ ownerId: userId, kind: 'wallet' }, tx);
  const debt = await ledger.accountId({ ownerId: userId, kind: 'debt' }, tx);
  const issuance = await ledger.accountId({ ownerId: null, kind: 'issuance' }, tx);
  // Wallet, then debt, locked before reading them: a spend or a credit of this fan running
  // meanwhile waits, then sees what this did.
  await lockAccounts(tx, [wallet, debt]);
  const [walletRow] = await tx.query<{ available: number | string }>(
    'SELECT balance - pending_debits AS available FROM accounts WHERE id = ?',
    [wallet],
  );
  const available = Math.max(0, Number(walletRow?.available ?? 0));
  const fromWallet = Math.min(amount, available);
  const shortfall = amount - fromWallet;
  const what = request.reason === 'dispute' ? 'Card dispute' : 'Refund';
  const postings: PostingInput[] = [{ accountId: issuance, amountDiamonds: amount }];
  if (fromWallet > 0) postings.push({ accountId: wallet, amountDiamonds: -fromWallet });
  if (shortfall > 0) postings.push({ accountId: debt, amountDiamonds: -shortfall });
  const { transfer } = await ledger.transferIn(tx, {
    idempotencyKey: `reversal:${topUp.id}`,
    code: 'refund',
    postings,
    metadata: {
      description: `${what} of a top-up: ${plural(amount)} taken back${shortfall > 0 ? ` (${plural(shortfall)} already spent, owed)` : ''}`,
      kind: 'topup_reversal',
      reason: request.reason,
      topupId: topUp.id,
      payerId: userId,
      siteId: topUp.site_id,
      fromWallet,
      toDebt: shortfall,
    },
  });
  await tx.run(
    `INSERT INTO topup_reversals (topup_id, user_id, reason, source, provider_event_id, amount, from_wallet, to_debt, reversed, transfer_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
    [topUp.id, userId, request.reason, request.source, request.providerEventId ?? null, amount, fromWallet, shortfall, transfer.id, now],
  );

  const spends = shortfall > 0 ? await reverseSpends(tx, ledger, { topUp, wallet, debt, shortfall, now, holdMs }) : [];
  const reversed = spends.reduce((sum, spend) => sum + spend.reversedDiamonds, 0);
  if (reversed > 0) await tx.run('UPDATE topup_reversals SET reversed = ? WHERE topup_id = ?', [reversed, topUp.id]);
  const owed = await debtOf(tx, userId);
  await appendEvent(
    tx,
    {
      type: 'topup.reversed',
      siteId: null,
      creatorId: null,
      fanId: userId,
      data: {
        topUpId: topUp.id as `tu_${string}`,
        reason: request.reason,
        amountDiamonds: amount,
        fromWalletDiamonds: fromWallet,
        debtDiamonds: owed,
        transferId: transfer.id,
      },
    },
    now,
  );
  return {
    topUpId: topUp.id,
    userId,
    reason: request.reason,
    amountDiamonds: amount,
    fromWalletDiamonds: fromWallet,
    shortfallDiamonds: shortfall,
    reversedDiamonds: reversed,
    debtDiamonds: owed,
    transferId: transfer.id,
    spends,
  };
}

/** The spends that used `shortfall` disputed Diamonds, newest first, each reversed while pending. */
async function reverseSpends(
  tx: SqlClient,
  ledger: Ledger,
  context: { topUp: TopUpRow; wallet: string; debt: string; shortfall: number; now: number; holdMs: number },
): Promise<ReversedSpend[]> {
  const { topUp, wallet, debt, now } = context;
  const creditId = topUp.transfer_id as string;
  const notPending = tx.kind === 'postgres' ? false : 0;
  // The wallet's posted spends after the credit (a confirmed spend's postings are in the
  // transfer that posted it, whose pending_id names the reservation).
  const candidates = await tx.query<SpendRow>(
    `SELECT t.id, t.pending_id, t.code, coalesce(r.metadata, t.metadata) AS metadata, t.created_at, -p.amount AS amount
     FROM postings p JOIN transfers t ON t.id = p.transfer_id LEFT JOIN transfers r ON r.id = t.pending_id
     WHERE p.account_id = ? AND p.transfer_id > ? AND p.pending = ? AND p.amount < 0 AND t.code IN (${SPEND_CODES.map(() => '?').join(', ')})
     ORDER BY p.transfer_id DESC`,
    [wallet, creditId, notPending, ...SPEND_CODES],
  );
  if (candidates.length === 0) return [];
  // Spends refunded since (an order's refund names the spend, or its reservation, in refundOf).
  const refunds = await tx.query<{ metadata: string }>(
    `SELECT t.metadata FROM postings p JOIN transfers t ON t.id = p.transfer_id
     WHERE p.account_id = ? AND p.transfer_id > ? AND p.pending = ? AND p.amount > 0 AND t.code = 'refund'`,
    [wallet, creditId, notPending],
  );
  const refunded = new Set<string>();
  for (const row of refunds) {
    const refundOf = parseMetadata(row.metadata).refundOf;
    if (typeof refundOf === 'string') refunded.add(refundOf);
  }
  const coveredBefore = new Map<string, number>();
  const ids = candidates.map((row) => row.id);
  for (let start = 0; start < ids.length; start += 500) {
    const chunk = ids.slice(start, start + 500);
    const rows = await tx.query<{ spend_transfer_id: string; covered: number | string }>(
      `SELECT spend_transfer_id, sum(covered) AS covered FROM topup_reversal_spends
       WHERE spend_transfer_id IN (${chunk.map(() => '?').join(', ')}) GROUP BY spend_transfer_id`,
      chunk,
    );
    for (const row of rows) coveredBefore.set(row.spend_transfer_id, Number(row.covered));
  }
  const releasedThrough = lastTransferIdAt(now - context.holdMs);
  const out: ReversedSpend[] = [];
  let left = context.shortfall;
  for (const spend of candidates) {
    if (left === 0) break;
    if (refunded.has(spend.id) || (spend.pending_id !== null && refunded.has(spend.pending_id))) continue;
    const spent = Number(spend.amount);
    const before = coveredBefore.get(spend.id) ?? 0;
    const covered = Math.min(spent - before, left);
    if (covered <= 0) continue;
    left -= covered;
    const kind = spend.code as SpendKind;
    const pending = spend.id > releasedThrough;
    const reversal = pending
      ? await reverseOneSpend(tx, ledger, { topUp, debt, spend, kind, covered, whole: before + covered === spent, now })
      : null;
    await tx.run('INSERT INTO topup_reversal_spends (topup_id, spend_transfer_id, covered, reversed, transfer_id) VALUES (?, ?, ?, ?, ?)', [
      topUp.id,
      spend.id,
      covered,
      reversal ? covered : 0,
      reversal,
    ]);
    out.push({ spendTransferId: spend.id, kind, coveredDiamonds: covered, reversedDiamonds: reversal ? covered : 0, transferId: reversal });
  }
  return out;
}

/**
 * Gives back `covered` Diamonds of one pending spend to the fan's debt, shared between the
 * accounts it credited (the creator's earnings, the fee) in the spend's own proportions, with
 * one `earnings.reversed` per creator. Answers the refund transfer's id, or null when an
 * account no longer holds its share (then nothing of this spend moves: the platform bears it).
 */
async function reverseOneSpend(
  tx: SqlClient,
  ledger: Ledger,
  input: { topUp: TopUpRow; debt: string; spend: SpendRow; kind: SpendKind; covered: number; whole: boolean; now: number },
): Promise<string | null> {
  const { topUp, spend, covered } = input;
  const credits = await tx.query<{ account_id: string; amount: number | string; kind: string; owner_id: string | null }>(
    `SELECT p.account_id, p.amount, a.kind, a.owner_id FROM postings p JOIN accounts a ON a.id = p.account_id
     WHERE p.transfer_id = ? AND p.amount > 0 ORDER BY p.account_id`,
    [spend.id],
  );
  if (credits.length === 0) return null;
  // Pro rata to what each account still holds of this spend: an earlier partial reversal (of
  // another top-up) already took some back, and no part may give back more than it got (a split
  // spend's collaborators each have one; collabs/split.ts `apportionRefund`).
  const before = await tx.query<{ account_id: string; amount: number | string }>(
    `SELECT p.account_id, sum(p.amount) AS amount FROM topup_reversal_spends r JOIN postings p ON p.transfer_id = r.transfer_id
     WHERE r.spend_transfer_id = ? AND r.transfer_id IS NOT NULL GROUP BY p.account_id`,
    [spend.id],
  );
  const takenBefore = new Map(before.map((row) => [row.account_id, -Number(row.amount)]));
  const remaining = credits.map((credit) => Math.max(0, Number(credit.amount) - (takenBefore.get(credit.account_id) ?? 0)));
  if (remaining.reduce((sum, part) => sum + part, 0) < covered) return null;
  const parts = apportionRefund(covered, remaining);
  const postings: PostingInput[] = [{ accountId: input.debt, amountDiamonds: covered }];
  credits.forEach((credit, i) => {
    const part = parts[i] ?? 0;
    if (part > 0) postings.push({ accountId: credit.account_id, amountDiamonds: -part });
  });
  const spendMetadata = parseMetadata(spend.metadata);
  const description = typeof spendMetadata.description === 'string' ? spendMetadata.description : input.kind;
  const subjectId = typeof spendMetadata.subjectId === 'string' ? spendMetadata.subjectId : '';
  const metadata: Metadata = {
    description: `Reversed after a card dispute or refund of the fan’s top-up: ${description}`.slice(0, 500),
    kind: 'topup_reversal',
    topupId: topUp.id,
    refundOf: spend.id,
    subjectId,
    siteId: typeof spendMetadata.siteId === 'string' ? spendMetadata.siteId : null,
    recipientId: topUp.user_id,
  };
  let transferId: string;
  try {
    ({
      transfer: { id: transferId },
    } = await ledger.transferIn(tx, { idempotencyKey: `reversal:${topUp.id}:${spend.id}`, code: 'refund', postings, metadata }));
  } catch (error) {
    // The ledger undid its own partial updates: this spend stays as it was.
    if (isApiError(error, 'insufficient_funds')) return null;
    throw error;
  }
  await splitSpendRefunded(tx, spend.id, transferId, input.now);
  for (const [i, credit] of credits.entries()) {
    const part = parts[i] ?? 0;
    if (credit.kind !== 'earnings' || credit.owner_id === null) continue;
    await appendEvent(
      tx,
      {
        type: 'earnings.reversed',
        siteId: null,
        creatorId: credit.owner_id,
        fanId: topUp.user_id,
        data: {
          topUpId: topUp.id as `tu_${string}`,
          transferId: transferId as `txn_${string}`,
          spendTransferId: spend.id as `txn_${string}`,
          kind: input.kind,
          subjectId,
          amountDiamonds: covered,
          netDiamonds: part,
          spentAt: Number(spend.created_at),
          wholeSpend: input.whole,
        },
      },
      input.now,
    );
  }
  return transferId;
}

/** Input of {@link reverseTopUpOperation}. */
export interface ReverseTopUpInput {
  topUpId: string;
  reason: ReversalReason;
  source: ReversalSource;
  providerEventId?: string | null;
  now?: number;
  holdMs?: number;
}

/** A top-up's Diamonds taken back (the operator's CLI, the test provider, tests). */
export const reverseTopUpOperation = moneyOperation('topups.reverse', (tx, money, input: ReverseTopUpInput) =>
  reverseTopUp(tx, money.ledger, input),
);

/** Disputes and refunds of top-ups in the money path. */
export const disputesMoney: MoneyFeature = {
  name: 'disputes',
  operations: [reverseTopUpOperation],
};
