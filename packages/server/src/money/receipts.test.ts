import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isApiError } from '../errors.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { issueReceipt, jwks, rotateSigningKey, verifyReceiptWith } from './receipts.js';

const claims = {
  iss: 'http://127.0.0.1:8787',
  sub: 'usr_fan',
  aud: 'site_shop',
  kind: 'order' as const,
  subjectId: 'ord_1',
  amountDiamonds: 250,
  transferId: 'txn_1',
};

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`receipts on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    before(async () => {
      t = await createTestDatabase(kind);
    });
    after(async () => {
      await t?.drop();
    });

    it('signs ES256 JWTs with a kid that verify against the published keys, across a rotation', async () => {
      const first = await t.db.transaction((tx) => issueReceipt(tx, claims));
      const [header] = first.jwt.split('.');
      const parsedHeader = JSON.parse(Buffer.from(header!, 'base64url').toString()) as { alg: string; kid: string };
      assert.equal(parsedHeader.alg, 'ES256');
      const before = await jwks(t.db);
      assert.equal(before.keys.length, 1);
      assert.equal(before.keys[0]?.kid, parsedHeader.kid);
      assert.equal(before.keys[0]?.kty, 'EC');
      assert.equal((before.keys[0] as { d?: string }).d, undefined, 'no private part is published');
      assert.deepEqual(
        { ...verifyReceiptWith(first.jwt, before.keys), jti: undefined, iat: undefined },
        {
          ...claims,
          jti: undefined,
          iat: undefined,
        },
      );

      const kid = await rotateSigningKey(t.db);
      assert.notEqual(kid, parsedHeader.kid);
      const second = await t.db.transaction((tx) => issueReceipt(tx, claims));
      const after = await jwks(t.db);
      assert.equal(after.keys.length, 2);
      assert.equal(verifyReceiptWith(first.jwt, after.keys).jti, first.claims.jti, 'an old receipt still verifies');
      assert.equal(JSON.parse(Buffer.from(second.jwt.split('.')[0]!, 'base64url').toString()).kid, kid);
      verifyReceiptWith(second.jwt, after.keys);
    });

    it('refuses forged, tampered, unknown-key and malformed receipts', async () => {
      const { jwt } = await t.db.transaction((tx) => issueReceipt(tx, claims));
      const { keys } = await jwks(t.db);
      const [h, p, s] = jwt.split('.');
      const tampered = Buffer.from(JSON.stringify({ ...claims, amountDiamonds: 1 })).toString('base64url');
      const cases = [
        `${h}.${tampered}.${s}`,
        `${h}.${p}.${Buffer.alloc(64).toString('base64url')}`,
        `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'x' })).toString('base64url')}.${p}.`,
        `${Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'key_unknown' })).toString('base64url')}.${p}.${s}`,
        'not-a-jwt',
        '',
      ];
      for (const forged of cases) {
        assert.throws(
          () => verifyReceiptWith(forged, keys),
          (error) => isApiError(error, 'invalid_request'),
          forged,
        );
      }
    });
  });
}
