/**
 * Splits a whole amount into parts proportional to `weights`, exactly.
 *
 * @remarks
 * The rounding rule (largest remainder, also called Hamilton's method):
 * 1. every part first gets the floor of its exact share, `total × weight ÷ Σweights`;
 * 2. the units left over (fewer than the number of parts) go one each to the parts with the
 *    largest fractional remainders;
 * 3. among equal remainders, the part listed first wins.
 *
 * So the parts always sum to `total`, and each differs from its exact share by less than one
 * unit. Arithmetic is done in BigInt: no float ever touches an amount.
 *
 * @param total - A non-negative safe integer.
 * @param weights - Non-negative safe integers, at least one of them positive.
 * @throws RangeError when the inputs are not as above.
 * @example
 * ```ts
 * allocate(100, [1, 1, 1]); // [34, 33, 33]
 * allocate(10, [3, 7]);     // [3, 7]
 * ```
 */
export function allocate(total: number, weights: readonly number[]): number[] {
  if (!Number.isSafeInteger(total) || total < 0) throw new RangeError(`total must be a non-negative safe integer, got ${total}`);
  if (weights.length === 0) throw new RangeError('weights must not be empty');
  for (const weight of weights) {
    if (!Number.isSafeInteger(weight) || weight < 0) throw new RangeError(`weights must be non-negative safe integers, got ${weight}`);
  }
  const sum = weights.reduce((acc, weight) => acc + BigInt(weight), 0n);
  if (sum === 0n) throw new RangeError('at least one weight must be positive');

  const whole = BigInt(total);
  const parts = weights.map((weight) => (whole * BigInt(weight)) / sum);
  const remainders = weights.map((weight, index) => ({ index, remainder: (whole * BigInt(weight)) % sum }));
  let leftover = whole - parts.reduce((acc, part) => acc + part, 0n);
  remainders.sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (const { index } of remainders) {
    if (leftover === 0n) break;
    parts[index] = (parts[index] ?? 0n) + 1n;
    leftover -= 1n;
  }
  return parts.map(Number);
}

/** Basis points in a whole: 10,000 bps = 100%. */
export const BASIS_POINTS = 10_000;

/**
 * Splits an amount into a fee of `feeBasisPoints` and the rest, with {@link allocate}'s rule.
 *
 * @remarks With the tie rule the rest (listed first) wins ties, so rounding favours the
 * recipient: a 1-Diamond gift at a 20% fee gives the creator 1 and the platform 0.
 * @example
 * ```ts
 * splitFee(1_000, 2_000); // { net: 800, fee: 200 }
 * splitFee(7, 2_000);     // { net: 6, fee: 1 }  (5.6 and 1.4)
 * ```
 */
export function splitFee(amount: number, feeBasisPoints: number): { net: number; fee: number } {
  if (!Number.isSafeInteger(feeBasisPoints) || feeBasisPoints < 0 || feeBasisPoints > BASIS_POINTS) {
    throw new RangeError(`feeBasisPoints must be an integer from 0 to ${BASIS_POINTS}, got ${feeBasisPoints}`);
  }
  const [net = 0, fee = 0] = allocate(amount, [BASIS_POINTS - feeBasisPoints, feeBasisPoints]);
  return { net, fee };
}
