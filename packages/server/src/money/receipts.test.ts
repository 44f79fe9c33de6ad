import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isApiError } from '../errors.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { startServer } from '../server.js';
import { ensureSigningKey, issueReceipt, jwks, rotateSigningKey, verifyReceiptWith } from './receipts.js';

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

    it('publishes the signing key from the first start, before any receipt, and the first receipt uses it', async () => {
      const fresh = await createTestDatabase(kind);
      try {
        const server = await startServer({ port: 0, host: '127.0.0.1', db: fresh.db });
        let published: { keys: { kid: string; kty: string; d?: string }[] };
        try {
          published = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as typeof published;
        } finally {
          await server.close();
        }
        assert.equal(published.keys.length, 1, 'one key at the first start');
        assert.equal(published.keys[0]?.kty, 'EC');
        assert.equal(published.keys[0]?.d, undefined, 'no private part is published');
        // Starting again (a restart, a second process) makes no second key.
        const again = await startServer({ port: 0, host: '127.0.0.1', db: fresh.db });
        await again.close();
        assert.equal(await ensureSigningKey(fresh.db), published.keys[0]?.kid);
        assert.deepEqual(
          (await jwks(fresh.db)).keys.map((key) => key.kid),
          [published.keys[0]?.kid],
        );
        const { jwt } = await fresh.db.transaction((tx) => issueReceipt(tx, claims));
        const header = JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string };
        assert.equal(header.kid, published.keys[0]?.kid, 'the first receipt is signed with the key published before it');
        assert.equal(verifyReceiptWith(jwt, published.keys as unknown as Parameters<typeof verifyReceiptWith>[1]).aud, claims.aud);
      } finally {
        await fresh.drop();
      }
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
