// Secrets at rest: receipt signing keys and webhook secrets are stored encrypted under
// DIAMONDS_SECRET_KEY, rows written in clear before still read, and the wrong key says so.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import {
  isSealed,
  openSecret,
  parseSecretKey,
  PREVIOUS_SECRET_KEYS_ENV,
  readSecretKeyring,
  SECRET_KEY_ENV,
  SecretKeyError,
  sealSecret,
  secretKeyId,
} from './secrets.js';
import { ensureSigningKey, issueReceipt, jwks, resealSigningKeys, rotateSigningKey, verifyReceiptWith } from '../money/receipts.js';
import { createEndpoint, resealWebhookSecrets, webhookSecretContext } from '../webhooks/endpoints.js';
import { createUser } from '../identity/users.js';
import { createSite } from '../identity/sites.js';

const KEY_A = Buffer.alloc(32, 0xa1).toString('base64');
const KEY_B = Buffer.alloc(32, 0xb2).toString('base64url');
const keyring = (primary: string, ...previous: string[]) =>
  readSecretKeyring({ [SECRET_KEY_ENV]: primary, [PREVIOUS_SECRET_KEYS_ENV]: previous.join(',') });

/** Sets this process's keys (what the platform reads from its environment) for one step of a test. */
function useKeys(primary: string | undefined, ...previous: string[]): void {
  if (primary === undefined) delete process.env[SECRET_KEY_ENV];
  else process.env[SECRET_KEY_ENV] = primary;
  if (previous.length === 0) delete process.env[PREVIOUS_SECRET_KEYS_ENV];
  else process.env[PREVIOUS_SECRET_KEYS_ENV] = previous.join(',');
}

describe('sealSecret and openSecret', () => {
  it('encrypt with AES-256-GCM under a key id, and read it back', () => {
    const ring = keyring(KEY_A);
    const sealed = sealSecret('whsec_the secret', 'webhook_endpoints:we_1', ring);
    assert.ok(isSealed(sealed));
    assert.equal(sealed.split('.')[1], secretKeyId(parseSecretKey(KEY_A)), 'the key id, never the key');
    assert.doesNotMatch(sealed, /the secret|whsec_/);
    assert.notEqual(sealSecret('whsec_the secret', 'webhook_endpoints:we_1', ring), sealed, 'a fresh IV each time');
    assert.equal(openSecret(sealed, 'webhook_endpoints:we_1', ring), 'whsec_the secret');
  });

  it('refuses, saying what to set, without the key, with the wrong key, in another row, or altered', () => {
    const sealed = sealSecret('whsec_x', 'webhook_endpoints:we_1', keyring(KEY_A));
    assert.throws(
      () => openSecret(sealed, 'webhook_endpoints:we_1', undefined),
      (error: unknown) => {
        return error instanceof SecretKeyError && /DIAMONDS_SECRET_KEY is not set/.test(error.message);
      },
    );
    assert.throws(
      () => openSecret(sealed, 'webhook_endpoints:we_1', keyring(KEY_B)),
      (error: unknown) =>
        error instanceof SecretKeyError && /encrypted with key id \S+, which is neither DIAMONDS_SECRET_KEY/.test(error.message),
    );
    assert.throws(() => openSecret(sealed, 'webhook_endpoints:we_2', keyring(KEY_A)), /altered or belongs to another row/);
    const parts = sealed.split('.');
    parts[3] = Buffer.from('whsec_y').toString('base64url');
    assert.throws(() => openSecret(parts.join('.'), 'webhook_endpoints:we_1', keyring(KEY_A)), SecretKeyError);
  });

  it('reads values stored in clear before, and old keys listed in DIAMONDS_SECRET_KEYS_PREVIOUS', () => {
    assert.equal(openSecret('whsec_clear', 'webhook_endpoints:we_1', keyring(KEY_A)), 'whsec_clear');
    const old = sealSecret('whsec_old', 'webhook_endpoints:we_1', keyring(KEY_A));
    assert.equal(openSecret(old, 'webhook_endpoints:we_1', keyring(KEY_B, KEY_A)), 'whsec_old');
    assert.equal(sealSecret('plain', 'x', undefined), 'plain', 'no key (development): in clear, as before');
  });

  it('refuses a key that is not 32 bytes', () => {
    assert.throws(() => readSecretKeyring({ [SECRET_KEY_ENV]: 'c2hvcnQ=' }), /32 random bytes in base64.*got 5 bytes/);
    assert.throws(
      () => readSecretKeyring({ [SECRET_KEY_ENV]: KEY_A, [PREVIOUS_SECRET_KEYS_ENV]: 'nope' }),
      /DIAMONDS_SECRET_KEYS_PREVIOUS/,
    );
  });
});

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`secrets at rest on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let siteId: string;
    before(async () => {
      t = await createTestDatabase(kind);
      const owner = await createUser(
        t.db,
        { email: 'o@example.com', password: 'a long password', displayName: 'O', roles: ['creator'] },
        { cost: { N: 1024, r: 8, p: 1 } },
      );
      siteId = (await createSite(t.db, { ownerId: owner.id, name: 'S', origins: ['https://s.example'] })).site.id;
    });
    afterEach(() => useKeys(undefined));
    after(async () => {
      useKeys(undefined);
      if (t) await t.drop();
    });

    /** The private "d" of every signing key, read with the keys given. */
    async function privateParts(...keys: string[]): Promise<string[]> {
      const ring = keyring(keys[0]!, ...keys.slice(1));
      const rows = await t.db.query<{ kid: string; private_jwk: string }>('SELECT kid, private_jwk FROM signing_keys');
      return rows.map((row) => (JSON.parse(openSecret(row.private_jwk, `signing_keys:${row.kid}`, ring)) as { d: string }).d);
    }

    /** Everything the database keeps on disk (SQLite: the file and its WAL), or its rows (PostgreSQL). */
    async function stored(): Promise<string> {
      if (kind === 'sqlite') {
        const dir = t.settings.dataDir;
        return readdirSync(dir)
          .filter((name) => name.startsWith('diamonds.sqlite'))
          .map((name) => readFileSync(join(dir, name)).toString('latin1'))
          .join('\n');
      }
      const rows = await t.db.query<{ private_jwk: string }>('SELECT private_jwk FROM signing_keys');
      return rows.map((row) => row.private_jwk).join('\n');
    }

    it('stores the receipt signing key encrypted: the private key is nowhere in the database', async () => {
      useKeys(KEY_A);
      await ensureSigningKey(t.db);
      const [d] = await privateParts(KEY_A);
      assert.ok(d && d.length > 20);
      const raw = await stored();
      assert.ok(!raw.includes(d), 'the clear private key is not stored');
      assert.match(raw, /enc1\./);
      const { jwt } = await t.db.transaction((tx) => issueReceipt(tx, { sub: 'usr_x', site: siteId } as never));
      assert.equal(verifyReceiptWith(jwt, (await jwks(t.db)).keys).sub, 'usr_x', 'receipts sign and verify as before');
    });

    it('says which key is missing when the platform runs with the wrong one', async () => {
      useKeys(KEY_B);
      await assert.rejects(
        t.db.transaction((tx) => issueReceipt(tx, { sub: 'usr_x', site: siteId } as never)),
        (error: unknown) => error instanceof SecretKeyError && /encrypted with key id/.test(error.message),
      );
      useKeys(undefined);
      await assert.rejects(
        t.db.transaction((tx) => issueReceipt(tx, { sub: 'usr_x', site: siteId } as never)),
        /DIAMONDS_SECRET_KEY is not set/,
      );
    });

    it('rotates DIAMONDS_SECRET_KEY: the old one as previous, rows sealed again at start, then the new one alone', async () => {
      useKeys(KEY_B, KEY_A);
      const before = await privateParts(KEY_A);
      assert.ok((await resealSigningKeys(t.db)) >= 1);
      assert.deepEqual(await privateParts(KEY_B), before, 'the same keys, under the new secret key');
      assert.equal(await resealSigningKeys(t.db), 0, 'nothing left to do');
      useKeys(KEY_B);
      await t.db.transaction((tx) => issueReceipt(tx, { sub: 'usr_y', site: siteId } as never));
    });

    it('reads a key stored in clear by an earlier version, and encrypts it at the next start', async () => {
      useKeys(undefined);
      const kid = await rotateSigningKey(t.db);
      const [row] = await t.db.query<{ private_jwk: string }>('SELECT private_jwk FROM signing_keys WHERE kid = ?', [kid]);
      assert.ok(row && !isSealed(row.private_jwk), 'without a key (development): in clear, as before');
      useKeys(KEY_B);
      const { jwt } = await t.db.transaction((tx) => issueReceipt(tx, { sub: 'usr_z', site: siteId } as never));
      assert.equal(verifyReceiptWith(jwt, (await jwks(t.db)).keys).sub, 'usr_z');
      assert.equal(await resealSigningKeys(t.db), 1);
      const [after] = await t.db.query<{ private_jwk: string }>('SELECT private_jwk FROM signing_keys WHERE kid = ?', [kid]);
      assert.ok(after && isSealed(after.private_jwk));
    });

    it('keeps `keys rotate` working: the new key is encrypted, receipts of the old one still verify', async () => {
      useKeys(KEY_B);
      const old = await t.db.transaction((tx) => issueReceipt(tx, { sub: 'usr_old', site: siteId } as never));
      const kid = await rotateSigningKey(t.db);
      const [row] = await t.db.query<{ private_jwk: string }>('SELECT private_jwk FROM signing_keys WHERE kid = ?', [kid]);
      assert.ok(row && isSealed(row.private_jwk));
      const fresh = await t.db.transaction((tx) => issueReceipt(tx, { sub: 'usr_new', site: siteId } as never));
      const keys = (await jwks(t.db)).keys;
      assert.equal(verifyReceiptWith(old.jwt, keys).sub, 'usr_old');
      assert.equal(verifyReceiptWith(fresh.jwt, keys).sub, 'usr_new');
    });

    it('stores webhook signing secrets encrypted, and seals the ones stored in clear before', async () => {
      useKeys(KEY_A);
      const { endpoint, secret } = await createEndpoint(t.db, siteId, { url: 'https://s.example/hooks' }, { production: false });
      assert.match(secret, /^whsec_/);
      const [row] = await t.db.query<{ secret: string }>('SELECT secret FROM webhook_endpoints WHERE id = ?', [endpoint.id]);
      assert.ok(row && isSealed(row.secret) && !row.secret.includes(secret.slice(6)));
      assert.equal(openSecret(row.secret, webhookSecretContext(endpoint.id), keyring(KEY_A)), secret);
      useKeys(undefined);
      const clear = await createEndpoint(t.db, siteId, { url: 'https://s.example/other' }, { production: false });
      useKeys(KEY_A);
      assert.equal(await resealWebhookSecrets(t.db), 1);
      const [sealed] = await t.db.query<{ secret: string }>('SELECT secret FROM webhook_endpoints WHERE id = ?', [clear.endpoint.id]);
      assert.ok(sealed && isSealed(sealed.secret));
      assert.equal(openSecret(sealed.secret, webhookSecretContext(clear.endpoint.id)), clear.secret);
    });
  });
}

// The shipped command, built by `npm run build` (which `npm test` runs first).
const bin = fileURLToPath(new URL('../../bin/diamonds.js', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../../dist/cli.js', import.meta.url)));

describe('diamonds keys rotate with DIAMONDS_SECRET_KEY', () => {
  let t: TestDatabase;
  before(async () => {
    assert.ok(built, 'packages/server/dist is missing: run "npm run build" first');
    t = await createTestDatabase('sqlite');
  });
  after(() => t?.drop());

  it('makes an encrypted key, and the wrong key is a clear error', async () => {
    const run = (args: string[], key: string) =>
      spawnSync(process.execPath, [bin, ...args], {
        env: { ...process.env, ...t.env, [SECRET_KEY_ENV]: key },
        encoding: 'utf8',
        timeout: 60_000,
      });
    const rotated = run(['keys', 'rotate'], KEY_A);
    assert.equal(rotated.status, 0, rotated.stderr);
    const kid = /signed with (key_\w+)/.exec(rotated.stdout)?.[1];
    assert.ok(kid, rotated.stdout);
    const [row] = await t.db.query<{ private_jwk: string }>('SELECT private_jwk FROM signing_keys WHERE kid = ?', [kid]);
    assert.ok(row && isSealed(row.private_jwk));
    const listed = run(['keys', 'list'], KEY_A);
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(kid));
    // Started with another key, the platform stops at once and says which key it needs.
    const wrong = spawnSync(process.execPath, [bin, 'start'], {
      env: { ...process.env, ...t.env, [SECRET_KEY_ENV]: KEY_B, PORT: '0', HOST: '127.0.0.1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.notEqual(wrong.status, 0, wrong.stdout);
    assert.match(
      wrong.stderr,
      /diamonds: A secret in the database \(signing_keys:key_\w+\) is encrypted with key id \S+, which is neither DIAMONDS_SECRET_KEY/,
    );
  });
});
