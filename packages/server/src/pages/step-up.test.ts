import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Hono } from 'hono';
import { createApp } from '../app.js';
import { Ledger } from '../ledger/ledger.js';
import { connect, findConnection } from '../identity/connections.js';
import { findSession } from '../identity/sessions.js';
import { createSite, type Site } from '../identity/sites.js';
import { createUser, type User } from '../identity/users.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { SIGNIN_LIMIT_PER_EMAIL } from './auth.js';
import { HOSTED_CSP } from './security-headers.js';
import { STEP_UP_AFTER_MS, STEP_UP_PATH } from './step-up.js';
import { Browser, PASSWORD, ageSignIn, csrfOf, sessionOf, unescapeHtml } from './testing.js';

/** Cheap scrypt for users made directly. */
const cost = { N: 2 ** 10, r: 8, p: 1 };
let ipCounter = 0;

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`step-up (the password again) on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let app: Hono;
    let site: Site;
    let userCounter = 0;
    const browser = () => new Browser(app, `10.3.${kind === 'sqlite' ? 1 : 2}.${++ipCounter}`);

    /** A fan connected to the site with `allowance`, signed in `ageMs` ago. */
    async function oldSignIn(allowance = 10, ageMs = STEP_UP_AFTER_MS + 1000): Promise<{ b: Browser; user: User }> {
      const user = await createUser(
        t.db,
        { email: `stepper${++userCounter}@example.com`, password: PASSWORD, displayName: 'Stepper', roles: ['fan'] },
        { cost },
      );
      await connect(t.db, user.id, site.id, allowance);
      const b = browser();
      assert.equal((await b.signIn(user.email)).status, 303);
      await ageSignIn(t.db, b, ageMs);
      return { b, user };
    }

    before(async () => {
      t = await createTestDatabase(kind);
      app = createApp({ db: t.db, ledger: new Ledger(t.db) }) as unknown as Hono;
      const creator = await createUser(
        t.db,
        { email: 'owner@example.com', password: PASSWORD, displayName: 'Owner', roles: ['creator'] },
        { cost },
      );
      site = (await createSite(t.db, { ownerId: creator.id, name: 'Shop', origins: ['http://127.0.0.1:5173'] })).site;
    });
    after(async () => {
      if (t) await t.drop();
    });

    it('asks for the password, keeps a safe next, and starts a new session with the right one', async () => {
      const { b, user } = await oldSignIn();
      const signedOut = await browser().request(`${STEP_UP_PATH}?next=%2Faccount`);
      assert.equal(signedOut.status, 303);
      assert.equal(signedOut.headers.get('Location'), `/signin?next=${encodeURIComponent('/account')}`);

      const res = await b.request(`${STEP_UP_PATH}?next=${encodeURIComponent('//evil.example/x')}`);
      const page = await res.text();
      assert.equal(res.status, 200, page);
      assert.equal(res.headers.get('Content-Security-Policy'), HOSTED_CSP);
      assert.equal(res.headers.get('X-Frame-Options'), 'DENY');
      // A popup page (the confirmation and consent popups come here): the opener still sees it close.
      assert.equal(res.headers.get('Cross-Origin-Opener-Policy'), 'unsafe-none');
      assert.match(page, /<h1>Enter your password again<\/h1>/);
      assert.match(page, new RegExp(user.email));
      assert.match(page, /autocomplete="current-password"/);
      assert.equal(unescapeHtml(/name="next" value="([^"]*)"/.exec(page)?.[1] ?? ''), '/account', 'an unsafe next becomes /account');

      const csrf = csrfOf(page);
      const before = await sessionOf(t.db, b);
      const oldToken = b.jar.get('diamonds_session');
      assert.equal((await b.request(STEP_UP_PATH, { form: { next: '/account', password: PASSWORD } })).status, 403, 'CSRF-checked');
      assert.equal(
        (
          await b.request(STEP_UP_PATH, {
            form: { csrf, next: '/account', password: PASSWORD },
            headers: { Origin: 'http://127.0.0.1:5173' },
          })
        ).status,
        403,
        'same-origin only',
      );
      const empty = await b.request(STEP_UP_PATH, { form: { csrf, next: '/account', password: '' } });
      assert.equal(empty.status, 400);
      const ok = await b.request(STEP_UP_PATH, { form: { csrf, next: '/account?tab=1', password: PASSWORD } });
      assert.equal(ok.status, 303);
      assert.equal(ok.headers.get('Location'), '/account?tab=1');
      const after = await sessionOf(t.db, b);
      assert.notEqual(b.jar.get('diamonds_session'), oldToken, 'a new cookie');
      assert.notEqual(after.csrfToken, before.csrfToken);
      assert.ok(after.authenticatedAt > before.authenticatedAt + STEP_UP_AFTER_MS, 'signed in now');
      assert.equal(await findSession(t.db, oldToken), undefined, 'the old session is revoked');
    });

    it('counts wrong passwords against the sign-in limit of the account', async () => {
      const { b, user } = await oldSignIn();
      const csrf = csrfOf(await b.page(STEP_UP_PATH));
      // The sign-in that started the session, honest, counted nothing: only wrong passwords do.
      for (let i = 0; i < SIGNIN_LIMIT_PER_EMAIL; i++) {
        const wrong = await b.request(STEP_UP_PATH, { form: { csrf, next: '/account', password: `wrong password ${i}` } });
        assert.equal(wrong.status, 401);
        assert.match(await wrong.text(), /That password is not right/);
      }
      const limited = await b.request(STEP_UP_PATH, { form: { csrf, next: '/account', password: PASSWORD } });
      assert.equal(limited.status, 429, 'even the right password, once limited');
      assert.ok(Number(limited.headers.get('Retry-After')) > 0);
      assert.match(await limited.text(), /Too many password attempts/);
      // The sign-in page shares the count: no fresh guesses there either.
      const signin = await browser().signIn(user.email);
      assert.equal(signin.status, 429);
      assert.ok((await sessionOf(t.db, b)).authenticatedAt < Date.now() - STEP_UP_AFTER_MS, 'still the old sign-in');
    });

    it('raising an allowance on the account page asks for the password; lowering it does not', async () => {
      const { b, user } = await oldSignIn(10);
      const path = `/account/connections/${site.id}/allowance`;
      const csrf = csrfOf(await b.page('/account'));
      const raised = await b.request(path, { form: { csrf, allowancePerDay: '11' } });
      assert.equal(raised.status, 303);
      assert.equal(raised.headers.get('Location'), `${STEP_UP_PATH}?next=%2Faccount`);
      assert.equal((await findConnection(t.db, user.id, site.id))?.allowancePerDay, 10);
      assert.match(await b.page(`${STEP_UP_PATH}?next=%2Faccount`), /You are about to raise what a site may spend without asking/);

      const lowered = await b.request(path, { form: { csrf, allowancePerDay: '3' } });
      assert.equal(lowered.status, 303);
      assert.equal(lowered.headers.get('Location'), '/account');
      assert.equal((await findConnection(t.db, user.id, site.id))?.allowancePerDay, 3);
      // Bad input is still a form error, not a password page.
      assert.equal((await b.request(path, { form: { csrf, allowancePerDay: 'lots' } })).status, 400);

      const again = await b.request(STEP_UP_PATH, { form: { csrf, next: '/account', password: PASSWORD } });
      assert.equal(again.status, 303);
      const fresh = csrfOf(await b.page('/account'));
      assert.equal((await b.request(path, { form: { csrf: fresh, allowancePerDay: '500' } })).status, 303);
      assert.equal((await findConnection(t.db, user.id, site.id))?.allowancePerDay, 500);
    });
  });
}
