import { z } from 'zod';
import { DiamondAmount } from './amounts.js';
import { ContentId, EntitlementId } from './content.js';
import { GiftId, GiftTypeId } from './gifts.js';
import { idSchema } from './ids.js';
import { TransferId } from './ledger.js';
import { OrderId } from './orders.js';
import { TopUpId } from './payments.js';
import { PayoutEventData } from './payouts.js';
import { LiveSessionId } from './live.js';
import { BoostEndReason, BoostId, BoostItemKind } from './boosts.js';
import { MAX_PAGE_LIMIT, DEFAULT_PAGE_LIMIT, pageSchema } from './pagination.js';
import { ConfirmationId, SpendKind } from './spends.js';
import { SplitPaidData, SplitRefundedData } from './collabs.js';

/** An event's id: `evt_…`. Also the cursor of `GET /v1/events?after=`. */
export const EventId = idSchema('evt');

/** A site's id: `site_…`. */
const SiteId = idSchema('site');

/** A user's id (a fan, a creator, a shop's owner): `usr_…`. */
const UserId = idSchema('usr');

/**
 * What every event carries besides its `type` and `data`.
 *
 * @remarks
 * `siteId` is the site the money moved on; `creatorId` who received (the creator, the shop's
 * owner); `fanId` the fan who paid (null when no fan is involved, as for a canceled order).
 * A fan's private events (top-ups) carry no site: they are never shown to a site.
 */
const eventBase = {
  object: z.literal('event'),
  id: EventId,
  /** When the effect committed, in milliseconds since the epoch. */
  createdAt: z.number().int(),
  fanId: UserId.nullable(),
};

const siteEventBase = { ...eventBase, siteId: SiteId, creatorId: UserId };

/** The data of `confirmation.*` events: which spend waits (or waited) for the fan. */
export const ConfirmationEventData = z.object({
  confirmationId: ConfirmationId,
  kind: SpendKind,
  /** What is paid for: `gift_…`, `ct_…` or `ord_…`. */
  subjectId: z.string(),
  amountDiamonds: DiamondAmount,
  /** The transfer that moved the Diamonds: set on `confirmation.approved` only. */
  transferId: TransferId.nullable(),
  expiresAt: z.number().int(),
});

/** The data of a `confirmation.*` event (see {@link ConfirmationEventData}). */
export type ConfirmationEventData = z.infer<typeof ConfirmationEventData>;

/** `gift.sent`: a fan's gift reached a creator (at once, or once the fan approved it). */
export const GiftSentEvent = z.object({
  ...siteEventBase,
  type: z.literal('gift.sent'),
  data: z.object({
    giftId: GiftId,
    giftTypeId: GiftTypeId,
    quantity: z.number().int().positive(),
    amountDiamonds: DiamondAmount,
    message: z.string().nullable(),
    transferId: TransferId,
  }),
});

/** `content.unlocked`: a fan's entitlement to content is active (paid, or by gifts given). */
export const ContentUnlockedEvent = z.object({
  ...siteEventBase,
  type: z.literal('content.unlocked'),
  data: z.object({
    contentId: ContentId,
    entitlementId: EntitlementId,
    /** 0 for content unlocked by a support threshold. */
    amountDiamonds: z.number().int().nonnegative(),
    /** Null for content unlocked by a support threshold (nothing moved). */
    transferId: TransferId.nullable(),
  }),
});

/** `order.paid`: a fan paid an order (at once, or once the fan approved it). */
export const OrderPaidEvent = z.object({
  ...siteEventBase,
  type: z.literal('order.paid'),
  data: z.object({
    orderId: OrderId,
    amountDiamonds: DiamondAmount,
    transferId: TransferId,
    /** The shop's own reference of the order (its cart id…), when it gave one. */
    reference: z.string().nullable(),
  }),
});

/** `order.refunded`: the shop refunded a paid order in full. */
export const OrderRefundedEvent = z.object({
  ...siteEventBase,
  type: z.literal('order.refunded'),
  data: z.object({
    orderId: OrderId,
    amountDiamonds: DiamondAmount,
    refundTransferId: TransferId,
    reference: z.string().nullable(),
  }),
});

/** `order.canceled`: the shop canceled an open order; nobody can pay it any more. */
export const OrderCanceledEvent = z.object({
  ...siteEventBase,
  type: z.literal('order.canceled'),
  data: z.object({ orderId: OrderId, reference: z.string().nullable() }),
});

/** `confirmation.required`: a spend beyond the fan's allowance is held until the fan decides. */
export const ConfirmationRequiredEvent = z.object({
  ...siteEventBase,
  type: z.literal('confirmation.required'),
  data: ConfirmationEventData,
});

/** `confirmation.approved`: the fan approved; the held Diamonds moved. */
export const ConfirmationApprovedEvent = z.object({
  ...siteEventBase,
  type: z.literal('confirmation.approved'),
  data: ConfirmationEventData,
});

/** `confirmation.declined`: the fan declined; the held Diamonds went back. */
export const ConfirmationDeclinedEvent = z.object({
  ...siteEventBase,
  type: z.literal('confirmation.declined'),
  data: ConfirmationEventData,
});

/** `confirmation.expired`: the fan did not decide in time; the held Diamonds went back. */
export const ConfirmationExpiredEvent = z.object({
  ...siteEventBase,
  type: z.literal('confirmation.expired'),
  data: ConfirmationEventData,
});

/**
 * `webhook.test`: sent on request (the account page's "Send test event", the API, the CLI) to
 * one webhook endpoint through the real delivery pipeline. Nothing moved; `creatorId` is the
 * site's owner.
 */
export const WebhookTestEvent = z.object({
  ...siteEventBase,
  type: z.literal('webhook.test'),
  data: z.object({
    /** The endpoint it was sent to (`we_…`); no other endpoint receives it. */
    endpointId: idSchema('we'),
    message: z.string(),
  }),
});

/**
 * `split.paid`: a fan paid for a split item (content, product or live session), and the creator
 * share was split among the collaborators. One event per party: `creatorId` is the party and
 * `data.partDiamonds` their part; `siteId` is the site the money moved on for the item's owner,
 * and for a collaborator their own site (the one they made first), or null when they have none.
 */
export const SplitPaidEvent = z.object({
  ...eventBase,
  siteId: SiteId.nullable(),
  creatorId: UserId,
  type: z.literal('split.paid'),
  data: SplitPaidData,
});

/**
 * `split.refunded`: a split spend was refunded (or reversed after a card dispute), and each
 * party's earnings gave back their part, pro rata. One event per party, addressed as `split.paid`.
 */
export const SplitRefundedEvent = z.object({
  ...eventBase,
  siteId: SiteId.nullable(),
  creatorId: UserId,
  type: z.literal('split.refunded'),
  data: SplitRefundedData,
});

const topUpBase = { ...eventBase, siteId: z.null(), creatorId: z.null(), fanId: UserId };

/** `topup.succeeded`: Diamonds bought were credited to the fan's wallet. Private to the fan. */
export const TopUpSucceededEvent = z.object({
  ...topUpBase,
  type: z.literal('topup.succeeded'),
  data: z.object({ topUpId: TopUpId, amountDiamonds: DiamondAmount, transferId: TransferId }),
});

/** `topup.failed`: a top-up failed; nothing was credited. Private to the fan. */
export const TopUpFailedEvent = z.object({
  ...topUpBase,
  type: z.literal('topup.failed'),
  data: z.object({ topUpId: TopUpId, amountDiamonds: DiamondAmount, failureCode: z.string() }),
});

/**
 * `topup.reversed`: a card dispute or a refund took a top-up's Diamonds back: what the wallet
 * held, and the rest as a debt the next top-up repays. Private to the fan.
 */
export const TopUpReversedEvent = z.object({
  ...topUpBase,
  type: z.literal('topup.reversed'),
  data: z.object({
    topUpId: TopUpId,
    reason: z.enum(['dispute', 'refund']),
    /** The top-up's Diamonds, all taken back. */
    amountDiamonds: DiamondAmount,
    /** What came out of the wallet. */
    fromWalletDiamonds: z.number().int().nonnegative(),
    /** What the fan owes once it is done (creators' pending earnings reversed made it smaller). */
    debtDiamonds: z.number().int().nonnegative(),
    transferId: TransferId,
  }),
});

/**
 * `earnings.reversed`: part of a spend paid with Diamonds of a disputed or refunded top-up was
 * taken back from the creator's pending earnings (and the platform's fee) to lower the fan's
 * debt. Private to the creator: no site reads it.
 */
export const EarningsReversedEvent = z.object({
  ...eventBase,
  siteId: z.null(),
  creatorId: UserId,
  fanId: UserId,
  type: z.literal('earnings.reversed'),
  data: z.object({
    topUpId: TopUpId,
    /** The `refund` transfer that took it back. */
    transferId: TransferId,
    /** The spend's transfer (the one whose postings moved the Diamonds). */
    spendTransferId: TransferId,
    kind: SpendKind,
    /** The gift, content or order paid for. */
    subjectId: z.string(),
    /** Diamonds of the spend reversed (the creator's part and the fee). */
    amountDiamonds: DiamondAmount,
    /** What the creator's earnings gave back. */
    netDiamonds: z.number().int().nonnegative(),
    /** When the spend was posted (ms since the epoch): the day the dashboard lowers. */
    spentAt: z.number().int(),
    /** True when this reversal completes the whole spend (it then no longer counts). */
    wholeSpend: z.boolean(),
  }),
});

/**
 * `earnings.available`: a creator's net earnings of spends posted up to `releasedThrough`
 * passed the hold (refunds and card disputes) and can be paid out. Private to the creator:
 * earnings are the creator's, not one site's, so no site reads it (`siteId` is null).
 */
export const EarningsAvailableEvent = z.object({
  ...eventBase,
  siteId: z.null(),
  creatorId: UserId,
  fanId: z.null(),
  type: z.literal('earnings.available'),
  data: z.object({
    /** Net Diamonds that became available in this release (no per-transfer bound: a sum). */
    amountDiamonds: z.number().int().positive(),
    /** Everything available to the creator once they did. */
    availableDiamonds: z.number().int().nonnegative(),
    /** Spends posted at or before this time (ms since the epoch) are past the hold. */
    releasedThrough: z.number().int(),
  }),
});

const payoutBase = { ...eventBase, siteId: z.null(), creatorId: UserId, fanId: z.null(), data: PayoutEventData };

/** `payout.created`: a creator's payout left their earnings for the provider. Private to the creator. */
export const PayoutCreatedEvent = z.object({ ...payoutBase, type: z.literal('payout.created') });

/** `payout.paid`: the provider reported a payout sent to the creator's bank. Private to the creator. */
export const PayoutPaidEvent = z.object({ ...payoutBase, type: z.literal('payout.paid') });

/**
 * `payout.failed`: a payout failed (or was canceled); its Diamonds are back in the creator's
 * earnings. Private to the creator.
 */
export const PayoutFailedEvent = z.object({ ...payoutBase, type: z.literal('payout.failed') });

/**
 * `goal.reached`: the creator's live goal was reached, by a gift sent on this site (`fanId` is
 * the fan whose gift reached it). Once per goal.
 */
export const GoalReachedEvent = z.object({
  ...siteEventBase,
  type: z.literal('goal.reached'),
  data: z.object({
    title: z.string(),
    targetDiamonds: DiamondAmount,
    progressDiamonds: z.number().int().nonnegative(),
    /** The gift that reached it. */
    giftId: GiftId,
  }),
});

const liveBase = { ...eventBase, siteId: z.null(), creatorId: UserId, fanId: z.null() };

/** `live.started`: the creator started a live session. Private to the creator (the live stream shows it). */
export const LiveStartedEvent = z.object({
  ...liveBase,
  type: z.literal('live.started'),
  data: z.object({ sessionId: LiveSessionId, title: z.string() }),
});

/** `live.ended`: the creator ended a live session. Private to the creator (the live stream shows it). */
export const LiveEndedEvent = z.object({
  ...liveBase,
  type: z.literal('live.ended'),
  data: z.object({ sessionId: LiveSessionId, title: z.string() }),
});

/**
 * `live.test_alert`: the creator pressed "Send a test alert" on their live page. Private to the
 * creator; the live stream shows it as a gift flagged `test: true` (nothing is sent or counted).
 */
export const LiveTestAlertEvent = z.object({
  ...liveBase,
  type: z.literal('live.test_alert'),
  data: z.object({
    /** A made-up id in the form of a gift's (`gift_…`): the alert's id on the stream. */
    alertId: GiftId,
    giftTypeId: GiftTypeId,
    quantity: z.number().int().positive(),
    fanName: z.string(),
    message: z.string().nullable(),
  }),
});

/**
 * `fund.paid`: the creator fund paid a creator their share of a closed period's pool (into
 * their earnings, available at once). Private to the creator: the fund is the platform's, not
 * one site's (`siteId` and `fanId` are null).
 */
export const FundPaidEvent = z.object({
  ...eventBase,
  siteId: z.null(),
  creatorId: UserId,
  fanId: z.null(),
  type: z.literal('fund.paid'),
  data: z.object({
    /** The period: `2026-12` for a calendar month, or `from..to` (ISO) for explicit dates. */
    periodId: z.string(),
    /** The creator's share of the pool. */
    amountDiamonds: z.number().int().positive(),
    /** The creator's engagement score (points), and the sum of every qualifying creator's. */
    score: z.number().int().positive(),
    totalScore: z.number().int().positive(),
    /** The period's pool. */
    poolDiamonds: z.number().int().positive(),
    transferId: TransferId,
  }),
});

/**
 * `boost.started`: a boost's budget left the creator's earnings for the platform's `boosts`
 * account; the item is shown from `startsAt`.
 */
export const BoostStartedEvent = z.object({
  ...siteEventBase,
  type: z.literal('boost.started'),
  data: z.object({
    boostId: BoostId,
    itemKind: BoostItemKind,
    itemId: z.string(),
    budgetDiamonds: DiamondAmount,
    cpmDiamonds: z.number().int().positive(),
    startsAt: z.number().int(),
    endsAt: z.number().int(),
    transferId: TransferId,
  }),
});

/**
 * `boost.ended`: a boost was settled, once: its time passed, the creator stopped it, or its budget
 * was spent. What it spent went to the platform; what was left went back to the creator's earnings.
 */
export const BoostEndedEvent = z.object({
  ...siteEventBase,
  type: z.literal('boost.ended'),
  data: z.object({
    boostId: BoostId,
    itemId: z.string(),
    reason: BoostEndReason,
    impressions: z.number().int().nonnegative(),
    clicks: z.number().int().nonnegative(),
    conversions: z.number().int().nonnegative(),
    spentDiamonds: z.number().int().nonnegative(),
    returnedDiamonds: z.number().int().nonnegative(),
    /** The transfer that returned the rest, or null when nothing was left. */
    transferId: TransferId.nullable(),
  }),
});

/**
 * An event a site's backend reads with `GET /v1/events`: a discriminated union on `type`.
 *
 * @example
 * ```ts
 * const event = SiteEvent.parse(json);
 * if (event.type === 'gift.sent') console.log(event.data.quantity, event.data.giftTypeId);
 * ```
 */
export const SiteEvent = z.discriminatedUnion('type', [
  GiftSentEvent,
  ContentUnlockedEvent,
  OrderPaidEvent,
  OrderRefundedEvent,
  OrderCanceledEvent,
  ConfirmationRequiredEvent,
  ConfirmationApprovedEvent,
  ConfirmationDeclinedEvent,
  ConfirmationExpiredEvent,
  WebhookTestEvent,
  GoalReachedEvent,
  SplitPaidEvent,
  SplitRefundedEvent,
  BoostStartedEvent,
  BoostEndedEvent,
]);

/** An event a site can read (see {@link SiteEvent}). */
export type SiteEvent = z.infer<typeof SiteEvent>;

/** Every event the platform records: the site's, the fan's private ones (top-ups), the creator's private ones (earnings). */
export const DiamondsEvent = z.discriminatedUnion('type', [
  ...SiteEvent.options,
  TopUpSucceededEvent,
  TopUpFailedEvent,
  EarningsAvailableEvent,
  PayoutCreatedEvent,
  PayoutPaidEvent,
  PayoutFailedEvent,
  TopUpReversedEvent,
  EarningsReversedEvent,
  LiveStartedEvent,
  LiveEndedEvent,
  LiveTestAlertEvent,
  FundPaidEvent,
]);

/** Any event the platform records (see {@link DiamondsEvent}). */
export type DiamondsEvent = z.infer<typeof DiamondsEvent>;

/** The type of an event a site can read: `gift.sent`, `order.paid`… */
export type SiteEventType = SiteEvent['type'];

/** The type of any event. */
export type EventType = DiamondsEvent['type'];

/** The types a site can read and filter on, in the order the docs list them. */
export const SITE_EVENT_TYPES = SiteEvent.options.map((option) => option.shape.type.value) as readonly SiteEventType[];

/** Every event type, the fan's private ones last. */
export const EVENT_TYPES = DiamondsEvent.options.map((option) => option.shape.type.value) as readonly EventType[];

/** The data of an event of type `T`. */
export type EventData<T extends EventType> = Extract<DiamondsEvent, { type: T }>['data'];

/**
 * Query of `GET /v1/events`: the site's events oldest first, after the event named by `after`,
 * optionally of one `type`, at most `limit` of them.
 */
export const EventListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
  /** The id of the last event already handled (`evt_…`); from the start when absent. */
  after: z.string().min(1).max(200).optional(),
  /** Only events of this type (see {@link SITE_EVENT_TYPES}). */
  type: z.string().min(1).max(100).optional(),
});

/** Query of `GET /v1/events` (see {@link EventListQuery}). */
export type EventListQuery = z.infer<typeof EventListQuery>;

/**
 * `GET /v1/events`: a page of the site's events, oldest first. `nextCursor` is the id of the
 * page's last event (or the `after` asked for, when the page is empty): pass it as `after`.
 */
export const EventList = pageSchema(SiteEvent);

/** A page of a site's events (see {@link EventList}). */
export type EventList = z.infer<typeof EventList>;
