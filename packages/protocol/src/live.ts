import { z } from 'zod';
import { DiamondAmount } from './amounts.js';
import { GiftAnimation, GiftId, GiftTypeId } from './gifts.js';
import { idSchema } from './ids.js';

/** A live session's id (`ls_…`). */
export const LiveSessionId = idSchema('ls');

/** The name shown for a fan who chose to stay anonymous in live alerts. */
export const ANONYMOUS_FAN_NAME = 'A fan';

/** Gifts of the same fan, gift and creator this close together (ms) join one alert: "×N". */
export const COMBO_WINDOW_MS = 5_000;

/**
 * One gift as every screen of the creator's live shows it: `event: gift` on the stream.
 *
 * @remarks `combo` is decided once, on the server, from the order the gifts committed: the same
 * fan sending the same gift to the same creator within {@link COMBO_WINDOW_MS} of their previous
 * one continues the combo (2, 3…); otherwise it is 1. Every screen shows the same count.
 */
export const LiveGift = z.object({
  /** The gift (`gift_…`). */
  giftId: GiftId,
  giftTypeId: GiftTypeId,
  giftName: z.string(),
  /** The absolute URL of the gift's SVG art. */
  artUrl: z.string(),
  animation: GiftAnimation,
  quantity: z.int().positive(),
  amountDiamonds: DiamondAmount,
  /** 1 for a new alert; 2, 3… while the same fan keeps sending the same gift within 5 s. */
  combo: z.int().positive(),
  /** The fan's display name, or "A fan" when they chose to stay anonymous. */
  fanName: z.string(),
  /** The gift's message; `null` without one, or when the creator's blocked words hid it. */
  message: z.string().nullable(),
  /** True when a message was hidden by the creator's blocked words (the gift still counts). */
  messageHidden: z.boolean(),
  /** The live session it counted for, if one was running. */
  sessionId: LiveSessionId.nullable(),
  createdAt: z.int(),
  /**
   * True for a test alert the creator sent from their live page (`live.test_alert`): no gift was
   * sent, nothing was counted; `giftId` names no gift. Absent on real gifts.
   */
  test: z.boolean().optional(),
});

/** A gift on the live stream (see {@link LiveGift}). */
export type LiveGift = z.infer<typeof LiveGift>;

/** A creator's goal and how far it is: `event: goal` on the stream. */
export const LiveGoal = z.object({
  title: z.string(),
  targetDiamonds: DiamondAmount,
  /** Diamonds given since the goal was set (and before it ends). */
  progressDiamonds: z.int().nonnegative(),
  /** When it was first reached; `null` until then. */
  reachedAt: z.int().nullable(),
  /** When it stops counting, or `null` for no end. */
  endsAt: z.int().nullable(),
});

/** A creator's goal (see {@link LiveGoal}). */
export type LiveGoal = z.infer<typeof LiveGoal>;

/** Over which period the top gifters are counted. */
export const TopGiftersScope = z.enum(['session', 'today', 'all_time']);

/** The period of a top gifters list (see {@link TopGiftersScope}). */
export type TopGiftersScope = z.infer<typeof TopGiftersScope>;

/** The top gifters of one period: `event: top_gifters` on the stream, sent when the list changes. */
export const LiveTopGifters = z.object({
  scope: TopGiftersScope,
  gifters: z.array(z.object({ fanName: z.string(), diamonds: z.int().nonnegative() })).max(10),
});

/** A top gifters list (see {@link LiveTopGifters}). */
export type LiveTopGifters = z.infer<typeof LiveTopGifters>;

/** A live session's start or end: `event: session` on the stream. */
export const LiveSessionState = z.object({
  sessionId: LiveSessionId,
  status: z.enum(['live', 'ended']),
  title: z.string(),
  startedAt: z.int(),
  endedAt: z.int().nullable(),
});

/** A live session's state (see {@link LiveSessionState}). */
export type LiveSessionState = z.infer<typeof LiveSessionState>;

/** What a live session brought, shown to the creator when it ends. */
export const LiveSessionSummary = LiveSessionState.extend({
  diamonds: z.int().nonnegative(),
  gifts: z.int().nonnegative(),
  gifters: z.int().nonnegative(),
  /** The largest gifts of the session, largest first (at most three). */
  topGifts: z.array(z.object({ fanName: z.string(), giftName: z.string(), quantity: z.int(), amountDiamonds: z.int() })).max(3),
  durationMs: z.int().nonnegative(),
});

/** A live session's summary (see {@link LiveSessionSummary}). */
export type LiveSessionSummary = z.infer<typeof LiveSessionSummary>;

/** The body of `POST /v1/live/goal` (secret key): the site owner's goal. */
export const SetLiveGoal = z.strictObject({
  title: z.string().trim().min(1).max(80),
  targetDiamonds: DiamondAmount,
  /** When it stops counting (ms since the epoch), or omitted for no end. */
  endsAt: z.int().positive().optional(),
});

/** The body of `POST /v1/live/goal` (see {@link SetLiveGoal}). */
export type SetLiveGoal = z.infer<typeof SetLiveGoal>;

/**
 * The body of `GET /v1/live/{creatorId}`: what a creator's live shows now, for a first render
 * before the stream connects (or without it).
 */
export const LiveSnapshot = z.object({
  object: z.literal('live'),
  creatorId: idSchema('usr'),
  /** The session live now, or `null`. */
  session: LiveSessionState.nullable(),
  goal: LiveGoal.nullable(),
  topGifters: z.array(LiveTopGifters),
  /** The latest gifts (within the last hour), newest last, at most 20. */
  recentGifts: z.array(LiveGift).max(20),
});

/** A creator's live now (see {@link LiveSnapshot}). */
export type LiveSnapshot = z.infer<typeof LiveSnapshot>;

/** The body of `POST /v1/live/session` (secret key): start the site owner's live session. */
export const StartLiveSession = z.strictObject({
  title: z.string().trim().min(1).max(80),
});

/** The body of `POST /v1/live/session` (see {@link StartLiveSession}). */
export type StartLiveSession = z.infer<typeof StartLiveSession>;
