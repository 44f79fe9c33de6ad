import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Confirmation, Gift } from '@diamonds/protocol';
import { feesBalance, emailOf, httpBrowser, sendOk, signedInBrowser, snapshot } from '../gifts/testing.js';
import { findSite, updateOrigins } from '../identity/sites.js';
import { CONFIRMATION_TTL_MS } from '../money/spends.js';
import { expireConfirmations } from '../money/sweeper.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { TEST_PAGE_ORIGIN, startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { CLOSE_SCRIPT_PATH } from './consent.js';
import { DECISION_DELAY_MS, GUARD_SCRIPT_PATH, GUARD_SCRIPT_SRC, decisionStamp } from './guard.js';
import { HOSTED_CSP, HOSTED_CSP_WITH_OWN_SCRIPT } from './security-headers.js';
import { STEP_UP_AFTER_MS, STEP_UP_MIN_DIAMONDS } from './step-up.js';
import { ageSignIn, agedStamp, csrfOf, sessionOf, type Browser } from './testing.js';

function assertHostedHeaders(res: Response, csp = HOSTED_CSP): void {
  assert.equal(res.headers.get('Content-Security-Policy'), csp);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers.get('X-Frame-Options'), 'DENY');
  // A popup page: its opener must still see when the fan closes it.
  assert.equal(res.headers.get('Cross-Origin-Opener-Policy'), 'unsafe-none');
  assert.equal(res.headers.get('Cache-Control'), 'no-store');
}

/** Whitespace collapsed, so assertions read like the page. */
function squash(body: string): string {
  return body.replace(/\s+/g, ' ');
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`hosted confirmation page on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    before(async () => {
      h = await startMoneyHarness(kind);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    /** A fan with no allowance (every gift needs confirming), their held gift, and a signed-in browser. */
    async function heldGift(
      quantity = 3,
      recipient?: { id: string },
    ): Promise<{ fan: TestFan; gift: Gift; id: string; path: string; browser: Browser }> {
      const fan = await h.fan({ allowance: 0, balance: 100 });
      const gift = await sendOk(h, fan, { creatorId: (recipient ?? h.creator).id, giftId: 'rose', quantity }, 202);
      const id = gift.confirmation!.id;
      return { fan, gift, id, path: `/confirm/${id}`, browser: await signedInBrowser(h, fan) };
    }

    /**
     * Posts the page's form as the browser would: its CSRF token and its stamp, from the
     * platform's own origin, once the fan has had the page for the guard's delay.
     */
    async function decide(browser: Browser, path: string, decision: string, extra: Record<string, string> = {}): Promise<Response> {
      const csrf = csrfOf(await browser.page(path));
      const shown = await agedStamp(h.t.db, browser, `confirm:${path.slice('/confirm/'.length)}`);
      return browser.request(path, { form: { csrf, shown, decision, ...extra }, headers: { Origin: h.server.url } });
    }

    /** The stamp in a page's form. */
    function stampOf(body: string): string {
      const match = /name="shown" value="([^"]+)"/.exec(body);
      assert.ok(match?.[1], 'the form carries its stamp');
      return match[1];
    }

    async function confirmationOf(fan: TestFan, id: string): Promise<Confirmation> {
      return Confirmation.parse(await (await h.call(`/confirmations/${id}`, { fan })).json());
    }

    it('sends a signed-out fan to sign in, then back to the confirmation', async () => {
      const { fan, path } = await heldGift();
      const browser = httpBrowser(h);
      const res = await browser.request(path);
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('Location'), `/signin?next=${encodeURIComponent(path)}`);
      const signedIn = await browser.signIn(await emailOf(h, fan.id), { password: 'a long password', next: path });
      assert.equal(signedIn.status, 303);
      assert.equal(signedIn.headers.get('Location'), path);
      const page = await browser.page(path);
      assert.match(page, /Approve 15 Diamonds\?/);
    });

    it('shows the amount, recipient, site and what it is, as the server holds them', async () => {
      const creator = await h.newCreator('Lovelace <b>&</b>');
      const { path, browser } = await heldGift(3, creator);
      const res = await browser.request(path);
      const body = await res.text();
      assert.equal(res.status, 200, body);
      // The page loads the guard script from our own origin: still no inline script.
      assertHostedHeaders(res, HOSTED_CSP_WITH_OWN_SCRIPT);
      const text = squash(body);
      assert.match(text, /<h1>Approve 15 Diamonds\?<\/h1>/);
      assert.match(text, /<dt>Amount<\/dt> <dd><strong>15 Diamonds<\/strong><\/dd>/);
      assert.match(text, /<dt>To<\/dt> <dd>Lovelace &lt;b&gt;&amp;&lt;\/b&gt;<\/dd>/, 'the name, escaped');
      assert.match(text, /A gift: 3 × Rose for Lovelace &lt;b&gt;/);
      assert.match(text, new RegExp(`Ada’s page, asked by the page at <code>${TEST_PAGE_ORIGIN.replaceAll('.', '\\.')}</code>`));
      assert.match(text, /Expires in (10|9) minutes/);
      assert.match(text, /<img src="\/gifts\/rose\.svg" alt="" width="96" height="96"/);
      // Decline first (it works at once and is where focus lands first), then Approve: disabled
      // until the guard script turns it on, and described by the hint that says why.
      const decline = text.indexOf('<button type="submit" name="decision" value="decline" class="secondary">Decline</button>');
      const approve = text.indexOf(
        '<button type="submit" name="decision" value="approve" disabled data-guard aria-describedby="guard-hint">Approve 15 Diamonds</button>',
      );
      assert.ok(decline > 0 && approve > decline, 'Decline, then a disabled, guarded Approve');
      assert.doesNotMatch(text, /autofocus/);
      assert.match(
        text,
        /<p id="guard-hint" class="guard-hint" data-ready="Approve is ready\."> Approve turns on once this window has been in front for a second/,
      );
      assert.match(text, /<noscript> <p class="alert"> To approve a payment here, turn on JavaScript/);
      assert.deepEqual(
        [...body.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]),
        [`<script src="${GUARD_SCRIPT_SRC}" defer>`],
        'only the guard script',
      );
      assert.match(stampOf(body), /^\d+\.[\w-]{43}$/);
      // Large amounts are formatted.
      const rich = await h.fan({ allowance: 0, balance: 20_000 });
      const castle = await sendOk(h, rich, { creatorId: h.creator.id, giftId: 'diamond-castle' }, 202);
      const richPage = await (await signedInBrowser(h, rich)).page(`/confirm/${castle.confirmation!.id}`);
      assert.match(richPage, /Approve 10,000 Diamonds\?/);
      await decide(await signedInBrowser(h, rich), `/confirm/${castle.confirmation!.id}`, 'decline');
      await decide(browser, path, 'decline');
    });

    it('names the page that asked, not every origin the site allows; one made before pages were recorded, the site’s origins', async () => {
      const before = (await findSite(h.t.db, h.site.id))!.origins;
      await updateOrigins(h.t.db, h.site.id, [...before, 'https://shop.example.com']);
      try {
        const { id, path, browser } = await heldGift();
        const asked = squash(await browser.page(path));
        assert.match(asked, new RegExp(`asked by the page at <code>${TEST_PAGE_ORIGIN.replaceAll('.', '\\.')}</code>`));
        assert.doesNotMatch(asked, /shop\.example\.com/, 'the other origins the site allows are not the page that asked');
        // As a confirmation from before migration 31 (no origin kept): the site's origins, as before.
        await h.t.db.run('UPDATE confirmations SET origin = NULL WHERE id = ?', [id]);
        const older = squash(await browser.page(path));
        assert.doesNotMatch(older, /asked by the page/);
        assert.match(older, /Ada’s page \(<code>http:\/\/127\.0\.0\.1:5173<\/code>, <code>https:\/\/shop\.example\.com<\/code>\)/);
        await decide(browser, path, 'decline');
      } finally {
        await updateOrigins(h.t.db, h.site.id, before);
      }
    });

    it('approves over HTTP: the held Diamonds are posted and the gift is sent', async () => {
      const creator = await h.newCreator('Grace');
      const { fan, gift, id, path, browser } = await heldGift(3, creator);
      const fees = await feesBalance(h);
      assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 15, earnings: 0 });
      const res = await decide(browser, path, 'approve');
      const body = await res.text();
      assert.equal(res.status, 200, body);
      assertHostedHeaders(res, HOSTED_CSP_WITH_OWN_SCRIPT);
      assert.match(squash(body), /Approved: 15 Diamonds went to Grace/);
      assert.match(body, new RegExp(`<script src="${CLOSE_SCRIPT_PATH}" defer></script>`));
      assert.deepEqual(await h.balances(fan.id), { wallet: 85, held: 0, earnings: 0 });
      assert.equal((await h.balances(creator.id)).earnings, 12);
      assert.equal(await feesBalance(h), fees + 3);
      const confirmation = await confirmationOf(fan, id);
      assert.equal(confirmation.status, 'approved');
      assert.ok(confirmation.transferId);
      const read = Gift.parse(await (await h.call(`/gifts/${gift.id}`, { fan })).json());
      assert.equal(read.status, 'succeeded');
      assert.equal(read.transferId, confirmation.transferId);

      // Answering again changes nothing.
      const before = await snapshot(h, fan.id, creator.id);
      const again = await browser.request(path);
      assert.equal(again.status, 409);
      assert.match(await again.text(), /already approved/);
      const csrf = csrfOf(await browser.page('/account'));
      for (const decision of ['approve', 'decline']) {
        const res2 = await browser.request(path, { form: { csrf, decision }, headers: { Origin: h.server.url } });
        assert.equal(res2.status, 409);
      }
      assert.deepEqual(await snapshot(h, fan.id, creator.id), before);
    });

    it('declines over HTTP: the hold is released and nothing is charged', async () => {
      const { fan, gift, id, path, browser } = await heldGift();
      const transfers = await h.transferCount();
      const res = await decide(browser, path, 'decline');
      const body = await res.text();
      assert.equal(res.status, 200, body);
      assert.match(body, /Declined: nothing was charged/);
      assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 0, earnings: 0 });
      assert.equal(await h.transferCount(), transfers + 1, 'the void, no postings');
      assert.equal((await confirmationOf(fan, id)).status, 'declined');
      assert.equal(Gift.parse(await (await h.call(`/gifts/${gift.id}`, { fan })).json()).status, 'declined');
      const again = await browser.request(path);
      assert.equal(again.status, 409);
      assert.match(await again.text(), /already declined: nothing was charged/);
    });

    it('says so when the confirmation expired, and charges nothing', async () => {
      const { fan, gift, id, path, browser } = await heldGift();
      const csrf = csrfOf(await browser.page(path));
      // Time runs out before the sweep: the page already treats it as expired.
      await h.t.db.run('UPDATE confirmations SET expires_at = ? WHERE id = ?', [Date.now() - 1, id]);
      const page = await browser.request(path);
      assert.equal(page.status, 410);
      assert.match(await page.text(), /expired, and nothing was charged/);
      const posted = await browser.request(path, { form: { csrf, decision: 'approve' }, headers: { Origin: h.server.url } });
      assert.equal(posted.status, 410);
      assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 15, earnings: 0 }, 'held until the sweep');
      await expireConfirmations(h.server.writer, h.t.db, Date.now() + CONFIRMATION_TTL_MS + 1);
      assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 0, earnings: 0 });
      assert.equal((await confirmationOf(fan, id)).status, 'expired');
      assert.equal(Gift.parse(await (await h.call(`/gifts/${gift.id}`, { fan })).json()).status, 'expired');
      assert.equal((await browser.request(path)).status, 410);
    });

    it('lets nobody else see or decide a fan’s confirmation', async () => {
      const { fan, id, path, browser } = await heldGift();
      const before = await snapshot(h, fan.id, h.creator.id);
      const csrf = csrfOf(await browser.page(path));

      const other = await signedInBrowser(h, await h.fan());
      const seen = await other.request(path);
      assert.equal(seen.status, 404);
      assert.doesNotMatch(await seen.text(), /15 Diamonds/);
      const otherCsrf = csrfOf(await other.page('/account'));
      const tried = await other.request(path, { form: { csrf: otherCsrf, decision: 'approve' }, headers: { Origin: h.server.url } });
      assert.equal(tried.status, 404);

      // The embedding page cannot post the form: no session cookie from another site, a wrong
      // or missing token, or a cross-site origin are all refused.
      const anonymous = httpBrowser(h);
      const noSession = await anonymous.request(path, { form: { csrf, decision: 'approve' } });
      assert.equal(noSession.status, 303);
      const noToken = await browser.request(path, { form: { decision: 'approve' }, headers: { Origin: h.server.url } });
      assert.equal(noToken.status, 403);
      const wrongToken = await browser.request(path, { form: { csrf: otherCsrf, decision: 'approve' }, headers: { Origin: h.server.url } });
      assert.equal(wrongToken.status, 403);
      const crossOrigin = await browser.request(path, { form: { csrf, decision: 'approve' }, headers: { Origin: TEST_PAGE_ORIGIN } });
      assert.equal(crossOrigin.status, 403);
      const crossSite = await browser.request(path, { form: { csrf, decision: 'approve' }, headers: { 'Sec-Fetch-Site': 'cross-site' } });
      assert.equal(crossSite.status, 403);
      const badDecision = await browser.request(path, { form: { csrf, decision: 'yes' }, headers: { Origin: h.server.url } });
      assert.equal(badDecision.status, 400);
      const twice = await browser.request(path, {
        form: `csrf=${csrf}&decision=approve&decision=decline`,
        headers: { Origin: h.server.url },
      });
      assert.equal(twice.status, 400);
      assert.equal((await browser.request('/confirm/cnf_nope')).status, 404);
      assert.equal((await browser.request('/confirm/%3Cscript%3E')).status, 404);

      assert.deepEqual(await snapshot(h, fan.id, h.creator.id), before);
      assert.equal((await confirmationOf(fan, id)).status, 'pending');
      await decide(browser, path, 'decline');
    });

    it('refuses an approval posted sooner than the delay after the page, or without a good stamp; declining is never held', async () => {
      const { fan, id, path, browser } = await heldGift();
      const before = await snapshot(h, fan.id, h.creator.id);
      const transfers = await h.transferCount();
      const body = await browser.page(path);
      const csrf = csrfOf(body);
      const post = (fields: Record<string, string>) =>
        browser.request(path, { form: { csrf, ...fields }, headers: { Origin: h.server.url } });

      // Straight after the page: refused, the page again with the reason, nothing charged.
      const early = await post({ shown: stampOf(body), decision: 'approve' });
      const earlyBody = await early.text();
      assert.equal(early.status, 400, earlyBody);
      assertHostedHeaders(early, HOSTED_CSP_WITH_OWN_SCRIPT);
      assert.match(
        squash(earlyBody),
        /role="alert"[^>]*><p>That was too quick: Approve works only once this page has been in front for a second/,
      );
      assert.match(earlyBody, /Approve 15 Diamonds<\/button>/, 'the page, to approve again');

      // No stamp, a malformed one, one for another confirmation or another session, one from the future.
      const session = await sessionOf(h.t.db, browser);
      const old = Date.now() - DECISION_DELAY_MS;
      const other = await signedInBrowser(h, fan);
      const otherSession = await sessionOf(h.t.db, other);
      for (const shown of [
        undefined,
        '',
        'yesterday',
        `${old}.${'A'.repeat(43)}`,
        decisionStamp(session, 'confirm:cnf_00000000000000000000000000', old),
        decisionStamp(session, `consent:${id}`, old),
        decisionStamp(otherSession, `confirm:${id}`, old),
        decisionStamp(session, `confirm:${id}`, Date.now() + 60_000),
      ]) {
        const res = await post(shown === undefined ? { decision: 'approve' } : { shown, decision: 'approve' });
        const text = await res.text();
        assert.equal(res.status, 400, `${shown}: ${text}`);
        assert.match(text, /This form is out of date, so nothing was charged/, String(shown));
      }
      assert.deepEqual(await snapshot(h, fan.id, h.creator.id), before);
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await confirmationOf(fan, id)).status, 'pending');

      // The page's own stamp, once the delay has passed: approved.
      const page = await browser.page(path);
      await new Promise((resolve) => setTimeout(resolve, DECISION_DELAY_MS));
      const approved = await post({ shown: stampOf(page), decision: 'approve' });
      assert.equal(approved.status, 200, await approved.text());
      assert.equal((await confirmationOf(fan, id)).status, 'approved');

      // Decline needs no stamp and no wait: it moves nothing.
      const second = await heldGift();
      const declineCsrf = csrfOf(await second.browser.page(second.path));
      const declined = await second.browser.request(second.path, {
        form: { csrf: declineCsrf, decision: 'decline' },
        headers: { Origin: h.server.url },
      });
      assert.equal(declined.status, 200);
      assert.equal((await confirmationOf(second.fan, second.id)).status, 'declined');
    });

    it('serves the guard script from our origin, cached by its versioned URL', async () => {
      const res = await httpBrowser(h).request(GUARD_SCRIPT_SRC);
      const script = await res.text();
      assert.equal(res.status, 200);
      assert.match(res.headers.get('Content-Type') ?? '', /^text\/javascript/);
      assert.equal(res.headers.get('X-Content-Type-Options'), 'nosniff');
      assert.equal(res.headers.get('Cache-Control'), 'public, max-age=31536000, immutable');
      assert.ok(GUARD_SCRIPT_SRC.startsWith(`${GUARD_SCRIPT_PATH}?v=`));
      assert.match(script, new RegExp(`const DELAY_MS = ${DECISION_DELAY_MS};`));
    });

    describe('a large spend on an old sign-in needs the password again', () => {
      /** A fan with `amount` Diamonds held for a gift (crowns of 1,000, or roses of 5), signed in `ageMs` ago. */
      async function held(amount: number, ageMs: number) {
        const fan = await h.fan({ allowance: 0, balance: amount });
        const gift =
          amount >= 1000
            ? await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'crown', quantity: amount / 1000 }, 202)
            : await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'rose', quantity: amount / 5 }, 202);
        const browser = await signedInBrowser(h, fan);
        await ageSignIn(h.t.db, browser, ageMs);
        const id = gift.confirmation!.id;
        return { fan, id, path: `/confirm/${id}`, browser };
      }

      it(`asks at ${STEP_UP_MIN_DIAMONDS} Diamonds after ${STEP_UP_AFTER_MS / 60_000} minutes, and approves after the password`, async () => {
        const { fan, id, path, browser } = await held(STEP_UP_MIN_DIAMONDS, STEP_UP_AFTER_MS + 1000);
        const before = await snapshot(h, fan.id, h.creator.id);
        const body = squash(await browser.page(path));
        assert.match(body, /<h1>Approve 1,000 Diamonds\?<\/h1>/, 'the fan sees what they would approve');
        assert.doesNotMatch(body, /value="approve"/, 'no Approve button');
        assert.match(body, new RegExp(`<a class="button" href="/signin/again\\?next=${encodeURIComponent(path)}"`));
        assert.match(body, /A payment of 1,000 Diamonds or more needs your password when you signed in more than 15 minutes ago/);
        assert.match(body, /value="decline" class="secondary">Decline</, 'declining needs no password');

        // The approval posted anyway (an old form, a forged one): sent to the password page, nothing moves.
        const posted = await decide(browser, path, 'approve');
        assert.equal(posted.status, 303);
        assert.equal(posted.headers.get('Location'), `/signin/again?next=${encodeURIComponent(path)}`);
        assert.deepEqual(await snapshot(h, fan.id, h.creator.id), before);

        // The password page names why, refuses a wrong password, and goes back after the right one.
        const again = await browser.page(`/signin/again?next=${encodeURIComponent(path)}`);
        assert.match(again, /You are about to approve a payment of 1,000 Diamonds or more/);
        const csrf = csrfOf(again);
        const oldCookie = browser.jar.get('diamonds_session');
        const wrong = await browser.request('/signin/again', {
          form: { csrf, next: path, password: 'not my password' },
          headers: { Origin: h.server.url },
        });
        assert.equal(wrong.status, 401);
        assert.match(await wrong.text(), /That password is not right/);
        const right = await browser.request('/signin/again', {
          form: { csrf, next: path, password: 'a long password' },
          headers: { Origin: h.server.url },
        });
        assert.equal(right.status, 303);
        assert.equal(right.headers.get('Location'), path);
        assert.notEqual(browser.jar.get('diamonds_session'), oldCookie, 'a new session');
        assert.match(await browser.page(path), /value="approve" disabled data-guard/);
        const approved = await decide(browser, path, 'approve');
        assert.equal(approved.status, 200, await approved.text());
        assert.equal((await confirmationOf(fan, id)).status, 'approved');
      });

      it('does not ask below the threshold, nor on a recent sign-in', async () => {
        for (const [amount, ageMs] of [
          [STEP_UP_MIN_DIAMONDS - 5, STEP_UP_AFTER_MS * 100],
          [STEP_UP_MIN_DIAMONDS, STEP_UP_AFTER_MS - 60_000],
        ] as const) {
          const { fan, id, path, browser } = await held(amount, ageMs);
          assert.match(await browser.page(path), /value="approve" disabled data-guard/, `${amount} after ${ageMs} ms`);
          const approved = await decide(browser, path, 'approve');
          assert.equal(approved.status, 200, await approved.text());
          assert.equal((await confirmationOf(fan, id)).status, 'approved');
        }
      });
    });
  });
}
