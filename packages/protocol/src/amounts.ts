import { z } from 'zod';

/**
 * The largest number of Diamonds one transfer may move: one billion.
 *
 * @remarks
 * Far above any real gift, unlock or order, and small enough that sums over many transfers
 * stay exact in a JavaScript number (below 2^53) and in a 64-bit database column.
 */
export const MAX_TRANSFER_DIAMONDS = 1_000_000_000;

/**
 * A positive whole number of Diamonds, at most {@link MAX_TRANSFER_DIAMONDS}.
 *
 * @remarks Diamonds are indivisible: there are no fractions of a Diamond anywhere.
 */
export const DiamondAmount = z
  .int({ error: 'Diamond amounts are whole numbers.' })
  .positive({ error: 'Diamond amounts must be at least 1.' })
  .max(MAX_TRANSFER_DIAMONDS, {
    error: `Diamond amounts may not exceed ${MAX_TRANSFER_DIAMONDS} in one transfer.`,
  });

/** A positive whole number of Diamonds (see {@link DiamondAmount}). */
export type DiamondAmount = z.infer<typeof DiamondAmount>;

/** A balance in Diamonds: a whole number, zero or more for a user's account. */
export const DiamondBalance = z.int().nonnegative();
