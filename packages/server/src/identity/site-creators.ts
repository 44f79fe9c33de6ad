import { isId, MAX_SITE_CREATORS, type SiteCreatorStatus } from '@diamonds/protocol';
import { ApiError } from '../errors.js';
import type { Database, SqlClient } from '../db/types.js';
import { findSite, type Site } from './sites.js';
import { findUser, findUserByEmail, type User } from './users.js';

/*
 * A site's own creators: its owner, always, and the creators who accepted to be listed on it.
 * A fan's daily allowance for a site pays them, and only them, without asking (issue 11): a
 * spend to anyone else waits for the fan's confirmation, whatever is left of the allowance, so
 * a hostile script on the site cannot pay a creator account of its own from the allowance.
 *
 * Being listed takes both sides: the site's owner invites (account page, secret key or the
 * CLI), the creator accepts on the platform's account page. Either side can end it later (the
 * owner removes, the creator leaves). An invitation names a user with the creator role.
 */

/** A creator's listing on a site (an invitation, and what became of it). */
export interface SiteCreatorListing {
  siteId: string;
  creatorId: string;
  creatorName: string;
  status: SiteCreatorStatus;
  /** Who invited: the site's owner, or `null` when the platform's operator did (CLI). */
  invitedBy: string | null;
  /** When the latest invitation was made. */
  createdAt: number;
  /** When the creator answered or the listing ended; `null` while invited. */
  decidedAt: number | null;
}

/** One of a site's own creators, as anyone may read it. */
export interface SiteCreatorEntry {
  id: string;
  displayName: string;
  role: 'owner' | 'creator';
}

/**
 * SQL that holds when the creator named by two `?` placeholders (bind the creator's id to both)
 * is one of the own creators of the site in `siteColumn`: its owner, or an accepted listing.
 *
 * @remarks One definition for the allowance's hot path (`consumeAllowance`, inside its single
 * statement) and for every other check, so they cannot disagree. Both EXISTS are index lookups:
 * SQLite probes the primary keys `sites (id)` and `site_creators (site_id, creator_id)`;
 * PostgreSQL may instead hash the few rows of `sites_owner` and `site_creators_creator` for the
 * recipient (the sites they own, the sites that list them).
 */
export function ownCreatorSql(siteColumn: string): string {
  return `(EXISTS (SELECT 1 FROM sites own_s WHERE own_s.id = ${siteColumn} AND own_s.owner_id = ?)
    OR EXISTS (SELECT 1 FROM site_creators own_c WHERE own_c.site_id = ${siteColumn} AND own_c.creator_id = ? AND own_c.status = 'accepted'))`;
}

interface ListingRow {
  site_id: string;
  creator_id: string;
  display_name: string;
  status: SiteCreatorStatus;
  invited_by: string | null;
  created_at: number;
  decided_at: number | null;
}

const LISTING_SELECT = `SELECT sc.site_id, sc.creator_id, u.display_name, sc.status, sc.invited_by, sc.created_at, sc.decided_at
  FROM site_creators sc JOIN users u ON u.id = sc.creator_id`;

function toListing(row: ListingRow): SiteCreatorListing {
  return {
    siteId: row.site_id,
    creatorId: row.creator_id,
    creatorName: row.display_name,
    status: row.status,
    invitedBy: row.invited_by,
    createdAt: Number(row.created_at),
    decidedAt: row.decided_at === null ? null : Number(row.decided_at),
  };
}

async function findListing(db: SqlClient, siteId: string, creatorId: string): Promise<SiteCreatorListing | undefined> {
  const [row] = await db.query<ListingRow>(`${LISTING_SELECT} WHERE sc.site_id = ? AND sc.creator_id = ?`, [siteId, creatorId]);
  return row ? toListing(row) : undefined;
}

/** Whether `creatorId` is one of the site's own creators: its owner, or listed and accepted. */
export async function isSiteCreator(db: SqlClient, siteId: string, creatorId: string): Promise<boolean> {
  // With the site as a placeholder too, each EXISTS binds the site, then the creator.
  const rows = await db.query(`SELECT 1 AS one WHERE ${ownCreatorSql('?')}`, [siteId, creatorId, siteId, creatorId]);
  return rows.length > 0;
}

/**
 * The ids of the creators a fan's allowance for the site pays without asking: the owner first,
 * then the accepted creators, oldest listing first. What `GET /v1/me` and `GET /v1/wallet` send
 * as `allowanceRecipients`, so the SDK knows in the click whether a spend needs the popup.
 * Empty when the site does not exist.
 */
export async function allowanceRecipients(db: SqlClient, siteId: string): Promise<string[]> {
  return (await siteCreators(db, siteId)).map((creator) => creator.id);
}

/** The site's own creators, public facts only: the owner first, then the accepted creators, oldest listing first. */
export async function siteCreators(db: SqlClient, siteId: string): Promise<SiteCreatorEntry[]> {
  const rows = await db.query<{ id: string; display_name: string; role: 'owner' | 'creator' }>(
    `SELECT u.id, u.display_name, 'owner' AS role, 0 AS n, 0 AS since FROM sites s JOIN users u ON u.id = s.owner_id WHERE s.id = ?
     UNION ALL
     SELECT u.id, u.display_name, 'creator' AS role, 1 AS n, sc.decided_at AS since FROM site_creators sc
       JOIN users u ON u.id = sc.creator_id WHERE sc.site_id = ? AND sc.status = 'accepted'
     ORDER BY n, since, id`,
    [siteId, siteId],
  );
  return rows.map((row) => ({ id: row.id, displayName: row.display_name, role: row.role }));
}

/**
 * Every listing of a site, for its owner: open invitations and listed creators first, then
 * declined and removed ones; newest invitation first within each; at most 2 ×
 * {@link MAX_SITE_CREATORS} in all.
 */
export async function listSiteCreatorListings(db: SqlClient, siteId: string): Promise<SiteCreatorListing[]> {
  const rows = await db.query<ListingRow>(
    `${LISTING_SELECT} WHERE sc.site_id = ?
     ORDER BY CASE WHEN sc.status IN ('invited', 'accepted') THEN 0 ELSE 1 END, sc.created_at DESC, sc.creator_id LIMIT ?`,
    [siteId, 2 * MAX_SITE_CREATORS],
  );
  return rows.map(toListing);
}

/** A creator's listings on sites (invitations to answer, sites that list them, past ones), with each site. */
export async function creatorListings(db: SqlClient, creatorId: string): Promise<{ listing: SiteCreatorListing; site: Site }[]> {
  const rows = await db.query<ListingRow>(
    `${LISTING_SELECT} WHERE sc.creator_id = ? AND sc.status IN ('invited', 'accepted') ORDER BY sc.created_at DESC, sc.site_id LIMIT ?`,
    [creatorId, 500],
  );
  const out: { listing: SiteCreatorListing; site: Site }[] = [];
  for (const row of rows) {
    const site = await findSite(db, row.site_id);
    if (site) out.push({ listing: toListing(row), site });
  }
  return out;
}

/**
 * The creator an invitation names: a user id (`usr_…`) or the email of an account, which must
 * have the creator role.
 *
 * @throws {@link ApiError} `invalid_request` for something that is neither, `creator_not_found`
 * when no creator has it.
 */
export async function findInvitee(db: SqlClient, reference: unknown): Promise<User> {
  const value = typeof reference === 'string' ? reference.trim() : '';
  if (value === '' || value.length > 254) {
    throw new ApiError('invalid_request', 'creator is the creator’s user id (usr_…) or the email of their account.', { param: 'creator' });
  }
  const user = isId('usr', value) ? await findUser(db, value) : value.includes('@') ? await findUserByEmail(db, value) : undefined;
  if (!user && !isId('usr', value) && !value.includes('@')) {
    throw new ApiError('invalid_request', 'creator is the creator’s user id (usr_…) or the email of their account.', { param: 'creator' });
  }
  if (!user || !user.roles.includes('creator')) {
    throw new ApiError(
      'creator_not_found',
      `No creator ${JSON.stringify(value)}: only accounts with the creator role can be listed on a site.`,
      {
        param: 'creator',
      },
    );
  }
  return user;
}

/**
 * Invites a creator to be listed on a site; the site's allowances pay them once they accept.
 * Inviting again a creator who is invited or listed changes nothing; one who declined or was
 * removed gets a fresh invitation.
 *
 * @returns The listing, and whether this call made a new invitation.
 * @throws {@link ApiError} `site_not_found`, `invalid_request` (the site's owner, who is always
 * one of its creators), `creator_not_found`, `too_many_site_creators`.
 */
export async function inviteCreator(
  db: Database,
  input: { siteId: string; creator: unknown; invitedBy: string | null },
  now = Date.now(),
): Promise<{ listing: SiteCreatorListing; created: boolean }> {
  return db.transaction(async (tx) => {
    const site = await findSite(tx, input.siteId);
    if (!site) throw new ApiError('site_not_found', `No site ${input.siteId}.`, { param: 'siteId' });
    // Invitations of one site take turns (PostgreSQL), so the cap below holds under concurrency.
    if (tx.kind === 'postgres') await tx.query('SELECT 1 AS one FROM sites WHERE id = ? FOR UPDATE', [site.id]);
    const creator = await findInvitee(tx, input.creator);
    if (creator.id === site.ownerId) {
      throw new ApiError('invalid_request', `${creator.displayName} owns ${site.name}, and is always one of its creators.`, {
        param: 'creator',
      });
    }
    const existing = await findListing(tx, site.id, creator.id);
    if (existing && (existing.status === 'invited' || existing.status === 'accepted')) return { listing: existing, created: false };
    const [count] = await tx.query<{ n: number }>(
      `SELECT count(*) AS n FROM site_creators WHERE site_id = ? AND status IN ('invited', 'accepted')`,
      [site.id],
    );
    if (Number(count?.n ?? 0) >= MAX_SITE_CREATORS) {
      throw new ApiError(
        'too_many_site_creators',
        `${site.name} already lists or invites ${MAX_SITE_CREATORS} creators, the most a site may; remove one first.`,
        { param: 'creator' },
      );
    }
    await tx.run(
      `INSERT INTO site_creators (site_id, creator_id, status, invited_by, created_at, decided_at) VALUES (?, ?, 'invited', ?, ?, NULL)
       ON CONFLICT (site_id, creator_id) DO UPDATE SET status = 'invited', invited_by = excluded.invited_by,
         created_at = excluded.created_at, decided_at = NULL`,
      [site.id, creator.id, input.invitedBy, now],
    );
    const listing: SiteCreatorListing = {
      siteId: site.id,
      creatorId: creator.id,
      creatorName: creator.displayName,
      status: 'invited',
      invitedBy: input.invitedBy,
      createdAt: now,
      decidedAt: null,
    };
    return { listing, created: true };
  });
}

/** Moves a listing from one of `from` to `to`; the listing after, or `undefined` when it was in none of `from`. */
async function move(
  db: SqlClient,
  siteId: string,
  creatorId: string,
  from: readonly SiteCreatorStatus[],
  to: SiteCreatorStatus,
  now: number,
): Promise<SiteCreatorListing | undefined> {
  const changed = await db.run(
    `UPDATE site_creators SET status = ?, decided_at = ? WHERE site_id = ? AND creator_id = ? AND status IN (${from.map(() => '?').join(', ')})`,
    [to, now, siteId, creatorId, ...from],
  );
  return changed > 0 ? findListing(db, siteId, creatorId) : undefined;
}

/**
 * The creator's answer to an invitation: accepted, the site's allowances pay them; declined,
 * nothing changes. Answering the same way again answers the same.
 *
 * @throws {@link ApiError} `site_creator_not_found` when there is no open invitation.
 */
export async function answerInvitation(
  db: SqlClient,
  answer: { siteId: string; creatorId: string; accept: boolean },
  now = Date.now(),
): Promise<SiteCreatorListing> {
  const to = answer.accept ? 'accepted' : 'declined';
  const moved = await move(db, answer.siteId, answer.creatorId, ['invited'], to, now);
  if (moved) return moved;
  const current = await findListing(db, answer.siteId, answer.creatorId);
  if (current?.status === to) return current;
  throw new ApiError('site_creator_not_found', `No open invitation from site ${answer.siteId} for this creator.`, { param: 'siteId' });
}

/**
 * A listed creator leaves a site: its allowances stop paying them at once.
 *
 * @throws {@link ApiError} `site_creator_not_found` when the site does not list them.
 */
export async function leaveSite(db: SqlClient, siteId: string, creatorId: string, now = Date.now()): Promise<SiteCreatorListing> {
  const moved = await move(db, siteId, creatorId, ['accepted'], 'removed', now);
  if (!moved) throw new ApiError('site_creator_not_found', `Site ${siteId} does not list this creator.`, { param: 'siteId' });
  return moved;
}

/**
 * The site's owner removes a listed creator (its allowances stop paying them at once) or
 * withdraws an invitation. Removing again answers the same.
 *
 * @throws {@link ApiError} `site_creator_not_found` when the site neither lists nor invites them.
 */
export async function removeSiteCreator(db: SqlClient, siteId: string, creatorId: string, now = Date.now()): Promise<SiteCreatorListing> {
  const moved = await move(db, siteId, creatorId, ['invited', 'accepted'], 'removed', now);
  if (moved) return moved;
  const current = await findListing(db, siteId, creatorId);
  if (current?.status === 'removed') return current;
  throw new ApiError('site_creator_not_found', `Site ${siteId} neither lists nor invites creator ${creatorId}.`, { param: 'creatorId' });
}
