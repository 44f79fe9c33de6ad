import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { isId } from '@diamonds/protocol';
import type { Database } from '../db/types.js';
import { ApiError, isApiError } from '../errors.js';
import type { Session } from '../identity/sessions.js';
import type { Site } from '../identity/sites.js';
import { answerInvitation, inviteCreator, leaveSite, removeSiteCreator, type SiteCreatorListing } from '../identity/site-creators.js';
import { problemFor, text, type PagesEnv } from './forms.js';
import { alertBox, csrfField, field, type FormProblem, type Html } from './layout.js';

/*
 * The account page's part about a site's own creators (whom fans' allowances for the site pay
 * without asking): the site's owner invites and removes creators beside each of their sites; a
 * creator sees the invitations they got, accepts or declines them, and leaves sites that list
 * them. The routes are the account page's own forms (same-origin, CSRF-checked, signed in).
 */

/** The invite form's id on the account page, for its problem. */
export function inviteFormId(siteId: string): string {
  return `invite-form-${siteId}`;
}

function inviteFields(siteId: string) {
  return { creator: [`invite-${siteId}`, 'Creator’s email or user id'] } as const;
}

const STATUS_WORDS: Record<SiteCreatorListing['status'], string> = {
  invited: 'invited, waiting for their answer',
  accepted: 'listed',
  declined: 'declined',
  removed: 'removed',
};

/**
 * The "Creators on this site" part of one of the owner's sites: who is listed or invited, a
 * remove button each, and the invite form (with its problem, and the value to put back).
 */
export function siteCreatorsPart(
  site: Site,
  listings: readonly SiteCreatorListing[],
  csrf: string,
  state: { problem?: FormProblem | undefined; value?: string | undefined } = {},
): Html {
  const open = listings.filter((listing) => listing.status === 'invited' || listing.status === 'accepted');
  return html`<h4>Creators on ${site.name}</h4>
    <p class="muted">
      Fans’ daily allowances for ${site.name} pay you and the creators listed here without asking. A payment to anyone else always waits for
      the fan’s confirmation. A creator you invite accepts on their own account page.
    </p>
    ${
      open.length === 0
        ? html`<p class="muted">Only you, for now.</p>`
        : html`<ul>
            ${open.map(
              (listing) =>
                html`<li>
                  ${listing.creatorName} <code>${listing.creatorId}</code>: ${STATUS_WORDS[listing.status]}
                  <form method="post" action="/account/sites/${site.id}/creators/${listing.creatorId}/remove" class="inline">
                    ${csrfField(csrf)}
                    <button type="submit" class="secondary">
                      ${listing.status === 'invited' ? 'Withdraw the invitation of' : 'Remove'} ${listing.creatorName}
                    </button>
                  </form>
                </li>`,
            )}
          </ul>`
    }
    ${alertBox(state.problem, `${inviteFormId(site.id)}-error`)}
    <form method="post" action="/account/sites/${site.id}/creators" class="row">
      ${csrfField(csrf)}
      ${field({
        id: `invite-${site.id}`,
        name: 'creator',
        label: `Invite a creator to ${site.name}: their email or user id`,
        type: 'text',
        autocomplete: 'off',
        value: state.value,
        required: true,
        maxLength: 254,
        problem: state.problem,
      })}
      <button type="submit">Invite</button>
    </form>`;
}

/**
 * The "Sites that list you" section of a creator's account page: invitations to accept or
 * decline, and the sites that list them, to leave.
 */
export function creatorListingsSection(listings: readonly { listing: SiteCreatorListing; site: Site }[], csrf: string): Html {
  const invitations = listings.filter(({ listing }) => listing.status === 'invited');
  const listed = listings.filter(({ listing }) => listing.status === 'accepted');
  const origins = (site: Site) => site.origins.map((origin, i) => html`${i > 0 ? ', ' : ''}<code>${origin}</code>`);
  return html`<h2>Sites that list you</h2>
    <p class="muted">
      A site that lists you may pay you from its fans’ daily allowances without asking them. Accept only sites you know and work with.
    </p>
    ${invitations.length === 0 && listed.length === 0 ? html`<p class="muted">No site lists you, and no invitation is waiting.</p>` : ''}
    ${
      invitations.length === 0
        ? ''
        : html`<h3>Invitations</h3>
            <ul class="plain">
              ${invitations.map(
                ({ site }) =>
                  html`<li class="item">
                    <p><strong>${site.name}</strong> (${origins(site)}) invites you to be one of its creators.</p>
                    <form method="post" action="/account/listings/${site.id}/decline" class="inline">
                      ${csrfField(csrf)}
                      <button type="submit" class="secondary">Decline ${site.name}</button>
                    </form>
                    <form method="post" action="/account/listings/${site.id}/accept" class="inline">
                      ${csrfField(csrf)}
                      <button type="submit">Accept ${site.name}</button>
                    </form>
                  </li>`,
              )}
            </ul>`
    }
    ${
      listed.length === 0
        ? ''
        : html`<h3>Listed on</h3>
            <ul class="plain">
              ${listed.map(
                ({ site }) =>
                  html`<li class="item">
                    <p><strong>${site.name}</strong> (${origins(site)}) lists you as one of its creators.</p>
                    <form method="post" action="/account/listings/${site.id}/leave" class="inline">
                      ${csrfField(csrf)}
                      <button type="submit" class="secondary">Leave ${site.name}</button>
                    </form>
                  </li>`,
              )}
            </ul>`
    }`;
}

/** What the account page's render gets back from a form of this part. */
export interface SiteCreatorsFormState {
  /** The invite form of this site had this problem; put `value` back. */
  invite?: { siteId: string; problem: FormProblem; value: string };
  notice?: string;
}

/** What these routes need from the account page. */
export interface AccountPageHooks {
  /** The session and form of a signed-in, CSRF-checked POST, or a response to send. */
  signedInForm(
    c: Context<PagesEnv>,
  ): Promise<{ session: Session; form: Record<string, string> } | { session: Session; error: ApiError } | Response>;
  /** The signed-in creator's own site. @throws {@link ApiError} `permission_denied`, `site_not_found` */
  ownedSite(session: Session, siteId: string): Promise<Site>;
  /** Renders the account page with this part's state. */
  render(c: Context<PagesEnv>, session: Session, state: SiteCreatorsFormState): Promise<Html>;
}

function creatorOnly(session: Session): void {
  if (!session.user.roles.includes('creator')) throw new ApiError('permission_denied', 'Only creators can be listed on sites.');
}

/** Adds the forms of this part to the account page: invite and remove (owner), accept, decline and leave (creator). */
export function siteCreatorRoutes(pages: Hono<PagesEnv>, db: Database, hooks: AccountPageHooks): void {
  pages.post('/account/sites/:siteId/creators', async (c) => {
    const got = await hooks.signedInForm(c);
    if (got instanceof Response) return got;
    const site = await hooks.ownedSite(got.session, c.req.param('siteId'));
    const fields = inviteFields(site.id);
    if ('error' in got) {
      return c.html(
        await hooks.render(c, got.session, { invite: { siteId: site.id, problem: problemFor(got.error, fields), value: '' } }),
        400,
      );
    }
    const value = text(got.form, 'creator');
    try {
      const { listing, created } = await inviteCreator(db, { siteId: site.id, creator: value, invitedBy: got.session.user.id });
      const notice = created
        ? `Invited ${listing.creatorName} to ${site.name}. Fans’ allowances pay them once they accept on their account page.`
        : `${listing.creatorName} is already ${STATUS_WORDS[listing.status]} on ${site.name}.`;
      return c.html(await hooks.render(c, got.session, { notice }));
    } catch (error) {
      if (
        !isApiError(error, 'invalid_request') &&
        !isApiError(error, 'creator_not_found') &&
        !isApiError(error, 'too_many_site_creators')
      ) {
        throw error;
      }
      const status = isApiError(error, 'creator_not_found') ? 404 : isApiError(error, 'too_many_site_creators') ? 409 : 400;
      return c.html(await hooks.render(c, got.session, { invite: { siteId: site.id, problem: problemFor(error, fields), value } }), status);
    }
  });

  pages.post('/account/sites/:siteId/creators/:creatorId/remove', async (c) => {
    const got = await hooks.signedInForm(c);
    if (got instanceof Response) return got;
    if ('error' in got) throw got.error;
    const site = await hooks.ownedSite(got.session, c.req.param('siteId'));
    const creatorId = c.req.param('creatorId');
    if (!isId('usr', creatorId)) throw new ApiError('site_creator_not_found', 'No such creator on this site.');
    const listing = await removeSiteCreator(db, site.id, creatorId);
    return c.html(
      await hooks.render(c, got.session, {
        notice: `${listing.creatorName} is no longer on ${site.name}: fans’ allowances no longer pay them without asking.`,
      }),
    );
  });

  for (const action of ['accept', 'decline', 'leave'] as const) {
    pages.post(`/account/listings/:siteId/${action}`, async (c) => {
      const got = await hooks.signedInForm(c);
      if (got instanceof Response) return got;
      if ('error' in got) throw got.error;
      creatorOnly(got.session);
      const siteId = c.req.param('siteId');
      const creatorId = got.session.user.id;
      if (action === 'leave') await leaveSite(db, siteId, creatorId);
      else await answerInvitation(db, { siteId, creatorId, accept: action === 'accept' });
      return c.redirect('/account', 303);
    });
  }
}
