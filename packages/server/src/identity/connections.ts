import { MAX_TRANSFER_DIAMONDS } from '@diamonds/protocol';
import { ApiError } from '../errors.js';
import type { Database, SqlClient } from '../db/types.js';
import { revokeUserSiteTokens } from './tokens.js';
import { findSite, type Site } from './sites.js';
import { ownCreatorSql } from './site-creators.js';

/** A fan's consent to a site, with what the site may spend without asking. */
export interface Connection {
  userId: string;
  site: Site;
  /** Diamonds the site may spend per rolling 24 hours without the fan confirming; 0 by default. */
  allowancePerDay: number;
  createdAt: number;
  updatedAt: number;
}

/** Checks a daily allowance: a whole number of Diamonds from 0 to the per-transfer maximum. */
export function checkAllowance(value: unknown): number {
  const n = typeof value === 'string' && /^\d{1,10}$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > MAX_TRANSFER_DIAMONDS) {
    throw new ApiError('invalid_request', `allowancePerDay is a whole number of Diamonds from 0 to ${MAX_TRANSFER_DIAMONDS}.`, {
      param: 'allowancePerDay',
    });
  }
  return n;
}

/**
 * Records (or renews) a fan's consent to a site with a daily allowance.
 *
 * @throws {@link ApiError} `site_not_found`, `invalid_request`
 */
export async function connect(db: SqlClient, userId: string, siteId: string, allowance: unknown, now = Date.now()): Promise<Connection> {
  const allowancePerDay = checkAllowance(allowance);
  const site = await findSite(db, siteId);
  if (!site) throw new ApiError('site_not_found', `No site ${siteId}.`, { param: 'siteId' });
  await db.run(
    `INSERT INTO connections (user_id, site_id, allowance_per_day, created_at, updated_at, revoked_at) VALUES (?, ?, ?, ?, ?, NULL)
     ON CONFLICT (user_id, site_id) DO UPDATE SET allowance_per_day = excluded.allowance_per_day, updated_at = excluded.updated_at,
       revoked_at = NULL, created_at = CASE WHEN connections.revoked_at IS NULL THEN connections.created_at ELSE excluded.created_at END`,
    [userId, siteId, allowancePerDay, now, now],
  );
  const connection = await findConnection(db, userId, siteId);
  if (!connection) throw new Error('connection vanished after upsert');
  return connection;
}

interface ConnectionRow {
  site_id: string;
  allowance_per_day: number;
  created_at: number;
  updated_at: number;
}

/** A fan's live connection to a site, or `undefined` when there is none or it was disconnected. */
export async function findConnection(db: SqlClient, userId: string, siteId: string): Promise<Connection | undefined> {
  const rows = await db.query<ConnectionRow>(
    'SELECT site_id, allowance_per_day, created_at, updated_at FROM connections WHERE user_id = ? AND site_id = ? AND revoked_at IS NULL',
    [userId, siteId],
  );
  const row = rows[0];
  const site = row ? await findSite(db, row.site_id) : undefined;
  return row && site
    ? { userId, site, allowancePerDay: row.allowance_per_day, createdAt: row.created_at, updatedAt: row.updated_at }
    : undefined;
}

/** The sites a fan is connected to, most recently changed first. */
export async function listConnections(db: SqlClient, userId: string): Promise<Connection[]> {
  const rows = await db.query<ConnectionRow>(
    'SELECT site_id, allowance_per_day, created_at, updated_at FROM connections WHERE user_id = ? AND revoked_at IS NULL ORDER BY updated_at DESC, site_id',
    [userId],
  );
  const connections: Connection[] = [];
  for (const row of rows) {
    const site = await findSite(db, row.site_id);
    if (site)
      connections.push({ userId, site, allowancePerDay: row.allowance_per_day, createdAt: row.created_at, updatedAt: row.updated_at });
  }
  return connections;
}

/** Changes the allowance of a live connection. @throws {@link ApiError} `site_not_found` when not connected. */
export async function setAllowance(
  db: SqlClient,
  userId: string,
  siteId: string,
  allowance: unknown,
  now = Date.now(),
): Promise<Connection> {
  const allowancePerDay = checkAllowance(allowance);
  const changed = await db.run(
    'UPDATE connections SET allowance_per_day = ?, updated_at = ? WHERE user_id = ? AND site_id = ? AND revoked_at IS NULL',
    [allowancePerDay, now, userId, siteId],
  );
  const connection = changed > 0 ? await findConnection(db, userId, siteId) : undefined;
  if (!connection) throw new ApiError('site_not_found', `You are not connected to site ${siteId}.`, { param: 'siteId' });
  return connection;
}

/**
 * Disconnects a fan from a site, and revokes at once every token the site holds for the fan.
 *
 * @returns Whether there was a live connection.
 */
export async function disconnect(db: Database, userId: string, siteId: string, now = Date.now()): Promise<boolean> {
  return db.transaction(async (tx) => {
    const changed = await tx.run('UPDATE connections SET revoked_at = ? WHERE user_id = ? AND site_id = ? AND revoked_at IS NULL', [
      now,
      userId,
      siteId,
    ]);
    await revokeUserSiteTokens(tx, userId, siteId, now);
    return changed > 0;
  });
}

/** The window the daily allowance applies to: a rolling 24 hours. */
export const ALLOWANCE_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * What is left of a fan's daily allowance for a site: the allowance less what the site spent
 * without asking in the last 24 hours (never below 0). 0 when the fan is not connected.
 */
export async function remainingAllowance(db: SqlClient, userId: string, siteId: string, now = Date.now()): Promise<number> {
  const connection = await findConnection(db, userId, siteId);
  if (!connection) return 0;
  return Math.max(0, connection.allowancePerDay - (await allowanceSpent(db, userId, siteId, now)));
}

/**
 * What a site spent of a fan's allowance without asking in the last 24 hours (the fan's wallet
 * page shows it beside the allowance). Can exceed a lowered allowance: it is what was spent.
 */
export async function allowanceSpent(db: SqlClient, userId: string, siteId: string, now = Date.now()): Promise<number> {
  // Running totals (see consumeAllowance): the last spend's, less the last before the window.
  const [row] = await db.query<{ spent: number | null }>(
    `SELECT (SELECT l.spent_through FROM allowance_spends l WHERE l.user_id = ? AND l.site_id = ?
       ORDER BY l.created_at DESC, l.spent_through DESC LIMIT 1)
     - coalesce((SELECT b.spent_through FROM allowance_spends b WHERE b.user_id = ? AND b.site_id = ? AND b.created_at <= ?
       ORDER BY b.created_at DESC, b.spent_through DESC LIMIT 1), 0) AS spent`,
    [userId, siteId, userId, siteId, now - ALLOWANCE_WINDOW_MS],
  );
  return Number(row?.spent ?? 0);
}

function takeAllowanceSql(kind: SqlClient['kind']): string {
  // Typed placeholders: PostgreSQL cannot infer the type of a bare parameter in a SELECT list.
  const int = kind === 'postgres' ? 'BIGINT' : 'INTEGER';
  const later = kind === 'postgres' ? 'greatest' : 'max';
  return `INSERT INTO allowance_spends (reference, user_id, site_id, amount, created_at, spent_through)
     SELECT CAST(? AS TEXT), c.user_id, c.site_id, CAST(? AS ${int}), ${later}(CAST(? AS ${int}), coalesce(last.created_at, 0)),
       coalesce(last.spent_through, 0) + CAST(? AS ${int})
     FROM connections c
     LEFT JOIN (SELECT l.created_at, l.spent_through FROM allowance_spends l WHERE l.user_id = ? AND l.site_id = ?
       ORDER BY l.created_at DESC, l.spent_through DESC LIMIT 1) last ON 1 = 1
     WHERE c.user_id = ? AND c.site_id = ? AND c.revoked_at IS NULL
       AND ${ownCreatorSql('c.site_id')}
       AND c.allowance_per_day - (coalesce(last.spent_through, 0) - coalesce((SELECT b.spent_through FROM allowance_spends b
         WHERE b.user_id = c.user_id AND b.site_id = c.site_id AND b.created_at <= ?
         ORDER BY b.created_at DESC, b.spent_through DESC LIMIT 1), 0)) >= ?`;
}

/** {@link consumeAllowance}'s statement by engine, one constant text: every spend runs it. */
const TAKE_ALLOWANCE: Record<SqlClient['kind'], string> = { sqlite: takeAllowanceSql('sqlite'), postgres: takeAllowanceSql('postgres') };

/**
 * Takes `amount` from the fan's remaining allowance for the site, if it all fits and goes to one
 * of the site's own creators: the checks and the taking are one step, so concurrent spends can
 * never together exceed the allowance.
 *
 * @remarks Call inside the transaction that moves the Diamonds, so that both happen or
 * neither. `reference` (the transfer's idempotency key, say) makes a retry take nothing twice;
 * pass `fresh: true` only when `reference` was made in this very transaction (a new id), so
 * that no allowance spend can carry it yet and the look-up for one is skipped.
 *
 * The allowance pays only `recipientId`s that are the site's own creators (its owner, or a
 * creator who accepted to be listed on it: see `site-creators.ts`); a spend to anyone else
 * takes nothing and must be confirmed by the fan, whatever is left, so that a hostile script on
 * the site cannot pay a creator account of its own. That condition is two indexed EXISTS
 * inside the same statement, not a round trip of its own: this is every gift's hot path.
 *
 * The checks and the insert are one statement (`INSERT … SELECT … WHERE own creator AND
 * allowance - spent >= amount`): on SQLite the write transaction holds the database to itself,
 * so nothing can come between them. On PostgreSQL the consent row is locked first, so
 * concurrent spends of this fan on this site take turns; the insert that follows is a new
 * statement, whose snapshot (READ COMMITTED) sees every spend committed while it waited for the
 * lock, and the site's creators as last committed (a creator removed meanwhile is paid no more).
 * @returns Whether the spend fits (and was recorded); false means the fan must confirm it.
 * @example
 * ```ts
 * const fits = await consumeAllowance(tx, { reference: giftId, userId, siteId, recipientId: creatorId, amount: 5, fresh: true });
 * ```
 */
export async function consumeAllowance(
  tx: SqlClient,
  spend: { reference: string; userId: string; siteId: string; recipientId: string; amount: number; fresh?: boolean },
  now = Date.now(),
): Promise<boolean> {
  if (!Number.isSafeInteger(spend.amount) || spend.amount <= 0)
    throw new RangeError(`amount must be a positive whole number, got ${spend.amount}`);
  if (spend.fresh !== true && (await tx.query('SELECT 1 AS one FROM allowance_spends WHERE reference = ?', [spend.reference])).length > 0) {
    return true;
  }
  if (tx.kind === 'postgres') {
    const consent = await tx.query('SELECT 1 AS one FROM connections WHERE user_id = ? AND site_id = ? AND revoked_at IS NULL FOR UPDATE', [
      spend.userId,
      spend.siteId,
    ]);
    if (consent.length === 0) return false;
  }
  // The window's sum from running totals: the last spend's, less that of the last spend at or
  // before the window's start (two index look-ups, not a sum over the day's spends). A spend's
  // time never goes back for one fan and site, so the spends up to a time are a prefix.
  const taken = await tx.run(TAKE_ALLOWANCE[tx.kind], [
    spend.reference,
    spend.amount,
    now,
    spend.amount,
    spend.userId,
    spend.siteId,
    spend.userId,
    spend.siteId,
    spend.recipientId,
    spend.recipientId,
    now - ALLOWANCE_WINDOW_MS,
    spend.amount,
  ]);
  return taken > 0;
}
