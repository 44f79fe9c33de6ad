import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Confirmation, Gift } from '@diamonds/protocol';
import { feesBalance, emailOf, httpBrowser, sendOk, signedInBrowser, snapshot } from '../gifts/testing.js';
import { CONFIRMATION_TTL_MS, expireConfirmations } from '../money/spends.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { TEST_PAGE_ORIGIN, startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { CLOSE_SCRIPT_PATH } from './consent.js';
import { HOSTED_CSP, HOSTED_CSP_WITH_OWN_SCRIPT } from './security-headers.js';
import { csrfOf, type Browser } from './testing.js';

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

    /** Posts the page's form as the browser would: its CSRF token, from the platform's own origin. */
    async function decide(browser: Browser, path: string, decision: string, extra: Record<string, string> = {}): Promise<Response> {
      const csrf = csrfOf(await browser.page(path));
      return browser.request(path, { form: { csrf, decision, ...extra }, headers: { Origin: h.server.url } });
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
      assertHostedHeaders(res);
      const text = squash(body);
      assert.match(text, /<h1>Approve 15 Diamonds\?<\/h1>/);
      assert.match(text, /<dt>Amount<\/dt> <dd><strong>15 Diamonds<\/strong><\/dd>/);
      assert.match(text, /<dt>To<\/dt> <dd>Lovelace &lt;b&gt;&amp;&lt;\/b&gt;<\/dd>/, 'the name, escaped');
      assert.match(text, /A gift: 3 × Rose for Lovelace &lt;b&gt;/);
      assert.match(text, /Ada’s page/);
      assert.match(text, new RegExp(`<code>${TEST_PAGE_ORIGIN.replaceAll('.', '\\.')}</code>`));
      assert.match(text, /Expires in (10|9) minutes/);
      assert.match(text, /<img src="\/gifts\/rose\.svg" alt="" width="96" height="96"/);
      assert.match(text, /<button type="submit" name="decision" value="approve">Approve 15 Diamonds<\/button>/);
      assert.match(text, /<button type="submit" name="decision" value="decline" class="secondary">Decline<\/button>/);
      assert.doesNotMatch(body, /<script/, 'no script on the decision page');
      // Large amounts are formatted.
      const rich = await h.fan({ allowance: 0, balance: 20_000 });
      const castle = await sendOk(h, rich, { creatorId: h.creator.id, giftId: 'diamond-castle' }, 202);
      const richPage = await (await signedInBrowser(h, rich)).page(`/confirm/${castle.confirmation!.id}`);
      assert.match(richPage, /Approve 10,000 Diamonds\?/);
      await decide(await signedInBrowser(h, rich), `/confirm/${castle.confirmation!.id}`, 'decline');
      await decide(browser, path, 'decline');
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
      await expireConfirmations(h.t.db, h.server.ledger, Date.now() + CONFIRMATION_TTL_MS + 1);
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
  });
}
