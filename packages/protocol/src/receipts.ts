import { z } from 'zod';

const prefixed = (prefix: string) => z.string().regex(new RegExp(`^${prefix}_[A-Za-z0-9]+$`));

/** What a receipt claims, each field checked (see {@link ReceiptClaims}). */
const claims = {
  /** The platform that issued it (its public origin). */
  iss: z.string().min(1),
  /** The fan who paid (`usr_…`). */
  sub: prefixed('usr'),
  /** The site it was paid on (`site_…`): receipts are for that site's backend. */
  aud: prefixed('site'),
  /** The receipt's own id (`rcpt_…`): store it to accept each receipt once, if that matters to you. */
  jti: z.string().min(1),
  /** When it was issued, in seconds since the epoch (the JWT convention). */
  iat: z.int().nonnegative(),
  /** What was paid for: content (`unlock`) or a shop order (`order`). */
  kind: z.enum(['unlock', 'order']),
  /** The content (`ct_…`) for an unlock, the order (`ord_…`) for an order. */
  subjectId: z.string().regex(/^(ct|ord)_[A-Za-z0-9]+$/),
  /** Diamonds paid: a whole number, 0 for content unlocked by a support threshold. */
  amountDiamonds: z.int().nonnegative(),
  /** The ledger transfer that moved the Diamonds (`txn_…`); `null` when nothing moved. */
  transferId: prefixed('txn').nullable(),
};

/**
 * The claims of a receipt: a compact JWT (ES256) the platform signs for an unlock or a paid
 * order, for the site's backend to verify offline against `/.well-known/jwks.json`. The server
 * signs these claims and `@diamonds/sdk/server` checks them with this schema; extra claims from
 * a newer platform are kept, not refused.
 */
export const ReceiptClaims = z.looseObject(claims);

/**
 * What a verified receipt says: who paid how much, for what, on which site (see the
 * {@link ReceiptClaims} schema).
 *
 * @example
 * ```ts
 * const claims: ReceiptClaims = await diamonds.verifyReceipt(jwt);
 * if (claims.kind === 'order' && claims.subjectId === orderId) ship(orderId, claims.sub);
 * ```
 */
export type ReceiptClaims = z.output<z.ZodObject<typeof claims>>;
