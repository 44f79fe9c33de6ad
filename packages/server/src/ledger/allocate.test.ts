import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allocate, splitFee, BASIS_POINTS } from './allocate.js';

describe('allocate (largest remainder)', () => {
  it('splits known cases as documented', () => {
    assert.deepEqual(allocate(100, [1, 1, 1]), [34, 33, 33]);
    assert.deepEqual(allocate(10, [3, 7]), [3, 7]);
    assert.deepEqual(allocate(1, [1, 1]), [1, 0], 'ties go to the part listed first');
    assert.deepEqual(allocate(5, [0, 1]), [0, 5]);
    assert.deepEqual(allocate(0, [2, 3]), [0, 0]);
    // Exact shares 2.9, 3.5, 3.6: floors 2, 3, 3 leave 2 units for the largest remainders (.9, .6).
    assert.deepEqual(allocate(10, [29, 35, 36]), [3, 3, 4]);
  });

  it('parts always sum to the whole and differ from the exact share by less than one unit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.array(fc.integer({ min: 0, max: 1_000_000_000 }), { minLength: 1, maxLength: 12 }).filter((w) => w.some((x) => x > 0)),
        (total, weights) => {
          const parts = allocate(total, weights);
          assert.equal(parts.length, weights.length);
          assert.equal(
            parts.reduce((a, b) => a + BigInt(b), 0n),
            BigInt(total),
          );
          const sum = weights.reduce((a, b) => a + BigInt(b), 0n);
          parts.forEach((part, i) => {
            assert.ok(Number.isSafeInteger(part) && part >= 0);
            // |part - total*w/sum| < 1  ⇔  |part*sum - total*w| < sum
            const diff = BigInt(part) * sum - BigInt(total) * BigInt(weights[i] ?? 0);
            assert.ok((diff < 0n ? -diff : diff) < sum, `part ${i} strays a unit or more from its share`);
          });
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('is deterministic and gives more to a larger weight, never less', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 1000 }),
        (total, a, b) => {
          const [x = 0, y = 0] = allocate(total, [a, b]);
          assert.deepEqual(allocate(total, [a, b]), [x, y]);
          if (a > b) assert.ok(x >= y);
        },
      ),
    );
  });

  it('refuses inputs it cannot split exactly', () => {
    assert.throws(() => allocate(-1, [1]), RangeError);
    assert.throws(() => allocate(1.5, [1]), RangeError);
    assert.throws(() => allocate(Number.NaN, [1]), RangeError);
    assert.throws(() => allocate(10, []), RangeError);
    assert.throws(() => allocate(10, [0, 0]), RangeError);
    assert.throws(() => allocate(10, [1, -1]), RangeError);
    assert.throws(() => allocate(10, [0.5, 1]), RangeError);
  });
});

describe('splitFee', () => {
  it('takes the fee in basis points and rounds in the recipient’s favour', () => {
    assert.deepEqual(splitFee(1_000, 2_000), { net: 800, fee: 200 });
    assert.deepEqual(splitFee(7, 2_000), { net: 6, fee: 1 });
    assert.deepEqual(splitFee(1, 2_000), { net: 1, fee: 0 });
    assert.deepEqual(splitFee(5, 5_000), { net: 3, fee: 2 });
    assert.deepEqual(splitFee(10, 0), { net: 10, fee: 0 });
    assert.deepEqual(splitFee(10, BASIS_POINTS), { net: 0, fee: 10 });
  });

  it('always sums to the amount', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000_000 }), fc.integer({ min: 0, max: BASIS_POINTS }), (amount, bps) => {
        const { net, fee } = splitFee(amount, bps);
        assert.equal(net + fee, amount);
        assert.ok(Math.abs(fee - (amount * bps) / BASIS_POINTS) < 1);
      }),
    );
  });

  it('refuses a fee outside 0–10,000 basis points', () => {
    assert.throws(() => splitFee(10, -1), RangeError);
    assert.throws(() => splitFee(10, 10_001), RangeError);
    assert.throws(() => splitFee(10, 12.5), RangeError);
  });
});
