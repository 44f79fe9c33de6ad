import { z } from 'zod';
import { DiamondAmount } from './amounts.js';
import { idSchema } from './ids.js';

/*
 * Collaboration splits (issue 16): a creator invites other creators to collaborate; once they
 * accept, the creator may split the earnings of a piece of content, a product or a live session
 * with them, in basis points summing to 10,000. See docs/guides/collaborations.md.
 */

/** Basis points in a whole split: the shares of a split sum to exactly this. */
export const SPLIT_TOTAL_BPS = 10_000;

/** Most parties one split may name, the owner included. */
export const MAX_SPLIT_PARTIES = 20;

/** What a split is on: a piece of content (`ct_…`), a catalog product (`prod_…`) or a live session (`ls_…`). */
export const SplitItemKind = z.enum(['content', 'product', 'live']);
/** What a split is on (see {@link SplitItemKind}). */
export type SplitItemKind = z.infer<typeof SplitItemKind>;

/** One party of a split as the creator asks for it. */
export const SplitShareInput = z.object({
  /** The creator (`usr_…`): the item's owner, or a collaborator who accepted. */
  creatorId: idSchema('usr'),
  /** Their share in basis points (1 to 10,000). */
  shareBps: z.int(),
});
/** One party of a split as asked for (see {@link SplitShareInput}). */
export type SplitShareInput = z.infer<typeof SplitShareInput>;

/**
 * `PUT /v1/splits/{itemKind}/{itemId}`: the new split of an item. Every party once, the owner
 * included, each share above 0, the shares summing to 10,000; every party but the owner a
 * collaborator who accepted. It applies to spends from now on; earlier spends keep theirs.
 */
export const SetSplit = z.object({
  shares: z.array(SplitShareInput).min(1).max(MAX_SPLIT_PARTIES),
});
/** The body of `PUT /v1/splits/{itemKind}/{itemId}` (see {@link SetSplit}). */
export type SetSplit = z.infer<typeof SetSplit>;

/** One party of a split, with the name a fan sees. */
export const SplitShare = z.object({
  creatorId: idSchema('usr'),
  displayName: z.string(),
  shareBps: z.int().min(1).max(SPLIT_TOTAL_BPS),
});
/** One party of a split (see {@link SplitShare}). */
export type SplitShare = z.infer<typeof SplitShare>;

/**
 * The split of an item: who shares the creator's part of every spend on it (what remains after
 * the platform fee), in order, the owner first. Public facts: a fan sees them before paying.
 */
export const Split = z.object({
  object: z.literal('split'),
  itemKind: SplitItemKind,
  itemId: z.string(),
  ownerId: idSchema('usr'),
  /** Grows by one at every change; each spend records the version it used. */
  version: z.int().positive(),
  shares: z.array(SplitShare).min(1),
  /** When this version was set, in milliseconds since the epoch. */
  createdAt: z.int(),
});
/** The split of an item (see {@link Split}). */
export type Split = z.infer<typeof Split>;

/**
 * `GET /v1/splits/{itemKind}/{itemId}`: the item's current split, or `split: null` when its
 * owner keeps all of it.
 */
export const SplitView = z.object({
  object: z.literal('split_view'),
  itemKind: SplitItemKind,
  itemId: z.string(),
  split: Split.nullable(),
});
/** An item's current split, or none (see {@link SplitView}). */
export type SplitView = z.infer<typeof SplitView>;

/**
 * `GET /v1/live/{creatorId}/split`: the split of the creator's live session now, which every
 * gift to them while it lasts is split by: what `<diamond-gift-button>` shows a fan before
 * paying. `split` and `splitLine` are absent when the creator is not live, or keeps it all.
 */
export const LiveSplit = z.object({
  object: z.literal('live_split'),
  creatorId: idSchema('usr'),
  /** The session live now (`ls_…`), or null when the creator is not live. */
  sessionId: idSchema('ls').nullable(),
  /** Who gets what share of the creator's part of a gift (after the platform fee), the owner first. */
  split: z.array(SplitShare).optional(),
  /** The same split as one short line, as the paywall's ("Shared: Ada 60% · Bo 40%"). */
  splitLine: z.string().optional(),
});
/** The split of a creator's live session now (see {@link LiveSplit}). */
export type LiveSplit = z.infer<typeof LiveSplit>;

/**
 * Where a collaboration stands.
 *
 * - `invited`: the owner invited the creator, who has not answered.
 * - `accepted`: the creator accepted; the owner may name them in splits.
 * - `declined`: the creator declined.
 * - `left`: the creator left after accepting.
 * - `removed`: the owner removed the creator.
 *
 * Only `accepted` may be named in a new split; a split already set keeps its parties.
 */
export const CollaborationStatus = z.enum(['invited', 'accepted', 'declined', 'left', 'removed']);
/** Where a collaboration stands (see {@link CollaborationStatus}). */
export type CollaborationStatus = z.infer<typeof CollaborationStatus>;

const Party = z.object({ id: idSchema('usr'), displayName: z.string() });

/** An invitation to collaborate and what became of it, seen by either side. */
export const Collaboration = z.object({
  object: z.literal('collaboration'),
  /** Who invited (and owns the items to split). */
  owner: Party,
  /** Who was invited. */
  collaborator: Party,
  status: CollaborationStatus,
  /** When the (latest) invitation was made, ms since the epoch. */
  invitedAt: z.int(),
  /** When it was answered or ended; null while `invited`. */
  decidedAt: z.int().nullable(),
});
/** An invitation to collaborate (see {@link Collaboration}). */
export type Collaboration = z.infer<typeof Collaboration>;

/** `GET /v1/collaborations`: the caller's collaborations, those they made and those they were invited to. */
export const CollaborationList = z.object({
  object: z.literal('list'),
  /** Invitations the caller made (they are the owner). */
  sent: z.array(Collaboration),
  /** Invitations the caller received (they are the collaborator). */
  received: z.array(Collaboration),
});
/** The caller's collaborations (see {@link CollaborationList}). */
export type CollaborationList = z.infer<typeof CollaborationList>;

/** `POST /v1/collaborations`: invite a creator, by id or by the email they signed up with. */
export const InviteCollaborator = z.object({
  /** The creator's id; or give `email` instead (exactly one of the two). */
  creatorId: idSchema('usr').optional(),
  /** The email the creator signed up with. */
  email: z.string().min(3).max(320).optional(),
});
/** The body of `POST /v1/collaborations` (see {@link InviteCollaborator}). */
export type InviteCollaborator = z.infer<typeof InviteCollaborator>;

/** One party's part of one spend: what their earnings got (or gave back). */
export const SplitPart = z.object({
  creatorId: idSchema('usr'),
  shareBps: z.int().min(1).max(SPLIT_TOTAL_BPS),
  netDiamonds: z.int().nonnegative(),
});
/** One party's part of a spend (see {@link SplitPart}). */
export type SplitPart = z.infer<typeof SplitPart>;

/** What a split spend used: the item's split version. An order lists one per split product. */
export const SplitUse = z.object({
  itemKind: SplitItemKind,
  itemId: z.string(),
  version: z.int().positive(),
});
/** A split version a spend used (see {@link SplitUse}). */
export type SplitUse = z.infer<typeof SplitUse>;

/** The data of `split.paid`: a spend on a split item, and each party's part of the creator share. */
export const SplitPaidData = z.object({
  kind: z.enum(['gift', 'unlock', 'order']),
  /** What was paid for: `gift_…`, `ct_…` or `ord_…`. */
  subjectId: z.string(),
  /** The transfer that moved the Diamonds. */
  transferId: idSchema('txn'),
  /** What the fan paid. */
  amountDiamonds: DiamondAmount,
  /** The creator share (after the platform fee) that was split. */
  netDiamonds: z.int().nonnegative(),
  /** This event's creator's part. */
  partDiamonds: z.int().nonnegative(),
  /** Every party's part, in split order; they sum to `netDiamonds`. */
  parts: z.array(z.object({ creatorId: idSchema('usr'), netDiamonds: z.int().nonnegative() })),
  splits: z.array(SplitUse),
});
/** The data of `split.paid` (see {@link SplitPaidData}). */
export type SplitPaidData = z.infer<typeof SplitPaidData>;

/** The data of `split.refunded`: a split spend refunded, and what each party's earnings gave back. */
export const SplitRefundedData = z.object({
  kind: z.enum(['gift', 'unlock', 'order']),
  subjectId: z.string(),
  /** The spend's transfer. */
  transferId: idSchema('txn'),
  /** The refund's transfer. */
  refundTransferId: idSchema('txn'),
  /** This event's creator's part taken back. */
  partDiamonds: z.int().nonnegative(),
  /** Every party's part taken back. */
  parts: z.array(z.object({ creatorId: idSchema('usr'), netDiamonds: z.int().nonnegative() })),
});
/** The data of `split.refunded` (see {@link SplitRefundedData}). */
export type SplitRefundedData = z.infer<typeof SplitRefundedData>;
