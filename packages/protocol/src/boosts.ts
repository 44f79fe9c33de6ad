import { z } from 'zod';
import { idSchema } from './ids.js';

/*
 * Boosts (issue 16): a creator spends Diamonds of their earnings to show a piece of content or a
 * product in `<diamond-discover>` and on the platform's discover page. The budget is consumed per
 * counted impression at a published price per 1,000 (CPM); what is left comes back when the boost
 * ends or is stopped. See docs/boosts.md.
 */

/** A boost id (`bst_…`). */
export const BoostId = idSchema('bst');
/** A boost id. */
export type BoostId = z.infer<typeof BoostId>;

/**
 * The published price of a boost: Diamonds per 1,000 counted impressions.
 *
 * @remarks Each counted impression consumes `BOOST_CPM_DIAMONDS / 1000` Diamonds, kept exactly in
 * thousandths of a Diamond; whole Diamonds move to the platform as the thousandths add up, and a
 * last partial Diamond is never charged (it returns with the rest of the budget).
 */
export const BOOST_CPM_DIAMONDS = 50;

/** The longest a boost may run: 90 days. */
export const MAX_BOOST_DURATION_MS = 90 * 24 * 60 * 60 * 1000;

/** Most items one report of impressions or clicks may carry. */
export const MAX_BOOST_REPORT_ITEMS = 50;

/** What a boost promotes: a piece of content (`ct_…`) or a product (`prod_…`). */
export const BoostItemKind = z.enum(['content', 'product']);
/** What a boost promotes. */
export type BoostItemKind = z.infer<typeof BoostItemKind>;

/**
 * The state of a boost: `scheduled` before its start, `active` while shown, `ended` once settled
 * (see `endReason`) and what was left went back to the creator's earnings.
 */
export const BoostStatus = z.enum(['scheduled', 'active', 'ended']);
/** The state of a boost. */
export type BoostStatus = z.infer<typeof BoostStatus>;

/** Why a boost ended: its time passed, the creator stopped it, or its budget was spent. */
export const BoostEndReason = z.enum(['ended', 'stopped', 'exhausted']);
/** Why a boost ended. */
export type BoostEndReason = z.infer<typeof BoostEndReason>;

/** `POST /v1/boosts`: boost one of the site owner's items. */
export const CreateBoost = z.object({
  /** `ct_…` or `prod_…`, of the site. */
  itemId: z.string().min(1).max(64),
  /** Whole Diamonds, taken from the owner's available earnings now. */
  budgetDiamonds: z.int().positive(),
  /** When it starts showing (ms since the epoch); default now. */
  startsAt: z.int().optional(),
  /** When it ends (ms since the epoch), after `startsAt`, within 90 days. */
  endsAt: z.int(),
  /** Where a click leads: a page on one of the site's origins. Default the site's first origin. */
  url: z.string().max(2048).optional(),
});
/** A boost request. */
export type CreateBoost = z.infer<typeof CreateBoost>;

/** What a boost's audience did, and what it cost. */
export const BoostStats = z.object({
  /** Counted impressions: visible ≥ 1 s, once per viewer per day. */
  impressions: z.int().nonnegative(),
  /** Counted clicks: once per viewer per day. */
  clicks: z.int().nonnegative(),
  /** Unlocks and paid orders of the item by a fan within 24 h of their click. */
  conversions: z.int().nonnegative(),
  /** Whole Diamonds charged so far. */
  spentDiamonds: z.int().nonnegative(),
  /** Budget not yet charged (returned once the boost ended). */
  leftDiamonds: z.int().nonnegative(),
  /** Returned to the creator's earnings at the end; null until then. */
  returnedDiamonds: z.int().nonnegative().nullable(),
});
/** A boost's figures. */
export type BoostStats = z.infer<typeof BoostStats>;

/** A boost, as its creator reads it. */
export const Boost = z.object({
  object: z.literal('boost'),
  id: BoostId,
  siteId: z.string(),
  creatorId: z.string(),
  itemKind: BoostItemKind,
  itemId: z.string(),
  title: z.string(),
  url: z.string(),
  budgetDiamonds: z.int().positive(),
  cpmDiamonds: z.int().positive(),
  status: BoostStatus,
  startsAt: z.int(),
  endsAt: z.int(),
  /** Why it ended; null until then. */
  endReason: BoostEndReason.nullable(),
  /** When it was settled; null until then. */
  endedAt: z.int().nullable(),
  stats: BoostStats,
  createdAt: z.int(),
});
/** A boost. */
export type Boost = z.infer<typeof Boost>;

/** The site owner's boosts, newest first. */
export const BoostList = z.object({ object: z.literal('list'), data: z.array(Boost) });
/** A list of boosts. */
export type BoostList = z.infer<typeof BoostList>;

/** A boosted item as `<diamond-discover>` and the discover page show it: public facts only. */
export const DiscoverItem = z.object({
  boostId: BoostId,
  itemKind: BoostItemKind,
  itemId: z.string(),
  title: z.string(),
  /** The teaser of content; empty for a product. */
  excerpt: z.string(),
  /** A product's https image, or null. */
  imageUrl: z.string().nullable(),
  priceDiamonds: z.int().positive().nullable(),
  creator: z.object({ id: z.string(), displayName: z.string() }),
  /** Where a click leads (on the creator's site). */
  url: z.string(),
});
/** A boosted item. */
export type DiscoverItem = z.infer<typeof DiscoverItem>;

/** `GET /v1/discover`: boosted items being shown now. */
export const DiscoverList = z.object({ object: z.literal('list'), data: z.array(DiscoverItem) });
/** The discover list. */
export type DiscoverList = z.infer<typeof DiscoverList>;

/**
 * `POST /v1/boosts/impressions`: what a page saw. `viewerId` is the element's first-party random
 * id (a signed-in fan's calls are counted as the fan instead).
 */
export const BoostReport = z.object({
  viewerId: z
    .string()
    .min(16)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/, 'A viewer id is 16 to 64 letters, digits, "_" or "-".'),
  items: z
    .array(z.object({ boostId: BoostId, kind: z.enum(['impression', 'click']) }))
    .min(1)
    .max(MAX_BOOST_REPORT_ITEMS),
});
/** A report of impressions and clicks. */
export type BoostReport = z.infer<typeof BoostReport>;

/** What the platform took of a report (counted later, in batches; duplicates are dropped). */
export const BoostReportAccepted = z.object({ object: z.literal('boost_report'), accepted: z.int().nonnegative() });
/** The answer to a report. */
export type BoostReportAccepted = z.infer<typeof BoostReportAccepted>;
