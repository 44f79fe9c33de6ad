// The account page's part about a site's own creators: the owner invites and removes creators,
// a creator accepts, declines or leaves; and what the fans' allowances then pay.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { emailOf, postGift, signedInBrowser } from '../gifts/testing.js';
import { isSiteCreator, listSiteCreatorListings } from '../identity/site-creators.js';
import { createUser } from '../identity/users.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, TEST_SCRYPT_COST, type MoneyHarness } from '../testing/money.js';
import { csrfOf, unescapeHtml, type Browser } from './testing.js';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`the account page's site creators on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let owner: Browser;
    before(async () => {
      h = await startMoneyHarness(kind);
      owner = await signedInBrowser(h, h.creator);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    /** Posts a form of the account page as the browser would: its CSRF token, from the platform's own origin. */
    async function post(browser: Browser, path: string, form: Record<string, string> = {}): Promise<Response> {
      const csrf = csrfOf(await browser.page('/account'));
      return browser.request(path, { form: { csrf, ...form }, headers: { Origin: h.server.url } });
    }

    const statusOf = async (creatorId: string) =>
      (await listSiteCreatorListings(h.t.db, h.site.id)).find((listing) => listing.creatorId === creatorId)?.status;

    it('the owner invites a creator by email; the creator accepts on their account page; the allowance then pays them', async () => {
      assert.match(unescapeHtml(await owner.page('/account')), /Creators on Ada’s page[\s\S]*Only you, for now\./);
      const grace = await h.newCreator('Grace');
      const invited = await post(owner, `/account/sites/${h.site.id}/creators`, { creator: await emailOf(h, grace.id) });
      const body = unescapeHtml(await invited.text());
      assert.equal(invited.status, 200, body);
      assert.match(body, /Invited Grace to Ada’s page/);
      assert.match(body, new RegExp(`Grace <code>${grace.id}</code>: invited, waiting for their answer`));
      assert.equal(await statusOf(grace.id), 'invited');

      const fan = await h.fan({ allowance: 50, balance: 50 });
      assert.equal((await postGift(h, fan, { creatorId: grace.id, giftId: 'rose' })).status, 202, 'invited is not yet listed');

      const graceBrowser = await signedInBrowser(h, grace);
      const page = unescapeHtml(await graceBrowser.page('/account'));
      assert.match(page, /<h2>Sites that list you<\/h2>/);
      assert.match(
        page,
        /<strong>Ada’s page<\/strong> \(<code>http:\/\/127\.0\.0\.1:5173<\/code>\) invites you to be one of its creators\./,
      );
      const accepted = await post(graceBrowser, `/account/listings/${h.site.id}/accept`);
      assert.equal(accepted.status, 303);
      assert.equal(accepted.headers.get('Location'), '/account');
      assert.equal(await statusOf(grace.id), 'accepted');
      assert.match(
        unescapeHtml(await graceBrowser.page('/account')),
        /<strong>Ada’s page<\/strong> \(.*\) lists you as one of its creators\./,
      );
      assert.equal((await postGift(h, fan, { creatorId: grace.id, giftId: 'rose' })).status, 201, 'listed: paid at once');

      // She leaves: paid no more without asking.
      assert.equal((await post(graceBrowser, `/account/listings/${h.site.id}/leave`)).status, 303);
      assert.equal(await statusOf(grace.id), 'removed');
      assert.equal((await postGift(h, fan, { creatorId: grace.id, giftId: 'rose' })).status, 202);
    });

    it('the owner removes a listed creator and withdraws an invitation; a creator declines', async () => {
      const [lin, kay] = [await h.newCreator('Lin', { listed: true }), await h.newCreator('Kay')];
      await post(owner, `/account/sites/${h.site.id}/creators`, { creator: kay.id });
      assert.equal(await statusOf(kay.id), 'invited');
      const removed = await post(owner, `/account/sites/${h.site.id}/creators/${lin.id}/remove`);
      assert.equal(removed.status, 200);
      assert.match(unescapeHtml(await removed.text()), /Lin is no longer on Ada’s page/);
      assert.equal(await isSiteCreator(h.t.db, h.site.id, lin.id), false);
      assert.equal((await post(owner, `/account/sites/${h.site.id}/creators/${kay.id}/remove`)).status, 200);
      assert.equal(await statusOf(kay.id), 'removed');
      assert.equal((await post(owner, `/account/sites/${h.site.id}/creators/usr_nope/remove`)).status, 404);

      await post(owner, `/account/sites/${h.site.id}/creators`, { creator: kay.id });
      const kayBrowser = await signedInBrowser(h, kay);
      assert.equal((await post(kayBrowser, `/account/listings/${h.site.id}/decline`)).status, 303);
      assert.equal(await statusOf(kay.id), 'declined');
      assert.equal((await post(kayBrowser, `/account/listings/${h.site.id}/accept`)).status, 404, 'nothing left to accept');
      assert.equal(await isSiteCreator(h.t.db, h.site.id, kay.id), false);
    });

    it('re-renders a bad invitation beside its form, and lets nobody but the owner invite', async () => {
      const bad = await post(owner, `/account/sites/${h.site.id}/creators`, { creator: 'nobody@example.com' });
      const body = await bad.text();
      assert.equal(bad.status, 404);
      assert.match(body, /<div class="alert" role="alert" id="invite-form-site_\w+-error"><p>No creator &quot;nobody@example.com&quot;/);
      assert.match(body, new RegExp(`id="invite-${h.site.id}"[^>]*value="nobody@example.com"[^>]*aria-invalid="true"`));
      assert.equal((await post(owner, `/account/sites/${h.site.id}/creators`, { creator: 'Grace' })).status, 400);
      assert.equal((await post(owner, `/account/sites/${h.site.id}/creators`, { creator: h.creator.id })).status, 400, 'the owner');

      // Another creator cannot invite to, or remove from, a site they do not own.
      const other = await h.newCreator('Other');
      const otherBrowser = await signedInBrowser(h, other);
      const before = await listSiteCreatorListings(h.t.db, h.site.id);
      assert.equal((await post(otherBrowser, `/account/sites/${h.site.id}/creators`, { creator: other.id })).status, 404);
      assert.deepEqual(await listSiteCreatorListings(h.t.db, h.site.id), before);

      // A fan is no creator; a form without its CSRF token is refused.
      const fanUser = await createUser(
        h.t.db,
        { email: `fan-page-${kind}@example.com`, password: 'a long password', displayName: 'Fan', roles: ['fan'] },
        { cost: TEST_SCRYPT_COST },
      );
      assert.equal((await post(await signedInBrowser(h, fanUser), `/account/listings/${h.site.id}/accept`)).status, 403);
      const noCsrf = await owner.request(`/account/sites/${h.site.id}/creators`, {
        form: { creator: other.id },
        headers: { Origin: h.server.url },
      });
      assert.equal(noCsrf.status, 403);
      assert.deepEqual(await listSiteCreatorListings(h.t.db, h.site.id), before);
    });
  });
}
