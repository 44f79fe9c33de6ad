import {
  isId,
  MAX_SPLIT_PARTIES,
  SPLIT_TOTAL_BPS,
  type Collaboration,
  type CollaborationStatus,
  type Split,
  type SplitItemKind,
  type SplitShare,
  type SplitShareInput,
  type SplitUse,
} from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { ApiError } from '../errors.js';
import { appendEvent } from '../events/outbox.js';
import { splitFee } from '../ledger/allocate.js';
import type { Ledger, PostingInput } from '../ledger/ledger.js';
import { splitOrder, type Part, type Share, type SplitLine } from './split.js';

/*
 * Collaboration splits (issue 16; docs/guides/collaborations.md). A creator (the owner) invites
 * another creator; once they accept, the owner may split an item they own (content, a catalog
 * product, a live session) with them. Every spend on a split item credits each party's own
 * earnings account with their part of the creator share (what remains after the platform fee),
 * in the spend's one transfer, and records the parts in `collab_spends`. Refunds take back from
 * each party's earnings what the refund's postings say (orders negate the payment's postings;
 * card-dispute reversals apportion by what each part still holds: split.ts).
 */

/** A split as stored: one version of an item's split. */
export interface SplitRecord {
  itemKind: SplitItemKind;
  itemId: string;
  version: number;
  ownerId: string;
  shares: Share[];
  createdAt: number;
}

/** What a spend on split items moved to whom: recorded with the spend (see {@link recordSplitSpend}). */
export interface SplitSpend {
  /** Who was paid: the item's owner (the spend's recipient). */
  ownerId: string;
  /** The creator share that was split (the spend less the platform fee). */
  net: number;
  /** Each party's part, in split order (the owner first); they sum to `net`. */
  parts: Part[];
  /** The split versions used. */
  splits: SplitUse[];
}

// ——— Invitations ———

interface CollaborationRow {
  owner_id: string;
  collaborator_id: string;
  status: string;
  invited_at: number | string;
  decided_at: number | string | null;
  owner_name: string;
  collaborator_name: string;
}

const COLLABORATION_SELECT = `SELECT c.owner_id, c.collaborator_id, c.status, c.invited_at, c.decided_at,
  o.display_name AS owner_name, u.display_name AS collaborator_name
  FROM collaborations c JOIN users o ON o.id = c.owner_id JOIN users u ON u.id = c.collaborator_id`;

function present(row: CollaborationRow): Collaboration {
  return {
    object: 'collaboration',
    owner: { id: row.owner_id as `usr_${string}`, displayName: row.owner_name },
    collaborator: { id: row.collaborator_id as `usr_${string}`, displayName: row.collaborator_name },
    status: row.status as CollaborationStatus,
    invitedAt: Number(row.invited_at),
    decidedAt: row.decided_at === null ? null : Number(row.decided_at),
  };
}

async function findCollaboration(db: SqlClient, ownerId: string, collaboratorId: string): Promise<Collaboration | undefined> {
  const [row] = await db.query<CollaborationRow>(`${COLLABORATION_SELECT} WHERE c.owner_id = ? AND c.collaborator_id = ?`, [
    ownerId,
    collaboratorId,
  ]);
  return row ? present(row) : undefined;
}

async function mustFind(db: SqlClient, ownerId: string, collaboratorId: string): Promise<Collaboration> {
  const found = await findCollaboration(db, ownerId, collaboratorId);
  if (!found) throw new Error(`collaboration ${ownerId} → ${collaboratorId} vanished`);
  return found;
}

/** Who an invitation names: a creator's id, or the email they signed up with. */
export interface InviteTarget {
  creatorId?: string | undefined;
  email?: string | undefined;
}

/**
 * The owner invites a creator to collaborate. Inviting again while invited or accepted answers
 * the same; after a decline, a leave or a removal it is a new invitation.
 *
 * @throws {@link ApiError} `invalid_request` (neither or both of id and email),
 * `creator_not_found` (no such creator), `cannot_collaborate_with_self`.
 */
export async function inviteCollaborator(tx: SqlClient, ownerId: string, target: InviteTarget, now = Date.now()): Promise<Collaboration> {
  if ((target.creatorId === undefined) === (target.email === undefined)) {
    throw new ApiError('invalid_request', 'Name the creator to invite by `creatorId` or by `email` (one of the two).');
  }
  const [creator] =
    target.creatorId !== undefined
      ? await tx.query<{ id: string; is_creator: number | boolean }>('SELECT id, is_creator FROM users WHERE id = ?', [target.creatorId])
      : await tx.query<{ id: string; is_creator: number | boolean }>('SELECT id, is_creator FROM users WHERE email = ?', [
          (target.email ?? '').trim().toLowerCase(),
        ]);
  if (!creator || Number(creator.is_creator) !== 1) {
    throw new ApiError('creator_not_found', 'No creator with that id or email: the creator must have signed up with the creator role.', {
      param: target.creatorId !== undefined ? 'creatorId' : 'email',
    });
  }
  if (creator.id === ownerId) {
    throw new ApiError('cannot_collaborate_with_self', 'You cannot invite yourself: your own share is part of every split already.');
  }
  await tx.run(
    `INSERT INTO collaborations (owner_id, collaborator_id, status, invited_at, decided_at) VALUES (?, ?, 'invited', ?, NULL)
     ON CONFLICT (owner_id, collaborator_id) DO UPDATE SET status = 'invited', invited_at = excluded.invited_at, decided_at = NULL
     WHERE collaborations.status NOT IN ('invited', 'accepted')`,
    [ownerId, creator.id, now],
  );
  return mustFind(tx, ownerId, creator.id);
}

/**
 * The invited creator accepts or declines. Answering again the same way answers the same.
 *
 * @throws {@link ApiError} `collaboration_not_found` when there is no invitation waiting.
 */
export async function answerCollaboration(
  tx: SqlClient,
  input: { ownerId: string; collaboratorId: string; accept: boolean },
  now = Date.now(),
): Promise<Collaboration> {
  const wanted = input.accept ? 'accepted' : 'declined';
  const changed = await tx.run(
    `UPDATE collaborations SET status = ?, decided_at = ? WHERE owner_id = ? AND collaborator_id = ? AND status = 'invited'`,
    [wanted, now, input.ownerId, input.collaboratorId],
  );
  const found = await findCollaboration(tx, input.ownerId, input.collaboratorId);
  if (changed === 0 && found?.status !== wanted) {
    throw new ApiError('collaboration_not_found', `No invitation from ${input.ownerId} is waiting for your answer.`, { param: 'ownerId' });
  }
  return found as Collaboration;
}

/**
 * Ends a collaboration: the collaborator leaves (`left`), or the owner removes them (`removed`).
 * An invitation not yet answered is withdrawn the same way. Splits already set keep their parties
 * (the owner changes them); the collaborator can no longer be named in a new split.
 *
 * @throws {@link ApiError} `collaboration_not_found` when there is nothing to end.
 */
export async function endCollaboration(
  tx: SqlClient,
  input: { ownerId: string; collaboratorId: string; by: 'owner' | 'collaborator' },
  now = Date.now(),
): Promise<Collaboration> {
  const status = input.by === 'owner' ? 'removed' : 'left';
  const changed = await tx.run(
    `UPDATE collaborations SET status = ?, decided_at = ? WHERE owner_id = ? AND collaborator_id = ? AND status IN ('invited', 'accepted')`,
    [status, now, input.ownerId, input.collaboratorId],
  );
  const found = await findCollaboration(tx, input.ownerId, input.collaboratorId);
  if (changed === 0 && found?.status !== status) {
    throw new ApiError('collaboration_not_found', 'There is no current collaboration between these two creators.');
  }
  return found as Collaboration;
}

/** A creator's collaborations: those they made (as owner) and those they were invited to. */
export async function listCollaborations(db: SqlClient, userId: string): Promise<{ sent: Collaboration[]; received: Collaboration[] }> {
  const [sent, received] = await Promise.all([
    db.query<CollaborationRow>(`${COLLABORATION_SELECT} WHERE c.owner_id = ? ORDER BY c.invited_at DESC, c.collaborator_id`, [userId]),
    db.query<CollaborationRow>(`${COLLABORATION_SELECT} WHERE c.collaborator_id = ? ORDER BY c.invited_at DESC, c.owner_id`, [userId]),
  ]);
  return { sent: sent.map(present), received: received.map(present) };
}

// ——— Splits ———

interface SplitRow {
  item_kind: string;
  item_id: string;
  version: number | string;
  owner_id: string;
  shares: string;
  created_at: number | string;
}

function toSplit(row: SplitRow): SplitRecord {
  return {
    itemKind: row.item_kind as SplitItemKind,
    itemId: row.item_id,
    version: Number(row.version),
    ownerId: row.owner_id,
    shares: JSON.parse(row.shares) as Share[],
    createdAt: Number(row.created_at),
  };
}

/** The current split of an item, or undefined when its owner keeps everything. */
export async function currentSplit(db: SqlClient, itemKind: SplitItemKind, itemId: string): Promise<SplitRecord | undefined> {
  const [row] = await db.query<SplitRow>(
    'SELECT item_kind, item_id, version, owner_id, shares, created_at FROM collab_splits WHERE item_kind = ? AND item_id = ? AND ended_at IS NULL',
    [itemKind, itemId],
  );
  return row ? toSplit(row) : undefined;
}

/** The wire view of a split, with the names a fan sees. */
export async function presentSplit(db: SqlClient, split: SplitRecord): Promise<Split> {
  const ids = split.shares.map((share) => share.creatorId);
  const names = await db.query<{ id: string; display_name: string }>(
    `SELECT id, display_name FROM users WHERE id IN (${ids.map(() => '?').join(', ')})`,
    ids,
  );
  const byId = new Map(names.map((row) => [row.id, row.display_name]));
  return {
    object: 'split',
    itemKind: split.itemKind,
    itemId: split.itemId,
    ownerId: split.ownerId as `usr_${string}`,
    version: split.version,
    shares: split.shares.map((share) => ({
      creatorId: share.creatorId as `usr_${string}`,
      displayName: byId.get(share.creatorId) ?? '',
      shareBps: share.shareBps,
    })),
    createdAt: split.createdAt,
  };
}

/**
 * The owner of an item, or undefined when there is no such item: a content's creator, a
 * product's site owner, a live session's creator.
 */
export async function itemOwner(db: SqlClient, itemKind: SplitItemKind, itemId: string, lock = false): Promise<string | undefined> {
  // Locked (PostgreSQL), the item's row queues two changes of its split, even the first two.
  const forUpdate = lock && db.kind === 'postgres' ? (itemKind === 'product' ? ' FOR UPDATE OF p' : ' FOR UPDATE') : '';
  const sql =
    (itemKind === 'content'
      ? 'SELECT creator_id AS owner_id FROM content WHERE id = ?'
      : itemKind === 'product'
        ? 'SELECT s.owner_id FROM products p JOIN sites s ON s.id = p.site_id WHERE p.id = ?'
        : 'SELECT creator_id AS owner_id FROM live_sessions WHERE id = ?') + forUpdate;
  const prefix = itemKind === 'content' ? 'ct' : itemKind === 'product' ? 'prod' : 'ls';
  if (!isId(prefix, itemId)) return undefined;
  const [row] = await db.query<{ owner_id: string }>(sql, [itemId]);
  return row?.owner_id;
}

/**
 * Whether a caller with a key of `siteId` may read an item's split: a live session of anyone
 * (lives are public), content or a product of that site, or any item of that site's owner.
 */
export async function itemVisibleTo(db: SqlClient, itemKind: SplitItemKind, itemId: string, siteId: string): Promise<boolean> {
  const owner = await itemOwner(db, itemKind, itemId);
  if (owner === undefined) return false;
  if (itemKind === 'live') return true;
  const table = itemKind === 'content' ? 'content' : 'products';
  const [row] = await db.query<{ one: number }>(
    `SELECT 1 AS one FROM ${table} i JOIN sites s ON s.id = ? WHERE i.id = ? AND (i.site_id = s.id OR s.owner_id = ?)`,
    [siteId, itemId, owner],
  );
  return row !== undefined;
}

async function ownedItem(db: SqlClient, ownerId: string, itemKind: SplitItemKind, itemId: string): Promise<void> {
  const owner = await itemOwner(db, itemKind, itemId, true);
  if (owner !== ownerId) {
    throw new ApiError('split_item_not_found', `You have no ${itemKind === 'live' ? 'live session' : itemKind} ${itemId} to split.`, {
      param: 'itemId',
    });
  }
}

/**
 * Checks a split as asked for, in the order a creator fixes it: every share a positive integer,
 * nobody twice, the owner named, the shares summing to 10,000, every other party an accepted
 * collaborator. Reads only; nothing is written on a refusal.
 *
 * @throws {@link ApiError} `share_must_be_positive`, `duplicate_collaborator`,
 * `split_owner_missing`, `shares_must_total_10000`, `collaborator_not_accepted`, `invalid_request`
 * (too many parties).
 */
export async function checkShares(db: SqlClient, ownerId: string, shares: readonly SplitShareInput[]): Promise<Share[]> {
  if (shares.length === 0 || shares.length > MAX_SPLIT_PARTIES) {
    throw new ApiError('invalid_request', `A split names 1 to ${MAX_SPLIT_PARTIES} creators, the owner included.`, { param: 'shares' });
  }
  const seen = new Set<string>();
  let total = 0;
  for (const [i, share] of shares.entries()) {
    if (!Number.isSafeInteger(share.shareBps) || share.shareBps <= 0 || share.shareBps > SPLIT_TOTAL_BPS) {
      throw new ApiError(
        'share_must_be_positive',
        `Each share is a whole number of basis points from 1 to ${SPLIT_TOTAL_BPS}; shares.${i} is ${share.shareBps}. Leave a creator out rather than giving them 0.`,
        { param: `shares.${i}.shareBps` },
      );
    }
    if (seen.has(share.creatorId)) {
      throw new ApiError('duplicate_collaborator', `${share.creatorId} is named twice; give each creator one share.`, {
        param: `shares.${i}.creatorId`,
      });
    }
    seen.add(share.creatorId);
    total += share.shareBps;
  }
  if (!seen.has(ownerId)) {
    throw new ApiError('split_owner_missing', `The split must include you (${ownerId}), the item's owner, with a share above 0.`, {
      param: 'shares',
    });
  }
  if (total !== SPLIT_TOTAL_BPS) {
    throw new ApiError(
      'shares_must_total_10000',
      `The shares sum to ${total} basis points; they must sum to exactly ${SPLIT_TOTAL_BPS} (100%).`,
      { param: 'shares' },
    );
  }
  const others = shares.filter((share) => share.creatorId !== ownerId).map((share) => share.creatorId);
  if (others.length > 0) {
    const accepted = await db.query<{ collaborator_id: string }>(
      `SELECT collaborator_id FROM collaborations WHERE owner_id = ? AND status = 'accepted' AND collaborator_id IN (${others.map(() => '?').join(', ')})`,
      [ownerId, ...others],
    );
    const ok = new Set(accepted.map((row) => row.collaborator_id));
    const index = shares.findIndex((share) => share.creatorId !== ownerId && !ok.has(share.creatorId));
    if (index >= 0) {
      throw new ApiError(
        'collaborator_not_accepted',
        `${shares[index]?.creatorId} has not accepted an invitation to collaborate with you; invite them (POST /v1/collaborations) and wait for their answer.`,
        { param: `shares.${index}.creatorId` },
      );
    }
  }
  return shares.map((share) => ({ creatorId: share.creatorId, shareBps: share.shareBps }));
}

function sameShares(a: readonly Share[], b: readonly Share[]): boolean {
  return a.length === b.length && a.every((share, i) => share.creatorId === b[i]?.creatorId && share.shareBps === b[i]?.shareBps);
}

/**
 * Sets the split of an item the owner owns: a new version, used by spends from now on (earlier
 * spends keep the parts they recorded). Setting the current split again answers it unchanged.
 *
 * @throws {@link ApiError} `split_item_not_found` and the codes of {@link checkShares}.
 */
export async function setSplit(
  tx: SqlClient,
  input: { ownerId: string; itemKind: SplitItemKind; itemId: string; shares: readonly SplitShareInput[] },
  now = Date.now(),
): Promise<SplitRecord> {
  await ownedItem(tx, input.ownerId, input.itemKind, input.itemId);
  const shares = await checkShares(tx, input.ownerId, input.shares);
  // ownedItem locked the item (PostgreSQL; SQLite has one writer): versions are read alone.
  const versions = await tx.query<SplitRow & { ended_at: number | null }>(
    `SELECT item_kind, item_id, version, owner_id, shares, created_at, ended_at FROM collab_splits WHERE item_kind = ? AND item_id = ? ORDER BY version DESC`,
    [input.itemKind, input.itemId],
  );
  const latest = versions[0];
  if (latest && latest.ended_at === null && sameShares(toSplit(latest).shares, shares)) return toSplit(latest);
  if (latest && latest.ended_at === null) {
    await tx.run('UPDATE collab_splits SET ended_at = ? WHERE item_kind = ? AND item_id = ? AND version = ?', [
      now,
      input.itemKind,
      input.itemId,
      latest.version,
    ]);
  }
  const version = Number(latest?.version ?? 0) + 1;
  await tx.run(
    'INSERT INTO collab_splits (item_kind, item_id, version, owner_id, shares, created_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, NULL)',
    [input.itemKind, input.itemId, version, input.ownerId, JSON.stringify(shares), now],
  );
  return { itemKind: input.itemKind, itemId: input.itemId, version, ownerId: input.ownerId, shares, createdAt: now };
}

/**
 * Ends an item's split: later spends go to the owner alone. Ending none answers the same.
 *
 * @throws {@link ApiError} `split_item_not_found`
 */
export async function clearSplit(
  tx: SqlClient,
  input: { ownerId: string; itemKind: SplitItemKind; itemId: string },
  now = Date.now(),
): Promise<void> {
  await ownedItem(tx, input.ownerId, input.itemKind, input.itemId);
  await tx.run('UPDATE collab_splits SET ended_at = ? WHERE item_kind = ? AND item_id = ? AND ended_at IS NULL', [
    now,
    input.itemKind,
    input.itemId,
  ]);
}

/** Every current split of an owner, newest first (the creator's page). */
export async function ownerSplits(db: SqlClient, ownerId: string): Promise<SplitRecord[]> {
  const rows = await db.query<SplitRow>(
    'SELECT item_kind, item_id, version, owner_id, shares, created_at FROM collab_splits WHERE owner_id = ? AND ended_at IS NULL ORDER BY created_at DESC',
    [ownerId],
  );
  return rows.map(toSplit);
}

// ——— Spends on split items ———

/** The current split of the creator's live session, if they are live with one. */
export async function liveSplitOf(db: SqlClient, creatorId: string): Promise<SplitRecord | undefined> {
  const [row] = await db.query<SplitRow>(
    `SELECT s.item_kind, s.item_id, s.version, s.owner_id, s.shares, s.created_at
     FROM collab_splits s JOIN live_sessions l ON l.id = s.item_id
     WHERE s.owner_id = ? AND s.item_kind = 'live' AND s.ended_at IS NULL AND l.ended_at IS NULL`,
    [creatorId],
  );
  return row ? toSplit(row) : undefined;
}

/** The current splits of catalog products, by product id (those without one are absent). */
export async function productSplits(db: SqlClient, productIds: readonly string[]): Promise<Map<string, SplitRecord>> {
  const ids = [...new Set(productIds)];
  if (ids.length === 0) return new Map();
  const rows = await db.query<SplitRow>(
    `SELECT item_kind, item_id, version, owner_id, shares, created_at FROM collab_splits
     WHERE item_kind = 'product' AND ended_at IS NULL AND item_id IN (${ids.map(() => '?').join(', ')})`,
    ids,
  );
  return new Map(rows.map((row) => [row.item_id, toSplit(row)]));
}

/** A line of a spend for {@link splitCredits}: its amount and the split that applies to it, if any. */
export interface CreditLine {
  amountDiamonds: number;
  split: SplitRecord | undefined;
}

/**
 * The credits of a spend paid to `ownerId`: as `creatorCredits` (money/spends.ts) when no line
 * is split; otherwise the platform fee as usual and the creator share split exactly among the
 * parties (split.ts), one posting to each party's earnings with a part above 0.
 *
 * @returns The credits, and the split spend to hand to `spend` (undefined when nothing is split).
 */
export async function splitCredits(
  tx: SqlClient,
  ledger: Ledger,
  request: { ownerId: string; amount: number; feeBasisPoints: number; lines: readonly CreditLine[] },
): Promise<{ credits: PostingInput[]; split: SplitSpend | undefined }> {
  const { net, fee } = splitFee(request.amount, request.feeBasisPoints);
  const split = request.lines.some((line) => line.split !== undefined);
  const lines: SplitLine[] = split
    ? request.lines.map((line) => ({ amountDiamonds: line.amountDiamonds, shares: line.split?.shares ?? null }))
    : [];
  const parts = split ? splitOrder(net, request.ownerId, lines) : [{ creatorId: request.ownerId, netDiamonds: net }];
  const credits: PostingInput[] = [];
  for (const part of parts) {
    if (part.netDiamonds > 0) {
      credits.push({
        accountId: await ledger.accountId({ ownerId: part.creatorId, kind: 'earnings' }, tx),
        amountDiamonds: part.netDiamonds,
      });
    }
  }
  if (fee > 0) credits.push({ accountId: await ledger.accountId({ ownerId: null, kind: 'fees' }, tx), amountDiamonds: fee });
  if (!split) return { credits, split: undefined };
  const uses = new Map<string, SplitUse>();
  for (const line of request.lines) {
    if (line.split) {
      uses.set(`${line.split.itemKind}:${line.split.itemId}`, {
        itemKind: line.split.itemKind,
        itemId: line.split.itemId,
        version: line.split.version,
      });
    }
  }
  return { credits, split: { ownerId: request.ownerId, net, parts, splits: [...uses.values()] } };
}

/** What {@link recordSplitSpend} records. */
export interface SplitSpendRecord {
  /** The spend's transfer: posted at once, or the reservation of a held spend. */
  transferId: string;
  kind: 'gift' | 'unlock' | 'order';
  subjectId: string;
  siteId: string;
  fanId: string;
  amount: number;
  split: SplitSpend;
}

/**
 * Records a spend's split parts (in the spend's transaction) and, when its Diamonds moved
 * (`posted`), appends one `split.paid` per party. A replay of the same spend records nothing again.
 */
export async function recordSplitSpend(tx: SqlClient, record: SplitSpendRecord, posted: boolean, now = Date.now()): Promise<void> {
  const inserted = await tx.run(
    `INSERT INTO collab_spends (transfer_id, kind, subject_id, site_id, fan_id, owner_id, amount, net, parts, splits, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (transfer_id) DO NOTHING`,
    [
      record.transferId,
      record.kind,
      record.subjectId,
      record.siteId,
      record.fanId,
      record.split.ownerId,
      record.amount,
      record.split.net,
      JSON.stringify(record.split.parts),
      JSON.stringify(record.split.splits),
      now,
    ],
  );
  if (inserted > 0 && posted) await appendSplitPaid(tx, record, now);
}

interface CollabSpendRow {
  transfer_id: string;
  kind: string;
  subject_id: string;
  site_id: string;
  fan_id: string;
  owner_id: string;
  amount: number | string;
  net: number | string;
  parts: string;
  splits: string;
}

function toRecord(row: CollabSpendRow): SplitSpendRecord {
  return {
    transferId: row.transfer_id,
    kind: row.kind as SplitSpendRecord['kind'],
    subjectId: row.subject_id,
    siteId: row.site_id,
    fanId: row.fan_id,
    amount: Number(row.amount),
    split: {
      ownerId: row.owner_id,
      net: Number(row.net),
      parts: JSON.parse(row.parts) as Part[],
      splits: JSON.parse(row.splits) as SplitUse[],
    },
  };
}

/**
 * The split a spend recorded, found by its transfer, or by the transfer that posted its
 * reservation; undefined for a spend on nothing split.
 */
export async function splitSpendOf(db: SqlClient, transferId: string): Promise<SplitSpendRecord | undefined> {
  const [row] = await db.query<CollabSpendRow>(
    `SELECT * FROM collab_spends WHERE transfer_id = ? OR transfer_id = (SELECT pending_id FROM transfers WHERE id = ?)`,
    [transferId, transferId],
  );
  return row ? toRecord(row) : undefined;
}

/** A held split spend was approved: its `split.paid` events, in the settling transaction. */
export async function splitSpendPosted(tx: SqlClient, reservationId: string, now = Date.now()): Promise<void> {
  const [row] = await tx.query<CollabSpendRow>('SELECT * FROM collab_spends WHERE transfer_id = ?', [reservationId]);
  if (row) await appendSplitPaid(tx, toRecord(row), now);
}

/** Where each party's own events go: the owner's on the spend's site, a collaborator's on their first site. */
async function siteOfParties(tx: SqlClient, record: SplitSpendRecord): Promise<Map<string, string | null>> {
  const ids = record.split.parts.map((part) => part.creatorId);
  const rows = await tx.query<{ id: string; owner_id: string }>(
    `SELECT id, owner_id FROM sites WHERE owner_id IN (${ids.map(() => '?').join(', ')}) ORDER BY created_at DESC, id DESC`,
    ids,
  );
  const sites = new Map<string, string | null>(ids.map((id) => [id, null]));
  // Descending, so the first-made site of each owner is written last and wins.
  for (const row of rows) sites.set(row.owner_id, row.id);
  sites.set(record.split.ownerId, record.siteId);
  return sites;
}

async function appendSplitPaid(tx: SqlClient, record: SplitSpendRecord, now: number): Promise<void> {
  const sites = await siteOfParties(tx, record);
  const parts = record.split.parts.map((part) => ({ creatorId: part.creatorId as `usr_${string}`, netDiamonds: part.netDiamonds }));
  for (const part of record.split.parts) {
    await appendEvent(
      tx,
      {
        type: 'split.paid',
        siteId: sites.get(part.creatorId) ?? null,
        creatorId: part.creatorId,
        fanId: record.fanId,
        data: {
          kind: record.kind,
          subjectId: record.subjectId,
          transferId: record.transferId as `txn_${string}`,
          amountDiamonds: record.amount,
          netDiamonds: record.split.net,
          partDiamonds: part.netDiamonds,
          parts,
          splits: record.split.splits,
        },
      },
      now,
    );
  }
}

/**
 * After a refund of a split spend (an order's refund, a card dispute's reversal), one
 * `split.refunded` per party with what the refund's postings took back from their earnings.
 * Does nothing for a spend on nothing split.
 */
export async function splitSpendRefunded(
  tx: SqlClient,
  spendTransferId: string,
  refundTransferId: string,
  now = Date.now(),
): Promise<void> {
  const record = await splitSpendOf(tx, spendTransferId);
  if (!record) return;
  const taken = await tx.query<{ owner_id: string; amount: number | string }>(
    `SELECT a.owner_id, p.amount FROM postings p JOIN accounts a ON a.id = p.account_id WHERE p.transfer_id = ? AND a.kind = 'earnings'`,
    [refundTransferId],
  );
  const back = new Map(taken.map((row) => [row.owner_id, -Number(row.amount)]));
  const parts = record.split.parts.map((part) => ({
    creatorId: part.creatorId as `usr_${string}`,
    netDiamonds: Math.max(0, back.get(part.creatorId) ?? 0),
  }));
  const sites = await siteOfParties(tx, record);
  for (const part of parts) {
    await appendEvent(
      tx,
      {
        type: 'split.refunded',
        siteId: sites.get(part.creatorId) ?? null,
        creatorId: part.creatorId,
        fanId: record.fanId,
        data: {
          kind: record.kind,
          subjectId: record.subjectId,
          transferId: record.transferId as `txn_${string}`,
          refundTransferId: refundTransferId as `txn_${string}`,
          partDiamonds: part.netDiamonds,
          parts,
        },
      },
      now,
    );
  }
}

/** A split spend's parts with the names a fan sees (the confirmation page, before paying). */
export interface NamedSplitSpend {
  /** The creator share that is split; the rest of the amount is the platform fee. */
  net: number;
  parts: Array<{ creatorId: string; displayName: string; netDiamonds: number }>;
}

/** The parts a spend (by its transfer or reservation) pays each party, named; undefined when nothing is split. */
export async function namedSplitSpend(db: SqlClient, transferId: string): Promise<NamedSplitSpend | undefined> {
  const record = await splitSpendOf(db, transferId);
  if (!record) return undefined;
  const ids = record.split.parts.map((part) => part.creatorId);
  const names = await db.query<{ id: string; display_name: string }>(
    `SELECT id, display_name FROM users WHERE id IN (${ids.map(() => '?').join(', ')})`,
    ids,
  );
  const byId = new Map(names.map((row) => [row.id, row.display_name]));
  return {
    net: record.split.net,
    parts: record.split.parts.map((part) => ({ ...part, displayName: byId.get(part.creatorId) ?? 'a former member' })),
  };
}

async function displayNames(db: SqlClient, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.query<{ id: string; display_name: string }>(
    `SELECT id, display_name FROM users WHERE id IN (${ids.map(() => '?').join(', ')})`,
    [...ids],
  );
  return new Map(rows.map((row) => [row.id, row.display_name]));
}

async function named(db: SqlClient, shares: readonly Share[]): Promise<SplitShare[]> {
  const names = await displayNames(
    db,
    shares.map((share) => share.creatorId),
  );
  return shares.map((share) => ({
    creatorId: share.creatorId as `usr_${string}`,
    displayName: names.get(share.creatorId) ?? 'a former member',
    shareBps: share.shareBps,
  }));
}

/**
 * How a spend on an item would be split, as a fan sees it before paying (the `split` of the
 * public content, order and live reads): names and shares, or undefined when the owner keeps it all.
 */
export async function itemSplitShares(db: SqlClient, itemKind: SplitItemKind, itemId: string): Promise<SplitShare[] | undefined> {
  const split = await currentSplit(db, itemKind, itemId);
  return split ? named(db, split.shares) : undefined;
}

/**
 * How paying an order would split its creator share, as effective shares of the whole (its
 * lines weighted by amount, each split by its product's split; split.ts `splitOrder` on 10,000
 * basis points), or undefined when no line's product is split.
 */
export async function orderSplitShares(
  db: SqlClient,
  ownerId: string,
  lines: ReadonlyArray<{ productId: string | null; amountDiamonds: number }>,
): Promise<SplitShare[] | undefined> {
  const splits = await productSplits(
    db,
    lines.flatMap((line) => (line.productId === null ? [] : [line.productId])),
  );
  const shares = lines.map((line) => {
    const split = line.productId === null ? undefined : splits.get(line.productId);
    return { amountDiamonds: line.amountDiamonds, shares: split?.ownerId === ownerId ? split.shares : null };
  });
  if (shares.every((line) => line.shares === null)) return undefined;
  const effective = splitOrder(SPLIT_TOTAL_BPS, ownerId, shares)
    .filter((part) => part.netDiamonds > 0)
    .map((part) => ({ creatorId: part.creatorId, shareBps: part.netDiamonds }));
  return named(db, effective);
}

/**
 * A split as one short line for a price tag: `Shared: Ada 60% · Bo 40%` (percentages with at
 * most two decimals). What the paywall shows after the price.
 */
export function splitLine(shares: readonly SplitShare[]): string {
  return `Shared: ${shares.map((share) => `${share.displayName} ${share.shareBps / 100}%`).join(' · ')}`;
}
