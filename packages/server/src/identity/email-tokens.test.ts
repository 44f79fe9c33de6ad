import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../db/types.js';
import { rejectsWith } from '../testing/assertions.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { emailTokensMigration, issueEmailToken, peekEmailToken, spendEmailToken } from './email-tokens.js';
import {
  EMAIL_VERIFICATION_TTL_MS,
  isEmailVerified,
  markEmailVerified,
  startEmailVerification,
  verifyEmail,
} from './email-verification.js';
import { PASSWORD_RESET_TTL_MS, requestPasswordReset, resetPassword } from './password-reset.js';
import { DEMO_CREATOR_EMAIL, DEMO_FAN_EMAIL, seedDemo } from './demo.js';
import { createSession, findSession } from './sessions.js';
import { finishSignUp, startSignUp } from './signups.js';
import { authenticate, createUser, findUserByEmail, hashSecret, type User } from './users.js';

/** Cheap scrypt for tests. */
const cost = { N: 2 ** 10, r: 8, p: 1 };
const PASSWORD = 'the old password';
const NEW_PASSWORD = 'a brand new password';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`one-time email links on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let counter = 0;
    const newUser = (): Promise<User> =>
      createUser(
        t.db,
        { email: `person${++counter}@example.com`, password: PASSWORD, displayName: 'Person', roles: ['fan', 'creator'] },
        { cost },
      );

    before(async () => {
      t = await createTestDatabase(kind);
    });
    after(async () => {
      if (t) await t.drop();
    });

    it('stores only the hash of a token; it works once; peeking spends nothing', async () => {
      const user = await newUser();
      const token = await issueEmailToken(t.db, { purpose: 'reset_password', userId: user.id, email: user.email, ttlMs: 60_000 });
      assert.match(token, /^[\w-]{43}$/);
      const [row] = await t.db.query<{ token_hash: string }>('SELECT token_hash FROM email_tokens WHERE user_id = ?', [user.id]);
      assert.equal(row?.token_hash, hashSecret(token), 'the hash, never the token');
      assert.equal((await peekEmailToken(t.db, 'reset_password', token)).status, 'valid');
      assert.equal((await peekEmailToken(t.db, 'reset_password', token)).status, 'valid', 'peeking twice spends nothing');
      assert.equal((await peekEmailToken(t.db, 'verify_email', token)).status, 'unknown', 'a token is for one purpose');
      assert.equal((await spendEmailToken(t.db, 'reset_password', token)).status, 'valid');
      assert.equal((await spendEmailToken(t.db, 'reset_password', token)).status, 'used');
      for (const bad of ['', 'x', `${token}x`, token.slice(1), null, 42, '../../etc/passwd'.padEnd(43, 'a')]) {
        assert.equal((await peekEmailToken(t.db, 'reset_password', bad)).status, 'unknown', String(bad));
      }
    });

    it('expires: valid just before its expiry, expired from it on (an injected clock)', async () => {
      const user = await newUser();
      const now = 1_800_000_000_000;
      const reset = await requestPasswordReset(t.db, user.email, now);
      assert.ok(reset.token);
      assert.equal(reset.expiresAt, now + PASSWORD_RESET_TTL_MS);
      assert.equal((await peekEmailToken(t.db, 'reset_password', reset.token, now + PASSWORD_RESET_TTL_MS - 1)).status, 'valid');
      assert.equal((await peekEmailToken(t.db, 'reset_password', reset.token, now + PASSWORD_RESET_TTL_MS)).status, 'expired');
      const late = await resetPassword(t.db, reset.token, NEW_PASSWORD, { cost, now: now + PASSWORD_RESET_TTL_MS });
      assert.deepEqual(late, { status: 'expired' });
      await authenticate(t.db, user.email, PASSWORD); // unchanged

      const verification = await startEmailVerification(t.db, user, now);
      assert.equal((await verifyEmail(t.db, verification, now + EMAIL_VERIFICATION_TTL_MS)).status, 'expired');
      assert.equal(await isEmailVerified(t.db, user.id), false);
      assert.equal((await verifyEmail(t.db, verification, now + EMAIL_VERIFICATION_TTL_MS - 1)).status, 'verified');
      assert.equal(await isEmailVerified(t.db, user.id), true);
    });

    it('answers a reset request for an unknown address with no token, and refuses a malformed one alike for all', async () => {
      const unknown = await requestPasswordReset(t.db, '  Nobody@Example.com ');
      assert.deepEqual(unknown, { email: 'nobody@example.com', user: undefined, token: undefined, expiresAt: undefined });
      await rejectsWith(requestPasswordReset(t.db, 'not an address'), 'invalid_request');
      const [count] = await t.db.query<{ n: number }>("SELECT count(*) AS n FROM email_tokens WHERE email = 'nobody@example.com'");
      assert.equal(Number(count?.n), 0);
    });

    it('resets a password: the new one works, the old one not, every session ends, every other link is spent', async () => {
      const user = await newUser();
      const a = await createSession(t.db, user);
      const b = await createSession(t.db, user);
      const first = await requestPasswordReset(t.db, user.email);
      const second = await requestPasswordReset(t.db, user.email);
      assert.ok(first.token && second.token);

      // A password sign-up would refuse leaves the link usable.
      await rejectsWith(resetPassword(t.db, second.token, 'short', { cost }), 'invalid_request');
      assert.equal((await peekEmailToken(t.db, 'reset_password', second.token)).status, 'valid');

      const outcome = await resetPassword(t.db, second.token, NEW_PASSWORD, { cost });
      assert.equal(outcome.status, 'reset');
      assert.equal(outcome.status === 'reset' && outcome.sessionsEnded, 2);
      assert.equal(await findSession(t.db, a.token), undefined);
      assert.equal(await findSession(t.db, b.token), undefined);
      await authenticate(t.db, user.email, NEW_PASSWORD);
      await rejectsWith(authenticate(t.db, user.email, PASSWORD), 'invalid_credentials');
      assert.deepEqual(await resetPassword(t.db, second.token, 'another new password', { cost }), { status: 'used' });
      assert.deepEqual(await resetPassword(t.db, first.token, 'another new password', { cost }), { status: 'used' }, 'the older link too');
      await authenticate(t.db, user.email, NEW_PASSWORD);
      assert.equal(await isEmailVerified(t.db, user.id), true, 'the emailed link proved the address');
    });

    it('lets exactly one of two concurrent uses of one reset link through, on two connections', async () => {
      const other: Database = t.reopen();
      try {
        for (let round = 0; round < 5; round++) {
          const user = await newUser();
          const { token } = await requestPasswordReset(t.db, user.email);
          assert.ok(token);
          const passwords = ['first racer password', 'second racer password'];
          const outcomes = await Promise.all([
            resetPassword(t.db, token, passwords[0], { cost }),
            resetPassword(other, token, passwords[1], { cost }),
          ]);
          const winners = outcomes.map((o, i) => (o.status === 'reset' ? i : -1)).filter((i) => i >= 0);
          assert.equal(winners.length, 1, `exactly one succeeds: ${JSON.stringify(outcomes.map((o) => o.status))}`);
          assert.deepEqual(
            outcomes.find((o) => o.status !== 'reset'),
            { status: 'used' },
          );
          await authenticate(t.db, user.email, passwords[winners[0]!]!);
          await rejectsWith(authenticate(t.db, user.email, passwords[1 - winners[0]!]!), 'invalid_credentials');
        }
      } finally {
        await other.close();
      }
    });

    it('verifies an address once; a second click says verified already; a link for an old address verifies nothing', async () => {
      const user = await newUser();
      assert.equal(await isEmailVerified(t.db, user.id), false, 'an account made outside sign-up starts unverified');
      const token = await startEmailVerification(t.db, user);
      assert.deepEqual(await verifyEmail(t.db, token), { status: 'verified', email: user.email });
      assert.deepEqual(await verifyEmail(t.db, token), { status: 'used', email: user.email, verified: true });
      assert.deepEqual(await verifyEmail(t.db, 'A'.repeat(43)), { status: 'unknown' });

      const moved = await newUser();
      const stale = await startEmailVerification(t.db, moved);
      await t.db.run('UPDATE users SET email = ? WHERE id = ?', [`moved-${moved.email}`, moved.id]);
      assert.deepEqual(await verifyEmail(t.db, stale), { status: 'unknown' });
      assert.equal(await isEmailVerified(t.db, moved.id), false);
      assert.equal(await isEmailVerified(t.db, 'usr_nobody'), false);
    });

    it('counts an account made by sign-up (its code came back) as verified, and keeps the first verification time', async () => {
      const pending = await startSignUp(
        t.db,
        { email: 'signed-up@example.com', password: PASSWORD, displayName: 'New', roles: ['creator'] },
        { cost },
      );
      const done = await finishSignUp(t.db, pending.id, pending.code);
      assert.equal(done.status, 'created');
      assert.ok(done.status === 'created' && (await isEmailVerified(t.db, done.user.id)));
      const [before] = await t.db.query<{ at: number }>('SELECT email_verified_at AS at FROM users WHERE id = ?', [
        done.status === 'created' ? done.user.id : '',
      ]);
      await markEmailVerified(t.db, done.status === 'created' ? done.user.id : '', Date.now() + 60_000);
      const [after] = await t.db.query<{ at: number }>('SELECT email_verified_at AS at FROM users WHERE id = ?', [
        done.status === 'created' ? done.user.id : '',
      ]);
      assert.equal(Number(after?.at), Number(before?.at));
    });

    it('verifies the demo accounts, also in demo data seeded before verification existed', async () => {
      await seedDemo(t.db, t.settings.dataDir);
      const ids = await Promise.all([DEMO_CREATOR_EMAIL, DEMO_FAN_EMAIL].map(async (email) => (await findUserByEmail(t.db, email))!.id));
      for (const id of ids) assert.equal(await isEmailVerified(t.db, id), true);
      await t.db.run('UPDATE users SET email_verified_at = NULL WHERE email IN (?, ?)', [DEMO_CREATOR_EMAIL, DEMO_FAN_EMAIL]);
      assert.equal((await seedDemo(t.db, t.settings.dataDir)).created, false);
      for (const id of ids) assert.equal(await isEmailVerified(t.db, id), true);
    });

    it('migration 19 counts as verified exactly the addresses whose sign-up code came back', async () => {
      const viaSignUp = await startSignUp(
        t.db,
        { email: 'old-signup@example.com', password: PASSWORD, displayName: 'Old', roles: ['fan'] },
        { cost },
      );
      const created = await finishSignUp(t.db, viaSignUp.id, viaSignUp.code);
      assert.equal(created.status, 'created');
      const direct = await newUser();
      // As the database was before migration 19, then its backfill statement again.
      await t.db.run('UPDATE users SET email_verified_at = NULL');
      const backfill = emailTokensMigration.statements[kind].at(-1);
      assert.match(backfill ?? '', /^UPDATE users/);
      await t.db.run(backfill!);
      assert.equal(await isEmailVerified(t.db, created.status === 'created' ? created.user.id : ''), true);
      assert.equal(await isEmailVerified(t.db, direct.id), false);
    });
  });
}
