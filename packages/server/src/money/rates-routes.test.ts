import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorBody, Quote, RateHistory, RateList, TopUpPackList } from '@diamonds/protocol';
import { startServer, type RunningServer } from '../server.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { createSite } from '../identity/sites.js';
import { createUser } from '../identity/users.js';
import { setRate } from './rates.js';
import { redeemQuote } from './quotes.js';
import { isApiError } from '../errors.js';

const PAGE = 'http://127.0.0.1:5173';
const cost = { N: 2 ** 10, r: 8, p: 1 };

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`rates and quotes API over HTTP on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let server: RunningServer;
    let keys: { publishable: string; secret: string };

    before(async () => {
      t = await createTestDatabase(kind);
      server = await startServer({ port: 0, host: '127.0.0.1', db: t.db });
      const creator = await createUser(
        t.db,
        { email: 'c@example.com', password: 'a long password', displayName: 'C', roles: ['creator'] },
        { cost },
      );
      const site = await createSite(t.db, { ownerId: creator.id, name: 'Page', origins: [PAGE] });
      keys = { publishable: site.publishableKey, secret: site.secretKey };
      const now = Date.now();
      await setRate(
        t.db,
        { currency: 'USD', priceMinorPer1000Diamonds: 1299, payoutMinorPer1000Diamonds: 800, effectiveAt: now - 1 },
        now - 1,
      );
      await setRate(
        t.db,
        { currency: 'EUR', priceMinorPer1000Diamonds: 1199, payoutMinorPer1000Diamonds: 740, effectiveAt: now - 1 },
        now - 1,
      );
      // Scheduled for next year: listed in the history, not in force.
      await setRate(t.db, { currency: 'EUR', priceMinorPer1000Diamonds: 1399, payoutMinorPer1000Diamonds: 800, effectiveAt: now + 3e10 });
    });
    after(async () => {
      await server?.close();
      if (t) await t.drop();
    });

    function call(path: string, options: { key?: string; origin?: string | null; body?: unknown; raw?: string } = {}) {
      const headers: Record<string, string> = { Authorization: `Bearer ${options.key ?? keys.publishable}` };
      if (options.origin !== null) headers.Origin = options.origin ?? PAGE;
      const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      return fetch(`${server.url}/v1${path}`, { method: body === undefined ? 'GET' : 'POST', headers, body });
    }

    async function refused(response: Response, status: number, code: string, param?: string) {
      assert.equal(response.status, status);
      const { error } = ErrorBody.parse(await response.json());
      assert.equal(error.code, code);
      if (param !== undefined) assert.equal(error.param, param);
    }

    it('lists the current rate of each currency', async () => {
      const response = await call('/rates');
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('access-control-allow-origin'), PAGE);
      const list = RateList.parse(await response.json());
      assert.deepEqual(
        list.data.map((r) => [r.currency, r.priceMinorPer1000Diamonds, r.payoutMinorPer1000Diamonds]),
        [
          ['EUR', 1199, 740],
          ['USD', 1299, 800],
        ],
      );
      const secret = await call('/rates', { key: keys.secret, origin: null });
      assert.equal(secret.status, 200);
      await refused(await fetch(`${server.url}/v1/rates`), 401, 'authentication_required');
    });

    it('pages through a currency’s history and refuses a bad currency, cursor or limit', async () => {
      const first = RateHistory.parse(await (await call('/rates/EUR/history?limit=1')).json());
      assert.deepEqual(
        first.data.map((r) => r.priceMinorPer1000Diamonds),
        [1399],
      );
      assert.ok(first.hasMore && first.nextCursor);
      const second = RateHistory.parse(await (await call(`/rates/EUR/history?limit=1&cursor=${first.nextCursor}`)).json());
      assert.deepEqual(
        second.data.map((r) => r.priceMinorPer1000Diamonds),
        [1199],
      );
      assert.equal(second.hasMore, false);
      assert.equal(second.nextCursor, null);
      await refused(await call('/rates/eur/history'), 400, 'invalid_currency', 'currency');
      await refused(await call('/rates/XYZ/history'), 400, 'invalid_currency', 'currency');
      await refused(await call('/rates/EUR/history?cursor=bogus'), 400, 'invalid_cursor', 'cursor');
      await refused(await call('/rates/EUR/history?limit=0'), 400, 'invalid_request', 'limit');
      await refused(await call('/rates/EUR/history?limit=1.5'), 400, 'invalid_request', 'limit');
      await refused(await call('/rates/EUR/history?limit=1000'), 400, 'invalid_request', 'limit');
    });

    it('prices the top-up packs in a currency', async () => {
      const response = await call('/topup-packs?currency=EUR');
      assert.equal(response.status, 200);
      const packs = TopUpPackList.parse(await response.json());
      assert.deepEqual(
        packs.data.map((p) => [p.diamonds, p.price.amountMinor, p.price.currency]),
        [
          [100, 120, 'EUR'],
          [500, 600, 'EUR'],
          [1000, 1199, 'EUR'],
          [5000, 5995, 'EUR'],
        ],
      );
      await refused(await call('/topup-packs'), 400, 'invalid_currency', 'currency');
      await refused(await call('/topup-packs?currency=usd'), 400, 'invalid_currency', 'currency');
      await refused(await call('/topup-packs?currency=JPY'), 404, 'rate_unavailable', 'currency');
    });

    it('quotes a price for 10 minutes with either key', async () => {
      const before = Date.now();
      const response = await call('/quotes', { body: { diamonds: 500, currency: 'USD' } });
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      const quote = Quote.parse(await response.json());
      assert.deepEqual(quote.price, { amountMinor: 650, currency: 'USD' });
      assert.deepEqual(quote.fee, { amountMinor: 0, currency: 'USD' });
      assert.deepEqual(quote.total, { amountMinor: 650, currency: 'USD' });
      assert.ok(quote.expiresAt >= before + 600_000 && quote.expiresAt <= Date.now() + 600_000);
      const bySecret = await call('/quotes', { key: keys.secret, origin: null, body: { diamonds: 1, currency: 'EUR' } });
      assert.equal(bySecret.status, 201);
      assert.equal(Quote.parse(await bySecret.json()).total.amountMinor, 2);

      // An expired quote is refused by the purchase that names it.
      await assert.rejects(
        t.db.transaction((tx) => redeemQuote(tx, quote.id, quote.expiresAt)),
        (error: unknown) => isApiError(error, 'quote_expired'),
      );
    });

    it('refuses bad quote requests with 4xx codes, never a 500', async () => {
      for (const diamonds of [0, -1, 1.5, '10', null, true])
        await refused(await call('/quotes', { body: { diamonds, currency: 'USD' } }), 400, 'invalid_amount', 'diamonds');
      await refused(await call('/quotes', { raw: `{"diamonds": ${2 ** 53 + 1}, "currency": "USD"}` }), 400, 'amount_too_large', 'diamonds');
      await refused(await call('/quotes', { body: { diamonds: 1_000_000_001, currency: 'USD' } }), 400, 'amount_too_large', 'diamonds');
      await refused(await call('/quotes', { body: { diamonds: 10, currency: 'usd' } }), 400, 'invalid_currency', 'currency');
      await refused(await call('/quotes', { body: { diamonds: 10, currency: 'XXX' } }), 400, 'invalid_currency', 'currency');
      await refused(await call('/quotes', { body: { diamonds: 10, currency: 7 } }), 400, 'invalid_currency', 'currency');
      await refused(await call('/quotes', { body: { diamonds: 10 } }), 400, 'invalid_request', 'currency');
      await refused(await call('/quotes', { body: { currency: 'USD' } }), 400, 'invalid_request', 'diamonds');
      await refused(await call('/quotes', { body: { diamonds: 10, currency: 'USD', price: 1 } }), 400, 'invalid_request', 'price');
      await refused(await call('/quotes', { body: { diamonds: 10, currency: 'JPY' } }), 404, 'rate_unavailable', 'currency');
      await refused(await call('/quotes', { raw: '{"diamonds": 10,' }), 400, 'invalid_json');
    });
  });
}
