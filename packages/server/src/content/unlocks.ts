import { newId, type Entitlement, type EntitlementStatus, type Unlock } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { appendEvent } from '../events/outbox.js';
import { recordBoostConversion } from '../boosts/boosts.js';
import { ApiError } from '../errors.js';
import type { StoredResponse } from '../money/idempotency.js';
import { issueReceipt } from '../money/receipts.js';
import {
  expireConfirmation,
  findConfirmation,
  presentConfirmation,
  spend,
  supportTotal,
  type ConfirmationRecord,
} from '../money/spends.js';
import { moneyOperation, type MoneyContext, type MoneyFeature, type SpendSettlement } from '../money/operations.js';
import { contentOfSite, type ContentRecord } from './content.js';
import { currentSplit, splitCredits } from '../collabs/collabs.js';

/** A fan's entitlement as stored. */
export interface EntitlementRecord {
  id: string;
  userId: string;
  contentId: string;
  transferId: string | null;
  confirmationId: string | null;
  amount: number;
  issuer: string;
  receipt: string | null;
  status: EntitlementStatus;
  createdAt: number;
}

interface EntitlementRow {
  id: string;
  user_id: string;
  content_id: string;
  transfer_id: string | null;
  confirmation_id: string | null;
  amount: number | string;
  issuer: string;
  receipt: string | null;
  status: string;
  created_at: number | string;
}

function toRecord(row: EntitlementRow): EntitlementRecord {
  return {
    id: row.id,
    userId: row.user_id,
    contentId: row.content_id,
    transferId: row.transfer_id,
    confirmationId: row.confirmation_id,
    amount: Number(row.amount),
    issuer: row.issuer,
    receipt: row.receipt,
    status: row.status as EntitlementStatus,
    createdAt: Number(row.created_at),
  };
}

/** A fan's entitlement to a piece of content (active or pending), if any. */
export async function findEntitlement(db: SqlClient, userId: string, contentId: string): Promise<EntitlementRecord | undefined> {
  const [row] = await db.query<EntitlementRow>('SELECT * FROM entitlements WHERE user_id = ? AND content_id = ?', [userId, contentId]);
  return row ? toRecord(row) : undefined;
}

/** Whether the fan may read the content's body now. */
export async function isEntitled(db: SqlClient, userId: string, contentId: string): Promise<boolean> {
  return (await findEntitlement(db, userId, contentId))?.status === 'active';
}

/** The wire view of an entitlement. */
export function presentEntitlement(record: EntitlementRecord): Entitlement {
  return {
    object: 'entitlement',
    id: record.id as Entitlement['id'],
    contentId: record.contentId as Entitlement['contentId'],
    fanId: record.userId as Entitlement['fanId'],
    status: record.status,
    amountDiamonds: record.amount,
    transferId: record.transferId as Entitlement['transferId'],
    receipt: record.receipt,
    createdAt: record.createdAt,
  };
}

/** "Unlock “Title” by Ada": what the fan's history and the confirmation page say. */
export function unlockDescription(content: ContentRecord): string {
  const title = content.title.length > 120 ? `${content.title.slice(0, 119)}…` : content.title;
  return `Unlock “${title}” by ${content.creatorName}`;
}

/** Signs the receipt of an entitlement and makes it active, in `tx`. */
async function activate(
  tx: SqlClient,
  entitlement: { id: string; userId: string; contentId: string; issuer: string; amount: number },
  siteId: string,
  creatorId: string,
  transferId: string | null,
  now: number,
): Promise<string> {
  const { jwt } = await issueReceipt(
    tx,
    {
      iss: entitlement.issuer,
      sub: entitlement.userId,
      aud: siteId,
      kind: 'unlock',
      subjectId: entitlement.contentId,
      amountDiamonds: entitlement.amount,
      transferId,
    },
    now,
  );
  await tx.run(`UPDATE entitlements SET status = 'active', transfer_id = ?, receipt = ? WHERE id = ?`, [transferId, jwt, entitlement.id]);
  await appendEvent(
    tx,
    {
      type: 'content.unlocked',
      siteId,
      creatorId,
      fanId: entitlement.userId,
      data: {
        contentId: entitlement.contentId as `ct_${string}`,
        entitlementId: entitlement.id as `ent_${string}`,
        amountDiamonds: entitlement.amount,
        transferId: transferId as `txn_${string}` | null,
      },
    },
    now,
  );
  await recordBoostConversion(tx, entitlement.userId, [entitlement.contentId], now);
  return jwt;
}

function alreadyUnlocked(content: ContentRecord): ApiError {
  return new ApiError(
    'already_unlocked',
    `You already unlocked “${content.title}”; nothing was charged again. ` +
      `GET /v1/content/${content.id}/entitlement returns your receipt, and /body the content.`,
  );
}

/** What {@link unlockContent} needs besides the transaction. */
export interface UnlockRequest {
  money: MoneyContext;
  /** The platform fee in basis points (`settings.platformFeeBps`). */
  feeBasisPoints: number;
  /** The platform's public origin: the receipt's issuer, and where the confirmation page is. */
  baseUrl: string;
  fanId: string;
  siteId: string;
  contentId: string;
  /** The origin of the page that asked: the confirmation page names it (see `SpendRequest.origin`). */
  origin?: string | undefined;
}

/**
 * Unlocks content for a fan, in `tx` (the API runs it through the money writer: {@link unlockContentOperation}).
 *
 * @remarks
 * The entitlement row is written first, so UNIQUE (user_id, content_id) decides between two
 * unlocks racing (even on two servers): the loser writes nothing, pays nothing, and answers
 * `already_unlocked`. Priced content is paid with {@link spend} (the allowance, else a held
 * payment and a confirmation: 202, with the pending entitlement). Threshold content is free
 * for a fan whose gifts to the creator reach the threshold (a receipt of 0 Diamonds). Asking
 * again while a confirmation is pending answers that same confirmation.
 *
 * @throws {@link ApiError} `content_not_found`, `content_archived`, `already_unlocked`,
 * `threshold_not_met`, `insufficient_funds`.
 */
export async function unlockContent(tx: SqlClient, request: UnlockRequest, now = Date.now()): Promise<StoredResponse<Unlock>> {
  const content = await contentOfSite(tx, request.siteId, request.contentId);
  const existing = await findEntitlement(tx, request.fanId, content.id);
  if (existing) {
    const pending = await pendingAnswer(tx, request, content, existing, now);
    if (pending) return pending;
  }
  if (content.archivedAt !== null) {
    throw new ApiError('content_archived', `“${content.title}” was archived by ${content.creatorName} and can no longer be unlocked.`);
  }

  const entitlementId = newId('ent', now);
  const amount = content.priceDiamonds ?? 0;
  if (content.thresholdDiamonds !== null) {
    const supported = await supportTotal(tx, request.fanId, content.creatorId);
    if (supported < content.thresholdDiamonds) {
      const missing = content.thresholdDiamonds - supported;
      throw new ApiError(
        'threshold_not_met',
        `“${content.title}” unlocks for fans who have given ${content.creatorName} ${content.thresholdDiamonds} Diamonds in gifts; ` +
          `you have given ${supported}. Send ${missing} more Diamonds in gifts to unlock it.`,
      );
    }
  }
  const inserted = await tx.run(
    `INSERT INTO entitlements (id, user_id, content_id, transfer_id, confirmation_id, amount, issuer, receipt, status, created_at)
     VALUES (?, ?, ?, NULL, NULL, ?, ?, NULL, 'pending_confirmation', ?) ON CONFLICT (user_id, content_id) DO NOTHING`,
    [entitlementId, request.fanId, content.id, amount, request.baseUrl, now],
  );
  if (inserted === 0) {
    // Another unlock got there first (and committed, or PostgreSQL would still be waiting).
    const winner = await findEntitlement(tx, request.fanId, content.id);
    const pending = winner && (await pendingAnswer(tx, request, content, winner, now));
    if (pending) return pending;
    throw alreadyUnlocked(content);
  }
  const entitlement = { id: entitlementId, userId: request.fanId, contentId: content.id, issuer: request.baseUrl, amount };

  if (content.priceDiamonds === null) {
    const receipt = await activate(tx, entitlement, request.siteId, content.creatorId, null, now);
    return { status: 201, body: { object: 'unlock', status: 'succeeded', entitlement: await entitlementView(tx, entitlementId), receipt } };
  }

  // A split content pays each collaborator their part of the creator share (collabs/).
  const { credits, split } = await splitCredits(tx, request.money.ledger, {
    ownerId: content.creatorId,
    amount: content.priceDiamonds,
    feeBasisPoints: request.feeBasisPoints,
    lines: [{ amountDiamonds: content.priceDiamonds, split: await currentSplit(tx, 'content', content.id) }],
  });
  const outcome = await spend(
    tx,
    request.money.ledger,
    {
      kind: 'unlock',
      subjectId: content.id,
      userId: request.fanId,
      siteId: request.siteId,
      recipientId: content.creatorId,
      amount: content.priceDiamonds,
      credits,
      split,
      description: unlockDescription(content),
      origin: request.origin,
      metadata: { contentId: content.id, entitlementId },
      reference: entitlementId,
    },
    now,
  );
  if (outcome.status === 'succeeded') {
    const receipt = await activate(tx, entitlement, request.siteId, content.creatorId, outcome.transfer.id, now);
    return { status: 201, body: { object: 'unlock', status: 'succeeded', entitlement: await entitlementView(tx, entitlementId), receipt } };
  }
  await tx.run('UPDATE entitlements SET confirmation_id = ? WHERE id = ?', [outcome.confirmation.id, entitlementId]);
  return {
    status: 202,
    body: {
      object: 'unlock',
      status: 'confirmation_required',
      entitlement: await entitlementView(tx, entitlementId),
      confirmation: presentConfirmation(outcome.confirmation, request.baseUrl),
    },
  };
}

async function entitlementView(tx: SqlClient, id: string): Promise<Entitlement> {
  const [row] = await tx.query<EntitlementRow>('SELECT * FROM entitlements WHERE id = ?', [id]);
  if (!row) throw new Error(`entitlement ${id} vanished`);
  return presentEntitlement(toRecord(row));
}

/**
 * For a fan who already has an entitlement: the pending confirmation again (202) while it
 * waits; `undefined` once an expired one was cleared (the caller unlocks afresh).
 *
 * @throws {@link ApiError} `already_unlocked` when it is active.
 */
async function pendingAnswer(
  tx: SqlClient,
  request: UnlockRequest,
  content: ContentRecord,
  existing: EntitlementRecord,
  now: number,
): Promise<StoredResponse<Unlock> | undefined> {
  if (existing.status === 'active') throw alreadyUnlocked(content);
  const confirmation = existing.confirmationId === null ? undefined : await findConfirmation(tx, existing.confirmationId, now);
  if (confirmation?.status === 'pending') {
    return {
      status: 202,
      body: {
        object: 'unlock',
        status: 'confirmation_required',
        entitlement: presentEntitlement(existing),
        confirmation: presentConfirmation(confirmation, request.baseUrl),
      },
    };
  }
  if (confirmation?.status === 'expired' && confirmation.decidedAt === null) {
    // Its time ran out but the sweep has not come by yet: expire it now (which releases the
    // hold and removes this pending entitlement), then unlock afresh.
    await expireConfirmation(tx, request.money, confirmation.id, now);
  }
  // A pending entitlement whose confirmation is gone or settled is stale: clear it.
  await tx.run(`DELETE FROM entitlements WHERE id = ? AND status = 'pending_confirmation'`, [existing.id]);
  return undefined;
}

/** Finishes the unlocks that waited for the fan: approve grants them, decline or expiry removes them. */
const unlockSettlement: SpendSettlement = {
  async posted(tx: SqlClient, confirmation: ConfirmationRecord, transfer: { id: string }): Promise<void> {
    const [row] = await tx.query<EntitlementRow>(
      `SELECT * FROM entitlements WHERE confirmation_id = ? AND status = 'pending_confirmation'`,
      [confirmation.id],
    );
    if (!row) return;
    const entitlement = toRecord(row);
    // The confirmation names the held transfer as the payment; the receipt says the same.
    await activate(
      tx,
      entitlement,
      confirmation.siteId,
      confirmation.recipientId,
      confirmation.transferId ?? transfer.id,
      confirmation.decidedAt ?? Date.now(),
    );
  },
  async voided(tx: SqlClient, confirmation: ConfirmationRecord): Promise<void> {
    await tx.run(`DELETE FROM entitlements WHERE confirmation_id = ? AND status = 'pending_confirmation'`, [confirmation.id]);
  },
};

/** What `POST /v1/content/{id}/unlock` asks the money writer. */
export type UnlockInput = Omit<UnlockRequest, 'money'>;

/** Unlocks content (`POST /v1/content/{id}/unlock`): 201 unlocked, or 202 waiting for confirmation. */
export const unlockContentOperation = moneyOperation('content.unlock', (tx, money, input: UnlockInput) =>
  unlockContent(tx, { ...input, money }),
);

/** Content's part in the money path: unlocks, and settling an unlock that waited for confirmation. */
export const contentMoney: MoneyFeature = {
  name: 'content',
  operations: [unlockContentOperation],
  settlements: { unlock: unlockSettlement },
};
