import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isApiError } from '../errors.js';
import { rejectsWith } from '../testing/assertions.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import {
  ALLOWANCE_WINDOW_MS,
  allowanceSpent,
  connect,
  consumeAllowance,
  disconnect,
  findConnection,
  listConnections,
  remainingAllowance,
  setAllowance,
} from './connections.js';
import { DEMO_CREATOR_EMAIL, DEMO_ORIGINS, demoFile, seedDemo } from './demo.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { RATE_LIMIT_RETENTION_MS, forgetOldRateLimits, hitRateLimit } from './rate-limit.js';
import { createSession, csrfMatches, findSession, revokeSession } from './sessions.js';
import { createSite, findSiteByKey, keyKindOf, listKeys, revokeKey, rollKey, updateOrigins } from './sites.js';
import { authenticate, createUser, type User } from './users.js';
import { allowanceRunningTotalsMigration } from '../money/pg-spend.js';

/** Cheap scrypt for tests; the cost itself is tested once below. */
const cost = { N: 2 ** 10, r: 8, p: 1 };

describe('passwords', () => {
  it('hash with scrypt and a fresh salt, and verify only the right password', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    assert.match(a, /^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    assert.notEqual(a, b, 'salts differ');
    assert.equal(await verifyPassword('correct horse battery', a), true);
    assert.equal(await verifyPassword('correct horse batterY', a), false);
    assert.equal(await verifyPassword('correct horse battery', 'scrypt$1$1$1$x$y'), false);
    assert.equal(await verifyPassword('x', 'plain'), false);
  });
});

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`identity on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let creator: User;
    let fan: User;
    before(async () => {
      t = await createTestDatabase(kind);
      creator = await createUser(
        t.db,
        { email: ' Creator@Example.COM ', password: 'a long password', displayName: 'Ada', roles: ['creator', 'fan'] },
        { cost },
      );
      fan = await createUser(t.db, { email: 'fan@example.com', password: 'another password', displayName: 'Bo', roles: ['fan'] }, { cost });
    });
    after(async () => {
      if (t) await t.drop();
    });

    describe('users', () => {
      it('sign up with a normalised email, a display name and roles', () => {
        assert.equal(creator.email, 'creator@example.com');
        assert.deepEqual(creator.roles, ['fan', 'creator']);
        assert.match(creator.id, /^usr_/);
      });

      it('refuse a second account for the same email, in any case', async () => {
        await rejectsWith(
          createUser(t.db, { email: 'FAN@example.com', password: 'whatever123', displayName: 'X', roles: ['fan'] }, { cost }),
          'email_taken',
          'email',
        );
      });

      it('sign in with the right password only, and answer a wrong password like an unknown email', async () => {
        assert.equal((await authenticate(t.db, 'FAN@example.com', 'another password')).id, fan.id);
        const wrong = await authenticate(t.db, 'fan@example.com', 'not it at all').catch((e: unknown) => e);
        const unknown = await authenticate(t.db, 'nobody@example.com', 'not it at all').catch((e: unknown) => e);
        assert.ok(isApiError(wrong, 'invalid_credentials') && isApiError(unknown, 'invalid_credentials'));
        assert.equal(wrong.message, unknown.message);
        await rejectsWith(authenticate(t.db, 42, 'x'), 'invalid_credentials');
      });

      const bad: Array<[string, Record<string, unknown>, string]> = [
        ['an empty email', { email: '' }, 'email'],
        ['an email without @', { email: 'fan.example.com' }, 'email'],
        ['an email with a control character', { email: 'f\u0001n@example.com' }, 'email'],
        ['a too long email', { email: `${'a'.repeat(250)}@example.com` }, 'email'],
        ['a number for email', { email: 7 }, 'email'],
        ['a short password', { password: 'short' }, 'password'],
        ['a too long password', { password: 'x'.repeat(201) }, 'password'],
        ['a password with NUL', { password: 'abcdefghij\u0000' }, 'password'],
        ['an empty name', { displayName: '   ' }, 'displayName'],
        ['a too long name', { displayName: 'n'.repeat(61) }, 'displayName'],
        ['a name with a control character', { displayName: 'Ada\u0007' }, 'displayName'],
        ['a name with a bidi override', { displayName: 'Ada\u202e' }, 'displayName'],
        ['a name with a lone surrogate', { displayName: 'Ada\ud800' }, 'displayName'],
        ['a name on two lines', { displayName: 'Ada\nLovelace' }, 'displayName'],
        ['an object for a name', { displayName: { first: 'Ada' } }, 'displayName'],
        ['no role', { roles: [] }, 'roles'],
        ['an unknown role', { roles: ['admin'] }, 'roles'],
      ];
      for (const [name, change, param] of bad) {
        it(`refuse ${name}`, async () => {
          const input = {
            email: `new-${Math.random()}@example.com`,
            password: 'good password',
            displayName: 'New',
            roles: ['fan'],
            ...change,
          };
          await rejectsWith(createUser(t.db, input as never, { cost }), 'invalid_request', param);
        });
      }
    });

    describe('sessions', () => {
      it('live until revoked or expired, stored only as a hash', async () => {
        const { token, session } = await createSession(t.db, fan, 1_000);
        assert.equal((await findSession(t.db, token, 2_000))?.user.id, fan.id);
        const stored = await t.db.query<{ token_hash: string }>('SELECT token_hash FROM sessions');
        assert.ok(stored.every((r) => r.token_hash !== token));
        assert.equal(csrfMatches(session, session.csrfToken), true);
        assert.equal(csrfMatches(session, `${session.csrfToken}x`), false);
        assert.equal(csrfMatches(session, undefined), false);
        assert.equal(await findSession(t.db, token, session.expiresAt), undefined, 'expired');
        await revokeSession(t.db, token, 3_000);
        assert.equal(await findSession(t.db, token, 4_000), undefined, 'revoked');
        assert.equal(await findSession(t.db, 'made-up', 4_000), undefined);
        assert.equal(await findSession(t.db, undefined, 4_000), undefined);
      });
    });

    describe('sites and keys', () => {
      it('get a publishable key and a secret key that is stored only as a hash', async () => {
        const { site, publishableKey, secretKey } = await createSite(t.db, {
          ownerId: creator.id,
          name: 'Ada’s page',
          origins: ['https://Ada.Example/'],
        });
        assert.deepEqual(site.origins, ['https://ada.example']);
        assert.match(publishableKey, /^pk_test_[0-9A-Za-z]{24}$/);
        assert.match(secretKey, /^sk_test_[0-9A-Za-z]{32}$/);
        assert.equal(keyKindOf(publishableKey), 'publishable');
        assert.equal(keyKindOf(secretKey), 'secret');
        const stored = await t.db.query<{ lookup: string }>('SELECT lookup FROM site_keys WHERE site_id = ?', [site.id]);
        assert.ok(stored.some((r) => r.lookup === publishableKey));
        assert.ok(stored.every((r) => r.lookup !== secretKey && !r.lookup.includes(secretKey.slice(8))));
        assert.equal((await findSiteByKey(t.db, publishableKey))?.site.id, site.id);
        assert.deepEqual((await findSiteByKey(t.db, secretKey))?.kind, 'secret');
        assert.equal(await findSiteByKey(t.db, `${secretKey.slice(0, -1)}${secretKey.endsWith('x') ? 'y' : 'x'}`), undefined);
        assert.equal(await findSiteByKey(t.db, 'pk_test_short'), undefined);
      });

      it('roll and revoke keys, which stop working at once', async () => {
        const { site, publishableKey, secretKey } = await createSite(t.db, {
          ownerId: creator.id,
          name: 'Shop',
          origins: ['https://shop.example'],
        });
        const newSecret = await rollKey(t.db, site.id, 'secret');
        assert.equal(await findSiteByKey(t.db, secretKey), undefined);
        assert.equal((await findSiteByKey(t.db, newSecret))?.site.id, site.id);
        assert.equal((await findSiteByKey(t.db, publishableKey))?.site.id, site.id, 'rolling the secret leaves the publishable key');
        const keys = await listKeys(t.db, site.id);
        assert.equal(keys.length, 3);
        assert.ok(
          keys.every((k) => k.kind === 'publishable' || k.publishableKey === undefined),
          'a secret is never listed',
        );
        const live = keys.find((k) => k.kind === 'publishable' && k.revokedAt === null);
        await revokeKey(t.db, site.id, live?.id ?? '');
        assert.equal(await findSiteByKey(t.db, publishableKey), undefined);
        await rejectsWith(revokeKey(t.db, site.id, 'key_nope'), 'key_not_found');
        await rejectsWith(rollKey(t.db, 'site_nope', 'secret'), 'site_not_found');
      });

      it('refuse bad names and origins, and change origins', async () => {
        const create = (name: unknown, origins: unknown) => createSite(t.db, { ownerId: creator.id, name, origins });
        await rejectsWith(create('', ['https://a.example']), 'invalid_request', 'name');
        await rejectsWith(create('x'.repeat(81), ['https://a.example']), 'invalid_request', 'name');
        await rejectsWith(create('ok', []), 'invalid_request', 'origins');
        await rejectsWith(create('ok', 'https://a.example'), 'invalid_request', 'origins');
        await rejectsWith(create('ok', ['https://*.example.com']), 'invalid_origin', 'origins.0');
        await rejectsWith(create('ok', ['https://a.example', 'ftp://a.example']), 'invalid_origin', 'origins.1');
        await rejectsWith(create('ok', ['https://a.example/path']), 'invalid_origin', 'origins.0');
        await rejectsWith(create('ok', [42]), 'invalid_origin', 'origins.0');
        await rejectsWith(
          create(
            'ok',
            Array.from({ length: 21 }, (_, i) => `https://s${i}.example`),
          ),
          'invalid_request',
          'origins',
        );
        const { site } = await create('ok', ['https://a.example']);
        assert.deepEqual((await updateOrigins(t.db, site.id, ['https://b.example', 'http://localhost:*'])).origins, [
          'https://b.example',
          'http://localhost:*',
        ]);
        await rejectsWith(updateOrigins(t.db, 'site_nope', ['https://b.example']), 'site_not_found');
      });
    });

    describe('connections and the allowance', () => {
      it('record consent with an allowance of 0 or more, change it, and disconnect', async () => {
        const { site } = await createSite(t.db, { ownerId: creator.id, name: 'Stream', origins: ['https://stream.example'] });
        assert.equal(await findConnection(t.db, fan.id, site.id), undefined);
        assert.equal((await connect(t.db, fan.id, site.id, 0)).allowancePerDay, 0);
        assert.equal((await setAllowance(t.db, fan.id, site.id, '250')).allowancePerDay, 250);
        assert.deepEqual(
          (await listConnections(t.db, fan.id)).map((c) => [c.site.id, c.allowancePerDay]),
          [[site.id, 250]],
        );
        for (const bad of [-1, 1.5, 'ten', null, 1_000_000_001, Number.NaN]) {
          await rejectsWith(setAllowance(t.db, fan.id, site.id, bad), 'invalid_request', 'allowancePerDay');
        }
        assert.equal(await disconnect(t.db, fan.id, site.id), true);
        assert.equal(await disconnect(t.db, fan.id, site.id), false);
        assert.equal(await findConnection(t.db, fan.id, site.id), undefined);
        await rejectsWith(setAllowance(t.db, fan.id, site.id, 5), 'site_not_found');
        assert.equal((await connect(t.db, fan.id, site.id, 5)).allowancePerDay, 5, 'reconnecting works');
        await rejectsWith(connect(t.db, fan.id, 'site_nope', 5), 'site_not_found');
      });
    });

    describe('the remaining allowance', () => {
      it('is the allowance less what the site spent in the last 24 hours, taken atomically under concurrency', async () => {
        const { site } = await createSite(t.db, { ownerId: creator.id, name: 'Live', origins: ['https://live.example'] });
        const now = Date.UTC(2026, 10, 25, 12);
        const spend = (reference: string, amount: number, at = now) =>
          t.db.transaction((tx) =>
            consumeAllowance(tx, { reference, userId: fan.id, siteId: site.id, recipientId: creator.id, amount }, at),
          );
        assert.equal(await spend('not-connected', 1), false, 'no consent, no allowance');
        await connect(t.db, fan.id, site.id, 100, now);
        assert.equal(await remainingAllowance(t.db, fan.id, site.id, now), 100);
        assert.equal(await spend('a', 30, now - ALLOWANCE_WINDOW_MS), true, 'an old spend');
        assert.equal(await remainingAllowance(t.db, fan.id, site.id, now), 100, 'a spend older than 24 hours no longer counts');
        // Twenty concurrent spends of 10, from two connections: exactly ten fit.
        let recorded: string;
        const other = t.reopen();
        try {
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              (i % 2 ? other : t.db).transaction((tx) =>
                consumeAllowance(tx, { reference: `c${i}`, userId: fan.id, siteId: site.id, recipientId: creator.id, amount: 10 }, now),
              ),
            ),
          );
          assert.equal(results.filter(Boolean).length, 10);
          // Which ten won is the race's: retry one that did.
          recorded = `c${results.indexOf(true)}`;
        } finally {
          await other.close();
        }
        assert.equal(await remainingAllowance(t.db, fan.id, site.id, now), 0);
        assert.equal(await spend(recorded, 10, now), true, 'a retry of a recorded spend takes nothing more');
        assert.equal(await spend('more', 1, now), false);
        assert.equal(await remainingAllowance(t.db, fan.id, site.id, now + ALLOWANCE_WINDOW_MS), 100, 'a day later it is whole again');
        await assert.rejects(spend('zero', 0), RangeError);
      });

      it('sums its window from running totals: exact over many spends and days, and when the clock goes back', async () => {
        const { site } = await createSite(t.db, { ownerId: creator.id, name: 'Totals', origins: ['https://totals.example'] });
        const start = Date.UTC(2026, 10, 20);
        await connect(t.db, fan.id, site.id, 1_000_000, start);
        const spend = (reference: string, amount: number, at: number) =>
          t.db.transaction((tx) =>
            consumeAllowance(tx, { reference, userId: fan.id, siteId: site.id, recipientId: creator.id, amount }, at),
          );
        // What the window held before running totals: the sum of every spend after its start.
        const made: { at: number; amount: number }[] = [];
        const summed = (now: number) =>
          made.filter((spent) => spent.at > now - ALLOWANCE_WINDOW_MS).reduce((sum, spent) => sum + spent.amount, 0);
        const HOUR = 3_600_000;
        for (let i = 0; i < 60; i++) {
          const at = start + i * 1.2 * HOUR;
          assert.equal(await spend(`day-${i}`, i + 1, at), true);
          made.push({ at, amount: i + 1 });
        }
        for (const hours of [0, 10, 24, 30, 47.9, 48, 50, 71, 80, 200]) {
          const now = start + hours * HOUR;
          assert.equal(await allowanceSpent(t.db, fan.id, site.id, now), summed(now), `${hours} h after the first spend`);
        }
        // The clock goes back an hour: the spend is recorded at the last spend's time, never before it.
        const last = made.at(-1)!.at;
        assert.equal(await spend('clock-back', 7, last - HOUR), true);
        made.push({ at: last, amount: 7 });
        for (const now of [last, last + ALLOWANCE_WINDOW_MS - HOUR - 1, last + ALLOWANCE_WINDOW_MS - 1, last + ALLOWANCE_WINDOW_MS]) {
          assert.equal(await allowanceSpent(t.db, fan.id, site.id, now), summed(now), `at ${now - last} ms after the last spend`);
        }
        // The allowance itself is checked against the same sum: 100 left of 160 fits 100, not 101.
        const tight = (await createSite(t.db, { ownerId: creator.id, name: 'Tight', origins: ['https://tight.example'] })).site;
        await connect(t.db, fan.id, tight.id, 160, start);
        const spendTight = (reference: string, amount: number, at: number) =>
          t.db.transaction((tx) =>
            consumeAllowance(tx, { reference, userId: fan.id, siteId: tight.id, recipientId: creator.id, amount }, at),
          );
        assert.equal(await spendTight('t1', 60, start), true);
        assert.equal(await spendTight('t2', 101, start + HOUR), false);
        assert.equal(await spendTight('t3', 100, start + HOUR), true);
        assert.equal(await spendTight('t4', 60, start + ALLOWANCE_WINDOW_MS - 1), false, 't1 still in the window');
        assert.equal(await spendTight('t5', 60, start + ALLOWANCE_WINDOW_MS), true, 't1 left the window');
      });

      it('numbers the spends made before running totals in the order of their time (migration 30)', async () => {
        const { site } = await createSite(t.db, { ownerId: creator.id, name: 'Before', origins: ['https://before.example'] });
        const start = Date.UTC(2026, 10, 10);
        // Rows as they were written before: no running total, inserted out of time order.
        for (const [reference, at, amount] of [
          ['before-b', start + 2_000, 20],
          ['before-a', start + 1_000, 10],
          ['before-c', start + 2_000, 30],
          ['before-d', start + 5_000, 40],
        ] as const) {
          await t.db.run('INSERT INTO allowance_spends (reference, user_id, site_id, amount, created_at) VALUES (?, ?, ?, ?, ?)', [
            reference,
            fan.id,
            site.id,
            amount,
            at,
          ]);
        }
        const backfill = allowanceRunningTotalsMigration.statements[kind].find((statement) => statement.startsWith('UPDATE'));
        assert.ok(backfill, 'the migration numbers the rows before it');
        await t.db.run(backfill);
        const rows = await t.db.query<{ reference: string; spent_through: number }>(
          'SELECT reference, spent_through FROM allowance_spends WHERE site_id = ? ORDER BY reference',
          [site.id],
        );
        assert.deepEqual(
          rows.map((row) => [row.reference, Number(row.spent_through)]),
          [
            ['before-a', 10],
            ['before-b', 30],
            ['before-c', 60],
            ['before-d', 100],
          ],
        );
        assert.equal(await allowanceSpent(t.db, fan.id, site.id, start + 2_000 + ALLOWANCE_WINDOW_MS), 40, 'only d is left in the window');
      });
    });

    describe('rate limits', () => {
      it('forget the counts of windows long past, and only those', async () => {
        const now = Date.UTC(2026, 11, 5, 12);
        await t.db.run('INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?, ?, ?), (?, ?, ?), (?, ?, ?)', [
          'forget:old-1',
          now - RATE_LIMIT_RETENTION_MS - 1,
          9,
          'forget:old-2',
          now - 3 * RATE_LIMIT_RETENTION_MS,
          9,
          'forget:recent',
          now - 3_600_000,
          9,
        ]);
        assert.equal(await forgetOldRateLimits(t.db, now, 1), 1, 'at most `limit` a call');
        assert.equal(await forgetOldRateLimits(t.db, now), 1);
        assert.equal(await forgetOldRateLimits(t.db, now), 0);
        const left = await t.db.query<{ bucket: string }>("SELECT bucket FROM rate_limits WHERE bucket LIKE 'forget:%'");
        assert.deepEqual(
          left.map((row) => row.bucket),
          ['forget:recent'],
        );
        // A bucket forgotten starts again from one.
        assert.equal((await hitRateLimit(t.db, 'forget:old-1', 3, 60_000, now)).hits, 1);
        await assert.rejects(forgetOldRateLimits(t.db, now, 0), RangeError);
      });

      it('count hits per bucket and window, across connections', async () => {
        const other = t.reopen();
        try {
          const verdicts = [];
          for (let i = 0; i < 4; i++) verdicts.push(await hitRateLimit(i % 2 ? other : t.db, 'signin:fan', 3, 60_000, 120_000 + i));
          assert.deepEqual(
            verdicts.map((v) => v.allowed),
            [true, true, true, false],
          );
          assert.equal(verdicts[3]?.retryAfterMs, 60_000 - 3);
          assert.equal((await hitRateLimit(t.db, 'signin:other', 3, 60_000, 120_000)).allowed, true, 'buckets are separate');
          assert.equal((await hitRateLimit(t.db, 'signin:fan', 3, 60_000, 180_000)).allowed, true, 'a new window starts over');
        } finally {
          await other.close();
        }
      });
    });

    describe('demo data', () => {
      it('seeds a creator, a fan and a site for local origins once, and writes demo.json', async () => {
        const first = await seedDemo(t.db, t.settings.dataDir);
        assert.equal(first.created, true);
        const demo = first.demo;
        assert.ok(demo);
        assert.equal(demo.creator.email, DEMO_CREATOR_EMAIL);
        assert.deepEqual(demo.site.origins, DEMO_ORIGINS);
        assert.equal((await authenticate(t.db, demo.fan.email, demo.fan.password)).id, demo.fan.userId);
        assert.equal((await findSiteByKey(t.db, demo.site.secretKey))?.site.id, demo.site.id);
        const file = demoFile(t.settings.dataDir);
        assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), demo);
        assert.equal(statSync(file).mode & 0o777, 0o600);
        const again = await seedDemo(t.db, t.settings.dataDir);
        assert.equal(again.created, false);
        assert.deepEqual(again.demo, demo);
        assert.ok(existsSync(file));
      });
    });
  });
}
