import { z } from 'zod';
import { DiamondAmount } from './amounts.js';
import { idSchema } from './ids.js';

/**
 * Why Diamonds moved. Every transfer carries exactly one code.
 *
 * - `purchase`: a fan bought Diamonds (issuance into the wallet).
 * - `gift`: a fan gave Diamonds to a creator.
 * - `unlock`: a fan paid for exclusive content.
 * - `order`: a fan paid a shop's order.
 * - `refund`: Diamonds returned for an earlier gift, unlock or order.
 * - `payout`: a creator cashed out earnings.
 * - `fund`: the creator fund paid a creator.
 * - `boost`: a creator spent Diamonds to promote content.
 * - `split`: revenue shared between collaborators.
 * - `adjustment`: an operator's correction, always with a reason in metadata.
 */
export const TransferCode = z.enum(['purchase', 'gift', 'unlock', 'order', 'refund', 'payout', 'fund', 'boost', 'split', 'adjustment']);

/** Why Diamonds moved (see {@link TransferCode}). */
export type TransferCode = z.infer<typeof TransferCode>;

/**
 * What an account is for.
 *
 * User accounts (`wallet`: what a fan can spend; `earnings`: what a creator received) can
 * never go below zero. Platform accounts are the other side of the books: `issuance` goes
 * negative by every Diamond ever sold, `fees` collects the platform fee, `payouts_in_transit`
 * holds earnings a payout took while the provider pays them (a failure returns them), `payouts`
 * takes cashed-out earnings once paid, `creator_fund` pays the fund, `boosts` takes what creators spend on
 * promotion.
 *
 * `debt` belongs to a fan and is the one user account that is never above zero: what the fan
 * owes after a card dispute or refund took back Diamonds already spent (its balance is minus
 * the debt). The fan cannot spend while it is below zero; the next top-up repays it first.
 */
export const AccountKind = z.enum([
  'wallet',
  'earnings',
  'issuance',
  'fees',
  'payouts_in_transit',
  'payouts',
  'creator_fund',
  'boosts',
  'debt',
]);

/** What an account is for (see {@link AccountKind}). */
export type AccountKind = z.infer<typeof AccountKind>;

/** The account kinds that belong to a user and may never go below zero. */
export const USER_ACCOUNT_KINDS = ['wallet', 'earnings'] as const satisfies readonly AccountKind[];

/** Largest number of metadata keys on one transfer. */
export const MAX_METADATA_KEYS = 20;

/**
 * Free-form facts about a transfer (who, what, which site), as flat key-value pairs.
 *
 * @remarks Flat and small on purpose: metadata is for finding and explaining a transfer, not a
 * document store. Up to 20 keys of at most 40 characters; strings of at most 500 characters.
 */
export const Metadata = z
  .record(
    z
      .string()
      .min(1)
      .max(40)
      .regex(/^[A-Za-z0-9_.-]+$/, 'Metadata keys use letters, digits, "_", "." and "-".'),
    z.union([z.string().max(500), z.number().refine(Number.isFinite, 'Metadata numbers must be finite.'), z.boolean(), z.null()]),
  )
  .refine((value) => Object.keys(value).length <= MAX_METADATA_KEYS, `At most ${MAX_METADATA_KEYS} metadata keys.`);

/** Free-form facts about a transfer (see {@link Metadata}). */
export type Metadata = z.infer<typeof Metadata>;

/** An account id (`acct_…`). */
export const AccountId = idSchema('acct');

/** A transfer id (`txn_…`). */
export const TransferId = idSchema('txn');

/**
 * One line of a transfer: Diamonds into (positive) or out of (negative) one account.
 */
export const Posting = z.object({
  accountId: AccountId,
  /** Signed: negative debits the account, positive credits it. Never zero. */
  amountDiamonds: z.int().refine((n) => n !== 0, 'A posting moves at least one Diamond.'),
});

/** One line of a transfer (see {@link Posting}). */
export type Posting = z.infer<typeof Posting>;

/**
 * The state of a transfer.
 *
 * - `posted`: final; the Diamonds moved.
 * - `pending`: reserved; the debited Diamonds are held and not spendable until it is posted
 *   or voided (by the fan, the platform, or its expiry).
 * - `voided`: a reservation that was released; nothing moved.
 */
export const TransferState = z.enum(['posted', 'pending', 'voided']);

/** The state of a transfer (see {@link TransferState}). */
export type TransferState = z.infer<typeof TransferState>;

/** A transfer as the API returns it. */
export const Transfer = z.object({
  object: z.literal('transfer'),
  id: TransferId,
  code: TransferCode,
  state: TransferState,
  /** The total moved: the sum of the positive postings. */
  amountDiamonds: DiamondAmount,
  /** Debits first (largest first), then credits (smallest first), ties by account id. */
  postings: z.array(Posting).min(2),
  metadata: Metadata,
  /** Milliseconds since the epoch. */
  createdAt: z.int(),
  /** When a pending reservation voids itself, in milliseconds since the epoch. */
  expiresAt: z.int().nullable(),
});

/** A transfer as the API returns it (see {@link Transfer}). */
export type Transfer = z.infer<typeof Transfer>;

/** The answer of `GET /healthz`. */
export const Health = z.object({
  status: z.literal('ok'),
  database: z.enum(['sqlite', 'postgres']),
  schemaVersion: z.int().nonnegative(),
  version: z.string(),
});

/** The answer of `GET /healthz` (see {@link Health}). */
export type Health = z.infer<typeof Health>;
