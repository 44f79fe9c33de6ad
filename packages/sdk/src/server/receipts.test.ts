// verifyReceipt against the platform's real JWKS on each database: real receipts verify, key
// rotation refetches the key set once, and every kind of forgery is refused with its reason.
// Forged receipts are made here with node:crypto, as an attacker would make them.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  createSite,
  issueReceipt,
  rotateSigningKey,
  DATABASE_KINDS,
  skipUnlessPostgres,
  startMoneyHarness,
  type MoneyHarness,
  type TestFan,
} from '@diamonds/server/testing';
import {
  createDiamondsServer,
  DiamondsNetworkError,
  DiamondsUsageError,
  isReceiptVerificationError,
  ReceiptVerificationError,
  type DiamondsServer,
  type DiamondsServerOptions,
  type ReceiptVerificationReason,
} from './index.js';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** The parts of a compact JWT, decoded. */
function decode(jwt: string): { header: Record<string, unknown>; claims: Record<string, unknown>; signature: string } {
  const [header, claims, signature] = jwt.split('.');
  return {
    header: JSON.parse(Buffer.from(header!, 'base64url').toString('utf8')) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(claims!, 'base64url').toString('utf8')) as Record<string, unknown>,
    signature: signature!,
  };
}

/** A receipt signed with the attacker's own P-256 key, under whatever `kid` they choose. */
function forge(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** Asserts `promise` rejects with a ReceiptVerificationError for `reason`. */
async function refusedFor(promise: Promise<unknown>, reason: ReceiptVerificationReason): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ReceiptVerificationError, `expected a ReceiptVerificationError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    assert.equal(error.code, 'invalid_receipt');
    assert.equal(error.name, 'ReceiptVerificationError');
    assert.ok(isReceiptVerificationError(error));
    assert.ok(
      isReceiptVerificationError({ name: error.name, code: error.code, reason: error.reason, message: error.message }),
      'from another copy',
    );
    return true;
  });
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`verifyReceipt against the platform's keys on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let fan: TestFan;
    let jwksFetches = 0;

    const countingFetch: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      if (new URL(request.url).pathname === '/.well-known/jwks.json') jwksFetches++;
      return fetch(request);
    };

    const server = (options: Partial<DiamondsServerOptions> = {}): DiamondsServer =>
      createDiamondsServer({ secretKey: h.site.secretKey, siteId: h.site.id, apiBase: h.server.url, fetch: countingFetch, ...options });

    /** A fresh order of `amountDiamonds`, paid by the fan; its receipt. */
    async function paidReceipt(diamonds: DiamondsServer, amountDiamonds = 20): Promise<string> {
      const order = await diamonds.orders.create({ amountDiamonds, description: 'Receipt test' });
      const response = await h.call(`/orders/${order.id}/pay`, { method: 'POST', fan });
      assert.equal(response.status, 200, await response.clone().text());
      const paid = await diamonds.orders.get(order.id);
      assert.ok(paid.receipt);
      return paid.receipt;
    }

    before(async () => {
      h = await startMoneyHarness(kind);
      fan = await h.fan({ name: 'Grace', allowance: 100_000, balance: 10_000 });
    });
    beforeEach(() => {
      jwksFetches = 0;
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    it('fetches the key set once and then verifies offline', async () => {
      const diamonds = server();
      const first = await paidReceipt(diamonds);
      const second = await paidReceipt(diamonds);
      await diamonds.verifyReceipt(first);
      await diamonds.verifyReceipt(second);
      await Promise.all([diamonds.verifyReceipt(first), diamonds.verifyReceipt(second)]);
      assert.equal(jwksFetches, 1);
      // Concurrent first verifications share one fetch.
      const fresh = server();
      await Promise.all([fresh.verifyReceipt(first), fresh.verifyReceipt(second), fresh.verifyReceipt(first)]);
      assert.equal(jwksFetches, 2);
    });

    it('after a key rotation, a new receipt (new kid) verifies with ONE refetch, and an old one still verifies', async () => {
      const diamonds = server();
      const old = await paidReceipt(diamonds);
      await diamonds.verifyReceipt(old);
      assert.equal(jwksFetches, 1);
      const oldKid = decode(old).header.kid;

      const newKid = await rotateSigningKey(h.t.db);
      const fresh = await paidReceipt(diamonds);
      assert.equal(decode(fresh).header.kid, newKid);
      assert.notEqual(newKid, oldKid);

      const claims = await diamonds.verifyReceipt(fresh);
      assert.equal(claims.sub, fan.id);
      assert.equal(jwksFetches, 2, 'the unknown kid refetched the key set once');
      await diamonds.verifyReceipt(fresh);
      await diamonds.verifyReceipt(old);
      assert.equal(jwksFetches, 2, 'both keys now cached: no more fetches');
    });

    it('refuses the high-S twin of a genuine receipt: the same claims under the other valid signature', async () => {
      const diamonds = server();
      // P-256's group order n: (r, s) and (r, n − s) both verify.
      const order = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
      for (let i = 0; i < 4; i++) {
        const receipt = await paidReceipt(diamonds, 5);
        const [header, claims, signature] = receipt.split('.') as [string, string, string];
        const bytes = Buffer.from(signature, 'base64url');
        const s = BigInt(`0x${bytes.subarray(32).toString('hex')}`);
        assert.ok(s <= order / 2n, 'the platform issues the low-S signature');
        const twin = Buffer.concat([bytes.subarray(0, 32), Buffer.from((order - s).toString(16).padStart(64, '0'), 'hex')]);
        const twinReceipt = `${header}.${claims}.${twin.toString('base64url')}`;
        // The twin is mathematically valid (WebCrypto accepts it), so only the canonical-form rule refuses it.
        const { keys } = (await (await fetch(`${h.server.url}/.well-known/jwks.json`)).json()) as {
          keys: (JsonWebKey & { kid: string })[];
        };
        const jwk = keys.find((candidate) => candidate.kid === decode(receipt).header.kid)!;
        const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
        const message = new TextEncoder().encode(`${header}.${claims}`);
        assert.ok(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, twin, message), 'the twin verifies');
        await diamonds.verifyReceipt(receipt);
        await refusedFor(diamonds.verifyReceipt(twinReceipt), 'bad_signature');
      }
    });

    it('refuses a receipt whose claims were changed after signing (bad_signature)', async () => {
      const diamonds = server();
      const receipt = await paidReceipt(diamonds, 5);
      const [header, claims, signature] = receipt.split('.');
      const genuine = decode(receipt);
      await diamonds.verifyReceipt(receipt);
      const tampered = `${header}.${b64({ ...genuine.claims, amountDiamonds: 5000 })}.${signature}`;
      await refusedFor(diamonds.verifyReceipt(tampered), 'bad_signature');
      const otherFan = `${header}.${b64({ ...genuine.claims, sub: 'usr_someoneelse000000000000' })}.${signature}`;
      await refusedFor(diamonds.verifyReceipt(otherFan), 'bad_signature');
      // Changing the header (here, its typ) breaks the signature just the same.
      await refusedFor(diamonds.verifyReceipt(`${b64({ ...genuine.header, typ: 'jwt' })}.${claims}.${signature}`), 'bad_signature');
    });

    it('refuses a receipt forged with another key under the platform’s real kid (bad_signature)', async () => {
      const diamonds = server();
      const genuine = decode(await paidReceipt(diamonds));
      await refusedFor(diamonds.verifyReceipt(forge(genuine.header, { ...genuine.claims, amountDiamonds: 1 })), 'bad_signature');
    });

    it('refuses alg none and other algorithms (bad_signature), whatever the signature part holds', async () => {
      const diamonds = server();
      const genuine = decode(await paidReceipt(diamonds));
      const unsigned = `${b64({ alg: 'none', typ: 'JWT', kid: genuine.header.kid })}.${b64(genuine.claims)}.`;
      await refusedFor(diamonds.verifyReceipt(unsigned), 'bad_signature');
      await refusedFor(diamonds.verifyReceipt(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(genuine.claims)}.`), 'bad_signature');
      await refusedFor(
        diamonds.verifyReceipt(`${b64({ ...genuine.header, alg: 'HS256' })}.${b64(genuine.claims)}.${genuine.signature}`),
        'bad_signature',
      );
      await refusedFor(diamonds.verifyReceipt(`${b64(genuine.header)}.${b64(genuine.claims)}.AAAA`), 'bad_signature');
    });

    it('refuses an unknown kid after one refetch (unknown_key), and does not refetch for it again at once', async () => {
      const diamonds = server();
      const genuine = decode(await paidReceipt(diamonds));
      await diamonds.verifyReceipt(await paidReceipt(diamonds));
      assert.equal(jwksFetches, 1);
      const madeUp = forge({ ...genuine.header, kid: 'key_madeup0000000000000000' }, genuine.claims);
      await refusedFor(diamonds.verifyReceipt(madeUp), 'unknown_key');
      assert.equal(jwksFetches, 2, 'the unknown kid refetched the key set once');
      await refusedFor(diamonds.verifyReceipt(madeUp), 'unknown_key');
      await Promise.all([
        refusedFor(diamonds.verifyReceipt(madeUp), 'unknown_key'),
        refusedFor(diamonds.verifyReceipt(madeUp), 'unknown_key'),
      ]);
      assert.equal(jwksFetches, 2, 'within 30 s the same unknown kid fetches nothing');
      // With no interval, each attempt may refetch: the limit is what kept the count above.
      const eager = server({ jwksRefetchIntervalMs: 0 });
      await refusedFor(eager.verifyReceipt(madeUp), 'unknown_key');
      await refusedFor(eager.verifyReceipt(madeUp), 'unknown_key');
      assert.equal(jwksFetches, 4);
    });

    it('refuses a genuine receipt for another site (wrong_audience)', async () => {
      const owner = await h.newCreator('Bea');
      const other = await createSite(h.t.db, { ownerId: owner.id, name: 'Bea’s shop', origins: ['http://127.0.0.1:5173'] });
      const ours = await paidReceipt(server());
      // Bea's backend is handed our receipt, signed by the platform but paid on our site.
      const bea = server({ secretKey: other.secretKey, siteId: other.site.id });
      await refusedFor(bea.verifyReceipt(ours), 'wrong_audience');
      await refusedFor(server().verifyReceipt(ours, { siteId: other.site.id }), 'wrong_audience');
      assert.equal((await server().verifyReceipt(ours, { siteId: h.site.id })).aud, h.site.id);
    });

    it('refuses a receipt older than maxAgeMs (expired); without maxAgeMs age does not matter', async () => {
      const diamonds = server();
      const order = await diamonds.orders.create({ amountDiamonds: 3, description: 'Old receipt' });
      // A receipt the platform signed an hour ago, with its current key.
      const { jwt } = await h.t.db.transaction((tx) =>
        issueReceipt(
          tx,
          { iss: h.server.url, sub: fan.id, aud: h.site.id, kind: 'order', subjectId: order.id, amountDiamonds: 3, transferId: null },
          Date.now() - 3_600_000,
        ),
      );
      await refusedFor(diamonds.verifyReceipt(jwt, { maxAgeMs: 15 * 60_000 }), 'expired');
      assert.equal((await diamonds.verifyReceipt(jwt, { maxAgeMs: 2 * 3_600_000 })).subjectId, order.id);
      assert.equal((await diamonds.verifyReceipt(jwt)).subjectId, order.id);
      await assert.rejects(
        diamonds.verifyReceipt(jwt, { maxAgeMs: -1 }),
        (error: unknown) => error instanceof DiamondsUsageError && error.code === 'invalid_option',
      );
    });

    it('refuses malformed receipts without fetching anything', async () => {
      const diamonds = server();
      const genuine = decode(await paidReceipt(diamonds));
      for (const bad of [
        '',
        'abc',
        'a.b',
        'a.b.c.d',
        '!!!.???.***',
        `${b64('not json')}.${b64(genuine.claims)}.${genuine.signature}`,
        'x'.repeat(9000),
      ]) {
        await refusedFor(diamonds.verifyReceipt(bad), 'malformed');
      }
      await refusedFor(diamonds.verifyReceipt(42 as unknown as string), 'malformed');
      await refusedFor(diamonds.verifyReceipt(null as unknown as string), 'malformed');
      await refusedFor(
        diamonds.verifyReceipt(`${b64({ alg: 'ES256', typ: 'JWT' })}.${b64(genuine.claims)}.${genuine.signature}`),
        'malformed',
      ); // no kid
      await refusedFor(diamonds.verifyReceipt(`${b64([1, 2])}.${b64(genuine.claims)}.${genuine.signature}`), 'malformed');
      await refusedFor(diamonds.verifyReceipt(`${b64(genuine.header)}.${b64('[]')}.${genuine.signature}`), 'malformed');
      assert.equal(jwksFetches, 0, 'garbage never reaches the network');
    });

    it('refuses a receipt signed by the platform whose claims are not a receipt (malformed)', async () => {
      const diamonds = server();
      const { jwt } = await h.t.db.transaction((tx) =>
        issueReceipt(tx, {
          iss: h.server.url,
          sub: fan.id,
          aud: h.site.id,
          kind: 'gift' as 'order',
          subjectId: 'gft_1',
          amountDiamonds: -1,
          transferId: null,
        }),
      );
      await refusedFor(diamonds.verifyReceipt(jwt), 'malformed');
    });

    it('without siteId it refuses to guess, then uses the site of the orders it has read', async () => {
      const receipt = await paidReceipt(server());
      const diamonds = server({ siteId: undefined });
      await assert.rejects(
        diamonds.verifyReceipt(receipt),
        (error: unknown) => error instanceof DiamondsUsageError && error.code === 'site_id_required',
      );
      await diamonds.orders.list({ limit: 1 });
      assert.equal((await diamonds.verifyReceipt(receipt)).aud, h.site.id);
    });

    it('a key set that cannot be fetched is a network error, not a verdict on the receipt', async () => {
      const receipt = await paidReceipt(server());
      const offline = server({ maxRetries: 0, fetch: () => Promise.reject(new TypeError('fetch failed')) });
      await assert.rejects(offline.verifyReceipt(receipt), DiamondsNetworkError);
    });
  });
}
