import { z } from 'zod';
import { DiamondAmount, DiamondBalance } from './amounts.js';
import { TransferCode, TransferId } from './ledger.js';
import { PageQuery, pageSchema } from './pagination.js';
import { idSchema } from './ids.js';

/**
 * A signed-in fan's Diamonds as seen from one site: the body of `GET /v1/wallet`.
 *
 * @remarks
 * `balanceDiamonds` is what the fan can spend now: Diamonds held for a spend waiting for the
 * fan's confirmation are counted in `heldDiamonds` instead, and come back to the balance if the
 * spend is declined or expires. `remainingAllowance` is what this site may still spend in the
 * rolling 24 hours without asking the fan, and only to `allowanceRecipients`.
 */
export const Wallet = z.object({
  object: z.literal('wallet'),
  /** Spendable now: the wallet's posted Diamonds less what is held. */
  balanceDiamonds: DiamondBalance,
  /** Held by spends waiting for the fan's confirmation. */
  heldDiamonds: DiamondBalance,
  /** What the user received as a creator (less the platform fee); 0 for a fan who never earned. */
  earningsDiamonds: DiamondBalance,
  /** What this site may still spend without asking, over the rolling 24 hours. */
  remainingAllowance: DiamondBalance,
  /** The daily allowance the fan granted this site. */
  allowancePerDay: DiamondBalance,
  /**
   * The creators the allowance pays (`usr_…`): the site's owner first, then the creators who
   * accepted to be listed on the site. A spend to anyone else needs the fan's confirmation.
   */
  allowanceRecipients: z.array(idSchema('usr')),
});

/** A fan's balances (see {@link Wallet}). */
export type Wallet = z.infer<typeof Wallet>;

/** Which of a user's accounts a wallet entry moved: the spendable `wallet` or the creator's `earnings`. */
export const WalletAccount = z.enum(['wallet', 'earnings']);

/** Which of a user's accounts an entry moved (see {@link WalletAccount}). */
export type WalletAccount = z.infer<typeof WalletAccount>;

/**
 * Where a wallet entry stands.
 *
 * - `posted`: the Diamonds moved.
 * - `pending`: held for a spend waiting for the fan's confirmation.
 * - `voided`: the held spend was declined or expired; nothing moved.
 */
export const WalletEntryStatus = z.enum(['posted', 'pending', 'voided']);

/** Where a wallet entry stands (see {@link WalletEntryStatus}). */
export type WalletEntryStatus = z.infer<typeof WalletEntryStatus>;

/**
 * One line of a user's history: what one transfer did to one of their accounts.
 *
 * @remarks
 * A spend that needed the fan's confirmation is one entry whose `status` follows it (pending,
 * then posted or voided), never two. `id` is stable: the same entry keeps it across pages and
 * calls.
 */
export const WalletEntry = z.object({
  object: z.literal('wallet_entry'),
  /** `<transferId>:<account>`: stable, and unique in the user's history. */
  id: z.string(),
  transferId: TransferId,
  /** Why the Diamonds moved: `purchase` (a top-up), `gift`, `unlock`, `order`, `refund`… */
  kind: TransferCode,
  account: WalletAccount,
  /** `in` when the account received Diamonds, `out` when they left it. */
  direction: z.enum(['in', 'out']),
  amountDiamonds: DiamondAmount,
  /** What it was, in words a fan understands: "3 × Rose for Ada", "Top-up", "Gift from Bo: …". */
  description: z.string(),
  /** What was paid for (`gift_…`, `ct_…`, `ord_…`), when the entry is a spend or its refund. */
  subjectId: z.string().nullable(),
  status: WalletEntryStatus,
  /** Milliseconds since the epoch. */
  createdAt: z.int().nonnegative(),
});

/** One line of a user's history (see {@link WalletEntry}). */
export type WalletEntry = z.infer<typeof WalletEntry>;

/** A page of a user's history, newest first: the body of `GET /v1/wallet/history`. */
export const WalletHistory = pageSchema(WalletEntry);

/** A page of a user's history (see {@link WalletHistory}). */
export type WalletHistory = z.infer<typeof WalletHistory>;

/** The query of `GET /v1/wallet/history`: a page, optionally only one kind or one account. */
export const WalletHistoryQuery = PageQuery.extend({
  /** Only entries of this kind (`gift`, `purchase`…). */
  kind: TransferCode.optional(),
  /** Only entries of this account. */
  account: WalletAccount.optional(),
});

/** The query of `GET /v1/wallet/history` (see {@link WalletHistoryQuery}). */
export type WalletHistoryQuery = z.infer<typeof WalletHistoryQuery>;
