import { allocate } from '../ledger/allocate.js';

/*
 * The arithmetic of collaboration splits, pure and exact (integers only, via ledger/allocate.ts).
 * Everything money-moving in collabs/ goes through these three functions.
 */

/** One party of a split: a creator and their share in basis points. */
export interface Share {
  creatorId: string;
  shareBps: number;
}

/** One party's part of an amount. */
export interface Part {
  creatorId: string;
  netDiamonds: number;
}

/**
 * Splits `net` Diamonds (a spend's creator share, after the platform fee) among `shares`, exactly.
 *
 * @remarks The rule is `allocate`'s largest remainder: each party first gets the floor of
 * `net × shareBps ÷ Σ shareBps`, then the Diamonds left over (fewer than the parties) go one each
 * to the largest fractional remainders; among equal remainders the party listed first in the
 * split wins (split order is fixed per version, so a tie always goes the same way). The parts
 * sum to `net`, each is within one Diamond of its exact share, and they come back in split
 * order, zero parts included.
 * @example
 * ```ts
 * splitNet(10, [{ creatorId: 'a', shareBps: 5000 }, { creatorId: 'b', shareBps: 5000 }]); // a 5, b 5
 * splitNet(1, [{ creatorId: 'a', shareBps: 5000 }, { creatorId: 'b', shareBps: 5000 }]);  // a 1, b 0
 * ```
 */
export function splitNet(net: number, shares: readonly Share[]): Part[] {
  const amounts = allocate(
    net,
    shares.map((share) => share.shareBps),
  );
  return shares.map((share, i) => ({ creatorId: share.creatorId, netDiamonds: amounts[i] ?? 0 }));
}

/** One line of an order, for {@link splitOrder}: its amount, and the split of its product if any. */
export interface SplitLine {
  amountDiamonds: number;
  /** The product's split, or null when the shop's owner keeps the whole line. */
  shares: readonly Share[] | null;
}

/**
 * Splits an order's creator share: first among its lines by their amounts, then each line's part
 * by its product's split (the owner keeps lines without one), all with {@link splitNet}'s rule.
 * A creator named on several lines gets one part, the sum; parts are in first-named order with
 * the owner first.
 */
export function splitOrder(net: number, ownerId: string, lines: readonly SplitLine[]): Part[] {
  const byLine =
    lines.length === 0
      ? []
      : allocate(
          net,
          lines.map((line) => line.amountDiamonds),
        );
  const parts = new Map<string, number>([[ownerId, 0]]);
  lines.forEach((line, i) => {
    const lineNet = byLine[i] ?? 0;
    const lineParts = line.shares === null ? [{ creatorId: ownerId, netDiamonds: lineNet }] : splitNet(lineNet, line.shares);
    for (const part of lineParts) parts.set(part.creatorId, (parts.get(part.creatorId) ?? 0) + part.netDiamonds);
  });
  if (lines.length === 0) parts.set(ownerId, net);
  return [...parts].map(([creatorId, netDiamonds]) => ({ creatorId, netDiamonds }));
}

/**
 * What each party gives back of a refund of `amount` Diamonds of their parts, pro rata to what
 * each still holds of the spend (`remaining`: their part less what earlier refunds took), with
 * the same largest-remainder rule.
 *
 * @remarks The results sum to `amount` and none exceeds its `remaining`, so repeated partial
 * refunds never take back more than a party's part, and a refund of everything left takes back
 * exactly every remaining part.
 * @throws RangeError when `amount` is negative or more than the remaining parts hold.
 */
export function apportionRefund(amount: number, remaining: readonly number[]): number[] {
  const left = remaining.reduce((sum, part) => sum + part, 0);
  if (!Number.isSafeInteger(amount) || amount < 0 || amount > left) {
    throw new RangeError(`a refund of ${amount} cannot be taken from parts holding ${left}`);
  }
  if (amount === 0) return remaining.map(() => 0);
  return allocate(amount, remaining);
}
