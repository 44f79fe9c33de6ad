import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Confirmation, type Gift } from '@diamonds/protocol';
import { httpBrowser, sendOk, signedInBrowser, snapshot } from '../gifts/testing.js';
import { makeOrder } from '../orders/testing.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { agedStamp, csrfOf, type Browser } from './testing.js';
import { releasePath, WALLET_PATH } from './wallet.js';

/** Whitespace collapsed, so assertions read like the page. */
function squash(body: string): string {
  return body.replace(/\s+/g, ' ');
}

/** The history's rows as text, tags left out: "4 Dec 2026, 13:52 UTC 3 × Rose for Ada Paid −15 Diamonds". */
function historyRows(body: string): string[] {
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].slice(1).map((match) => squash(match[1]!.replace(/<[^>]+>/g, ' ')).trim());
}

/** Asserts that a row of the page's history reads `text` (after its date). */
function assertRow(body: string, text: string, message?: string): void {
  const rows = historyRows(body);
  assert.ok(
    rows.some((row) => row.includes(text)),
    `${message ?? 'a history row'} reads "${text}", got:\n${rows.join('\n')}`,
  );
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`the fan's wallet page on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    /** A creator who is not one of the test site's creators: the allowance never pays them. */
    let outsider: { id: string; displayName: string };
    before(async () => {
      h = await startMoneyHarness(kind);
      outsider = await h.newCreator('Mallory');
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    /** A fan with an allowance, and a gift of 3 roses (15 Diamonds) to a creator not of the site: held. */
    async function heldGift(): Promise<{ fan: TestFan; gift: Gift; id: string; browser: Browser }> {
      const fan = await h.fan({ allowance: 500, balance: 100 });
      const gift = await sendOk(h, fan, { creatorId: outsider.id, giftId: 'rose', quantity: 3 }, 202);
      return { fan, gift, id: gift.confirmation!.id, browser: await signedInBrowser(h, fan) };
    }

    /** Posts the wallet's Release form of `id` as the browser would, from the platform's origin. */
    async function release(browser: Browser, id: string, csrf?: string): Promise<Response> {
      const token = csrf ?? csrfOf(await browser.page(WALLET_PATH));
      return browser.request(releasePath(id), { form: { csrf: token }, headers: { Origin: h.server.url } });
    }

    /** Approves on the confirmation page, as the fan would once the page has been in front for the guard's delay. */
    async function approve(browser: Browser, id: string): Promise<Response> {
      const path = `/confirm/${id}`;
      const csrf = csrfOf(await browser.page(path));
      const shown = await agedStamp(h.t.db, browser, `confirm:${id}`);
      return browser.request(path, { form: { csrf, shown, decision: 'approve' }, headers: { Origin: h.server.url } });
    }

    async function statusOf(fan: TestFan, id: string): Promise<string> {
      return Confirmation.parse(await (await h.call(`/confirmations/${id}`, { fan })).json()).status;
    }

    async function eventCount(type: string, confirmationId: string): Promise<number> {
      const rows = await h.t.db.query<{ data: string }>('SELECT data FROM events WHERE type = ?', [type]);
      return rows.filter((row) => (JSON.parse(row.data) as { confirmationId?: string }).confirmationId === confirmationId).length;
    }

    it('sends a signed-out visitor to sign in, then back to the wallet', async () => {
      const res = await httpBrowser(h).request(WALLET_PATH);
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('Location'), `/signin?next=${encodeURIComponent(WALLET_PATH)}`);
    });

    it('shows the balance, the held spend with Release and a link to its confirmation page, and the history', async () => {
      const { id, browser } = await heldGift();
      const res = await browser.request(WALLET_PATH);
      const body = await res.text();
      assert.equal(res.status, 200, body);
      assert.match(res.headers.get('Content-Security-Policy') ?? '', /frame-ancestors 'none'/);
      assert.equal(res.headers.get('Cross-Origin-Opener-Policy'), 'same-origin');
      assert.equal(res.headers.get('Cache-Control'), 'no-store');
      const text = squash(body);
      assert.match(text, /<dt>Available<\/dt> <dd><strong id="available">85 Diamonds<\/strong><\/dd>/);
      assert.match(text, /<dt>Held for your approval<\/dt> <dd id="held">15 Diamonds<\/dd>/);
      assert.match(text, /<h3>15 Diamonds to Mallory<\/h3> <p>3 × Rose for Mallory, on Ada’s page\.<\/p>/);
      assert.match(text, new RegExp(`<form method="post" action="${releasePath(id)}" class="row">`));
      assert.match(text, /<button type="submit" class="secondary">Release 15 Diamonds<\/button>/);
      // Approving goes through the confirmation page (its guard and step-up), never from here.
      assert.match(text, new RegExp(`<a class="button" href="/confirm/${id}">Review and approve 15 Diamonds</a>`));
      assert.doesNotMatch(text, /name="decision"/);
      assertRow(text, '3 × Rose for Mallory Waiting for your approval −15 Diamonds');
      assertRow(text, 'Test credit of 100 Diamonds Received +100 Diamonds');
      assert.match(text, /<h3>Ada’s page<\/h3> <p>Daily allowance: <strong>500 Diamonds<\/strong> without asking\.<\/p>/);
      assert.match(
        text,
        /<p> ?Spent from it in the last 24 hours: <strong>0 Diamonds<\/strong> \(payments you approved one by one are not counted\)\. ?<\/p>/,
      );
      assert.doesNotMatch(body, /<script/, 'no script on the wallet page');
      await release(browser, id);
    });

    it('releases a held spend: the Diamonds come back, the history says declined, the site learns it', async () => {
      const { fan, id, browser } = await heldGift();
      assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 15, earnings: 0 });
      const transfers = await h.transferCount();
      const res = await release(browser, id);
      assert.equal(res.status, 303, await res.text());
      assert.equal(res.headers.get('Location'), `${WALLET_PATH}?released=${id}`);
      assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 0, earnings: 0 });
      assert.deepEqual(await h.balances(outsider.id), { wallet: 0, held: 0, earnings: 0 });
      assert.equal(await h.transferCount(), transfers + 1, 'one void of the hold');
      assert.equal(await statusOf(fan, id), 'declined');
      assert.equal(await eventCount('confirmation.declined', id), 1);
      const text = squash(await browser.page(`${WALLET_PATH}?released=${id}`));
      assert.match(text, /<p class="notice" role="status">Released 15 Diamonds: nothing was charged/);
      assert.match(text, /<strong id="available">100 Diamonds<\/strong>/);
      assert.match(text, /Nothing is waiting for your approval\./);
      assertRow(text, '3 × Rose for Mallory Declined: nothing was charged −15 Diamonds');
      await h.verifyClean();
    });

    it('approving from the wallet goes through the confirmation page; the wallet then shows it paid', async () => {
      const { fan, id, browser } = await heldGift();
      const link = new RegExp(`href="(/confirm/${id})"`).exec(await browser.page(WALLET_PATH))?.[1];
      assert.equal(link, `/confirm/${id}`);
      const res = await approve(browser, id);
      assert.equal(res.status, 200, await res.text());
      assert.deepEqual(await h.balances(fan.id), { wallet: 85, held: 0, earnings: 0 });
      const text = squash(await browser.page(WALLET_PATH));
      assertRow(text, '3 × Rose for Mallory Paid −15 Diamonds');
      assert.match(text, /<strong id="available">85 Diamonds<\/strong>/);
      // Released after it was approved: refused, told why, nothing moves.
      const late = await release(browser, id);
      assert.equal(late.status, 409);
      assert.deepEqual(await h.balances(fan.id), { wallet: 85, held: 0, earnings: 0 });
    });

    it('releases once however often it is posted: concurrent and repeated releases have one effect', async () => {
      const { fan, id, browser } = await heldGift();
      const csrf = csrfOf(await browser.page(WALLET_PATH));
      const transfers = await h.transferCount();
      const answers = await Promise.all(Array.from({ length: 6 }, () => release(browser, id, csrf)));
      assert.deepEqual(
        answers.map((res) => res.status),
        Array(6).fill(303),
      );
      const again = await release(browser, id, csrf);
      assert.equal(again.status, 303);
      assert.equal(await h.transferCount(), transfers + 1, 'one void, whatever the number of posts');
      assert.equal(await eventCount('confirmation.declined', id), 1);
      assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 0, earnings: 0 });
      await h.verifyClean();
    });

    it('a release racing an approval: exactly one wins, and the other is told what happened', async () => {
      for (let round = 0; round < 4; round++) {
        const { fan, id, browser } = await heldGift();
        const other = await signedInBrowser(h, fan);
        const csrf = csrfOf(await browser.page(WALLET_PATH));
        const path = `/confirm/${id}`;
        const approveCsrf = csrfOf(await other.page(path));
        const shown = await agedStamp(h.t.db, other, `confirm:${id}`);
        const earningsBefore = (await h.balances(outsider.id)).earnings;
        const [released, approved] = await Promise.all([
          release(browser, id, csrf),
          other.request(path, { form: { csrf: approveCsrf, shown, decision: 'approve' }, headers: { Origin: h.server.url } }),
        ]);
        const status = await statusOf(fan, id);
        if (status === 'declined') {
          assert.equal(released.status, 303);
          assert.equal(approved.status, 409, 'the approval is told it was already declined');
          assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 0, earnings: 0 });
          assert.equal((await h.balances(outsider.id)).earnings, earningsBefore);
        } else {
          assert.equal(status, 'approved');
          assert.equal(approved.status, 200);
          assert.equal(released.status, 409, 'the release is told it was already approved');
          assert.match(await released.text(), /already approved this spend/);
          assert.deepEqual(await h.balances(fan.id), { wallet: 85, held: 0, earnings: 0 });
          assert.ok((await h.balances(outsider.id)).earnings > earningsBefore);
        }
        assert.equal((await eventCount('confirmation.declined', id)) + (await eventCount('confirmation.approved', id)), 1);
      }
      await h.verifyClean();
    });

    it('refuses a release without the CSRF token, with another session’s, or from another origin: nothing moves', async () => {
      const { fan, id, browser } = await heldGift();
      const before = await snapshot(h, fan.id);
      const stranger = await signedInBrowser(h, await h.fan());
      const strangerCsrf = csrfOf(await stranger.page(WALLET_PATH));
      const attempts = [
        browser.request(releasePath(id), { form: {}, headers: { Origin: h.server.url } }),
        browser.request(releasePath(id), { form: { csrf: strangerCsrf }, headers: { Origin: h.server.url } }),
        browser.request(releasePath(id), {
          form: { csrf: csrfOf(await browser.page(WALLET_PATH)) },
          headers: { Origin: 'https://evil.example' },
        }),
        browser.request(releasePath(id), {
          form: { csrf: csrfOf(await browser.page(WALLET_PATH)) },
          headers: { 'Sec-Fetch-Site': 'cross-site' },
        }),
      ];
      for (const res of await Promise.all(attempts)) {
        const body = await res.text();
        assert.equal(res.status, 403, body);
        assert.match(body, /<h1>Not allowed<\/h1>/);
      }
      assert.deepEqual(await snapshot(h, fan.id), before);
      assert.equal(await statusOf(fan, id), 'pending');
      assert.equal((await release(browser, id)).status, 303);
    });

    it('another fan’s held spend cannot be released (404), nor can a made-up one: nothing moves', async () => {
      const { fan, id, browser } = await heldGift();
      const stranger = await signedInBrowser(h, await h.fan({ balance: 50 }));
      const before = await snapshot(h, fan.id);
      for (const target of [id, 'cnf_01JD3S9ZK4W8Q2V7C5XH6RTB0M', 'not-an-id']) {
        const res = await release(stranger, target);
        const body = await res.text();
        assert.equal(res.status, 404, body);
        assert.match(body, /Held spend not found/);
      }
      assert.doesNotMatch(await stranger.page(WALLET_PATH), new RegExp(id), 'nor is it shown to them');
      assert.deepEqual(await snapshot(h, fan.id), before);
      assert.equal(await statusOf(fan, id), 'pending');
      assert.equal((await release(browser, id)).status, 303);
    });

    it('an expired hold cannot be released again: 410, nothing charged either way', async () => {
      const { fan, id, browser } = await heldGift();
      const csrf = csrfOf(await browser.page(WALLET_PATH));
      await h.t.db.run('UPDATE confirmations SET expires_at = ? WHERE id = ?', [Date.now() - 1, id]);
      const before = await snapshot(h, fan.id);
      const res = await release(browser, id, csrf);
      assert.equal(res.status, 410, await res.text());
      assert.deepEqual(await snapshot(h, fan.id), before);
      assert.doesNotMatch(await browser.page(WALLET_PATH), new RegExp(releasePath(id)), 'no longer listed as held');
    });

    it('disconnects a site from the wallet: its tokens for the fan are refused at once', async () => {
      const fan = await h.fan({ allowance: 20, balance: 10 });
      const browser = await signedInBrowser(h, fan);
      assert.equal((await h.call('/wallet', { fan })).status, 200, 'the token works before');
      const page = squash(await browser.page(WALLET_PATH));
      assert.match(page, new RegExp(`<form method="post" action="/account/connections/${h.site.id}/disconnect" class="inline">`));
      const res = await browser.request(`/account/connections/${h.site.id}/disconnect`, {
        form: { csrf: csrfOf(await browser.page(WALLET_PATH)), next: `${WALLET_PATH}?disconnected=${h.site.id}` },
        headers: { Origin: h.server.url },
      });
      assert.equal(res.status, 303, await res.text());
      assert.equal(res.headers.get('Location'), `${WALLET_PATH}?disconnected=${h.site.id}`);
      await h.refused(await h.call('/wallet', { fan }), 401, 'invalid_token');
      await h.refused(await h.call('/gifts', { fan, body: { creatorId: h.creator.id, giftId: 'rose' } }), 401, 'invalid_token');
      const refreshed = await h.call('/tokens/refresh', {
        body: { refreshToken: fan.refreshToken },
        dpopProof: fan.dpop!.proof('POST', `${h.server.url}/v1/tokens/refresh`),
      });
      await h.refused(refreshed, 401, 'invalid_token');
      const after = squash(await browser.page(`${WALLET_PATH}?disconnected=${h.site.id}`));
      assert.match(after, /<p class="notice" role="status">Disconnected Ada’s page: it can no longer read your wallet/);
      assert.match(after, /You have not connected any sites\./);
      assert.deepEqual(await h.balances(fan.id), { wallet: 10, held: 0, earnings: 0 }, 'the wallet is untouched');
    });

    it('pages the history newest first without repeats, and refuses a made-up cursor with a 400 page', async () => {
      const fan = await h.fan({ allowance: 0 });
      for (let i = 1; i <= 30; i++) await h.credit(fan.id, i);
      const browser = await signedInBrowser(h, fan);
      const amounts = (body: string) => [...body.matchAll(/Test credit of (\d+) Diamonds/g)].map((m) => Number(m[1]));
      const first = await browser.page(WALLET_PATH);
      const older = /href="\/wallet\?cursor=([^"]+)">Older entries<\/a>/.exec(first);
      assert.ok(older?.[1]);
      const second = await browser.page(`${WALLET_PATH}?cursor=${older[1]}`);
      assert.match(second, /<a href="\/wallet">Newest entries<\/a>/);
      assert.doesNotMatch(second, /Older entries/);
      const seen = [...amounts(first), ...amounts(second)];
      assert.deepEqual(
        seen,
        Array.from({ length: 30 }, (_, i) => 30 - i),
      );
      const bad = await browser.request(`${WALLET_PATH}?cursor=bm90LWEtY3Vyc29y`);
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /This cursor was not issued by this list/);
    });

    it('links the signed receipt of an unlock and of an order, and labels a refunded order', async () => {
      const fan = await h.fan({ allowance: 1000, balance: 1000 });
      const browser = await signedInBrowser(h, fan);
      const published = await h.call('/content', {
        key: 'secret',
        body: { title: 'Behind <the> scenes', teaser: 'How', body: 'It rained.', priceDiamonds: 100 },
      });
      const content = (await published.json()) as { id: string };
      assert.equal(published.status, 201);
      assert.equal((await h.call(`/content/${content.id}/unlock`, { fan, body: {} })).status, 201);
      const order = await makeOrder(h, { amountDiamonds: 40, description: 'A postcard' });
      assert.equal((await h.call(`/orders/${order.id}/pay`, { fan, body: {} })).status, 200);
      assert.equal((await h.call(`/orders/${order.id}/refund`, { key: 'secret', body: {} })).status, 200);

      const text = squash(await browser.page(WALLET_PATH));
      assertRow(text, 'Order at Ada’s page: A postcard Refunded · Receipt of Order at Ada’s page: A postcard −40 Diamonds');
      assertRow(text, 'Refund: Order at Ada’s page: A postcard Received +40 Diamonds', 'the refund itself');
      assertRow(text, 'Unlock “Behind &lt;the&gt; scenes” by Ada Paid · Receipt of');
      assert.match(text, new RegExp(`<a href="/wallet/receipts/${order.id}">Receipt`));
      const unlockLink = new RegExp(`<a href="/wallet/receipts/${content.id}">Receipt`);
      assert.match(text, unlockLink);

      const receiptRes = await browser.request(`/wallet/receipts/${content.id}`);
      const receipt = squash(await receiptRes.text());
      assert.equal(receiptRes.status, 200, receipt);
      assert.match(receipt, /Unlock of “Behind &lt;the&gt; scenes”/);
      assert.match(receipt, /<dt>Paid<\/dt> <dd>100 Diamonds<\/dd> <dt>On the site<\/dt> <dd>Ada’s page<\/dd>/);
      assert.match(receipt, /Verified against the platform’s published keys/);
      const jwt = /<textarea id="receipt-jwt"[^>]*>([^<]+)<\/textarea>/.exec(receipt)?.[1];
      const fromApi = (await (await h.call(`/content/${content.id}/entitlement`, { fan })).json()) as { receipt: string };
      assert.equal(jwt, fromApi.receipt, 'the very receipt the API gives the site');
      assert.equal((await browser.request(`/wallet/receipts/${order.id}`)).status, 200);

      const stranger = await signedInBrowser(h, await h.fan());
      for (const subject of [content.id, order.id, 'ct_01JD3S9ZK4W8Q2V7C5XH6RTB0M', 'junk']) {
        assert.equal((await stranger.request(`/wallet/receipts/${subject}`)).status, 404, subject);
      }
    });
  });
}
