import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newId } from '@diamonds/protocol';
import { isApiError } from '../errors.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { Keyset } from './keyset.js';

const BY_PRICE = (direction: 'asc' | 'desc') =>
  new Keyset<[number, string]>(
    'probe',
    [
      { column: 'price', kind: 'int' },
      { column: 'slug', kind: 'text', pattern: /^[a-z]{1,8}$/ },
    ],
    direction,
  );

describe('keyset cursors', () => {
  const orders = new Keyset<[string]>('orders', [{ column: 'id', kind: 'id', prefix: 'ord' }], 'desc');

  it('give back the key they were made from', () => {
    const id = newId('ord');
    assert.deepEqual(orders.decode(orders.encode([id])), [id]);
    assert.deepEqual(BY_PRICE('asc').decode(BY_PRICE('asc').encode([5, 'rose'])), [5, 'rose']);
  });

  it('refuse a cursor from another list, a crafted or truncated one, with 400 invalid_cursor and the param', () => {
    const products = new Keyset<[string]>('products', [{ column: 'id', kind: 'id', prefix: 'prod' }], 'desc');
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const crafted = [
      products.encode([newId('prod')]),
      'bogus',
      '',
      b64(['orders', 'ord_\u0000']),
      b64(['orders', newId('txn')]),
      b64(['orders', newId('ord'), 'extra']),
      b64(['orders']),
      b64({ orders: newId('ord') }),
      orders.encode([newId('ord')]).slice(0, -4),
      'x'.repeat(600),
    ];
    for (const cursor of crafted) {
      assert.throws(
        () => orders.decode(cursor, 'after'),
        (error: unknown) => isApiError(error, 'invalid_cursor') && error.param === 'after' && /nextCursor/.test(error.message),
        JSON.stringify(cursor),
      );
    }
    assert.throws(
      () => BY_PRICE('asc').decode(b64(['probe', 1.5, 'rose'])),
      (e: unknown) => isApiError(e, 'invalid_cursor'),
    );
    assert.throws(
      () => BY_PRICE('asc').decode(b64(['probe', 1, 'Rose'])),
      (e: unknown) => isApiError(e, 'invalid_cursor'),
    );
  });
});

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`keyset pages on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    const rows: Array<{ price: number; slug: string }> = [];
    before(async () => {
      t = await createTestDatabase(kind);
      await t.db.run('CREATE TABLE keyset_probe (price INTEGER NOT NULL, slug TEXT NOT NULL, PRIMARY KEY (price, slug))');
      // Many ties on the first column: the second decides.
      for (let i = 0; i < 53; i++)
        rows.push({ price: (i * 7) % 5, slug: String.fromCharCode(97 + (i % 26)) + String.fromCharCode(97 + Math.floor(i / 26)) });
      for (const row of rows) await t.db.run('INSERT INTO keyset_probe (price, slug) VALUES (?, ?)', [row.price, row.slug]);
    });
    after(async () => {
      await t?.drop();
    });

    for (const direction of ['asc', 'desc'] as const) {
      it(`walk every row once, in ${direction} order, 7 at a time`, async () => {
        const keyset = BY_PRICE(direction);
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 20; pages++) {
          const where = keyset.after(cursor);
          const found = await t.db.query<{ price: number; slug: string }>(
            `SELECT price, slug FROM keyset_probe${where ? ` WHERE ${where.sql}` : ''} ORDER BY ${keyset.orderBy} LIMIT ?`,
            [...(where?.params ?? []), 8],
          );
          const page = keyset.page(
            found,
            7,
            (row) => `${row.price}:${row.slug}`,
            (row) => [Number(row.price), row.slug],
          );
          seen.push(...page.data);
          if (!page.hasMore) break;
          cursor = page.nextCursor!;
        }
        const expected = [...rows].sort((a, b) => a.price - b.price || (a.slug < b.slug ? -1 : 1)).map((row) => `${row.price}:${row.slug}`);
        assert.deepEqual(seen, direction === 'asc' ? expected : expected.reverse());
      });
    }
  });
}
