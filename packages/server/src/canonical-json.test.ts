import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Metadata } from '@diamonds/protocol';
import { ApiError } from './errors.js';
import { canonicalJson } from './canonical-json.js';
import { validateTransfer } from './ledger/ledger.js';
import { requestFingerprint } from './money/idempotency.js';

/** The implementation canonicalJson replaced (ledger.ts and idempotency.ts each had a copy). */
function canonicalJsonBefore(value: unknown, missing?: string): string | undefined {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? missing;
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJsonBefore(item, missing)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJsonBefore(v, missing)}`).join(',')}}`;
}

const acct = (letter: string) => `acct_01J0000000000000000000000${letter}`;

describe('canonicalJson', () => {
  it('gives the same text whatever order the keys were set in, without undefined members', () => {
    assert.equal(canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined }), '{"a":[true,null,"x"],"b":1}');
    assert.equal(canonicalJson({ a: { y: 2, x: 1 } }), canonicalJson({ a: { x: 1, y: 2 } }));
    assert.equal(canonicalJson({ Z: 1, a: 2, é: 3, '10': 4, '2': 5 }), '{"10":4,"2":5,"Z":1,"a":2,"é":3}', 'UTF-16 order');
  });

  it('leaves a value JSON cannot write out of an array, or writes `missing` for it', () => {
    assert.equal(canonicalJson([1, undefined, 2]), '[1,,2]');
    assert.equal(canonicalJson([1, undefined, 2], 'null'), '[1,null,2]');
    assert.equal(canonicalJson(undefined), undefined);
    assert.equal(canonicalJson(undefined, 'null'), 'null');
  });

  it('writes exactly what the implementation it replaced wrote, for any value', () => {
    const anyValue = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constantFrom(null, undefined, true, false, 0, -0, Number.NaN, Infinity, () => 1, Symbol('s')),
        fc.double(),
        fc.string({ unit: 'binary' }),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 4 }), tie('value'), { maxKeys: 5 }),
      ),
    })).value;
    fc.assert(
      fc.property(anyValue, (value) => {
        assert.equal(canonicalJson(value), canonicalJsonBefore(value));
        assert.equal(canonicalJson(value, 'null'), canonicalJsonBefore(value, 'null'));
      }),
      { numRuns: 2_000 },
    );
  });

  it('keeps the hashes stored before it: a transfer’s request hash and a request’s fingerprint', () => {
    // Taken with the implementation it replaced: a retry after an upgrade must still match.
    const transfer = validateTransfer({
      idempotencyKey: 'spend:gift_01J0000000000000000000000',
      code: 'gift',
      postings: [
        { accountId: acct('A'), amountDiamonds: -10 },
        { accountId: acct('B'), amountDiamonds: 9 },
        { accountId: acct('C'), amountDiamonds: 1 },
      ],
      metadata: {
        subjectId: 'gift_01J0000000000000000000000',
        description: '1 × Rose for Ada',
        kind: 'gift',
        'a.b-c_d': 3.5,
        flag: true,
        none: null,
      },
    });
    assert.equal(transfer.hash, 'jwM9ubm2pCxhrxYkGtlZNg1CfUIpJhq7n3gh0aRsDIs');
    const body = {
      quantity: 1,
      giftId: 'rose',
      creatorId: 'user_01J0000000000000000000000',
      message: null,
      nested: { z: [1, 'two', { b: 2, a: 1 }], a: 'é😀' },
    };
    assert.equal(requestFingerprint('POST', '/v1/gifts', body), 'zCXkiUMZYbFTGwm0IJIQmcecB4Mcw5MKE1gKQHU9zFI');
  });
});

describe('transfer metadata', () => {
  const transferWith = (metadata: unknown) => ({
    idempotencyKey: 'k',
    code: 'gift',
    postings: [
      { accountId: acct('A'), amountDiamonds: -1 },
      { accountId: acct('B'), amountDiamonds: 1 },
    ],
    metadata,
  });
  const keys = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i]));

  it('takes the schema’s limits to the character, refusing one beyond with invalid_metadata', () => {
    const cases: Array<[string, unknown, boolean]> = [
      ['a key of 40 characters', { ['k'.repeat(40)]: 1 }, true],
      ['a key of 41 characters', { ['k'.repeat(41)]: 1 }, false],
      ['an empty key', { '': 1 }, false],
      ['a key with a space', { 'a b': 1 }, false],
      ['a string of 500 characters', { note: 'x'.repeat(500) }, true],
      ['a string of 501 characters', { note: 'x'.repeat(501) }, false],
      ['20 keys', keys(20), true],
      ['21 keys', keys(21), false],
      ['an infinite number', { n: Infinity }, false],
      ['NaN', { n: Number.NaN }, false],
      ['an undefined value', { n: undefined }, false],
      ['a nested object', { n: { x: 1 } }, false],
    ];
    for (const [what, metadata, ok] of cases) {
      assert.equal(Metadata.safeParse(metadata).success, ok, `the schema on ${what}`);
      if (ok) assert.deepEqual(validateTransfer(transferWith(metadata) as never).metadata, metadata, what);
      else assert.throws(() => validateTransfer(transferWith(metadata) as never), { code: 'invalid_metadata' }, what);
    }
  });

  it('is accepted exactly when the Metadata schema accepts it, and stored as the schema gives it', () => {
    const key = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.-]{1,41}$/), fc.string({ maxLength: 42 }), fc.constant('__proto__'));
    const item = fc.oneof(
      fc.string({ maxLength: 501 }),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.constant({ nested: 1 }),
      fc.constant([1]),
    );
    const metadata = fc.oneof(
      fc.dictionary(key, item, { maxKeys: 22 }),
      fc.constant(null),
      fc.constant('text'),
      fc.constant([1, 2]),
      fc.constant(Object.assign(Object.create(null) as object, { a: 1 })),
      fc.constant({ [Symbol('s')]: 1, a: 1 }),
      fc.constant(new Date(0)),
    );
    fc.assert(
      fc.property(metadata, (value) => {
        const request = transferWith(value);
        const schema = Metadata.safeParse(value);
        let accepted: ReturnType<typeof validateTransfer> | undefined;
        try {
          accepted = validateTransfer(request as never);
        } catch (error) {
          assert.ok(error instanceof ApiError && error.code === 'invalid_metadata', String(error));
        }
        assert.equal(accepted !== undefined, schema.success, `metadata ${String(JSON.stringify(value))}`);
        if (accepted && schema.success) {
          assert.deepEqual(accepted.metadata, schema.data);
          assert.notEqual(accepted.metadata, value, 'a copy, not the caller’s object');
        }
      }),
      { numRuns: 3_000 },
    );
  });
});
