import { z } from 'zod';
import { DiamondAmount } from './amounts.js';

/*
 * The creator fund as a creator's backend reads it (`GET /v1/fund`): the published rules of the
 * engagement score, and per period the creator's line, a running estimate while the period is
 * open and the breakdown that was paid once it is closed. See docs/creator-fund.md.
 */

/** The published rules of the engagement score (what `docs/creator-fund.md` explains). */
export const FundRules = z.object({
  /** Points for each distinct paying supporter in the period. */
  supporterPoints: z.int().nonnegative(),
  /** Points for each unlock by that supporter. */
  unlockPoints: z.int().nonnegative(),
  /** Points for each gift by that supporter. */
  giftPoints: z.int().nonnegative(),
  /** The most points one supporter adds, however often they pay. */
  capPerSupporter: z.int().nonnegative(),
  /** Fewer distinct supporters than this and the creator does not qualify (share 0). */
  minimumSupporters: z.int().nonnegative(),
});
/** The score's rules. */
export type FundRules = z.infer<typeof FundRules>;

/** A fund period: a calendar month (`2026-12`) or explicit bounds (`from..to`). */
export const FundPeriod = z.object({
  id: z.string(),
  /** Start, ms since the epoch. */
  startsAt: z.int(),
  /** End (exclusive), ms since the epoch. */
  endsAt: z.int(),
  /** The Diamonds the operator put in the pool. */
  poolDiamonds: DiamondAmount,
  status: z.enum(['open', 'closed']),
  /** Sum of the qualifying scores; null until closed. */
  totalScore: z.int().nonnegative().nullable(),
  /** What went back to the platform at close; null until closed. */
  returnedDiamonds: z.int().nonnegative().nullable(),
  closedAt: z.int().nullable(),
});
/** A fund period. */
export type FundPeriod = z.infer<typeof FundPeriod>;

/** One creator's line of a period: the score's parts and the share. */
export const FundLine = z.object({
  creatorId: z.string(),
  /** Distinct supporters counted (self-support and linked accounts excluded). */
  supporters: z.int().nonnegative(),
  unlocks: z.int().nonnegative(),
  gifts: z.int().nonnegative(),
  /** Points before the per-supporter cap. */
  rawPoints: z.int().nonnegative(),
  /** Points after the cap: the score. */
  score: z.int().nonnegative(),
  /** At least the minimum number of supporters. */
  qualified: z.boolean(),
  /** The share: paid (closed) or what it would be if the period closed now (open). */
  amountDiamonds: z.int().nonnegative(),
  /** The `fund` transfer that paid it; null while open or when nothing was paid. */
  transferId: z.string().nullable(),
});
/** A creator's line of a period. */
export type FundLine = z.infer<typeof FundLine>;

/** A period as the creator sees it: their own line (none when they had no counted support). */
export const FundReport = z.object({
  period: FundPeriod,
  /** True while the period is open: the line is a running estimate. */
  estimate: z.boolean(),
  /** The creator's line, or null when no spend to them counted in the period. */
  line: FundLine.nullable(),
  /** Sum of the qualifying scores of every creator (the denominator of the share). */
  totalScore: z.int().nonnegative(),
});
/** A period as the creator sees it. */
export type FundReport = z.infer<typeof FundReport>;

/** `GET /v1/fund`: the rules, and the site owner's periods, newest first. */
export const FundOverview = z.object({
  object: z.literal('fund'),
  creatorId: z.string(),
  rules: FundRules,
  periods: z.array(FundReport),
});
/** The fund as the site owner sees it. */
export type FundOverview = z.infer<typeof FundOverview>;
