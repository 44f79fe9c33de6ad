import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DiamondAmount,
  ERROR_CODES,
  ErrorBody,
  ErrorCode,
  FiatMoney,
  MAX_TRANSFER_DIAMONDS,
  Metadata,
  PageQuery,
  Transfer,
  formatMajorUnits,
  idSchema,
  isId,
  newId,
  pageSchema,
  parseMajorUnits,
} from './index.js';

describe('ids', () => {
  it('have a prefix and 26 Crockford base32 characters, sort by time, and never repeat', () => {
    const ids = Array.from({ length: 2_000 }, (_, i) => newId('txn', 1_700_000_000_000 + i));
    for (const id of ids) assert.match(id, /^txn_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids, 'later ids sort after earlier ones');
  });

  it('are checked by prefix', () => {
    const id = newId('usr');
    assert.equal(isId('usr', id), true);
    assert.equal(isId('txn', id), false);
    assert.equal(isId('usr', `${id}x`), false);
    assert.equal(isId('usr', 'usr_0000000000000000000000000I'), false, 'I is not Crockford base32');
    assert.equal(isId('usr', 42), false);
    assert.equal(idSchema('usr').safeParse(id).success, true);
    const bad = idSchema('usr').safeParse('acct_01');
    assert.equal(bad.success, false);
    assert.match(bad.error?.issues[0]?.message ?? '', /usr_/);
  });
});

describe('Diamond amounts', () => {
  it('accept whole numbers from 1 to the maximum', () => {
    for (const ok of [1, 100, MAX_TRANSFER_DIAMONDS]) assert.equal(DiamondAmount.safeParse(ok).success, true, String(ok));
  });
  it('refuse zero, negatives, fractions, NaN, strings and too much', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10', null, MAX_TRANSFER_DIAMONDS + 1, 2 ** 53]) {
      assert.equal(DiamondAmount.safeParse(bad).success, false, String(bad));
    }
  });
});

describe('fiat money', () => {
  it('is integer minor units and a supported currency', () => {
    assert.deepEqual(FiatMoney.parse({ amountMinor: 1299, currency: 'EUR' }), { amountMinor: 1299, currency: 'EUR' });
    for (const bad of [
      { amountMinor: 12.99, currency: 'EUR' },
      { amountMinor: -1, currency: 'EUR' },
      { amountMinor: 100, currency: 'eur' },
      { amountMinor: 100, currency: 'XXX' },
      { amountMinor: '100', currency: 'USD' },
    ]) {
      assert.equal(FiatMoney.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });

  it('parses major units exactly, respecting zero-decimal currencies', () => {
    assert.deepEqual(parseMajorUnits('12.99', 'USD'), { amountMinor: 1299, currency: 'USD' });
    assert.deepEqual(parseMajorUnits('12.9', 'USD'), { amountMinor: 1290, currency: 'USD' });
    assert.deepEqual(parseMajorUnits('0.07', 'EUR'), { amountMinor: 7, currency: 'EUR' });
    assert.deepEqual(parseMajorUnits('500', 'JPY'), { amountMinor: 500, currency: 'JPY' });
    assert.equal(parseMajorUnits('1.5', 'JPY'), undefined);
    assert.equal(parseMajorUnits('1.999', 'USD'), undefined);
    assert.equal(parseMajorUnits('-1', 'USD'), undefined);
    assert.equal(parseMajorUnits('1e3', 'USD'), undefined);
    assert.equal(parseMajorUnits('', 'USD'), undefined);
  });

  it('round-trips through major units for every amount', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000_000_000 }),
        fc.constantFrom('USD' as const, 'JPY' as const, 'GBP' as const),
        (amountMinor, currency) => {
          const money = { amountMinor, currency };
          assert.deepEqual(parseMajorUnits(formatMajorUnits(money), currency), money);
        },
      ),
    );
    assert.equal(formatMajorUnits({ amountMinor: 5, currency: 'USD' }), '0.05');
    assert.equal(formatMajorUnits({ amountMinor: 5, currency: 'JPY' }), '5');
  });
});

describe('errors', () => {
  it('every code has a type and a 4xx or 5xx status', () => {
    for (const [code, { status }] of Object.entries(ERROR_CODES)) {
      assert.ok(status >= 400 && status < 600, code);
      assert.equal(ErrorCode.safeParse(code).success, true);
    }
    assert.equal(ERROR_CODES.insufficient_funds.status, 402);
    assert.equal(ERROR_CODES.rate_limited.status, 429);
  });

  it('the error body has one shape', () => {
    const body = { error: { type: 'ledger_error', code: 'insufficient_funds', message: 'No.', requestId: 'req_1' } };
    assert.deepEqual(ErrorBody.parse(body), body);
    assert.equal(ErrorBody.safeParse({ error: { code: 'x', message: 'y' } }).success, false);
    assert.equal(ErrorBody.safeParse({ message: 'flat' }).success, false);
  });
});

describe('pages', () => {
  it('default and bound the page size', () => {
    assert.equal(PageQuery.parse({}).limit, 20);
    assert.equal(PageQuery.parse({ limit: '5' }).limit, 5);
    assert.equal(PageQuery.safeParse({ limit: '0' }).success, false);
    assert.equal(PageQuery.safeParse({ limit: '101' }).success, false);
    assert.equal(PageQuery.safeParse({ limit: 'many' }).success, false);
  });

  it('parse a list of items', () => {
    const page = pageSchema(Transfer).parse({
      object: 'list',
      data: [
        {
          object: 'transfer',
          id: newId('txn'),
          code: 'gift',
          state: 'posted',
          amountDiamonds: 5,
          postings: [
            { accountId: newId('acct'), amountDiamonds: -5 },
            { accountId: newId('acct'), amountDiamonds: 5 },
          ],
          metadata: { site: 'site_1' },
          createdAt: 1,
          expiresAt: null,
        },
      ],
      hasMore: false,
      nextCursor: null,
    });
    assert.equal(page.data.length, 1);
  });
});

describe('metadata', () => {
  it('is flat and small', () => {
    assert.equal(Metadata.safeParse({ site: 'x', n: 1, ok: true, none: null }).success, true);
    assert.equal(Metadata.safeParse({ nested: { a: 1 } }).success, false);
    assert.equal(Metadata.safeParse({ 'bad key': 1 }).success, false);
    assert.equal(Metadata.safeParse({ n: Number.NaN }).success, false);
    assert.equal(Metadata.safeParse(Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i]))).success, false);
  });
});
