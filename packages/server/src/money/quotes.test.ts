import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Quote, newId, type CreateQuote } from '@diamonds/protocol';
import { isApiError } from '../errors.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { QUOTE_TTL_MS, createQuote, findQuote, redeemQuote } from './quotes.js';
import { setRate } from './rates.js';

function rejectsWith(promise: Promise<unknown>, code: string) {
  return assert.rejects(promise, (error: unknown) => {
    assert.ok(isApiError(error), `expected an ApiError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`quotes on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    const T0 = 1_800_000_000_000;

    before(async () => {
      t = await createTestDatabase(kind);
      await setRate(t.db, { currency: 'USD', priceMinorPer1000Diamonds: 1299, payoutMinorPer1000Diamonds: 800 }, T0);
      await setRate(
        t.db,
        { currency: 'USD', priceMinorPer1000Diamonds: 1499, payoutMinorPer1000Diamonds: 900, effectiveAt: T0 + 60_000 },
        T0,
      );
    });
    after(async () => {
      if (t) await t.drop();
    });

    it('locks the rate in force for 10 minutes, with a zero fee', async () => {
      const quote = await createQuote(t.db, { diamonds: 500, currency: 'USD' }, T0 + 1);
      assert.doesNotThrow(() => Quote.parse(quote));
      assert.match(quote.id, /^qt_/);
      assert.deepEqual(quote.price, { amountMinor: 650, currency: 'USD' });
      assert.deepEqual(quote.fee, { amountMinor: 0, currency: 'USD' });
      assert.deepEqual(quote.total, quote.price);
      assert.equal(quote.rateEffectiveAt, T0);
      assert.equal(quote.expiresAt, T0 + 1 + QUOTE_TTL_MS);
      assert.equal(QUOTE_TTL_MS, 600_000);
      assert.deepEqual(await findQuote(t.db, quote.id), quote);

      // The rate changes a minute later; the quote keeps its price.
      const later = await createQuote(t.db, { diamonds: 500, currency: 'USD' }, T0 + 60_000);
      assert.equal(later.price.amountMinor, 750);
      const redeemed = await t.db.transaction((tx) => redeemQuote(tx, quote.id, T0 + 120_000));
      assert.deepEqual(redeemed.total, { amountMinor: 650, currency: 'USD' });
    });

    it('refuses bad quotes, an unknown currency rate and prices too large for one payment', async () => {
      for (const diamonds of [0, -1, 1.5, '10', 2 ** 53 + 1])
        await rejectsWith(createQuote(t.db, { diamonds, currency: 'USD' } as unknown as CreateQuote, T0), 'invalid_request');
      await rejectsWith(createQuote(t.db, { diamonds: 10, currency: 'usd' } as unknown as CreateQuote, T0), 'invalid_request');
      await rejectsWith(createQuote(t.db, { diamonds: 10, currency: 'EUR' }, T0), 'rate_unavailable');
      await rejectsWith(createQuote(t.db, { diamonds: 10, currency: 'USD' }, T0 - 1), 'rate_unavailable');
      await setRate(t.db, { currency: 'KRW', priceMinorPer1000Diamonds: 10_000_000_000, payoutMinorPer1000Diamonds: 0 }, T0);
      await rejectsWith(createQuote(t.db, { diamonds: 1_000_000_000, currency: 'KRW' }, T0), 'amount_too_large');
      const rows = await t.db.query<{ n: number | string }>("SELECT count(*) AS n FROM quotes WHERE currency IN ('EUR', 'KRW')");
      assert.equal(Number(rows[0]?.n), 0, 'nothing stored for a refused quote');
    });

    it('redeems once: unknown, expired and used quotes are refused', async () => {
      await rejectsWith(redeemQuote(t.db, newId('qt'), T0), 'quote_not_found');
      await rejectsWith(redeemQuote(t.db, 'qt_nope', T0), 'quote_not_found');
      const quote = await createQuote(t.db, { diamonds: 100, currency: 'USD' }, T0);
      await rejectsWith(redeemQuote(t.db, quote.id, quote.expiresAt), 'quote_expired');
      await rejectsWith(redeemQuote(t.db, quote.id, quote.expiresAt + 1), 'quote_expired');
      const fresh = await createQuote(t.db, { diamonds: 100, currency: 'USD' }, T0);
      const redeemed = await redeemQuote(t.db, fresh.id, fresh.expiresAt - 1);
      assert.equal(redeemed.id, fresh.id);
      await rejectsWith(redeemQuote(t.db, fresh.id, fresh.expiresAt - 1), 'quote_used');
      await rejectsWith(redeemQuote(t.db, fresh.id, fresh.expiresAt + 1), 'quote_used');
    });

    it('a redeem in a transaction that rolls back leaves the quote unused', async () => {
      const quote = await createQuote(t.db, { diamonds: 100, currency: 'USD' }, T0);
      await assert.rejects(
        t.db.transaction(async (tx) => {
          await redeemQuote(tx, quote.id, T0 + 1);
          throw new Error('the payment failed');
        }),
        /the payment failed/,
      );
      assert.equal((await t.db.transaction((tx) => redeemQuote(tx, quote.id, T0 + 2))).id, quote.id);
    });

    it('of 10 concurrent redeems of one quote, exactly one succeeds', async () => {
      const quote = await createQuote(t.db, { diamonds: 1000, currency: 'USD' }, T0);
      const second = t.reopen();
      try {
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? t.db : second).transaction((tx) => redeemQuote(tx, quote.id, T0 + 1))),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1);
        for (const result of results) {
          if (result.status === 'rejected') assert.ok(isApiError(result.reason, 'quote_used'), String(result.reason));
        }
      } finally {
        await second.close();
      }
    });
  });
}
