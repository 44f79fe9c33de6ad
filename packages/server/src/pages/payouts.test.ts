import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DAY_MS } from '../earnings/aggregates.js';
import { sendOk, signedInBrowser } from '../gifts/testing.js';
import { markEmailVerified } from '../identity/email-verification.js';
import { seedDefaultRates } from '../money/rates.js';
import { listPayouts, PAYOUT_QUOTE_TTL_MS } from '../payouts/payouts.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { PAYOUTS_PATH } from './payouts.js';
import { ageSignIn, csrfOf, type Browser } from './testing.js';

const HOLD_MS = 7 * DAY_MS;

function squash(body: string): string {
  return body.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`the payouts page on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let fan: TestFan;
    let offset = 0;
    before(async () => {
      h = await startMoneyHarness(kind, {
        clock: () => Date.now() + offset,
        earnings: { holdMs: HOLD_MS, releaseIntervalMs: 0 },
        payouts: { tickMs: 0, minimumDiamonds: 100 },
      });
      await seedDefaultRates(h.t.db);
      fan = await h.fan({ allowance: 1_000_000, balance: 100_000 });
    });
    beforeEach(() => {
      offset = 0;
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    /** A creator of the site, signed in, with two cakes received (320 Diamonds net). */
    async function creator(): Promise<{ id: string; browser: Browser }> {
      const made = await h.newCreator('Payee', { listed: true });
      for (let i = 0; i < 2; i++) await sendOk(h, fan, { creatorId: made.id, giftId: 'cake', quantity: 2 }, 201);
      return { id: made.id, browser: await signedInBrowser(h, made) };
    }

    const post = async (browser: Browser, path: string, form: Record<string, string>) => {
      const csrf = csrfOf(await browser.page(PAYOUTS_PATH));
      return browser.request(path, { form: { csrf, ...form }, headers: { Origin: h.server.url } });
    };

    it('from no account to "Paid": verify the email, choose the test account, get a locked price, confirm', async () => {
      const { id, browser } = await creator();
      let page = squash(await browser.page(PAYOUTS_PATH));
      assert.match(page, /Available 0 ◆ Pending 320 ◆/);
      assert.match(page, /Verify your email address before your first payout/);
      assert.match(page, /No payout account yet/);

      // Cashing out before the hold: the form says why, nothing moves.
      let res = await post(browser, `${PAYOUTS_PATH}/quote`, { diamonds: '100' });
      assert.equal(res.status, 403);
      assert.match(squash(await res.text()), /Verify your email address before your first payout/);
      await markEmailVerified(h.t.db, id);
      res = await post(browser, `${PAYOUTS_PATH}/quote`, { diamonds: '100' });
      assert.equal(res.status, 409);
      assert.match(squash(await res.text()), /Add a payout account on the payouts page/);

      res = await post(browser, `${PAYOUTS_PATH}/method`, { method: 'test:pays', currency: 'USD' });
      assert.equal(res.status, 303);
      page = squash(await browser.page(`${PAYOUTS_PATH}?saved=1`));
      assert.match(page, /Your payout account was saved/);
      assert.match(page, /Test account that is paid, paid in USD: ready/);

      res = await post(browser, `${PAYOUTS_PATH}/quote`, { diamonds: '100' });
      assert.equal(res.status, 402);
      assert.match(squash(await res.text()), /You asked for 100 Diamonds but 0 are available \(320 are still pending\)/);
      offset = HOLD_MS + 1000;
      res = await post(browser, `${PAYOUTS_PATH}/quote`, { diamonds: '99' });
      assert.equal(res.status, 400);
      assert.match(squash(await res.text()), /The smallest payout is 100 Diamonds/);
      res = await post(browser, `${PAYOUTS_PATH}/quote`, { diamonds: 'lots' });
      assert.equal(res.status, 400);
      assert.match(squash(await res.text()), /Enter a whole number of Diamonds/);

      res = await post(browser, `${PAYOUTS_PATH}/quote`, { diamonds: '150' });
      assert.equal(res.status, 200);
      const quotePage = await res.text();
      assert.match(squash(quotePage), /Diamonds 150 ◆ You receive US\$1\.20/);
      const quoteId = /name="quote" value="(pq_\w+)"/.exec(quotePage)?.[1];
      assert.ok(quoteId);
      const confirm = () =>
        browser.request(`${PAYOUTS_PATH}/confirm`, {
          form: { csrf: csrfOf(quotePage), quote: quoteId },
          headers: { Origin: h.server.url },
        });
      // Another site's page posting the form: refused by the origin check.
      const forged = await browser.request(`${PAYOUTS_PATH}/confirm`, {
        form: { csrf: csrfOf(quotePage), quote: quoteId },
        headers: { Origin: 'http://127.0.0.1:6666' },
      });
      assert.equal(forged.status, 403);
      assert.equal((await listPayouts(h.t.db, { creatorId: id })).length, 0);

      res = await confirm();
      assert.equal(res.status, 303);
      const requested = res.headers.get('Location') ?? '';
      assert.match(requested, /\?requested=po_/);
      // Pressed twice: the same payout.
      assert.equal((await confirm()).status, 303);
      assert.equal((await listPayouts(h.t.db, { creatorId: id })).length, 1);
      page = squash(await browser.page(PAYOUTS_PATH));
      assert.match(page, /Payout of 150 Diamonds is on its way/);
      assert.match(page, /150 ◆ US\$1\.20 On its way/);
      assert.match(squash(await browser.page(requested)), /Your payout is on its way/);
      await h.server.payouts.runOnce();
      page = squash(await browser.page(requested));
      assert.match(page, /Your payout of US\$1\.20 was paid to your account/);
      assert.match(page, /150 ◆ US\$1\.20 Paid/);
      assert.match(page, /Available 170 ◆ Pending 0 ◆/);

      // The CSV of earnings shows the payout leaving them.
      const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
      const csv = await (await browser.request(`/dashboard/earnings.csv?from=${day(Date.now() - DAY_MS)}&to=${day(Date.now())}`)).text();
      assert.match(csv, /,payout,Payout of 150 Diamonds \(1\.20 USD\),-150,0,-150\r\n/);
    });

    it('a failing account shows the failure and the Diamonds back; a quote that expired asks for a new price', async () => {
      const { id, browser } = await creator();
      await markEmailVerified(h.t.db, id);
      assert.equal((await post(browser, `${PAYOUTS_PATH}/method`, { method: 'test:fails', currency: 'EUR' })).status, 303);
      offset = HOLD_MS + 1000;
      let res = await post(browser, `${PAYOUTS_PATH}/quote`, { diamonds: '320' });
      const quotePage = await res.text();
      const quoteId = /name="quote" value="(pq_\w+)"/.exec(quotePage)?.[1] ?? '';
      offset += PAYOUT_QUOTE_TTL_MS;
      res = await browser.request(`${PAYOUTS_PATH}/confirm`, {
        form: { csrf: csrfOf(quotePage), quote: quoteId },
        headers: { Origin: h.server.url },
      });
      assert.equal(res.status, 409);
      assert.match(squash(await res.text()), /The payout quote expired/);
      // A quote that is not this creator's.
      res = await post(browser, `${PAYOUTS_PATH}/confirm`, { quote: 'pq_01KBQ3T8ZQ4X7N2M5R6S9V0W1Y' });
      assert.equal(res.status, 404);
      assert.match(squash(await res.text()), /not yours or does not exist/);

      res = await post(browser, `${PAYOUTS_PATH}/quote`, { diamonds: '320' });
      const fresh = await res.text();
      assert.match(squash(fresh), /You receive €2\.36/);
      res = await browser.request(`${PAYOUTS_PATH}/confirm`, {
        form: { csrf: csrfOf(fresh), quote: /name="quote" value="(pq_\w+)"/.exec(fresh)?.[1] ?? '' },
        headers: { Origin: h.server.url },
      });
      assert.equal(res.status, 303);
      await h.server.payouts.runOnce();
      const page = squash(await browser.page(PAYOUTS_PATH));
      assert.match(page, /320 ◆ €2\.36 Failed: Diamonds returned The bank returned the payout: the account is closed/);
      assert.match(page, /Available 320 ◆/);
    });

    it('the account needing verification, weekly payouts, an old sign-in asked for the password, a fan refused', async () => {
      const { id, browser } = await creator();
      await markEmailVerified(h.t.db, id);
      assert.equal((await post(browser, `${PAYOUTS_PATH}/method`, { method: 'test:needs_verification', currency: 'USD' })).status, 303);
      let page = squash(await browser.page(PAYOUTS_PATH));
      assert.match(page, /Test account that needs verification first, paid in USD: verification needed/);
      offset = HOLD_MS + 1000;
      let res = await post(browser, `${PAYOUTS_PATH}/quote`, { diamonds: '100' });
      assert.equal(res.status, 409);
      assert.match(squash(await res.text()), /not ready yet: finish its verification/);
      assert.equal((await post(browser, `${PAYOUTS_PATH}/method/verify`, {})).status, 303);
      page = squash(await browser.page(PAYOUTS_PATH));
      assert.match(page, /verification first, paid in USD: ready/);

      assert.equal((await post(browser, `${PAYOUTS_PATH}/automatic`, { automatic: 'on' })).status, 303);
      assert.match(squash(await browser.page(PAYOUTS_PATH)), /Weekly automatic payouts are on/);

      // A week-old sign-in: changing where the money goes, or confirming, asks for the password first.
      await ageSignIn(h.t.db, browser, 60 * 60 * 1000);
      res = await post(browser, `${PAYOUTS_PATH}/method`, { method: 'test:fails', currency: 'USD' });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('Location'), `/signin/again?next=${encodeURIComponent(PAYOUTS_PATH)}`);
      assert.match(squash(await browser.page(PAYOUTS_PATH)), /verification first, paid in USD: ready/);

      // Without the form's token, or as a fan: refused.
      res = await browser.request(`${PAYOUTS_PATH}/automatic`, { form: { automatic: 'off' }, headers: { Origin: h.server.url } });
      assert.equal(res.status, 403);
      const fanBrowser = await signedInBrowser(h, fan);
      res = await fanBrowser.request(PAYOUTS_PATH);
      assert.equal(res.status, 403);
      assert.match(squash(await res.text()), /Payouts are for creators/);
      // Signed out: sent to sign in.
      res = await (await signedInBrowser(h, { id })).request(PAYOUTS_PATH, { headers: { Cookie: '' } });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('Location'), `/signin?next=${encodeURIComponent(PAYOUTS_PATH)}`);
    });
  });
}
