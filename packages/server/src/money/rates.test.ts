import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_FIAT_MINOR, MAX_TRANSFER_DIAMONDS } from '@diamonds/protocol';
import { isApiError } from '../errors.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import {
  DEFAULT_RATES,
  TOP_UP_PACKS,
  currentRate,
  currentRates,
  payoutOf,
  priceOf,
  rateHistory,
  seedDefaultRates,
  setRate,
  topUpPacks,
} from './rates.js';

describe('priceOf and payoutOf', () => {
  it('price known cases', () => {
    assert.equal(priceOf(1, { priceMinorPer1000Diamonds: 1299 }), 2n);
    assert.equal(priceOf(1000, { priceMinorPer1000Diamonds: 1299 }), 1299n);
    assert.equal(priceOf(100, { priceMinorPer1000Diamonds: 1980 }), 198n);
    assert.equal(priceOf(0, { priceMinorPer1000Diamonds: 1299 }), 0n);
    assert.equal(payoutOf(1999, { payoutMinorPer1000Diamonds: 800 }), 1599n);
    assert.equal(payoutOf(1, { payoutMinorPer1000Diamonds: 999 }), 0n);
    assert.throws(() => priceOf(1.5, { priceMinorPer1000Diamonds: 1 }), RangeError);
    assert.throws(() => payoutOf(-1, { payoutMinorPer1000Diamonds: 1 }), RangeError);
  });

  const diamonds = fc.integer({ min: 0, max: MAX_TRANSFER_DIAMONDS });
  const figure = fc.integer({ min: 1, max: MAX_FIAT_MINOR });

  it('the price is an integer, never below the exact price and less than one minor unit above it', () => {
    fc.assert(
      fc.property(diamonds, figure, (n, per1000) => {
        const price = priceOf(n, { priceMinorPer1000Diamonds: per1000 });
        const exactTimes1000 = BigInt(n) * BigInt(per1000);
        assert.equal(typeof price, 'bigint');
        assert.ok(price * 1000n >= exactTimes1000, 'price ≥ exact');
        assert.ok(price * 1000n - exactTimes1000 < 1000n, 'price − exact < 1');
      }),
      { numRuns: 2_000 },
    );
  });

  it('the payout is an integer, never above the exact amount and less than one minor unit below it', () => {
    fc.assert(
      fc.property(diamonds, fc.integer({ min: 0, max: MAX_FIAT_MINOR }), (n, per1000) => {
        const payout = payoutOf(n, { payoutMinorPer1000Diamonds: per1000 });
        const exactTimes1000 = BigInt(n) * BigInt(per1000);
        assert.equal(typeof payout, 'bigint');
        assert.ok(payout * 1000n <= exactTimes1000, 'payout ≤ exact');
        assert.ok(exactTimes1000 - payout * 1000n < 1000n, 'exact − payout < 1');
      }),
      { numRuns: 2_000 },
    );
  });

  it('price and payout never fall when the Diamonds grow', () => {
    fc.assert(
      fc.property(diamonds, diamonds, figure, figure, (a, b, price, payout) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        assert.ok(priceOf(low, { priceMinorPer1000Diamonds: price }) <= priceOf(high, { priceMinorPer1000Diamonds: price }));
        assert.ok(payoutOf(low, { payoutMinorPer1000Diamonds: payout }) <= payoutOf(high, { payoutMinorPer1000Diamonds: payout }));
      }),
      { numRuns: 2_000 },
    );
  });
});

function rejectsWith(promise: Promise<unknown>, code: string, param?: string) {
  return assert.rejects(promise, (error: unknown) => {
    assert.ok(isApiError(error), `expected an ApiError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (param !== undefined) assert.equal(error.param, param);
    return true;
  });
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`rates on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    const T0 = 1_800_000_000_000;

    before(async () => {
      t = await createTestDatabase(kind);
    });
    after(async () => {
      if (t) await t.drop();
    });

    it('has no rate until one is set, then the latest in force wins', async () => {
      await rejectsWith(currentRate(t.db, 'GBP', T0), 'rate_unavailable', 'currency');
      await setRate(t.db, { currency: 'GBP', priceMinorPer1000Diamonds: 1000, payoutMinorPer1000Diamonds: 600 }, T0);
      await setRate(
        t.db,
        { currency: 'GBP', priceMinorPer1000Diamonds: 1100, payoutMinorPer1000Diamonds: 650, effectiveAt: T0 + 1000 },
        T0,
      );
      await setRate(
        t.db,
        { currency: 'GBP', priceMinorPer1000Diamonds: 1200, payoutMinorPer1000Diamonds: 700, effectiveAt: T0 + 2000 },
        T0,
      );
      assert.equal((await currentRate(t.db, 'GBP', T0)).priceMinorPer1000Diamonds, 1000);
      assert.equal((await currentRate(t.db, 'GBP', T0 + 999)).priceMinorPer1000Diamonds, 1000);
      assert.equal((await currentRate(t.db, 'GBP', T0 + 1000)).priceMinorPer1000Diamonds, 1100);
      const latest = await currentRate(t.db, 'GBP', T0 + 5000);
      assert.deepEqual(latest, {
        object: 'rate',
        currency: 'GBP',
        priceMinorPer1000Diamonds: 1200,
        payoutMinorPer1000Diamonds: 700,
        effectiveAt: T0 + 2000,
      });
      await rejectsWith(currentRate(t.db, 'GBP', T0 - 1), 'rate_unavailable');
      const all = await currentRates(t.db, T0 + 1500);
      assert.deepEqual(
        all.filter((r) => r.currency === 'GBP').map((r) => r.priceMinorPer1000Diamonds),
        [1100],
      );
    });

    it('refuses bad rates with codes and params', async () => {
      const ok = { currency: 'CHF', priceMinorPer1000Diamonds: 1000, payoutMinorPer1000Diamonds: 500 };
      await rejectsWith(setRate(t.db, { ...ok, currency: 'chf' }, T0), 'invalid_currency', 'currency');
      await rejectsWith(setRate(t.db, { ...ok, currency: 'XXX' }, T0), 'invalid_currency', 'currency');
      for (const bad of [0, -1, 1.5, Number.NaN, MAX_FIAT_MINOR + 1])
        await rejectsWith(setRate(t.db, { ...ok, priceMinorPer1000Diamonds: bad }, T0), 'invalid_request', 'priceMinorPer1000Diamonds');
      for (const bad of [-1, 0.5])
        await rejectsWith(setRate(t.db, { ...ok, payoutMinorPer1000Diamonds: bad }, T0), 'invalid_request', 'payoutMinorPer1000Diamonds');
      await rejectsWith(setRate(t.db, { ...ok, effectiveAt: T0 - 1 }, T0), 'invalid_request', 'effectiveAt');
      await setRate(t.db, { ...ok, payoutMinorPer1000Diamonds: 0 }, T0);
      await rejectsWith(setRate(t.db, ok, T0), 'invalid_request', 'effectiveAt');
    });

    it('pages through the history, newest first, with a stable cursor', async () => {
      for (let i = 0; i < 7; i++)
        await setRate(
          t.db,
          { currency: 'SEK', priceMinorPer1000Diamonds: 100 + i, payoutMinorPer1000Diamonds: 50, effectiveAt: T0 + i },
          T0,
        );
      const seen: number[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await rateHistory(t.db, 'SEK', { limit: 3, ...(cursor === undefined ? {} : { cursor }) });
        seen.push(...page.data.map((r) => r.priceMinorPer1000Diamonds));
        if (!page.hasMore) {
          assert.equal(page.nextCursor, null);
          break;
        }
        cursor = page.nextCursor ?? undefined;
      }
      assert.deepEqual(seen, [106, 105, 104, 103, 102, 101, 100]);
      await rejectsWith(rateHistory(t.db, 'SEK', { limit: 3, cursor: 'nonsense' }), 'invalid_cursor', 'cursor');
      assert.deepEqual((await rateHistory(t.db, 'KRW', { limit: 3 })).data, []);
    });

    it('prices the top-up packs from the current rate and seeds the demo rates once', async () => {
      await rejectsWith(topUpPacks(t.db, 'JPY', T0), 'rate_unavailable');
      assert.equal(await seedDefaultRates(t.db, T0), false, 'rates exist already: the seed leaves them alone');
      const fresh = await createTestDatabase(kind);
      try {
        assert.equal(await seedDefaultRates(fresh.db, T0), true);
        assert.equal(await seedDefaultRates(fresh.db, T0 + 1), false);
        const rates = await currentRates(fresh.db, T0);
        assert.deepEqual(rates.map((r) => r.currency).sort(), ['EUR', 'GBP', 'JPY', 'USD']);
        for (const rate of DEFAULT_RATES) {
          const share = rate.payoutMinorPer1000Diamonds / rate.priceMinorPer1000Diamonds;
          assert.ok(share >= 0.5 && share <= 0.7, `${rate.currency} payout is ${share} of the price`);
        }
        const packs = await topUpPacks(fresh.db, 'JPY', T0);
        assert.deepEqual(
          packs.map((p) => p.diamonds),
          [...TOP_UP_PACKS],
        );
        assert.deepEqual(
          packs.map((p) => p.price),
          [198, 990, 1980, 9900].map((amountMinor) => ({ amountMinor, currency: 'JPY' })),
        );
        const usd = await topUpPacks(fresh.db, 'USD', T0);
        assert.deepEqual(
          usd.map((p) => p.price.amountMinor),
          [130, 650, 1299, 6495],
        );
      } finally {
        await fresh.drop();
      }
    });
  });
}
