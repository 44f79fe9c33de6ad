import { Hono, type Context } from 'hono';
import {
  InviteSiteCreator,
  SiteCreatorInvitation,
  SiteCreatorInvitationList,
  SiteCreatorList,
  type ErrorCode,
  type SiteCreator,
} from '@diamonds/protocol';
import type { AppContext, AppEnv } from '../context.js';
import { validate } from '../http/body.js';
import { pathId } from '../http/ids.js';
import { findSite } from '../identity/sites.js';
import {
  inviteCreator,
  listSiteCreatorListings,
  removeSiteCreator,
  siteCreators,
  type SiteCreatorListing,
} from '../identity/site-creators.js';
import { ApiError } from '../errors.js';
import { secretSiteOf } from './money-route.js';
import { documentRoute } from './openapi.js';

const SECRET_ERRORS: readonly ErrorCode[] = ['permission_denied', 'secret_key_in_browser', 'invalid_api_key'];

documentRoute({
  method: 'get',
  path: '/v1/site/creators',
  summary: 'List the site’s creators',
  description:
    'The creators a fan’s daily allowance for this site pays without asking: the site’s owner first, then the creators who ' +
    'accepted to be listed on it. A spend to anyone else always waits for the fan’s confirmation. Public facts only ' +
    '(id, display name), readable with the publishable key. One page, never more.',
  tag: 'Sites',
  auth: 'any',
  responses: { 200: { description: 'The site’s creators.', schema: SiteCreatorList } },
  errors: ['invalid_api_key', 'origin_not_allowed'],
});
documentRoute({
  method: 'get',
  path: '/v1/site/creators/invitations',
  summary: 'List the site’s creator invitations',
  description:
    'With the secret key: every creator the site invited and where each stands (`invited`, `accepted`, `declined`, ' +
    '`removed`), open invitations and listed creators first, newest first within each.',
  tag: 'Sites',
  auth: 'secret',
  responses: { 200: { description: 'The invitations.', schema: SiteCreatorInvitationList } },
  errors: SECRET_ERRORS,
});
documentRoute({
  method: 'post',
  path: '/v1/site/creators/invitations',
  summary: 'Invite a creator to be listed on the site',
  description:
    'With the secret key: invites a creator (by user id or account email) to be one of the site’s creators. The creator ' +
    'accepts or declines on the platform’s account page; once accepted, fans’ allowances for the site pay them without ' +
    'asking. Answers 201 with a new invitation, 200 when the creator was already invited or listed (nothing changes).',
  tag: 'Sites',
  auth: 'secret',
  body: InviteSiteCreator,
  responses: {
    201: { description: 'The new invitation.', schema: SiteCreatorInvitation },
    200: { description: 'The creator was already invited or listed.', schema: SiteCreatorInvitation },
  },
  errors: ['invalid_request', 'creator_not_found', 'too_many_site_creators', ...SECRET_ERRORS],
});
documentRoute({
  method: 'delete',
  path: '/v1/site/creators/{creatorId}',
  summary: 'Remove a creator from the site',
  description:
    'With the secret key: withdraws an invitation, or removes a listed creator, whom fans’ allowances for the site stop ' +
    'paying at once (a spend to them then waits for the fan’s confirmation). Removing again answers the same.',
  tag: 'Sites',
  auth: 'secret',
  params: { creatorId: 'The creator’s user id, usr_…' },
  responses: { 200: { description: 'The invitation, now `removed`.', schema: SiteCreatorInvitation } },
  errors: ['site_creator_not_found', ...SECRET_ERRORS],
});

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

/** The site of a secret-key call, which must still exist. */
async function secretSite(c: Context<AppEnv>, context: AppContext) {
  const site = await findSite(context.db, secretSiteOf(c));
  if (!site) throw new ApiError('invalid_api_key', 'This key’s site no longer exists.');
  return site;
}

/**
 * `/v1/site/creators` routes: anyone with the site's key reads the creators its allowances pay;
 * the site's backend (secret key) invites and removes them.
 */
export function siteCreatorsApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();

  api.get('/site/creators', async (c) => {
    const data: SiteCreator[] = (await siteCreators(context.db, c.get('caller').siteId)).map((creator) => ({
      object: 'site_creator',
      id: creator.id as SiteCreator['id'],
      displayName: creator.displayName,
      role: creator.role,
    }));
    return c.json({ object: 'list', data, hasMore: false, nextCursor: null } satisfies SiteCreatorList);
  });

  api.get('/site/creators/invitations', async (c) => {
    const site = await secretSite(c, context);
    const data = (await listSiteCreatorListings(context.db, site.id)).map(presentInvitation);
    c.header('Cache-Control', 'no-store');
    return c.json({ object: 'list', data, hasMore: false, nextCursor: null } satisfies SiteCreatorInvitationList);
  });

  api.post('/site/creators/invitations', async (c) => {
    const site = await secretSite(c, context);
    const body = validate(InviteSiteCreator, c.get('json'));
    const { listing, created } = await inviteCreator(context.db, { siteId: site.id, creator: body.creator, invitedBy: site.ownerId });
    return c.json(presentInvitation(listing), created ? 201 : 200);
  });

  api.delete('/site/creators/:creatorId', async (c) => {
    const site = await secretSite(c, context);
    const creatorId = pathId(c, 'usr', 'creatorId');
    return c.json(presentInvitation(await removeSiteCreator(context.db, site.id, creatorId)));
  });

  return api;
}
