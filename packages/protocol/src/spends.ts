import { z } from 'zod';
import { DiamondAmount } from './amounts.js';
import { idSchema } from './ids.js';

/** What a fan's Diamonds can be spent on; each kind has its own endpoint. */
export const SpendKind = z.enum(['gift', 'unlock', 'order']);

/** What a fan's Diamonds can be spent on (see {@link SpendKind}). */
export type SpendKind = z.infer<typeof SpendKind>;

/** A confirmation id: `cnf_…`. */
export const ConfirmationId = idSchema('cnf');

/**
 * Where a spend that needed the fan's confirmation stands.
 *
 * - `pending`: the Diamonds are held; the fan has not decided yet.
 * - `approved`: the fan approved; the Diamonds moved.
 * - `declined`: the fan declined; the hold was released and nothing moved.
 * - `expired`: nobody decided in time; the hold was released and nothing moved.
 */
export const ConfirmationStatus = z.enum(['pending', 'approved', 'declined', 'expired']);

/** Where a confirmation stands (see {@link ConfirmationStatus}). */
export type ConfirmationStatus = z.infer<typeof ConfirmationStatus>;

/**
 * A spend beyond the fan's remaining allowance for the site, waiting for the fan to approve it
 * on the platform's hosted confirmation page (`url`, opened in a popup).
 *
 * @remarks
 * The page shows the amount, the recipient and the site as the server holds them, never
 * anything the embedding page sent. Approving posts the held Diamonds; declining, or letting
 * `expiresAt` pass, releases them. Follow it with `GET /v1/confirmations/{id}`.
 */
export const Confirmation = z.object({
  object: z.literal('confirmation'),
  id: ConfirmationId,
  kind: SpendKind,
  status: ConfirmationStatus,
  amountDiamonds: DiamondAmount,
  /** What is being paid for, in the fan's words: "3 × Rose for Ada". */
  description: z.string(),
  /** The id of what is being paid for: a gift (`gift_…`), content (`ct_…`) or order (`ord_…`). */
  subjectId: z.string(),
  /** The hosted page where the fan approves or declines, on the platform's origin. */
  url: z.string(),
  /** The transfer once approved (`txn_…`); `null` before and when nothing moved. */
  transferId: idSchema('txn').nullable(),
  createdAt: z.int().nonnegative(),
  expiresAt: z.int().nonnegative(),
  decidedAt: z.int().nonnegative().nullable(),
});

/** A spend waiting for the fan's approval (see {@link Confirmation}). */
export type Confirmation = z.infer<typeof Confirmation>;

/** The body of `POST /v1/confirmations/{id}/decision` (the hosted page's own call). */
export const ConfirmationDecision = z.object({ decision: z.enum(['approve', 'decline']) });

/** A fan's decision on a confirmation (see {@link ConfirmationDecision}). */
export type ConfirmationDecision = z.infer<typeof ConfirmationDecision>;
