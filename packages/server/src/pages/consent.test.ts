import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Hono } from 'hono';
import { createApp } from '../app.js';
import { Ledger } from '../ledger/ledger.js';
import { findConnection } from '../identity/connections.js';
import {
  SIGNIN_REQUEST_TTL_MS,
  createSignInRequest,
  exchangeSignInRequest,
  getSignInRequest,
  pkceChallenge,
  pollSignInRequest,
} from '../identity/signin.js';
import { createSite, type Site } from '../identity/sites.js';
import { createUser, type User } from '../identity/users.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { CLOSE_SCRIPT_PATH } from './consent.js';
import { GUARD_SCRIPT_SRC } from './guard.js';
import { HOSTED_CSP, HOSTED_CSP_WITH_OWN_SCRIPT, isPopupPage } from './security-headers.js';
import { STEP_UP_AFTER_MS } from './step-up.js';
import { Browser, PASSWORD, ageSignIn, agedStamp, csrfOf, unescapeHtml } from './testing.js';

/** Cheap scrypt for users made directly. */
const cost = { N: 2 ** 10, r: 8, p: 1 };
const ORIGIN = 'http://127.0.0.1:5173';

/** The `<input>` tags of a page, whitespace collapsed. */
function inputs(body: string): string[] {
  return [...body.matchAll(/<input\b[^>]*>/g)].map((m) => m[0].replace(/\s+/g, ' '));
}

/** The values of the checked allowance radio buttons. */
function checkedAllowances(body: string): string[] {
  return inputs(body)
    .filter((tag) => tag.includes('name="allowance"') && / checked\b/.test(tag))
    .map((tag) => /value="([^"]*)"/.exec(tag)?.[1] ?? '?');
}

/** The value of the custom allowance field. */
function customValue(body: string): string | undefined {
  const tag = inputs(body).find((t) => t.includes('name="allowanceCustom"'));
  return tag === undefined ? undefined : /value="([^"]*)"/.exec(tag)?.[1];
}

function assertSecurityHeaders(res: Response, what: string, csp = HOSTED_CSP, path = '/signin/authorize'): void {
  assert.equal(res.headers.get('Content-Security-Policy'), csp, what);
  // The consent screen is a popup page: its opener must still see when the fan closes it.
  assert.equal(res.headers.get('Cross-Origin-Opener-Policy'), isPopupPage(path) ? 'unsafe-none' : 'same-origin', what);
  assert.equal(res.headers.get('X-Frame-Options'), 'DENY', what);
  assert.equal(res.headers.get('X-Content-Type-Options'), 'nosniff', what);
  assert.equal(res.headers.get('Referrer-Policy'), 'same-origin', what);
  assert.match(res.headers.get('Content-Security-Policy') ?? '', /frame-ancestors 'none'/, what);
}

/** An error page: the status, an alert, and no form to answer the request with. */
async function assertErrorPage(res: Response, status: number, message: RegExp): Promise<string> {
  const body = await res.text();
  assert.equal(res.status, status, body);
  assert.match(body, /role="alert"/);
  assert.match(body, message);
  assert.doesNotMatch(body, /name="decision"/, 'no consent form');
  assertSecurityHeaders(res, `the ${status} page`);
  return body;
}

let ipCounter = 0;

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`consent screen on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let app: Hono;
    let site: Site;
    let userCounter = 0;
    const browser = () => new Browser(app, `10.1.${kind === 'sqlite' ? 1 : 2}.${++ipCounter}`);
    const newFan = (displayName = 'Fan') =>
      createUser(t.db, { email: `fan${++userCounter}@example.com`, password: PASSWORD, displayName, roles: ['fan'] }, { cost });

    /** What the SDK does: a verifier and a pending request. */
    async function newRequest(now = Date.now()): Promise<{ id: string; verifier: string }> {
      const verifier = randomBytes(32).toString('base64url');
      const request = await createSignInRequest(
        t.db,
        { site, origin: ORIGIN, codeChallenge: pkceChallenge(verifier), codeChallengeMethod: 'S256' },
        now,
      );
      return { id: request.id, verifier };
    }

    /** A signed-in browser of a new fan. */
    async function signedIn(): Promise<{ b: Browser; user: User }> {
      const user = await newFan();
      const b = browser();
      const res = await b.signIn(user.email);
      assert.equal(res.status, 303);
      return { b, user };
    }

    const url = (id: string) => `/signin/authorize?request=${id}`;

    /**
     * Posts the consent form, with the page's CSRF token and its stamp (as the fan's form holds
     * it once the guard's delay has passed), overriding fields as given.
     */
    async function answer(b: Browser, id: string, fields: Record<string, string>): Promise<Response> {
      const csrf = csrfOf(await b.page(url(id)));
      const shown = await agedStamp(t.db, b, `consent:${id}`);
      return b.request('/signin/authorize', { form: { csrf, shown, request: id, ...fields } });
    }

    before(async () => {
      t = await createTestDatabase(kind);
      app = createApp({ db: t.db, ledger: new Ledger(t.db) }) as unknown as Hono;
      const creator = await createUser(
        t.db,
        { email: 'maker@example.com', password: PASSWORD, displayName: 'Maker', roles: ['creator'] },
        { cost },
      );
      site = (await createSite(t.db, { ownerId: creator.id, name: 'Ada <Shop>', origins: [ORIGIN] })).site;
    });
    after(async () => {
      if (t) await t.drop();
    });

    it('sends a signed-out fan to sign in and back to the consent screen', async () => {
      const { id } = await newRequest();
      const user = await newFan();
      const b = browser();
      const res = await b.request(url(id));
      assert.equal(res.status, 303);
      const location = res.headers.get('Location') ?? '';
      assert.equal(location, `/signin?next=${encodeURIComponent(url(id))}`);
      assertSecurityHeaders(res, 'the redirect');
      // Follow it: the sign-in page keeps `next` and comes back here.
      const signin = await b.page(location);
      const csrf = csrfOf(signin);
      const next = /name="next" value="([^"]*)"/.exec(signin)?.[1];
      assert.equal(next && unescapeHtml(next), url(id));
      const signedIn = await b.request('/signin', { form: { csrf, email: user.email, password: PASSWORD, next: url(id) } });
      assert.equal(signedIn.status, 303);
      assert.equal(signedIn.headers.get('Location'), url(id));
      assert.match(await b.page(url(id)), /name="decision" value="approve"/);
    });

    it('names the site and its origin, shows who is signed in, and defaults to 0', async () => {
      const { id } = await newRequest();
      const { b, user } = await signedIn();
      const res = await b.request(url(id));
      const body = await res.text();
      assert.equal(res.status, 200, body);
      // The page loads the guard script from our own origin: still no inline script.
      assertSecurityHeaders(res, 'the consent screen', HOSTED_CSP_WITH_OWN_SCRIPT);
      assert.equal(res.headers.get('Cache-Control'), 'no-store');
      assert.match(body, /<title>Connect Ada &lt;Shop&gt;\? · Diamonds<\/title>/);
      assert.match(body, /<h1>Connect Ada &lt;Shop&gt;\?<\/h1>/);
      assert.match(body, /<code>http:\/\/127\.0\.0\.1:5173<\/code><\/strong> wants to connect to your Diamonds account/);
      assert.doesNotMatch(body, /Ada <Shop>/, 'the site name is escaped');
      assert.match(body, new RegExp(`Signed in as <strong>${user.displayName}</strong>`));
      assert.match(body, new RegExp(user.email));
      assert.match(body, /action="\/signin\/authorize\/signout"/);
      assert.match(body, /Not you\? Sign out/);
      assert.match(body, /see your display name and your Diamonds balance/);
      assert.match(body, /anything more needs your confirmation/);
      // The allowances: 0 is checked, the others are not.
      assert.deepEqual(checkedAllowances(body), ['0']);
      const radios = inputs(body).filter((tag) => tag.includes('name="allowance"') && tag.includes('type="radio"'));
      assert.deepEqual(
        radios.map((tag) => /value="([^"]*)"/.exec(tag)?.[1]),
        ['0', '50', '200', '1000', 'custom'],
      );
      assert.equal(customValue(body), '');
      assert.match(body, /always ask me/);
      assert.match(body, /1,000 Diamonds a day/);
      assert.match(body, /<label for="allowance-custom">/);
      assert.match(body, /name="allowanceCustom"/);
      // Cancel first (it works at once, and is where focus lands among the two), then Connect:
      // disabled until the guard script turns it on. The form's default button is a disabled
      // one, so Enter in the amount field submits nothing.
      const buttons = [...body.matchAll(/<button\b[^>]*>[^<]*<\/button>/g)].map((m) => m[0].replace(/\s+/g, ' '));
      assert.deepEqual(buttons, [
        '<button type="submit" class="secondary">Not you? Sign out</button>',
        '<button type="submit" disabled hidden aria-hidden="true" tabindex="-1"></button>',
        '<button type="submit" name="decision" value="deny" class="secondary">Cancel</button>',
        '<button type="submit" name="decision" value="approve" disabled data-guard aria-describedby="guard-hint">Connect</button>',
      ]);
      assert.match(body, /id="guard-hint"[^>]*>\s*Connect turns on once this window has been in front for a second/);
      assert.match(body, new RegExp(`name="request" value="${id}"`));
      assert.match(body, /name="shown" value="\d+\.[\w-]{43}"/);
      assert.deepEqual(
        [...body.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]),
        [`<script src="${GUARD_SCRIPT_SRC}" defer>`],
        'only the guard script',
      );
      assert.doesNotMatch(body, /asks for your password|will ask for your password/, 'a fresh sign-in');
    });

    it('approves with 200: the connection is stored and the SDK gets tokens', async () => {
      const { id, verifier } = await newRequest();
      const { b, user } = await signedIn();
      const res = await answer(b, id, { decision: 'approve', allowance: '200', allowanceCustom: '' });
      const body = await res.text();
      assert.equal(res.status, 200, body);
      assert.match(body, /Connected\. You can close this window and return to Ada &lt;Shop&gt;\./);
      assert.match(body, /<script src="\/hosted\/close\.js" defer><\/script>/);
      assert.equal((body.match(/<script/g) ?? []).length, 1, 'one script');
      assertSecurityHeaders(res, 'the done page', HOSTED_CSP_WITH_OWN_SCRIPT);
      assert.match(HOSTED_CSP_WITH_OWN_SCRIPT, /script-src 'self';/);
      assert.doesNotMatch(HOSTED_CSP_WITH_OWN_SCRIPT, /unsafe-inline/);
      assert.equal((await findConnection(t.db, user.id, site.id))?.allowancePerDay, 200);
      const request = await getSignInRequest(t.db, id);
      assert.equal(request.status, 'approved');
      assert.equal(request.userId, user.id);
      const poll = await pollSignInRequest(t.db, { requestId: id, codeVerifier: verifier, siteId: site.id, origin: ORIGIN });
      assert.equal(poll.status, 'approved');
      // The done page hands the one-time code to its opener, at the request's origin only.
      const done = /<div id="signin-done" data-request="([^"]+)" data-code="([^"]+)" data-origin="([^"]+)">/.exec(body);
      assert.ok(done, 'the done page carries the request, its code and the origin to post to');
      assert.equal(done[1], id);
      assert.equal(unescapeHtml(done[3]!), ORIGIN);
      const exchanged = await exchangeSignInRequest(t.db, {
        requestId: id,
        codeVerifier: verifier,
        code: unescapeHtml(done[2]!),
        siteId: site.id,
        origin: ORIGIN,
        jkt: 'jkt',
      });
      assert.equal(exchanged.userId, user.id);
      // Exchanged: the consent screen now says it was answered.
      await assertErrorPage(await b.request(url(id)), 409, /already answered/);
    });

    it('a returning fan sees the current allowance chosen', async () => {
      const { b } = await signedIn();
      const first = await newRequest();
      assert.equal((await answer(b, first.id, { decision: 'approve', allowance: 'custom', allowanceCustom: '75' })).status, 200);
      const second = await newRequest();
      const body = await b.page(url(second.id));
      assert.deepEqual(checkedAllowances(body), ['custom']);
      assert.equal(customValue(body), '75');
      const third = await newRequest();
      assert.equal((await answer(b, third.id, { decision: 'approve', allowance: '1000', allowanceCustom: '' })).status, 200);
      assert.deepEqual(checkedAllowances(await b.page(url((await newRequest()).id))), ['1000']);
    });

    it('denies: the request is denied and no connection is made', async () => {
      const { id, verifier } = await newRequest();
      const { b, user } = await signedIn();
      const res = await answer(b, id, { decision: 'deny', allowance: '50', allowanceCustom: 'not a number' });
      const body = await res.text();
      assert.equal(res.status, 200, body);
      assert.match(body, /Cancelled\./);
      assert.doesNotMatch(body, /Connected\./);
      assert.equal((await getSignInRequest(t.db, id)).status, 'denied');
      assert.equal(await findConnection(t.db, user.id, site.id), undefined);
      assert.deepEqual(await pollSignInRequest(t.db, { requestId: id, codeVerifier: verifier, siteId: site.id, origin: ORIGIN }), {
        status: 'denied',
      });
    });

    it('refuses to answer twice: 409, and the first answer stands', async () => {
      const { id } = await newRequest();
      const { b, user } = await signedIn();
      const csrf = csrfOf(await b.page(url(id)));
      const shown = await agedStamp(t.db, b, `consent:${id}`);
      const first = await b.request('/signin/authorize', { form: { csrf, shown, request: id, decision: 'approve', allowance: '50' } });
      assert.equal(first.status, 200);
      const second = await b.request('/signin/authorize', { form: { csrf, shown, request: id, decision: 'approve', allowance: '1000' } });
      await assertErrorPage(second, 409, /already answered/);
      const third = await b.request('/signin/authorize', { form: { csrf, request: id, decision: 'deny' } });
      assert.equal(third.status, 409);
      assert.equal((await findConnection(t.db, user.id, site.id))?.allowancePerDay, 50);
      assert.equal((await getSignInRequest(t.db, id)).status, 'approved');
    });

    it('shows 410 for an expired request and 404 for an unknown or malformed one', async () => {
      const { b } = await signedIn();
      const old = await newRequest(Date.now() - SIGNIN_REQUEST_TTL_MS - 1000);
      await assertErrorPage(await b.request(url(old.id)), 410, /expired/);
      const unknown = 'sir_' + '0'.repeat(26);
      await assertErrorPage(await b.request(url(unknown)), 404, /does not exist/);
      await assertErrorPage(await b.request(url('sir_nope')), 404, /does not exist/);
      await assertErrorPage(await b.request(url('usr_' + '0'.repeat(26))), 404, /does not exist/);
      await assertErrorPage(await b.request('/signin/authorize'), 400, /exactly one request/);
      const fresh = await newRequest();
      await assertErrorPage(await b.request(`${url(fresh.id)}&request=${fresh.id}`), 400, /exactly one request/);
      // Posting to an expired request: 410 too, and nothing is stored.
      const csrf = csrfOf(await b.page(url(fresh.id)));
      const posted = await b.request('/signin/authorize', { form: { csrf, request: old.id, decision: 'approve', allowance: '0' } });
      await assertErrorPage(posted, 410, /expired/);
      const unknownPost = await b.request('/signin/authorize', { form: { csrf, request: unknown, decision: 'approve', allowance: '0' } });
      await assertErrorPage(unknownPost, 404, /does not exist/);
    });

    it('refuses a POST without a good CSRF token or from another origin: 403, still pending', async () => {
      const { id } = await newRequest();
      const { b, user } = await signedIn();
      await b.page(url(id));
      const missing = await b.request('/signin/authorize', { form: { request: id, decision: 'approve', allowance: '200' } });
      assert.equal(missing.status, 403);
      assertSecurityHeaders(missing, 'the 403 page');
      const wrong = await b.request('/signin/authorize', {
        form: { csrf: 'x'.repeat(32), request: id, decision: 'approve', allowance: '200' },
      });
      assert.equal(wrong.status, 403);
      const csrf = csrfOf(await b.page(url(id)));
      const crossOrigin = await b.request('/signin/authorize', {
        form: { csrf, request: id, decision: 'approve', allowance: '200' },
        headers: { Origin: ORIGIN },
      });
      assert.equal(crossOrigin.status, 403);
      const crossSite = await b.request('/signin/authorize', {
        form: { csrf, request: id, decision: 'approve', allowance: '200' },
        headers: { 'Sec-Fetch-Site': 'cross-site' },
      });
      assert.equal(crossSite.status, 403);
      assert.equal((await getSignInRequest(t.db, id)).status, 'pending');
      assert.equal(await findConnection(t.db, user.id, site.id), undefined);
      // A signed-out POST is sent to sign in, and nothing happens.
      const signedOut = await browser().request('/signin/authorize', { form: { csrf, request: id, decision: 'approve', allowance: '0' } });
      assert.equal(signedOut.status, 303);
      assert.equal(signedOut.headers.get('Location'), `/signin?next=${encodeURIComponent(url(id))}`);
      assert.equal((await getSignInRequest(t.db, id)).status, 'pending');
    });

    it('accepts a custom allowance', async () => {
      const { id } = await newRequest();
      const { b, user } = await signedIn();
      const res = await answer(b, id, { decision: 'approve', allowance: 'custom', allowanceCustom: ' 1234 ' });
      assert.equal(res.status, 200, await res.text());
      assert.equal((await findConnection(t.db, user.id, site.id))?.allowancePerDay, 1234);
    });

    it('re-renders bad input with 400 and an alert, and stores nothing', async () => {
      const { id } = await newRequest();
      const { b, user } = await signedIn();
      const cases: [Record<string, string>, RegExp, string | undefined][] = [
        [{ decision: 'approve', allowance: 'custom', allowanceCustom: '-5' }, /whole number/, 'allowance-custom'],
        [{ decision: 'approve', allowance: 'custom', allowanceCustom: '1.5' }, /whole number/, 'allowance-custom'],
        [{ decision: 'approve', allowance: 'custom', allowanceCustom: 'ten' }, /whole number/, 'allowance-custom'],
        [{ decision: 'approve', allowance: 'custom', allowanceCustom: '1e3' }, /whole number/, 'allowance-custom'],
        [{ decision: 'approve', allowance: 'custom', allowanceCustom: '99999999999999999999' }, /whole number/, 'allowance-custom'],
        [{ decision: 'approve', allowance: 'custom', allowanceCustom: '1000000001' }, /whole number/, 'allowance-custom'],
        [{ decision: 'approve', allowance: 'custom', allowanceCustom: '' }, /Enter another amount/, 'allowance-custom'],
        [{ decision: 'approve', allowance: '-1' }, /Choose a daily allowance/, 'allowance-0'],
        [{ decision: 'approve', allowance: '75' }, /Choose a daily allowance/, 'allowance-0'],
        [{ decision: 'approve' }, /Choose a daily allowance/, 'allowance-0'],
        [{ decision: 'approve', allowance: '50', allowanceCustom: '500' }, /also typed 500/, 'allowance-custom'],
        [{ allowance: '50' }, /Choose Connect or Cancel/, undefined],
        [{ decision: 'yes', allowance: '50' }, /Choose Connect or Cancel/, undefined],
      ];
      for (const [fields, message, fieldId] of cases) {
        const what = JSON.stringify(fields);
        const res = await answer(b, id, fields);
        const body = await res.text();
        assert.equal(res.status, 400, `${what}\n${body}`);
        const alert = /<div class="alert" role="alert" id="form-error"><p>([^<]*)<\/p><\/div>/.exec(body);
        assert.ok(alert, `an alert for ${what}`);
        assert.match(alert[1]!, message, what);
        assert.ok(body.indexOf('role="alert"') < body.lastIndexOf('<form'), 'the alert comes before the form');
        assert.match(body, /name="decision" value="approve"/, 'the form is shown again');
        if (fieldId !== undefined) {
          const tag = inputs(body).find((t) => t.includes(`id="${fieldId}"`));
          assert.match(tag ?? '', /aria-invalid="true"/, what);
          assert.match(tag ?? '', /aria-describedby="[^"]*allowance-(custom-)?error/, what);
        }
        assertSecurityHeaders(res, what, HOSTED_CSP_WITH_OWN_SCRIPT);
      }
      // The choice is kept.
      const kept = await (await answer(b, id, { decision: 'approve', allowance: 'custom', allowanceCustom: 'ten' })).text();
      assert.deepEqual(checkedAllowances(kept), ['custom']);
      assert.equal(customValue(kept), 'ten');

      // Repeated fields and a request id of another shape: an error page, never a 500.
      const csrf = csrfOf(await b.page(url(id)));
      const repeated = await b.request('/signin/authorize', {
        form: `csrf=${csrf}&request=${id}&decision=approve&allowance=50&allowance=1000`,
      });
      await assertErrorPage(repeated, 400, /.+/);
      const twice = await b.request('/signin/authorize', { form: `csrf=${csrf}&request=${id}&decision=approve&decision=deny&allowance=0` });
      assert.equal(twice.status, 400);
      for (const request of ['', 'sir_nope', 'usr_' + '0'.repeat(26), `${id}x`]) {
        const res = await b.request('/signin/authorize', { form: { csrf, request, decision: 'approve', allowance: '0' } });
        await assertErrorPage(res, 400, /no valid sign-in request/);
      }
      assert.equal((await getSignInRequest(t.db, id)).status, 'pending');
      assert.equal(await findConnection(t.db, user.id, site.id), undefined);
    });

    it('refuses Connect posted sooner than the delay after the page, or without a good stamp; Cancel is never held', async () => {
      const { id } = await newRequest();
      const { b, user } = await signedIn();
      const body = await b.page(url(id));
      const csrf = csrfOf(body);
      const stamp = /name="shown" value="([^"]+)"/.exec(body)?.[1] ?? '';
      for (const [shown, message] of [
        [stamp, /That was too quick: Connect works only once this page has been in front for a second/],
        ['', /This form is out of date, so nothing was connected/],
        [await agedStamp(t.db, b, `consent:${(await newRequest()).id}`), /This form is out of date/],
        [await agedStamp(t.db, b, `confirm:${id}`), /This form is out of date/],
      ] as const) {
        const res = await b.request('/signin/authorize', { form: { csrf, shown, request: id, decision: 'approve', allowance: '50' } });
        const text = await res.text();
        assert.equal(res.status, 400, text);
        assert.match(text, message);
        assert.match(text, /value="approve" disabled data-guard/, 'the form again');
        assertSecurityHeaders(res, 'the refused Connect', HOSTED_CSP_WITH_OWN_SCRIPT);
      }
      assert.equal((await getSignInRequest(t.db, id)).status, 'pending');
      assert.equal(await findConnection(t.db, user.id, site.id), undefined);
      // Cancel right away, without a stamp: it connects nothing, so nothing holds it back.
      const cancelled = await b.request('/signin/authorize', { form: { csrf, request: id, decision: 'deny' } });
      assert.equal(cancelled.status, 200);
      assert.equal((await getSignInRequest(t.db, id)).status, 'denied');
    });

    it(`asks for the password before allowing more than now on a sign-in older than ${STEP_UP_AFTER_MS / 60_000} minutes`, async () => {
      const { b, user } = await signedIn();
      const first = await newRequest();
      assert.equal((await answer(b, first.id, { decision: 'approve', allowance: '50', allowanceCustom: '' })).status, 200);
      await ageSignIn(t.db, b, STEP_UP_AFTER_MS + 1000);

      // The screen says so up front.
      const { id } = await newRequest();
      assert.match(
        (await b.page(url(id))).replace(/\s+/g, ' '),
        /You signed in more than 15 minutes ago: allowing more than 50 Diamonds a day will ask for your password first/,
      );
      // More than 50: the password page, and nothing stored.
      for (const fields of [
        { allowance: '200', allowanceCustom: '' },
        { allowance: 'custom', allowanceCustom: '51' },
      ]) {
        const res = await answer(b, id, { decision: 'approve', ...fields });
        assert.equal(res.status, 303, JSON.stringify(fields));
        assert.equal(res.headers.get('Location'), `/signin/again?next=${encodeURIComponent(url(id))}`);
      }
      assert.equal((await getSignInRequest(t.db, id)).status, 'pending');
      assert.equal((await findConnection(t.db, user.id, site.id))?.allowancePerDay, 50);
      // The same or less needs no password.
      assert.equal((await answer(b, id, { decision: 'approve', allowance: '50', allowanceCustom: '' })).status, 200);
      const lower = await newRequest();
      assert.equal((await answer(b, lower.id, { decision: 'approve', allowance: '0', allowanceCustom: '' })).status, 200);
      assert.equal((await findConnection(t.db, user.id, site.id))?.allowancePerDay, 0);

      // After the password, the fan chooses again and connects with more.
      const raise = await newRequest();
      const next = url(raise.id);
      const csrf = csrfOf(await b.page(`/signin/again?next=${encodeURIComponent(next)}`));
      const again = await b.request('/signin/again', { form: { csrf, next, password: PASSWORD } });
      assert.equal(again.status, 303);
      assert.equal(again.headers.get('Location'), next);
      assert.doesNotMatch(await b.page(next), /will ask for your password/);
      assert.equal((await answer(b, raise.id, { decision: 'approve', allowance: '1000', allowanceCustom: '' })).status, 200);
      assert.equal((await findConnection(t.db, user.id, site.id))?.allowancePerDay, 1000);

      // A new site, on an old sign-in: any allowance above 0 asks; 0 does not.
      await ageSignIn(t.db, b, STEP_UP_AFTER_MS + 1000);
      const creator = await createUser(
        t.db,
        { email: `maker${++userCounter}@example.com`, password: PASSWORD, displayName: 'M', roles: ['creator'] },
        { cost },
      );
      const other = (await createSite(t.db, { ownerId: creator.id, name: 'Other', origins: [ORIGIN] })).site;
      const verifier = randomBytes(32).toString('base64url');
      const request = await createSignInRequest(t.db, {
        site: other,
        origin: ORIGIN,
        codeChallenge: pkceChallenge(verifier),
        codeChallengeMethod: 'S256',
      });
      assert.equal((await answer(b, request.id, { decision: 'approve', allowance: '50', allowanceCustom: '' })).status, 303);
      assert.equal((await answer(b, request.id, { decision: 'approve', allowance: '0', allowanceCustom: '' })).status, 200);
      assert.equal((await findConnection(t.db, user.id, other.id))?.allowancePerDay, 0);
    });

    it('"not you? sign out" signs out and comes back to the request after signing in', async () => {
      const { id } = await newRequest();
      const { b } = await signedIn();
      const csrf = csrfOf(await b.page(url(id)));
      const refused = await b.request('/signin/authorize/signout', { form: { request: id } });
      assert.equal(refused.status, 403, 'CSRF-checked');
      const res = await b.request('/signin/authorize/signout', { form: { csrf, request: id } });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('Location'), `/signin?next=${encodeURIComponent(url(id))}`);
      assertSecurityHeaders(res, 'the sign-out redirect');
      assert.equal((await b.request(url(id))).status, 303, 'signed out');
      const other = await newFan();
      const back = await b.signIn(other.email, { next: url(id) });
      assert.equal(back.headers.get('Location'), url(id));
      assert.match(await b.page(url(id)), new RegExp(other.email));
    });

    it('serves close.js as JavaScript with the security headers', async () => {
      const res = await browser().request(CLOSE_SCRIPT_PATH);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('Content-Type') ?? '', /^text\/javascript/);
      assertSecurityHeaders(res, 'close.js', HOSTED_CSP, CLOSE_SCRIPT_PATH);
      const script = await res.text();
      assert.match(script, /window\.close\(\)/);
      // The code goes to the opener at the request's origin, never to any origin.
      assert.match(
        script,
        /window\.opener\.postMessage\(\{ type: 'diamonds:signin', request: data\.request, code: data\.code \}, data\.origin\)/,
      );
      assert.doesNotMatch(script, /'\*'|"\*"/);
    });
  });
}
