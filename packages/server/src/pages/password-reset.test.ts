// Password reset and address verification on the hosted pages, through app.request() with a
// cookie jar per browser, on both engines; the emails are read from the development mailer's
// folder, as a person would read their inbox.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { createApp } from '../app.js';
import { hashSecret, createUser, type User } from '../identity/users.js';
import { isEmailVerified } from '../identity/email-verification.js';
import { Ledger } from '../ledger/ledger.js';
import { developmentMailer } from '../mail/mailer.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import {
  FORGOT_PASSWORD_PATH,
  PASSWORD_RESET_LIMIT_PER_EMAIL,
  PASSWORD_RESET_LIMIT_PER_IP,
  RESET_PASSWORD_PATH,
} from './password-reset.js';
import { HOSTED_CSP } from './security-headers.js';
import { Browser, PASSWORD, csrfOf, sessionOf } from './testing.js';
import { RESEND_VERIFICATION_PATH, VERIFICATION_RESEND_LIMIT, VERIFY_EMAIL_PATH } from './verify-email.js';

/** Cheap scrypt for users made directly. */
const cost = { N: 2 ** 10, r: 8, p: 1 };
const NEW_PASSWORD = 'my brand new password';

let ipCounter = 0;

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`password reset and address verification pages on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let app: Hono;
    let userCounter = 0;
    const mailDir = mkdtempSync(join(tmpdir(), 'diamonds-reset-mail-'));
    const browser = () => new Browser(app, `10.9.${kind === 'sqlite' ? 1 : 2}.${++ipCounter}`);
    const newUser = (): Promise<User> =>
      createUser(
        t.db,
        { email: `reset${++userCounter}@example.com`, password: PASSWORD, displayName: 'Resetter', roles: ['fan'] },
        { cost },
      );
    /** Every email to `to`, oldest first: subject and text. */
    const mailsTo = (to: string): Array<{ subject: string; text: string }> =>
      readdirSync(mailDir)
        .sort()
        .map((name) => readFileSync(join(mailDir, name), 'utf8'))
        .filter((eml) => eml.includes(`\r\nTo: ${to}\r\n`))
        .map((eml) => {
          const [head, ...body] = eml.split('\r\n\r\n');
          return { subject: /\r\nSubject: (.*)/.exec(head!)?.[1] ?? '', text: body.join('\r\n\r\n') };
        });
    /** The path of the one-time link in the newest email to `to`. */
    const linkMailedTo = (to: string, path: string): string => {
      const mail = mailsTo(to).at(-1);
      assert.ok(mail, `an email to ${to}`);
      const link = new RegExp(`https?://[^\\s]+${path.replace('/', '\\/')}\\?token=[\\w-]+`).exec(mail.text)?.[0];
      assert.ok(link, `a ${path} link in:\n${mail.text}`);
      return new URL(link).pathname + new URL(link).search;
    };
    /** Asks for a reset link from the forgot-password page; the answer. */
    const askReset = async (b: Browser, email: string): Promise<Response> =>
      b.request(FORGOT_PASSWORD_PATH, { form: { csrf: await b.csrf(FORGOT_PASSWORD_PATH), email, next: '/account' } });

    before(async () => {
      t = await createTestDatabase(kind);
      app = createApp({ db: t.db, ledger: new Ledger(t.db), mailer: developmentMailer({ dir: mailDir, log: false }) }) as unknown as Hono;
    });
    after(async () => {
      if (t) await t.drop();
      rmSync(mailDir, { recursive: true, force: true });
    });

    it('links "Forgot password?" from the sign-in page, keeping the popup’s next, under the popup’s headers', async () => {
      const b = browser();
      const signin = await b.page('/signin?next=%2Fsignin%2Fauthorize%3Frequest%3Dsir_x');
      assert.match(signin, /<a href="\/signin\/forgot\?next=%2Fsignin%2Fauthorize%3Frequest%3Dsir_x">Forgot password\?<\/a>/);
      const forgot = await b.request('/signin/forgot?next=%2Fsignin%2Fauthorize%3Frequest%3Dsir_x');
      assert.equal(forgot.status, 200);
      assert.equal(forgot.headers.get('Content-Security-Policy'), HOSTED_CSP);
      assert.equal(forgot.headers.get('Cross-Origin-Opener-Policy'), 'unsafe-none', 'the sign-in popup keeps its opener');
      assert.equal(forgot.headers.get('Cache-Control'), 'no-store');
      const body = await forgot.text();
      assert.match(body, /<h1>Forgot your password\?<\/h1>/);
      assert.match(body, /name="next" value="\/signin\/authorize\?request=sir_x"/);
      assert.match(body, /<label for="email">Email<\/label>/);
    });

    it('answers the same page whether or not the address has an account; one email either way', async () => {
      const user = await newUser();
      const known = await askReset(browser(), user.email);
      const unknown = await askReset(browser(), 'nobody-here@example.com');
      assert.equal(known.status, 200);
      assert.equal(unknown.status, known.status);
      const strip = (body: string, email: string) => body.replaceAll(email, 'EMAIL').replace(/name="csrf" value="[^"]+"/g, '');
      assert.equal(strip(await known.text(), user.email), strip(await unknown.text(), 'nobody-here@example.com'), 'the same page');
      assert.equal(mailsTo(user.email).length, 1);
      assert.equal(mailsTo('nobody-here@example.com').length, 1);
      assert.match(mailsTo(user.email)[0]!.text, /\/signin\/reset\?token=/);
      assert.match(mailsTo('nobody-here@example.com')[0]!.text, /has no account/);
      assert.doesNotMatch(mailsTo('nobody-here@example.com')[0]!.text, /token=/);
    });

    it('refuses an empty or malformed address beside the form, for everyone alike (400)', async () => {
      const b = browser();
      for (const email of ['', 'not an address']) {
        const res = await askReset(b, email);
        assert.equal(res.status, 400);
        assert.match(await res.text(), /id="email"[^>]*aria-invalid="true"/);
      }
    });

    it('resets by the emailed link: a refused password keeps the link, then every session ends and only the new password signs in', async () => {
      const user = await newUser();
      const elsewhere = browser();
      assert.equal((await elsewhere.signIn(user.email)).status, 303);
      await sessionOf(t.db, elsewhere);

      const b = browser();
      assert.equal((await askReset(b, user.email)).status, 200);
      const link = linkMailedTo(user.email, RESET_PASSWORD_PATH);
      const form = await b.page(link);
      assert.match(form, /<h1>Set a new password<\/h1>/);
      assert.match(form, /autocomplete="new-password"/);
      const token = new URLSearchParams(link.split('?')[1]).get('token')!;

      const short = await b.request(RESET_PASSWORD_PATH, { form: { csrf: csrfOf(form), token, password: 'short' } });
      assert.equal(short.status, 400);
      assert.match(await short.text(), /New password needs at least 10 characters/);

      const done = await b.request(RESET_PASSWORD_PATH, { form: { csrf: csrfOf(form), token, password: NEW_PASSWORD } });
      const doneBody = await done.text();
      assert.equal(done.status, 200, doneBody);
      assert.match(doneBody, /Your password is changed/);
      assert.match(doneBody, /signed out everywhere/);
      assert.equal(
        (await elsewhere.request('/account')).headers.get('Location'),
        '/signin?next=/account',
        'the other browser is signed out',
      );

      assert.equal((await browser().signIn(user.email)).status, 401, 'the old password no longer works');
      const fresh = browser();
      assert.equal((await fresh.signIn(user.email, { password: NEW_PASSWORD })).status, 303);
      assert.equal((await sessionOf(t.db, fresh)).user.id, user.id);
      assert.equal(await isEmailVerified(t.db, user.id), true);

      // The same link again: a clear page with a way to ask again, never a 500.
      const again = await b.request(link);
      const againBody = await again.text();
      assert.equal(again.status, 410);
      assert.match(againBody, /This link was already used/);
      assert.match(againBody, /<a href="\/signin\/forgot">Ask for a new link<\/a>/);
      const replay = await b.request(RESET_PASSWORD_PATH, { form: { csrf: csrfOf(form), token, password: 'yet another password' } });
      assert.equal(replay.status, 410);
      assert.equal((await browser().signIn(user.email, { password: NEW_PASSWORD })).status, 303, 'unchanged by the replay');
    });

    it('says an expired link has expired (410), and an unknown one does not work (400)', async () => {
      const user = await newUser();
      const b = browser();
      await askReset(b, user.email);
      const link = linkMailedTo(user.email, RESET_PASSWORD_PATH);
      const token = new URLSearchParams(link.split('?')[1]).get('token')!;
      const form = await b.page(link);
      await t.db.run('UPDATE email_tokens SET expires_at = ? WHERE token_hash = ?', [Date.now() - 1, hashSecret(token)]);
      const expired = await b.request(link);
      assert.equal(expired.status, 410);
      assert.match(await expired.text(), /This link has expired/);
      const late = await b.request(RESET_PASSWORD_PATH, { form: { csrf: csrfOf(form), token, password: NEW_PASSWORD } });
      assert.equal(late.status, 410);
      assert.equal((await browser().signIn(user.email)).status, 303, 'the password is unchanged');
      for (const path of [`${RESET_PASSWORD_PATH}?token=${'A'.repeat(43)}`, RESET_PASSWORD_PATH, `${RESET_PASSWORD_PATH}?token=%00%ff`]) {
        const res = await b.request(path);
        assert.equal(res.status, 400, path);
        assert.match(await res.text(), /This link does not work/);
      }
    });

    it('refuses a new password sent without the form’s token or from another site (403), and the link stays usable', async () => {
      const user = await newUser();
      const b = browser();
      await askReset(b, user.email);
      const link = linkMailedTo(user.email, RESET_PASSWORD_PATH);
      const token = new URLSearchParams(link.split('?')[1]).get('token')!;
      const form = await b.page(link);
      const forged = await browser().request(RESET_PASSWORD_PATH, { form: { csrf: csrfOf(form), token, password: 'attacker password' } });
      assert.equal(forged.status, 403, 'no matching cookie');
      const crossSite = await b.request(RESET_PASSWORD_PATH, {
        form: { csrf: csrfOf(form), token, password: 'attacker password' },
        headers: { Origin: 'https://evil.example' },
      });
      assert.equal(crossSite.status, 403);
      assert.equal((await b.request(link)).status, 200, 'the link still works');
    });

    it('limits reset emails per address (the same for any address) and per client IP, with Retry-After', async () => {
      const user = await newUser();
      for (const address of [user.email, 'nobody-limited@example.com']) {
        const statuses: number[] = [];
        for (let i = 0; i <= PASSWORD_RESET_LIMIT_PER_EMAIL; i++) statuses.push((await askReset(browser(), address)).status);
        assert.deepEqual(statuses, [...Array<number>(PASSWORD_RESET_LIMIT_PER_EMAIL).fill(200), 429], address);
        assert.equal(mailsTo(address).length, PASSWORD_RESET_LIMIT_PER_EMAIL, 'no email past the limit');
      }
      const b = browser();
      for (let i = 0; i < PASSWORD_RESET_LIMIT_PER_IP; i++) assert.equal((await askReset(b, `ip-limit-${i}@example.com`)).status, 200);
      const refused = await askReset(b, 'ip-limit-last@example.com');
      assert.equal(refused.status, 429);
      assert.match(refused.headers.get('Retry-After') ?? '', /^\d+$/);
      assert.match(await refused.text(), /Too many password reset attempts/);
      assert.equal(mailsTo('ip-limit-last@example.com').length, 0);
    });

    it('shows an unverified address on the account page with a rate-limited resend; the emailed link verifies it once', async () => {
      const user = await newUser();
      const b = browser();
      await b.signIn(user.email);
      const account = await b.page('/account');
      assert.match(account, /is not verified yet/);
      assert.match(account, new RegExp(`<form method="post" action="${RESEND_VERIFICATION_PATH}">`));

      const noToken = await b.request(RESEND_VERIFICATION_PATH, { form: { csrf: 'wrong' } });
      assert.equal(noToken.status, 403, 'the session’s CSRF token is required');
      assert.equal(mailsTo(user.email).length, 0);

      const sent = await b.request(RESEND_VERIFICATION_PATH, { form: { csrf: csrfOf(account) } });
      assert.equal(sent.status, 200);
      assert.match(await sent.text(), /We sent a verification link/);
      const link = linkMailedTo(user.email, VERIFY_EMAIL_PATH);
      assert.equal(mailsTo(user.email).at(-1)?.subject, 'Verify your Diamonds email address');

      for (let i = 1; i < VERIFICATION_RESEND_LIMIT; i++)
        assert.equal((await b.request(RESEND_VERIFICATION_PATH, { form: { csrf: csrfOf(account) } })).status, 200);
      const limited = await b.request(RESEND_VERIFICATION_PATH, { form: { csrf: csrfOf(account) } });
      assert.equal(limited.status, 429);
      assert.match(await limited.text(), /Too many verification email attempts/);
      assert.equal(mailsTo(user.email).length, VERIFICATION_RESEND_LIMIT);

      // The link works in any browser (the mail may be read on a phone).
      const verified = await browser().request(link);
      assert.equal(verified.status, 200);
      assert.match(await verified.text(), /is verified\./);
      assert.equal(await isEmailVerified(t.db, user.id), true);
      assert.doesNotMatch(await b.page('/account'), /is not verified yet/);
      const twice = await browser().request(link);
      assert.equal(twice.status, 200);
      assert.match(await twice.text(), /is verified already/);
      const newer = linkMailedTo(user.email, VERIFY_EMAIL_PATH);
      assert.equal((await browser().request(newer)).status, 200, 'another link of a verified address is no problem either');
    });

    it('says an expired verification link has expired (410) and an unknown one does not work (400)', async () => {
      const user = await newUser();
      const b = browser();
      await b.signIn(user.email);
      await b.request(RESEND_VERIFICATION_PATH, { form: { csrf: csrfOf(await b.page('/account')) } });
      const link = linkMailedTo(user.email, VERIFY_EMAIL_PATH);
      const token = new URLSearchParams(link.split('?')[1]).get('token')!;
      await t.db.run('UPDATE email_tokens SET expires_at = ? WHERE token_hash = ?', [Date.now() - 1, hashSecret(token)]);
      const expired = await browser().request(link);
      assert.equal(expired.status, 410);
      assert.match(await expired.text(), /This link has expired/);
      assert.equal(await isEmailVerified(t.db, user.id), false);
      for (const path of [VERIFY_EMAIL_PATH, `${VERIFY_EMAIL_PATH}?token=${'B'.repeat(43)}`, `${VERIFY_EMAIL_PATH}?token=x&token=y`]) {
        const res = await browser().request(path);
        assert.equal(res.status, 400, path);
        assert.equal(res.headers.get('Content-Security-Policy'), HOSTED_CSP);
      }
    });

    it('asks a signed-out resend to sign in', async () => {
      const res = await browser().request(RESEND_VERIFICATION_PATH, { form: { csrf: 'x' } });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('Location'), '/signin?next=/account');
    });
  });
}
