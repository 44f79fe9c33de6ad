import { after, before, describe, it } from 'node:test';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { createApp } from '../app.js';
import { developmentMailer } from '../mail/mailer.js';
import { createContent } from '../content/content.js';
import { Ledger } from '../ledger/ledger.js';
import { connect, findConnection, listConnections } from '../identity/connections.js';
import { createSite, findSite, findSiteByKey, type CreatedSite } from '../identity/sites.js';
import { createUser, findUserByEmail, type User } from '../identity/users.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { SIGNIN_LIMIT_PER_EMAIL, SIGNIN_LIMIT_PER_IP, SIGNUP_LIMIT_PER_IP } from './auth.js';
import { HOSTED_CSP, isPopupPage } from './security-headers.js';
import { Browser, PASSWORD, csrfOf, unescapeHtml } from './testing.js';

/** Cheap scrypt for users made directly. */
const cost = { N: 2 ** 10, r: 8, p: 1 };

function assertSecurityHeaders(res: Response, what: string, path = what): void {
  assert.equal(res.headers.get('Content-Security-Policy'), HOSTED_CSP, what);
  // Popup pages keep their opener (so it sees the popup closed); the rest are cut off.
  assert.equal(res.headers.get('Cross-Origin-Opener-Policy'), isPopupPage(path) ? 'unsafe-none' : 'same-origin', what);
  assert.equal(res.headers.get('X-Frame-Options'), 'DENY', what);
  assert.equal(res.headers.get('X-Content-Type-Options'), 'nosniff', what);
  assert.equal(res.headers.get('Referrer-Policy'), 'same-origin', what);
}

/** Asserts a form re-rendered with an alert before it and the field marked invalid. */
function assertFormError(body: string, fieldId: string | undefined, message: RegExp, errorId = `${fieldId}-error`): void {
  const alert = /<div class="alert" role="alert" id="[^"]+"><p>([^<]*)<\/p><\/div>/.exec(body);
  assert.ok(alert, `an alert in:\n${body}`);
  assert.match(alert[1]!, message);
  assert.ok(body.indexOf('role="alert"') < body.lastIndexOf('<form'), 'the alert comes before the form');
  if (fieldId !== undefined) {
    const input = new RegExp(`id="${fieldId}"[^>]*aria-invalid="true"[^>]*aria-describedby="[^"]*${errorId}`).exec(body);
    assert.ok(input, `${fieldId} is marked invalid in:\n${body}`);
    assert.match(body, new RegExp(`id="${errorId}">`));
  }
}

let ipCounter = 0;

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`hosted pages on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let app: Hono;
    let creator: User;
    let fan: User;
    let shop: CreatedSite;
    const browser = () => new Browser(app, `10.0.${kind === 'sqlite' ? 1 : 2}.${++ipCounter}`);
    let userCounter = 0;
    // The development mailer writes every email here: what the fan would find in their inbox.
    const mailDir = mkdtempSync(join(tmpdir(), 'diamonds-pages-mail-'));
    /** The newest email to `to`: its subject and text. */
    const lastMailTo = (to: string): { subject: string; text: string } => {
      const mails = readdirSync(mailDir)
        .sort()
        .map((name) => readFileSync(join(mailDir, name), 'utf8'))
        .filter((eml) => eml.includes(`\r\nTo: ${to}\r\n`));
      const eml = mails.at(-1);
      assert.ok(eml, `an email to ${to}`);
      const [head, ...body] = eml.split('\r\n\r\n');
      return { subject: /\r\nSubject: (.*)/.exec(head!)?.[1] ?? '', text: body.join('\r\n\r\n') };
    };
    /** Signs up on the page and enters the emailed code; the answer to the code. */
    const signUpWithCode = async (b: Browser, form: Record<string, string>): Promise<Response> => {
      const res = await b.request('/signup', { form: { csrf: await b.csrf('/signup'), ...form } });
      const page = await res.text();
      assert.equal(res.status, 200, page);
      assert.match(page, /Check your email/);
      const code = /Your code is (\d{6})/.exec(lastMailTo(form.email!.toLowerCase()).text)?.[1];
      assert.ok(code, 'the email holds a code');
      const signup = /name="signup" value="([^"]+)"/.exec(page)?.[1];
      return b.request('/signup/verify', { form: { csrf: csrfOf(page), signup: signup!, code, email: form.email!, next: '/account' } });
    };
    /** A fresh user per test: every sign-in counts against the account's rate limit. */
    const newUser = (roles: ('fan' | 'creator')[], displayName = 'Someone') =>
      createUser(t.db, { email: `user${++userCounter}@example.com`, password: PASSWORD, displayName, roles }, { cost });

    before(async () => {
      t = await createTestDatabase(kind);
      // The platform as it ships: the pages are mounted by createApp.
      app = createApp({ db: t.db, ledger: new Ledger(t.db), mailer: developmentMailer({ dir: mailDir, log: false }) }) as unknown as Hono;
      creator = await createUser(
        t.db,
        { email: 'maker@example.com', password: PASSWORD, displayName: 'Maker', roles: ['creator'] },
        { cost },
      );
      fan = await createUser(
        t.db,
        { email: 'fan@example.com', password: PASSWORD, displayName: 'Fan <b>One</b>', roles: ['fan'] },
        { cost },
      );
      shop = await createSite(t.db, { ownerId: creator.id, name: 'Shop & Co', origins: ['https://shop.example'] });
    });
    after(async () => {
      if (t) await t.drop();
    });

    it('sends the security headers on every page, and only on the pages', async () => {
      const b = browser();
      for (const path of ['/signin', '/signup', '/account', '/hosted.css']) assertSecurityHeaders(await b.request(path), path);
      const signin = await b.request('/signin');
      assert.equal(signin.headers.get('Cache-Control'), 'no-store');
      assert.match(signin.headers.get('Content-Type') ?? '', /^text\/html/);
      const icon = await b.request('/favicon.ico');
      assert.equal(icon.status, 200);
      assert.equal(icon.headers.get('Content-Type'), 'image/svg+xml');
      assert.match(await icon.text(), /^<svg /);
      const css = await b.request('/hosted.css?v=1');
      assert.match(css.headers.get('Content-Type') ?? '', /^text\/css/);
      assert.match(css.headers.get('Cache-Control') ?? '', /max-age=31536000/);
      assert.match(await css.text(), /prefers-color-scheme: dark/);
      const refused = await b.request('/signin', { form: { email: 'x' } });
      assert.equal(refused.status, 403);
      assertSecurityHeaders(refused, 'an error page', '/signin');
      await b.signIn((await newUser(['fan'])).email);
      const account = await b.request('/account');
      assert.equal(account.status, 200);
      assertSecurityHeaders(account, '/account');
      assert.equal(account.headers.get('Cache-Control'), 'no-store');
      const health = await b.request('/healthz');
      assert.equal(health.headers.get('Content-Security-Policy'), null, 'the API keeps its own headers');
    });

    it('answers a wrong address with a page for a browser, and with JSON for the API and for programs', async () => {
      const html = { Accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' };
      const typo = await app.request('/account/nonexistent', { headers: html });
      assert.equal(typo.status, 404);
      assert.match(typo.headers.get('Content-Type') ?? '', /^text\/html/);
      assertSecurityHeaders(typo, 'a page that does not exist', '/account/nonexistent');
      const body = await typo.text();
      assert.match(body, /<html lang="en">/);
      assert.match(body, /<title>Page not found/);
      assert.match(body, /There is no page at \/account\/nonexistent\./);
      assert.match(body, /<a href="\/account">/);
      const api = await app.request('/v1/nonexistent', { headers: html });
      assert.match(api.headers.get('Content-Type') ?? '', /^application\/json/, 'the API answers JSON to a browser too');
      for (const [path, headers] of [
        ['/dashboard/nope', { Accept: 'application/json' }],
        ['/dashboard/nope', {}],
      ] as const) {
        const res = await app.request(path, { headers });
        assert.equal(res.status, 404, path);
        assert.equal((await res.json()).error.code, 'not_found', `${path} with ${JSON.stringify(headers)}`);
      }
      const posted = await app.request('/account/nonexistent', { method: 'POST', headers: html });
      assert.equal(posted.status, 404);
      assert.equal((await posted.json()).error.code, 'not_found', 'a form post to nowhere is no navigation');
    });

    it('renders accessible pages: lang, title, main, bound labels, autocomplete', async () => {
      const body = await browser().page('/signup');
      assert.match(body, /<html lang="en">/);
      assert.match(body, /<title>Create an account · Diamonds<\/title>/);
      assert.match(body, /<main>/);
      for (const [id, autocomplete] of [
        ['email', 'email'],
        ['password', 'new-password'],
        ['displayName', 'name'],
      ] as const) {
        assert.match(body, new RegExp(`<label for="${id}">`));
        assert.match(body, new RegExp(`id="${id}"[^>]*autocomplete="${autocomplete}"`));
      }
      assert.match(body, /<label for="role-fan">/);
      assert.match(body, /<button type="submit">Create account<\/button>/);
      assert.doesNotMatch(body, /<script/);
      assert.match(await browser().page('/signin'), /autocomplete="current-password"/);
    });

    it('focuses the first field of sign-in and sign-up, and keeps each role checkbox with its label', async () => {
      const autofocused = (page: string) =>
        [...page.matchAll(/<input[^>]*\sautofocus[^>]*>/g)].map(([tag]) => /id="([^"]+)"/.exec(tag)?.[1]);
      const signup = await browser().page('/signup');
      assert.deepEqual(autofocused(signup), ['email']);
      assert.deepEqual(autofocused(await browser().page('/signin')), ['email']);
      for (const role of ['fan', 'creator']) {
        assert.match(
          signup.replace(/\s+/g, ' '),
          new RegExp(`<div class="choice"> <input type="checkbox" id="role-${role}"[^>]*> <label for="role-${role}">`),
        );
      }
      // A problem with another field moves the focus there.
      const b = browser();
      const res = await b.request('/signup', {
        form: { csrf: await b.csrf('/signup'), email: 'new@example.com', password: 'short', displayName: 'N', fan: 'yes' },
      });
      assert.equal(res.status, 400);
      assert.deepEqual(autofocused(await res.text()), ['password']);
    });

    it('signs up, sets a first-party session cookie, shows the account, signs out', async () => {
      const b = browser();
      await b.csrf('/signup');
      assert.ok(b.jar.has('diamonds_csrf'));
      const res = await signUpWithCode(b, { email: 'New@Example.com', password: PASSWORD, displayName: 'Newcomer <i>', fan: 'yes' });
      assert.equal(res.status, 303, await res.text());
      assert.equal(res.headers.get('Location'), '/account');
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith('diamonds_session='));
      assert.ok(cookie);
      assert.match(cookie, /HttpOnly/i);
      assert.match(cookie, /SameSite=Lax/i);
      assert.match(cookie, /Path=\//);
      assert.match(cookie, /Max-Age=604800/);
      assert.doesNotMatch(cookie, /Secure/i, 'plain http gets no Secure');
      const account = await b.page('/account');
      assert.match(account, /Newcomer &lt;i&gt;/);
      assert.doesNotMatch(account, /Newcomer <i>/);
      assert.match(account, /new@example\.com/);
      assert.doesNotMatch(account, /Your sites/, 'a fan has no sites section');

      const oldSession = b.jar.get('diamonds_session')!;
      const out = await b.request('/signout', { form: { csrf: csrfOf(account) } });
      assert.equal(out.status, 303);
      assert.equal(b.jar.has('diamonds_session'), false, 'the cookie is cleared');
      const again = await b.request('/account', { headers: { Cookie: `diamonds_session=${oldSession}` } });
      assert.equal(again.status, 303, 'the old session no longer works');
    });

    it('marks the session cookie Secure over https', async () => {
      const b = browser();
      const csrf = await b.csrf('https://localhost/signin');
      const res = await b.request('https://localhost/signin', {
        form: { csrf, email: (await newUser(['fan'])).email, password: PASSWORD },
      });
      assert.equal(res.status, 303);
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith('diamonds_session='));
      assert.match(cookie ?? '', /Secure/);
    });

    it('re-renders sign-up for every bad field, never a 500, keeping values but not the password', async () => {
      const good = { email: 'ok@example.com', password: PASSWORD, displayName: 'Okay', fan: 'yes' };
      const cases: [Record<string, string>, string | undefined, RegExp, number][] = [
        [{ ...good, email: '' }, 'email', /Email must not be empty/, 400],
        [{ ...good, email: 'not-an-address' }, 'email', /address like/, 400],
        [{ ...good, email: `${'a'.repeat(250)}@example.com` }, 'email', /address like/, 400],
        [{ ...good, password: 'short' }, 'password', /at least 10/, 400],
        [{ ...good, password: 'x'.repeat(201) }, 'password', /at most 200/, 400],
        [{ ...good, displayName: '' }, 'displayName', /Display name must not be empty/, 400],
        [{ ...good, displayName: 'x'.repeat(61) }, 'displayName', /at most 60/, 400],
        [{ ...good, displayName: 'bad\u0007name' }, 'displayName', /control characters/, 400],
        [{ email: good.email, password: PASSWORD, displayName: 'Okay' }, 'role-fan', /at least one/, 400],
        [{ ...good, fan: 'maybe' }, 'role-fan', /checkbox/, 400],
        [{ ...good, creator: 'no' }, 'role-creator', /checkbox/, 400],
      ];
      for (const [form, fieldId, message, status] of cases) {
        const b = browser();
        const csrf = await b.csrf('/signup');
        const res = await b.request('/signup', { form: { csrf, ...form } });
        const body = await res.text();
        assert.equal(res.status, status, `${JSON.stringify(form).slice(0, 80)}: ${body}`);
        assertFormError(body, fieldId, message, fieldId?.startsWith('role-') ? 'roles-error' : undefined);
        if (form.displayName === 'Okay') assert.match(body, /value="Okay"/, 'values are re-filled');
        assert.doesNotMatch(body, new RegExp(`value="${PASSWORD}"`), 'never the password');
      }

      // A field given twice, and NUL.
      for (const raw of ['email=a%40b.co&email=c%40d.co', 'displayName=a%00b']) {
        const b = browser();
        const csrf = await b.csrf('/signup');
        const res = await b.request('/signup', { form: `csrf=${csrf}&${raw}` });
        assert.equal(res.status, 400);
        assertFormError(await res.text(), undefined, /more than once|NUL/);
      }
      assert.equal(await findUserByEmail(t.db, good.email), undefined, 'nobody was signed up');
    });

    it('answers a sign-up for a registered email exactly like one for a new email; its owner gets an email instead', async () => {
      const pageFor = async (email: string) => {
        const b = browser();
        const res = await b.request('/signup', {
          form: { csrf: await b.csrf('/signup'), email, password: PASSWORD, displayName: 'Probe', fan: 'yes' },
        });
        const body = await res.text();
        return { status: res.status, body, normalised: body.replace(/value="[^"]*"/g, 'value=""').replace(email, 'EMAIL') };
      };
      const taken = await pageFor(fan.email);
      const fresh = await pageFor('nobody-yet@example.com');
      assert.equal(taken.status, 200);
      assert.equal(fresh.status, taken.status);
      assert.equal(fresh.normalised, taken.normalised, 'the same page but for the address and the opaque sign-up id');
      assert.match(lastMailTo(fan.email).subject, /already have a Diamonds account/);
      assert.doesNotMatch(lastMailTo(fan.email).text, /code is/, 'the owner gets no code');
      assert.match(lastMailTo('nobody-yet@example.com').text, /Your code is \d{6}/);

      // No code finishes the sign-up of the registered address: every try reads "not right".
      const signup = /name="signup" value="([^"]+)"/.exec(taken.body)?.[1] ?? '';
      const b = browser();
      await b.csrf('/signup');
      for (let i = 0; i < 3; i++) {
        const res = await b.request('/signup/verify', {
          form: { csrf: b.jar.get('diamonds_csrf')!, signup, code: String(123456 + i), email: fan.email, next: '/account' },
        });
        assert.equal(res.status, 400);
        assertFormError(await res.text(), 'code', /not right/);
      }
      const [users] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM users WHERE email = ?', [fan.email]);
      assert.equal(Number(users?.n), 1, 'still one account');
      assert.equal((await findUserByEmail(t.db, fan.email))?.displayName, 'Fan <b>One</b>', 'unchanged');
    });

    it('a sign-up code works once, from the form or the emailed link, and dies after 5 wrong tries', async () => {
      // The link in the email signs the new fan in and goes on to `next`.
      const b = browser();
      const res = await b.request('/signup', {
        form: { csrf: await b.csrf('/signup'), email: 'linked@example.com', password: PASSWORD, displayName: 'Linked', fan: 'yes' },
      });
      assert.equal(res.status, 200);
      const link = /(http:\/\/localhost\/signup\/verify\?\S+)/.exec(lastMailTo('linked@example.com').text)?.[1];
      assert.ok(link, 'a link in the email');
      const opened = await browser().request(link);
      assert.equal(opened.status, 303, await opened.text());
      assert.equal(opened.headers.get('Location'), '/account');
      assert.ok(await findUserByEmail(t.db, 'linked@example.com'));
      assert.equal((await browser().request(link)).status, 400, 'a used code is dead');

      // Five wrong codes end the sign-up: the right one no longer works.
      const c = browser();
      const started = await c.request('/signup', {
        form: { csrf: await c.csrf('/signup'), email: 'guessed@example.com', password: PASSWORD, displayName: 'G', fan: 'yes' },
      });
      const body = await started.text();
      const signup = /name="signup" value="([^"]+)"/.exec(body)?.[1] ?? '';
      const code = /Your code is (\d{6})/.exec(lastMailTo('guessed@example.com').text)?.[1] ?? '';
      const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
      for (let i = 0; i < 5; i++) {
        const res = await c.request('/signup/verify', {
          form: { csrf: csrfOf(body), signup, code: wrong, email: 'guessed@example.com', next: '/account' },
        });
        assert.equal(res.status, 400);
      }
      const late = await c.request('/signup/verify', {
        form: { csrf: csrfOf(body), signup, code, email: 'guessed@example.com', next: '/account' },
      });
      assert.equal(late.status, 400);
      assert.equal(await findUserByEmail(t.db, 'guessed@example.com'), undefined);
    });

    it('keeps a sign-in popup’s next through sign-up, the emailed code and its link, to the consent page', async () => {
      // What the popup shows for a sign-in request: sign-in, then "Create an account".
      const consent = '/signin/authorize?request=sir_0123456789abcdefghijklmn';
      const b = browser();
      const signin = await b.page(`/signin?next=${encodeURIComponent(consent)}`);
      const create = /href="([^"]*)">Create an account</.exec(signin)?.[1];
      assert.ok(create, 'a link to sign-up');
      assert.equal(new URL(unescapeHtml(create), 'http://localhost').searchParams.get('next'), consent, 'sign-up keeps next');
      const signup = await b.page(unescapeHtml(create));
      assert.equal(unescapeHtml(/name="next" value="([^"]*)"/.exec(signup)?.[1] ?? ''), consent, 'the form carries next');
      const back = /href="([^"]*)">Sign in</.exec(signup)?.[1] ?? '';
      assert.equal(new URL(unescapeHtml(back), 'http://localhost').searchParams.get('next'), consent, 'and so does its sign-in link');

      const started = await b.request('/signup', {
        form: { csrf: csrfOf(signup), email: 'popup@example.com', password: PASSWORD, displayName: 'Popup', fan: 'yes', next: consent },
      });
      const codePage = await started.text();
      assert.equal(started.status, 200, codePage);
      assert.equal(unescapeHtml(/name="next" value="([^"]*)"/.exec(codePage)?.[1] ?? ''), consent, 'the code form carries next');
      for (const label of ['start again', 'Sign in']) {
        const href = new RegExp(`href="([^"]*)">\\s*${label}<`).exec(codePage)?.[1] ?? '';
        assert.equal(new URL(unescapeHtml(href), 'http://localhost').searchParams.get('next'), consent, label);
      }
      const mail = lastMailTo('popup@example.com').text;
      const link = /(http:\/\/localhost\/signup\/verify\?\S+)/.exec(mail)?.[1] ?? '';
      assert.equal(new URL(link).searchParams.get('next'), consent, 'the emailed link carries next');
      const code = /Your code is (\d{6})/.exec(mail)?.[1] ?? '';
      const signupId = /name="signup" value="([^"]+)"/.exec(codePage)?.[1] ?? '';
      const verify = () =>
        b.request('/signup/verify', {
          form: { csrf: csrfOf(codePage), signup: signupId, code, email: 'popup@example.com', next: consent },
        });
      const created = await verify();
      assert.equal(created.status, 303, await created.text());
      assert.equal(created.headers.get('Location'), consent, 'the new fan goes on to the consent of the request');

      // The emailed link opened in another tab of the same browser first: the code form in the
      // popup then carries on to the consent instead of calling the used code wrong.
      const c = browser();
      const page = await c.page(`/signup?next=${encodeURIComponent(consent)}`);
      const again = await (
        await c.request('/signup', {
          form: { csrf: csrfOf(page), email: 'tabs@example.com', password: PASSWORD, displayName: 'Tabs', fan: 'yes', next: consent },
        })
      ).text();
      const emailed = /(http:\/\/localhost\/signup\/verify\?\S+)/.exec(lastMailTo('tabs@example.com').text)?.[1] ?? '';
      assert.equal((await c.request(emailed)).status, 303, 'the link created the account');
      const form = {
        csrf: csrfOf(again),
        signup: /name="signup" value="([^"]+)"/.exec(again)?.[1] ?? '',
        code: new URL(emailed).searchParams.get('code') ?? '',
        email: 'tabs@example.com',
        next: consent,
      };
      const carried = await c.request('/signup/verify', { form });
      assert.equal(carried.status, 303, await carried.text());
      assert.equal(carried.headers.get('Location'), consent);
      // Another browser (no session for that address) still hears that the code is used up.
      const other = browser();
      const stranger = await other.request('/signup/verify', { form: { ...form, csrf: await other.csrf('/signup') } });
      assert.equal(stranger.status, 400);
    });

    it('answers a wrong password and an unknown email alike, and honours a safe next', async () => {
      const wrong = await browser().signIn(fan.email, { password: 'not the password' });
      const unknown = await browser().signIn('nobody@example.com', { password: 'not the password' });
      const [a, b] = [await wrong.text(), await unknown.text()];
      assert.equal(wrong.status, 401);
      assert.equal(unknown.status, wrong.status);
      assert.match(a, /That email and password do not match an account\./);
      assert.match(b, /That email and password do not match an account\./);
      assert.match(a, /role="alert"/);
      assert.match(a, /value="fan@example\.com"/);

      for (const [next, expected] of [
        ['/account?tab=1', '/account?tab=1'],
        ['//evil.example/x', '/account'],
        ['/\\evil.example', '/account'],
        ['https://evil.example/', '/account'],
        ['/\t/evil.example', '/account'],
      ] as const) {
        const br = browser();
        const page = await br.page(`/signin?next=${encodeURIComponent(next)}`);
        const res = await br.request('/signin', {
          form: { csrf: csrfOf(page), email: (await newUser(['fan'])).email, password: PASSWORD, next },
        });
        assert.equal(res.status, 303);
        assert.equal(res.headers.get('Location'), expected, next);
      }
      const empty = await browser().signIn('');
      assert.equal(empty.status, 400);
      assertFormError(await empty.text(), 'email', /Enter your email/);
    });

    it('rate-limits sign-in per account and per IP with 429 and Retry-After', async () => {
      const email = 'limited@example.com';
      await createUser(t.db, { email, password: PASSWORD, displayName: 'Lim', roles: ['fan'] }, { cost });
      for (let i = 0; i < SIGNIN_LIMIT_PER_EMAIL; i++) {
        const res = await browser().signIn(email.toUpperCase(), { password: 'wrong password!' });
        assert.equal(res.status, 401, `attempt ${i + 1}`);
      }
      const refused = await browser().signIn(email);
      assert.equal(refused.status, 429, 'even the right password, from another IP');
      const retry = Number(refused.headers.get('Retry-After'));
      assert.ok(retry >= 1 && retry <= 900, `Retry-After ${retry}`);
      assertFormError(await refused.text(), undefined, /Too many sign-in attempts/);
      assert.equal(
        refused.headers.getSetCookie().some((c) => c.startsWith('diamonds_session=')),
        false,
      );

      const b = browser();
      for (let i = 0; i < SIGNIN_LIMIT_PER_IP; i++) {
        const res = await b.signIn(`ip${i}@example.com`, { password: 'wrong password!' });
        assert.equal(res.status, 401, `attempt ${i + 1}`);
      }
      const someone = await newUser(['fan']);
      const byIp = await b.signIn(someone.email);
      assert.equal(byIp.status, 429);
      assert.ok(Number(byIp.headers.get('Retry-After')) >= 1);
      assert.equal((await browser().signIn(someone.email)).status, 303, 'another IP still signs in');
    });

    it('does not count honest sign-ins toward the limits, only wrong passwords', async () => {
      // A fan signs in again and again (each site's popup, a new browser window each time)
      // from one address: more than both limits, all honest.
      const someone = await newUser(['fan']);
      const ip = `10.9.${kind === 'sqlite' ? 1 : 2}.1`;
      for (let i = 0; i < SIGNIN_LIMIT_PER_IP + 5; i++) {
        const res = await new Browser(app, ip).signIn(i % 2 === 0 ? someone.email : someone.email.toUpperCase());
        assert.equal(res.status, 303, `honest sign-in ${i + 1}`);
      }
      // Guesses still use the limit up, honest sign-ins between them notwithstanding.
      for (let i = 0; i < SIGNIN_LIMIT_PER_EMAIL; i++) {
        const wrong = await new Browser(app, ip).signIn(someone.email, { password: 'wrong password!' });
        assert.equal(wrong.status, 401, `guess ${i + 1}`);
        if (i < SIGNIN_LIMIT_PER_EMAIL - 1) assert.equal((await new Browser(app, ip).signIn(someone.email)).status, 303);
      }
      const refused = await new Browser(app, ip).signIn(someone.email, { password: 'wrong password!' });
      assert.equal(refused.status, 429, 'the guesses are counted');
      assert.equal((await new Browser(app, ip).signIn(someone.email)).status, 429, 'and, limited, the account waits out the window');
    });

    it('rate-limits sign-up per IP', async () => {
      const b = browser();
      const csrf = await b.csrf('/signup');
      const form = { csrf, email: 'many@example.com', password: 'short', displayName: 'M', fan: 'yes' };
      for (let i = 0; i < SIGNUP_LIMIT_PER_IP; i++) assert.equal((await b.request('/signup', { form })).status, 400, `attempt ${i + 1}`);
      const refused = await b.request('/signup', { form: { ...form, password: PASSWORD } });
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get('Retry-After')) >= 1);
      assertFormError(await refused.text(), undefined, /Too many sign-up attempts/);
      assert.equal(await findUserByEmail(t.db, form.email), undefined);
    });

    it('refuses forms without the right CSRF token or from another origin, changing nothing', async () => {
      const b = browser();
      const csrf = await b.csrf('/signup');
      const form = { email: 'csrf@example.com', password: PASSWORD, displayName: 'C', fan: 'yes' };
      for (const token of [undefined, 'x'.repeat(32), `${csrf}x`]) {
        const res = await b.request('/signup', { form: token === undefined ? form : { ...form, csrf: token } });
        assert.equal(res.status, 403);
        assert.match(await res.text(), /role="alert"/);
      }
      const noCookie = await browser().request('/signup', { form: { ...form, csrf } });
      assert.equal(noCookie.status, 403, 'the token without its cookie');
      const crossSite = await b.request('/signup', { form: { ...form, csrf }, headers: { Origin: 'https://evil.example' } });
      assert.equal(crossSite.status, 403);
      const nullOrigin = await b.request('/signup', { form: { ...form, csrf }, headers: { Origin: 'null' } });
      assert.equal(nullOrigin.status, 403);
      assert.equal(await findUserByEmail(t.db, form.email), undefined);
      const sameOrigin = await b.request('/signup', { form: { ...form, csrf }, headers: { Origin: 'http://localhost' } });
      assert.equal(sameOrigin.status, 200, 'the code page');

      const fan = await newUser(['fan']);
      await connect(t.db, fan.id, shop.site.id, 5);
      const f = browser();
      await f.signIn(fan.email);
      const path = `/account/connections/${shop.site.id}/allowance`;
      assert.equal((await f.request(path, { form: { allowancePerDay: '99' } })).status, 403);
      assert.equal((await f.request(path, { form: { allowancePerDay: '99', csrf: 'nope' } })).status, 403);
      const sessionCsrf = await f.csrf('/account');
      const other = await f.request(path, {
        form: { allowancePerDay: '99', csrf: sessionCsrf },
        headers: { Origin: 'https://shop.example' },
      });
      assert.equal(other.status, 403);
      assert.equal((await f.request('/signout', { form: {} })).status, 403);
      assert.equal((await findConnection(t.db, fan.id, shop.site.id))?.allowancePerDay, 5);
    });

    it('sends a visitor without a session to sign in', async () => {
      const res = await browser().request('/account');
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('Location'), '/signin?next=/account');
      const post = await browser().request(`/account/connections/${shop.site.id}/disconnect`, { form: { csrf: 'x' } });
      assert.equal(post.status, 303);
    });

    it('lists connections, changes an allowance and disconnects', async () => {
      const other = await createSite(t.db, {
        ownerId: creator.id,
        name: 'Blog',
        origins: ['https://blog.example', 'http://localhost:5173'],
      });
      const fan = await newUser(['fan'], 'Fan <b>One</b>');
      await connect(t.db, fan.id, shop.site.id, 10);
      await connect(t.db, fan.id, other.site.id, 0);
      const b = browser();
      await b.signIn(fan.email);
      const account = await b.page('/account');
      assert.match(account, /Fan &lt;b&gt;One&lt;\/b&gt;/);
      assert.match(account, /Shop &amp; Co/);
      assert.match(account, /https:\/\/shop\.example/);
      assert.match(account, /http:\/\/localhost:5173/);
      assert.match(account, new RegExp(`id="allowance-${shop.site.id}"[^>]*value="10"`));
      const csrf = csrfOf(account);

      const path = `/account/connections/${shop.site.id}/allowance`;
      for (const bad of ['', 'abc', '-1', '1.5', '99999999999', ' 1e3']) {
        const res = await b.request(path, { form: { csrf, allowancePerDay: bad } });
        const body = await res.text();
        assert.equal(res.status, 400, `${bad}: ${body}`);
        assertFormError(body, `allowance-${shop.site.id}`, /Daily allowance is a whole number/);
      }
      const dup = await b.request(path, { form: `csrf=${csrf}&allowancePerDay=1&allowancePerDay=2` });
      assert.equal(dup.status, 400);
      assert.equal((await findConnection(t.db, fan.id, shop.site.id))?.allowancePerDay, 10);

      const ok = await b.request(path, { form: { csrf, allowancePerDay: '250' } });
      assert.equal(ok.status, 303);
      assert.equal((await findConnection(t.db, fan.id, shop.site.id))?.allowancePerDay, 250);
      assert.match(await b.page('/account'), /<strong>250<\/strong> Diamonds per day/);

      const gone = await b.request(`/account/connections/${other.site.id}/disconnect`, { form: { csrf } });
      assert.equal(gone.status, 303);
      assert.deepEqual(
        (await listConnections(t.db, fan.id)).map((c) => c.site.id),
        [shop.site.id],
      );
      assert.doesNotMatch(await b.page('/account'), /Blog/);
      const twice = await b.request(`/account/connections/${other.site.id}/disconnect`, { form: { csrf } });
      assert.equal(twice.status, 404);
      const notConnected = await b.request(`/account/connections/${other.site.id}/allowance`, { form: { csrf, allowancePerDay: '3' } });
      assert.equal(notConnected.status, 404);
    });

    it('lets a creator register a site, showing the secret once, and roll keys', async () => {
      const b = browser();
      await b.signIn(creator.email);
      const account = await b.page('/account');
      assert.match(account, /Your sites/);
      assert.match(account, /Register a new site/);
      const csrf = csrfOf(account);

      const res = await b.request('/account/sites', {
        form: { csrf, name: 'Gallery', origins: 'https://gallery.example\r\n\r\nhttp://localhost:3000\n' },
      });
      const body = await res.text();
      assert.equal(res.status, 201, body);
      const secret = /sk_test_[0-9A-Za-z]{32}/.exec(body)?.[0];
      assert.ok(secret, 'the secret is shown');
      assert.match(body, /Copy it now, it will not be shown again/);
      const found = await findSiteByKey(t.db, secret);
      assert.equal(found?.site.name, 'Gallery');
      assert.deepEqual(found?.site.origins, ['https://gallery.example', 'http://localhost:3000']);

      const later = await b.page('/account');
      assert.equal(later.includes(secret), false, 'never shown again');
      assert.ok(later.includes(`sk_test_…${secret.slice(-4)}`));
      assert.match(later, /pk_test_[0-9A-Za-z]{24}/);
      assert.doesNotMatch(later, /sk_test_[0-9A-Za-z]{32}/);

      const siteId = found!.site.id;
      const rolled = await b.request(`/account/sites/${siteId}/keys/secret/roll`, { form: { csrf } });
      const rolledBody = await rolled.text();
      assert.equal(rolled.status, 200, rolledBody);
      const fresh = /sk_test_[0-9A-Za-z]{32}/.exec(rolledBody)?.[0];
      assert.ok(fresh && fresh !== secret);
      assert.match(rolledBody, /Copy it now, it will not be shown again/);
      assert.equal(await findSiteByKey(t.db, secret), undefined, 'the old secret stopped working');
      assert.equal((await findSiteByKey(t.db, fresh))?.site.id, siteId);
      assert.ok((await b.page('/account')).includes(`sk_test_…${fresh.slice(-4)}`));

      const pk = [...later.matchAll(/pk_test_[0-9A-Za-z]{24}/g)].at(-1)![0];
      assert.equal((await findSiteByKey(t.db, pk))?.site.id, siteId, "the last publishable key listed is the new site's");
      const rolledPk = await b.request(`/account/sites/${siteId}/keys/publishable/roll`, { form: { csrf } });
      assert.equal(rolledPk.status, 200);
      assert.equal(await findSiteByKey(t.db, pk), undefined);

      assert.equal((await b.request(`/account/sites/${siteId}/keys/master/roll`, { form: { csrf } })).status, 404);
      const f = browser();
      await f.signIn((await newUser(['fan'])).email);
      const fanCsrf = await f.csrf('/account');
      assert.equal((await f.request(`/account/sites/${siteId}/keys/secret/roll`, { form: { csrf: fanCsrf } })).status, 403);
      assert.equal((await f.request('/account/sites', { form: { csrf: fanCsrf, name: 'X', origins: 'https://x.example' } })).status, 403);
      const second = await createUser(
        t.db,
        { email: 'maker2@example.com', password: PASSWORD, displayName: 'M2', roles: ['creator'] },
        { cost },
      );
      const m2 = browser();
      await m2.signIn(second.email);
      const notMine = await m2.request(`/account/sites/${siteId}/keys/secret/roll`, { form: { csrf: await m2.csrf('/account') } });
      assert.equal(notMine.status, 404);
      assert.equal((await findSiteByKey(t.db, fresh))?.site.id, siteId, 'still the same key');
    });

    it('lets a site’s owner change its allowed origins, where the elements send them; nobody else can', async () => {
      const owner = await newUser(['creator'], 'Owner');
      const { site } = await createSite(t.db, { ownerId: owner.id, name: 'Blog', origins: ['https://blog.example'] });
      const b = browser();
      await b.signIn(owner.email);
      const account = await b.page('/account');
      assert.match(account, new RegExp(`<label for="origins-${site.id}">Allowed origins of Blog</label>`));
      assert.match(account, /https:\/\/blog\.example<\/textarea>/, 'the current origins, ready to edit');
      const saved = await b.request(`/account/sites/${site.id}/origins`, {
        form: { csrf: csrfOf(account), origins: 'https://blog.example\r\n\r\n  http://127.0.0.1:8000 \n' },
      });
      const body = await saved.text();
      assert.equal(saved.status, 200, body);
      assert.match(body, /Saved the allowed origins of Blog\./);
      assert.deepEqual((await findSite(t.db, site.id))?.origins, ['https://blog.example', 'http://127.0.0.1:8000']);

      const bad = await b.request(`/account/sites/${site.id}/origins`, {
        form: { csrf: csrfOf(account), origins: 'https://blog.example\njavascript:alert(1)' },
      });
      const badBody = await bad.text();
      assert.equal(bad.status, 400, badBody);
      assertFormError(badBody, `origins-${site.id}`, /Allowed origins, line 2/, `origins-${site.id}-error`);
      assert.match(badBody, /javascript:alert\(1\)<\/textarea>/, 'what was typed is kept');
      assert.deepEqual((await findSite(t.db, site.id))?.origins, ['https://blog.example', 'http://127.0.0.1:8000'], 'unchanged');

      // Another creator, and a fan, change nothing.
      const other = browser();
      await other.signIn((await newUser(['creator'])).email);
      const refused = await other.request(`/account/sites/${site.id}/origins`, {
        form: { csrf: await other.csrf('/account'), origins: 'https://evil.example' },
      });
      assert.equal(refused.status, 404);
      const fanBrowser = browser();
      await fanBrowser.signIn((await newUser(['fan'])).email);
      const fanRefused = await fanBrowser.request(`/account/sites/${site.id}/origins`, {
        form: { csrf: await fanBrowser.csrf('/account'), origins: 'https://evil.example' },
      });
      assert.equal(fanRefused.status, 403);
      assert.deepEqual((await findSite(t.db, site.id))?.origins, ['https://blog.example', 'http://127.0.0.1:8000']);
    });

    it('shows a creator what to paste into their page, as the creator-site example has it, with their key, id and post', async () => {
      const ada = await newUser(['creator'], 'Ada');
      const { site, publishableKey, secretKey } = await createSite(t.db, {
        ownerId: ada.id,
        name: 'Ada makes videos',
        origins: ['https://ada.example'],
      });
      const b = browser();
      await b.signIn(ada.email);
      const unescape = (text: string) =>
        text.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&amp;', '&');
      const snippetOf = (page: string) => unescape(/<textarea id="snippet-[^"]+"[^>]*>\n?([^]*?)<\/textarea/.exec(page)?.[1] ?? '');

      const first = await b.page('/account');
      const before = snippetOf(first);
      assert.match(before, /<!-- Publish a post on \/account\/content/, 'no post yet: the paywall is a hint');
      assert.match(before, /content="ct_…"/, 'the hint names a content id as ids are: ct_…');
      // The site's id, which a backend checks receipts against, shown and selectable in one go.
      assert.match(first, new RegExp(`Site id: <code class="copy"[^>]*>${site.id}</code>`));
      const post = await createContent(
        t.db,
        { siteId: site.id, creatorId: ada.id },
        { title: 'For supporters', teaser: 'Hi', body: 'Thanks', priceDiamonds: 30 },
      );
      const snippet = snippetOf(await b.page('/account'));
      assert.match(snippet, /^<script type="module" src="http:\/\/[^"]+\/sdk\/diamonds\.js"><\/script>/);
      assert.ok(snippet.includes(publishableKey), "the site's publishable key is filled in");
      assert.ok(!snippet.includes(secretKey), 'never the secret key');

      // Every element the example page uses, with the same attributes, is in the snippet.
      const example = readFileSync(new URL('../../../../examples/creator-site/index.html', import.meta.url), 'utf8')
        .replaceAll('{{PUBLISHABLE_KEY}}', publishableKey)
        .replaceAll('{{CREATOR_ID}}', ada.id)
        .replaceAll('{{CONTENT_ID}}', post.id);
      const openingTags = (html: string) =>
        [...html.matchAll(/<(diamond-[a-z-]+)\s([^>]*)>/g)].map(
          ([, tag, attributes]) => `${tag} ${attributes!.replace(/\s+/g, ' ').trim()}`,
        );
      const expected = openingTags(example);
      assert.ok(expected.length >= 4, `the example's elements: ${expected.join(', ')}`);
      assert.deepEqual(openingTags(snippet), expected);
    });

    it('re-renders the new-site form for every bad field', async () => {
      const b = browser();
      await b.signIn(creator.email);
      const csrf = await b.csrf('/account');
      const cases: [Record<string, string>, string, RegExp][] = [
        [{ name: '', origins: 'https://a.example' }, 'site-name', /Site name must not be empty/],
        [{ name: 'x'.repeat(81), origins: 'https://a.example' }, 'site-name', /at most 80/],
        [{ name: 'a\u202eb', origins: 'https://a.example' }, 'site-name', /control/],
        [{ name: 'Ok site', origins: '' }, 'site-origins', /at least one origin/],
        [
          { name: 'Ok site', origins: 'https://a.example\nftp://a.example' },
          'site-origins',
          /^Allowed origins, line 2: .*&quot;ftp:&quot; cannot\.$/,
        ],
        [
          { name: 'Ok site', origins: Array.from({ length: 21 }, (_, i) => `https://s${i}.example`).join('\n') },
          'site-origins',
          /at most 20/,
        ],
      ];
      for (const [form, fieldId, message] of cases) {
        const res = await b.request('/account/sites', { form: { csrf, ...form } });
        const body = await res.text();
        assert.equal(res.status, 400, body);
        assertFormError(body, fieldId, message);
        if (form.name === 'Ok site') assert.match(body, /value="Ok site"/);
      }
    });

    it('works over real HTTP, counting sign-ins against the socket address', async () => {
      const server = await new Promise<Server>((resolve) => {
        const listening = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(listening as Server));
      });
      try {
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const page = await fetch(`${base}/signin`);
        const cookie = page.headers.getSetCookie()[0]!.split(';')[0]!;
        assert.equal(page.headers.get('X-Frame-Options'), 'DENY');
        const email = (await newUser(['fan'])).email;
        const res = await fetch(`${base}/signin`, {
          method: 'POST',
          redirect: 'manual',
          headers: { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded', Origin: base },
          body: new URLSearchParams({ csrf: csrfOf(await page.text()), email, password: PASSWORD }),
        });
        assert.equal(res.status, 303);
        assert.equal(res.headers.get('Location'), '/account');
        const buckets = await t.db.query<{ bucket: string }>("SELECT bucket FROM rate_limits WHERE bucket LIKE 'signin:ip:%127.0.0.1'");
        assert.equal(buckets.length, 1, 'the IP came from the socket');
      } finally {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
    });

    it('refuses a 100 KB form with 413', async () => {
      const b = browser();
      const csrf = await b.csrf('/signin');
      const big = { csrf, email: 'a@b.co', password: 'x'.repeat(100 * 1024) };
      const length = String(new URLSearchParams(big).toString().length);
      for (const path of ['/signin', '/signup']) {
        const res = await b.request(path, { form: big, headers: { 'Content-Length': length } });
        assert.equal(res.status, 413, path);
        assertSecurityHeaders(res, '413', path);
        assert.match(await res.text(), /role="alert"/);
      }
      await b.signIn((await newUser(['fan'])).email);
      const res = await b.request('/account/sites', {
        form: { ...big, csrf: await b.csrf('/account') },
        headers: { 'Content-Length': length },
      });
      assert.equal(res.status, 413);
      // Without a declared length (chunked), the body is counted as it is read.
      const chunked = await b.request('/signin', { form: big });
      assert.equal(chunked.status, 413);
    });
  });
}
