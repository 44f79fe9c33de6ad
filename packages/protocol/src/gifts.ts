import { z } from 'zod';
import { DiamondAmount } from './amounts.js';
import { idSchema } from './ids.js';
import { pageSchema } from './pagination.js';
import { Confirmation } from './spends.js';

/** The most of one gift a fan may send at once. */
export const MAX_GIFT_QUANTITY = 1000;

/** The longest message a gift may carry, in Unicode code points (as people count characters). */
export const MAX_GIFT_MESSAGE_LENGTH = 140;

/**
 * A gift type's id: a short lowercase slug (`rose`, `diamond-castle`), also the name of its art
 * (`/gifts/rose.svg`).
 */
export const GiftTypeId = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, { error: 'A gift id is 1 to 40 lowercase letters, digits or hyphens, starting with a letter.' });

/** A gift type's id (see {@link GiftTypeId}). */
export type GiftTypeId = z.infer<typeof GiftTypeId>;

/**
 * How a gift's art moves when it is shown (live alerts, the gift button): a hint for the
 * elements, which also honour `prefers-reduced-motion`.
 */
export const GiftAnimation = z.enum(['float', 'burst', 'spin', 'pulse', 'rise']);

/** How a gift's art moves (see {@link GiftAnimation}). */
export type GiftAnimation = z.infer<typeof GiftAnimation>;

/** A gift of the catalog: what a fan can send a creator, and its price. */
export const GiftType = z.object({
  object: z.literal('gift_type'),
  id: GiftTypeId,
  name: z.string(),
  priceDiamonds: DiamondAmount,
  /** The absolute URL of its SVG art, public and cacheable, on the platform's origin. */
  artUrl: z.string(),
  animation: GiftAnimation,
});

/** A gift of the catalog (see {@link GiftType}). */
export type GiftType = z.infer<typeof GiftType>;

/** `GET /v1/catalog/gifts`: the active gifts, cheapest first. */
export const GiftTypeList = pageSchema(GiftType);

/** A page of the gift catalog (see {@link GiftTypeList}). */
export type GiftTypeList = z.infer<typeof GiftTypeList>;

/** A sent gift's id: `gift_…`. */
export const GiftId = idSchema('gift');

/**
 * The body of `POST /v1/gifts`: which creator, which gift of the catalog, how many, and an
 * optional message.
 *
 * @remarks
 * The price comes from the catalog, never from the request. `message` is at most
 * {@link MAX_GIFT_MESSAGE_LENGTH} code points; NUL and unpaired surrogates are refused, and
 * everything else is kept as it was typed and only ever shown as text.
 */
export const SendGift = z.strictObject({
  /** The creator who receives it: `usr_…`, a user with the creator role. */
  creatorId: z.string(),
  /** The catalog id of the gift (`rose`). */
  giftId: GiftTypeId,
  quantity: z.int().min(1).max(MAX_GIFT_QUANTITY).default(1),
  message: z.string().optional(),
});

/** The body of `POST /v1/gifts` (see {@link SendGift}). */
export type SendGift = z.input<typeof SendGift>;

/**
 * Where a sent gift stands.
 *
 * - `succeeded`: the Diamonds moved to the creator.
 * - `confirmation_required`: beyond the fan's allowance, or to a creator the site does not list (the
 *   allowance pays only the site's own creators); held until the fan approves `confirmation`.
 * - `declined`: the fan declined; nothing moved.
 * - `expired`: nobody approved in time; nothing moved.
 */
export const GiftStatus = z.enum(['succeeded', 'confirmation_required', 'declined', 'expired']);

/** Where a sent gift stands (see {@link GiftStatus}). */
export type GiftStatus = z.infer<typeof GiftStatus>;

/** A gift a fan sent (or tried to send) a creator. */
export const Gift = z.object({
  object: z.literal('gift'),
  id: GiftId,
  status: GiftStatus,
  /** The catalog id of the gift (`rose`). */
  giftId: GiftTypeId,
  /** Its name when it was sent (`Rose`). */
  giftName: z.string(),
  quantity: z.int().min(1).max(MAX_GIFT_QUANTITY),
  /** The catalog price of one when it was sent. */
  unitPriceDiamonds: DiamondAmount,
  /** What the fan pays: `unitPriceDiamonds × quantity`. */
  amountDiamonds: DiamondAmount,
  fanId: idSchema('usr'),
  creatorId: idSchema('usr'),
  siteId: idSchema('site'),
  message: z.string().nullable(),
  /** The transfer that paid the creator (`txn_…`); `null` while waiting and when nothing moved. */
  transferId: idSchema('txn').nullable(),
  /** The fan's confirmation, when the gift was beyond the allowance. */
  confirmation: Confirmation.optional(),
  createdAt: z.int().nonnegative(),
});

/** A gift a fan sent (see {@link Gift}). */
export type Gift = z.infer<typeof Gift>;

/** The longest a confirmation poll may wait for a decision: 25 seconds. */
export const MAX_CONFIRMATION_WAIT_MS = 25_000;

/**
 * Query of `GET /v1/confirmations/{id}`: `waitMs` makes it a long poll that answers as soon as
 * the fan decides (or after that many milliseconds, at most {@link MAX_CONFIRMATION_WAIT_MS}).
 */
export const ConfirmationWaitQuery = z.strictObject({
  waitMs: z.coerce.number().int().min(0).max(MAX_CONFIRMATION_WAIT_MS).optional(),
});

/** Query of `GET /v1/confirmations/{id}` (see {@link ConfirmationWaitQuery}). */
export type ConfirmationWaitQuery = z.infer<typeof ConfirmationWaitQuery>;
