import { z } from 'zod';
import { idSchema } from './ids.js';
import { pageSchema } from './pagination.js';

/**
 * Most creators one site may list besides its owner (invited and accepted together): the list
 * travels with every `GET /v1/me` and `GET /v1/wallet`, as the recipients the allowance pays.
 */
export const MAX_SITE_CREATORS = 100;

/**
 * One of a site's own creators: its owner, or a creator who accepted to be listed on it. A fan's
 * daily allowance for the site pays these creators without asking, and nobody else. Public facts
 * only, readable with the publishable key.
 */
export const SiteCreator = z.object({
  object: z.literal('site_creator'),
  /** The creator's user id (`usr_…`): what a gift's `creatorId` names. */
  id: idSchema('usr'),
  displayName: z.string(),
  /** `owner`: the site's owner; `creator`: a creator who accepted to be listed on the site. */
  role: z.enum(['owner', 'creator']),
});

/** One of a site's own creators (see {@link SiteCreator}). */
export type SiteCreator = z.infer<typeof SiteCreator>;

/** `GET /v1/site/creators`: the site's owner first, then its listed creators; one page, never more. */
export const SiteCreatorList = pageSchema(SiteCreator);

/** `GET /v1/site/creators`. */
export type SiteCreatorList = z.infer<typeof SiteCreatorList>;

/**
 * Where a creator's listing on a site stands.
 *
 * - `invited`: the site's owner invited the creator, who has not answered yet (the allowance does not pay them).
 * - `accepted`: the creator accepted; the site's allowances pay them.
 * - `declined`: the creator declined the invitation.
 * - `removed`: the site's owner removed the creator, or the creator left the site.
 */
export const SiteCreatorStatus = z.enum(['invited', 'accepted', 'declined', 'removed']);

/** Where a creator's listing on a site stands (see {@link SiteCreatorStatus}). */
export type SiteCreatorStatus = z.infer<typeof SiteCreatorStatus>;

/** A creator's invitation to be listed on a site, and what became of it: for the site's backend (secret key). */
export const SiteCreatorInvitation = z.object({
  object: z.literal('site_creator_invitation'),
  siteId: idSchema('site'),
  creator: z.object({ id: idSchema('usr'), displayName: z.string() }),
  status: SiteCreatorStatus,
  /** When the (latest) invitation was made, in milliseconds since the epoch. */
  invitedAt: z.int(),
  /** When the creator answered, or the listing ended; `null` while `invited`. */
  decidedAt: z.int().nullable(),
});

/** A creator's invitation to be listed on a site (see {@link SiteCreatorInvitation}). */
export type SiteCreatorInvitation = z.infer<typeof SiteCreatorInvitation>;

/** `GET /v1/site/creators/invitations`: every invitation of the site, newest first; one page, never more. */
export const SiteCreatorInvitationList = pageSchema(SiteCreatorInvitation);

/** `GET /v1/site/creators/invitations`. */
export type SiteCreatorInvitationList = z.infer<typeof SiteCreatorInvitationList>;

/** The body of `POST /v1/site/creators/invitations`. */
export const InviteSiteCreator = z.object({
  /** The creator to invite: their user id (`usr_…`) or the email of their account. */
  creator: z.string().trim().min(1).max(254),
});

/** The body of `POST /v1/site/creators/invitations`. */
export type InviteSiteCreator = z.infer<typeof InviteSiteCreator>;
