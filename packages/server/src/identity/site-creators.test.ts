import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SITE_CREATORS, SiteCreatorInvitation, SiteCreatorInvitationList, SiteCreatorList } from '@diamonds/protocol';
import { rejectsWith } from '../testing/assertions.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness } from '../testing/money.js';
import {
  allowanceRecipients,
  answerInvitation,
  creatorListings,
  inviteCreator,
  isSiteCreator,
  leaveSite,
  listSiteCreatorListings,
  removeSiteCreator,
  siteCreators,
} from './site-creators.js';
import { createSite, type Site } from './sites.js';
import { createUser, type User } from './users.js';

/** Cheap scrypt for tests. */
const cost = { N: 2 ** 10, r: 8, p: 1 };

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`a site's creators on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let owner: User;
    let site: Site;
    let users = 0;
    const user = (name: string, roles: ('fan' | 'creator')[] = ['creator']) =>
      createUser(
        t.db,
        { email: `${name.toLowerCase()}${++users}@example.com`, password: 'a long password', displayName: name, roles },
        { cost },
      );

    before(async () => {
      t = await createTestDatabase(kind);
      owner = await user('Ada');
      site = (await createSite(t.db, { ownerId: owner.id, name: 'Ada’s page', origins: ['https://ada.example'] })).site;
    });
    after(async () => {
      if (t) await t.drop();
    });

    it('lists the owner alone at first; an invited creator is not paid until they accept', async () => {
      assert.deepEqual(await siteCreators(t.db, site.id), [{ id: owner.id, displayName: 'Ada', role: 'owner' }]);
      assert.deepEqual(await allowanceRecipients(t.db, site.id), [owner.id]);
      assert.equal(await isSiteCreator(t.db, site.id, owner.id), true);
      assert.deepEqual(await allowanceRecipients(t.db, 'site_nope'), []);

      const grace = await user('Grace');
      const invited = await inviteCreator(t.db, { siteId: site.id, creator: grace.email.toUpperCase(), invitedBy: owner.id }, 1_000);
      assert.equal(invited.created, true);
      assert.deepEqual(invited.listing, {
        siteId: site.id,
        creatorId: grace.id,
        creatorName: 'Grace',
        status: 'invited',
        invitedBy: owner.id,
        createdAt: 1_000,
        decidedAt: null,
      });
      assert.equal(await isSiteCreator(t.db, site.id, grace.id), false, 'invited is not listed');
      assert.deepEqual(await allowanceRecipients(t.db, site.id), [owner.id]);
      const again = await inviteCreator(t.db, { siteId: site.id, creator: grace.id, invitedBy: owner.id }, 2_000);
      assert.equal(again.created, false, 'inviting again changes nothing');
      assert.equal(again.listing.createdAt, 1_000);
      assert.deepEqual(
        (await creatorListings(t.db, grace.id)).map(({ listing, site: s }) => [s.name, listing.status]),
        [['Ada’s page', 'invited']],
      );

      const accepted = await answerInvitation(t.db, { siteId: site.id, creatorId: grace.id, accept: true }, 3_000);
      assert.equal(accepted.status, 'accepted');
      assert.equal(accepted.decidedAt, 3_000);
      assert.equal(
        (await answerInvitation(t.db, { siteId: site.id, creatorId: grace.id, accept: true })).status,
        'accepted',
        'again: same',
      );
      await rejectsWith(answerInvitation(t.db, { siteId: site.id, creatorId: grace.id, accept: false }), 'site_creator_not_found');
      assert.equal(await isSiteCreator(t.db, site.id, grace.id), true);
      assert.deepEqual(await siteCreators(t.db, site.id), [
        { id: owner.id, displayName: 'Ada', role: 'owner' },
        { id: grace.id, displayName: 'Grace', role: 'creator' },
      ]);
      assert.equal((await inviteCreator(t.db, { siteId: site.id, creator: grace.id, invitedBy: owner.id })).created, false);

      // The creator leaves: paid no more. Invited again, she must accept again.
      assert.equal((await leaveSite(t.db, site.id, grace.id, 4_000)).status, 'removed');
      await rejectsWith(leaveSite(t.db, site.id, grace.id), 'site_creator_not_found');
      assert.equal(await isSiteCreator(t.db, site.id, grace.id), false);
      const reinvited = await inviteCreator(t.db, { siteId: site.id, creator: grace.id, invitedBy: null }, 5_000);
      assert.deepEqual([reinvited.created, reinvited.listing.status, reinvited.listing.invitedBy], [true, 'invited', null]);
      assert.equal(await isSiteCreator(t.db, site.id, grace.id), false);
      assert.equal((await answerInvitation(t.db, { siteId: site.id, creatorId: grace.id, accept: false })).status, 'declined');
      assert.equal(await isSiteCreator(t.db, site.id, grace.id), false);
      assert.deepEqual(await creatorListings(t.db, grace.id), [], 'a declined invitation is no longer shown to the creator');
    });

    it('the owner removes a listed creator or withdraws an invitation; removing again answers the same', async () => {
      const [lin, kay] = [await user('Lin'), await user('Kay')];
      await inviteCreator(t.db, { siteId: site.id, creator: lin.id, invitedBy: owner.id });
      await answerInvitation(t.db, { siteId: site.id, creatorId: lin.id, accept: true });
      await inviteCreator(t.db, { siteId: site.id, creator: kay.id, invitedBy: owner.id });
      assert.equal((await removeSiteCreator(t.db, site.id, lin.id)).status, 'removed');
      assert.equal((await removeSiteCreator(t.db, site.id, lin.id)).status, 'removed');
      assert.equal((await removeSiteCreator(t.db, site.id, kay.id)).status, 'removed');
      await rejectsWith(answerInvitation(t.db, { siteId: site.id, creatorId: kay.id, accept: true }), 'site_creator_not_found');
      await rejectsWith(removeSiteCreator(t.db, site.id, owner.id), 'site_creator_not_found');
      assert.equal(await isSiteCreator(t.db, site.id, lin.id), false);
      const statuses = (await listSiteCreatorListings(t.db, site.id)).map((listing) => [listing.creatorName, listing.status]);
      assert.deepEqual(statuses.filter(([name]) => name === 'Lin' || name === 'Kay').sort(), [
        ['Kay', 'removed'],
        ['Lin', 'removed'],
      ]);
    });

    it('lists only creators, never the owner, and says what was wrong', async () => {
      const fanOnly = await user('Fan', ['fan']);
      await rejectsWith(inviteCreator(t.db, { siteId: site.id, creator: owner.id, invitedBy: owner.id }), 'invalid_request', 'creator');
      await rejectsWith(inviteCreator(t.db, { siteId: site.id, creator: fanOnly.id, invitedBy: owner.id }), 'creator_not_found', 'creator');
      await rejectsWith(inviteCreator(t.db, { siteId: site.id, creator: fanOnly.email, invitedBy: owner.id }), 'creator_not_found');
      await rejectsWith(inviteCreator(t.db, { siteId: site.id, creator: 'nobody@example.com', invitedBy: owner.id }), 'creator_not_found');
      await rejectsWith(
        inviteCreator(t.db, { siteId: site.id, creator: 'usr_01JD3S9ZK4W8Q2V7C5XH6RTB0M', invitedBy: owner.id }),
        'creator_not_found',
      );
      for (const bad of ['', '   ', 'Grace', 42, null, 'x'.repeat(300)]) {
        await rejectsWith(inviteCreator(t.db, { siteId: site.id, creator: bad, invitedBy: owner.id }), 'invalid_request', 'creator');
      }
      await rejectsWith(inviteCreator(t.db, { siteId: 'site_nope', creator: owner.id, invitedBy: owner.id }), 'site_not_found');
    });

    it(`invites at most ${MAX_SITE_CREATORS} creators per site, counting open invitations and listed creators`, async () => {
      const { site: busy } = await createSite(t.db, { ownerId: owner.id, name: 'Busy', origins: ['https://busy.example'] });
      const creators: User[] = [];
      for (let i = 0; i <= MAX_SITE_CREATORS; i++) creators.push(await user(`C${i}`));
      for (const creator of creators.slice(0, MAX_SITE_CREATORS)) {
        await inviteCreator(t.db, { siteId: busy.id, creator: creator.id, invitedBy: owner.id });
      }
      const last = creators[MAX_SITE_CREATORS]!;
      await rejectsWith(inviteCreator(t.db, { siteId: busy.id, creator: last.id, invitedBy: owner.id }), 'too_many_site_creators');
      await removeSiteCreator(t.db, busy.id, creators[0]!.id);
      assert.equal((await inviteCreator(t.db, { siteId: busy.id, creator: last.id, invitedBy: owner.id })).created, true);
    });
  });

  // `skip` (above): only outside CI, loudly, when PostgreSQL is unreachable; under CI=true that fails instead.
  describe(`the site creators API on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    before(async () => {
      h = await startMoneyHarness(kind);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    it('reads the creators with either key; invites, lists and removes them with the secret key only', async () => {
      const publicList = async () => {
        const response = await h.call('/site/creators');
        // Five seconds at most in the browser's cache: the gift buttons of one page share one answer.
        assert.equal(response.headers.get('cache-control'), 'private, max-age=5');
        return SiteCreatorList.parse(await response.json());
      };
      assert.deepEqual((await publicList()).data, [
        { object: 'site_creator', id: h.creator.id, displayName: h.creator.displayName, role: 'owner' },
      ]);
      const grace = await h.newCreator('Grace');
      const email = (await h.t.db.query<{ email: string }>('SELECT email FROM users WHERE id = ?', [grace.id]))[0]!.email;

      await h.refused(await h.call('/site/creators/invitations', { body: { creator: grace.id } }), 403, 'permission_denied');
      await h.refused(await h.call('/site/creators/invitations'), 403, 'permission_denied');
      await h.refused(await h.call(`/site/creators/${grace.id}`, { method: 'DELETE' }), 403, 'permission_denied');
      assert.equal((await listSiteCreatorListings(h.t.db, h.site.id)).length, 0, 'nothing was invited with the publishable key');

      const invited = await h.call('/site/creators/invitations', { key: 'secret', body: { creator: email } });
      assert.equal(invited.status, 201);
      const invitation = SiteCreatorInvitation.parse(await invited.json());
      assert.deepEqual(
        { ...invitation, invitedAt: 0 },
        {
          object: 'site_creator_invitation',
          siteId: h.site.id,
          creator: { id: grace.id, displayName: 'Grace' },
          status: 'invited',
          invitedAt: 0,
          decidedAt: null,
        },
      );
      const again = await h.call('/site/creators/invitations', { key: 'secret', body: { creator: grace.id } });
      assert.equal(again.status, 200);
      assert.deepEqual(SiteCreatorInvitation.parse(await again.json()), invitation);
      assert.equal((await publicList()).data.length, 1, 'not listed before she accepts');

      await answerInvitation(h.t.db, { siteId: h.site.id, creatorId: grace.id, accept: true });
      assert.deepEqual(
        (await publicList()).data.map((entry) => [entry.id, entry.role]),
        [
          [h.creator.id, 'owner'],
          [grace.id, 'creator'],
        ],
      );
      const listed = SiteCreatorInvitationList.parse(await (await h.call('/site/creators/invitations', { key: 'secret' })).json());
      assert.deepEqual(
        listed.data.map((entry) => [entry.creator.id, entry.status]),
        [[grace.id, 'accepted']],
      );

      const removed = await h.call(`/site/creators/${grace.id}`, { key: 'secret', method: 'DELETE' });
      assert.equal(removed.status, 200);
      assert.equal(SiteCreatorInvitation.parse(await removed.json()).status, 'removed');
      assert.equal((await publicList()).data.length, 1);
      assert.equal((await h.call(`/site/creators/${grace.id}`, { key: 'secret', method: 'DELETE' })).status, 200);
    });

    it('refuses bad input with a stable code', async () => {
      const fan = await h.fan();
      await h.refused(await h.call('/site/creators/invitations', { key: 'secret', body: {} }), 400, 'invalid_request');
      await h.refused(await h.call('/site/creators/invitations', { key: 'secret', body: { creator: 7 } }), 400, 'invalid_request');
      await h.refused(await h.call('/site/creators/invitations', { key: 'secret', body: { creator: 'Grace' } }), 400, 'invalid_request');
      await h.refused(await h.call('/site/creators/invitations', { key: 'secret', body: { creator: fan.id } }), 404, 'creator_not_found');
      await h.refused(
        await h.call('/site/creators/invitations', { key: 'secret', body: { creator: h.creator.id } }),
        400,
        'invalid_request',
      );
      await h.refused(await h.call('/site/creators/usr_nope', { key: 'secret', method: 'DELETE' }), 400, 'invalid_id');
      await h.refused(
        await h.call('/site/creators/usr_01JD3S9ZK4W8Q2V7C5XH6RTB0M', { key: 'secret', method: 'DELETE' }),
        404,
        'site_creator_not_found',
      );
      await h.refused(await h.call('/site/creators', { origin: 'https://evil.example' }), 403, 'origin_not_allowed');
    });

    it('tells the signed-in fan’s page whom the allowance pays: GET /v1/me and GET /v1/wallet', async () => {
      const fan = await h.fan({ allowance: 20 });
      const lin = await h.newCreator('Lin');
      await inviteCreator(h.t.db, { siteId: h.site.id, creator: lin.id, invitedBy: h.creator.id });
      const recipients = async () => ({
        me: ((await (await h.call('/me', { fan })).json()) as { allowanceRecipients: string[] }).allowanceRecipients,
        wallet: ((await (await h.call('/wallet', { fan })).json()) as { allowanceRecipients: string[] }).allowanceRecipients,
      });
      assert.deepEqual(await recipients(), { me: [h.creator.id], wallet: [h.creator.id] });
      await answerInvitation(h.t.db, { siteId: h.site.id, creatorId: lin.id, accept: true });
      assert.deepEqual(await recipients(), { me: [h.creator.id, lin.id], wallet: [h.creator.id, lin.id] });
      await removeSiteCreator(h.t.db, h.site.id, lin.id);
    });
  });
}
