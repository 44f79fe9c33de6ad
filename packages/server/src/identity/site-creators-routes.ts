import { Hono } from 'hono';
import { InviteSiteCreator, SiteCreatorInvitation, SiteCreatorInvitationList, SiteCreatorList, type SiteCreator } from '@diamonds/protocol';
import type { AppContext, AppEnv } from '../context.js';
import { exampleId, idParam, routesOn, type SecretCaller } from '../http/route.js';
import { findSite } from './sites.js';
import { inviteCreator, listSiteCreatorListings, removeSiteCreator, siteCreators, type SiteCreatorListing } from './site-creators.js';
import { ApiError } from '../errors.js';

const TAG = 'Sites';

const EXAMPLE_INVITATION: SiteCreatorInvitation = {
  object: 'site_creator_invitation',
  siteId: exampleId('site'),
  creator: { id: exampleId('usr', 1), displayName: 'Bo' },
  status: 'invited',
  invitedAt: 1767225600000,
  decidedAt: null,
};

/** The wire view of a listing. */
export function presentInvitation(listing: SiteCreatorListing): SiteCreatorInvitation {
  return {
    object: 'site_creator_invitation',
    siteId: listing.siteId as SiteCreatorInvitation['siteId'],
    creator: { id: listing.creatorId as SiteCreatorInvitation['creator']['id'], displayName: listing.creatorName },
    status: listing.status,
    invitedAt: listing.createdAt,
    decidedAt: listing.decidedAt,
  };
}

/**
 * `/v1/site/creators` routes: anyone with the site's key reads the creators its allowances pay;
 * the site's backend (secret key) invites and removes them.
 */
export function siteCreatorsApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const route = routesOn(api, context);

  /** The site of a secret-key call, which must still exist. */
  async function secretSite(caller: SecretCaller) {
    const site = await findSite(context.db, caller.siteId);
    if (!site) throw new ApiError('invalid_api_key', 'This key’s site no longer exists.');
    return site;
  }

  route(
    {
      method: 'get',
      path: '/site/creators',
      operationId: 'listSiteCreators',
      summary: 'List the site’s creators',
      description:
        'The creators a fan’s daily allowance for this site pays without asking: the site’s owner first, then the creators who ' +
        'accepted to be listed on it. A spend to anyone else always waits for the fan’s confirmation. Public facts only ' +
        '(id, display name), readable with the publishable key. One page, never more.',
      tag: TAG,
      auth: 'any',
      responses: {
        200: {
          description: 'The site’s creators.',
          schema: SiteCreatorList,
          example: {
            object: 'list',
            data: [
              { object: 'site_creator', id: exampleId('usr'), displayName: 'Ada', role: 'owner' },
              { object: 'site_creator', id: exampleId('usr', 1), displayName: 'Bo', role: 'creator' },
            ],
            hasMore: false,
            nextCursor: null,
          },
        },
      },
    },
    async (c, { caller }) => {
      const data: SiteCreator[] = (await siteCreators(context.db, caller.siteId)).map((creator) => ({
        object: 'site_creator',
        id: creator.id as SiteCreator['id'],
        displayName: creator.displayName,
        role: creator.role,
      }));
      // Every gift button of a page asks at once: for a few seconds the browser answers the others
      // from its cache (it holds back same-URL requests until the first answer is in).
      c.header('Cache-Control', 'private, max-age=5');
      return c.json({ object: 'list', data, hasMore: false, nextCursor: null } satisfies SiteCreatorList);
    },
  );

  route(
    {
      method: 'get',
      path: '/site/creators/invitations',
      operationId: 'listSiteCreatorInvitations',
      summary: 'List the site’s creator invitations',
      description:
        'With the secret key: every creator the site invited and where each stands (`invited`, `accepted`, `declined`, ' +
        '`removed`), open invitations and listed creators first, newest first within each.',
      tag: TAG,
      auth: 'secret',
      responses: {
        200: {
          description: 'The invitations.',
          schema: SiteCreatorInvitationList,
          example: { object: 'list', data: [EXAMPLE_INVITATION], hasMore: false, nextCursor: null },
        },
      },
    },
    async (c, { caller }) => {
      const site = await secretSite(caller);
      const data = (await listSiteCreatorListings(context.db, site.id)).map(presentInvitation);
      c.header('Cache-Control', 'no-store');
      return c.json({ object: 'list', data, hasMore: false, nextCursor: null } satisfies SiteCreatorInvitationList);
    },
  );

  route(
    {
      method: 'post',
      path: '/site/creators/invitations',
      operationId: 'inviteSiteCreator',
      summary: 'Invite a creator to be listed on the site',
      description:
        'With the secret key: invites a creator (by user id or account email) to be one of the site’s creators. The creator ' +
        'accepts or declines on the platform’s account page; once accepted, fans’ allowances for the site pay them without ' +
        'asking. Answers 201 with a new invitation, 200 when the creator was already invited or listed (nothing changes).',
      tag: TAG,
      auth: 'secret',
      body: InviteSiteCreator,
      bodyExample: { creator: 'bo@example.com' },
      responses: {
        201: { description: 'The new invitation.', schema: SiteCreatorInvitation, example: EXAMPLE_INVITATION },
        200: {
          description: 'The creator was already invited or listed.',
          schema: SiteCreatorInvitation,
          example: { ...EXAMPLE_INVITATION, status: 'accepted', decidedAt: 1767229200000 },
        },
      },
      errors: ['creator_not_found', 'too_many_site_creators'],
    },
    async (c, { caller, body }) => {
      const site = await secretSite(caller);
      const { listing, created } = await inviteCreator(context.db, { siteId: site.id, creator: body.creator, invitedBy: site.ownerId });
      return c.json(presentInvitation(listing), created ? 201 : 200);
    },
  );

  route(
    {
      method: 'delete',
      path: '/site/creators/{creatorId}',
      operationId: 'removeSiteCreator',
      summary: 'Remove a creator from the site',
      description:
        'With the secret key: withdraws an invitation, or removes a listed creator, whom fans’ allowances for the site stop ' +
        'paying at once (a spend to them then waits for the fan’s confirmation). Removing again answers the same.',
      tag: TAG,
      auth: 'secret',
      params: { creatorId: idParam('usr', 'The creator’s user id, `usr_…`.') },
      responses: {
        200: {
          description: 'The invitation, now `removed`.',
          schema: SiteCreatorInvitation,
          example: { ...EXAMPLE_INVITATION, status: 'removed', decidedAt: 1767229200000 },
        },
      },
      errors: ['site_creator_not_found'],
    },
    async (c, { caller, params }) => {
      const site = await secretSite(caller);
      return c.json(presentInvitation(await removeSiteCreator(context.db, site.id, params.creatorId)));
    },
  );

  return api;
}
