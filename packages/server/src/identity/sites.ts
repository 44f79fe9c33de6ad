import { randomBytes } from 'node:crypto';
import { newId } from '@diamonds/protocol';
import { ApiError } from '../errors.js';
import { BatchedRead, textArrayLiteral } from '../db/batched-read.js';
import type { Database, SqlClient } from '../db/types.js';
import { parseOrigin } from '../http/origins.js';
import { cleanText } from '../text.js';
import { hashSecret } from './users.js';

/** Which of a site's two keys. */
export type KeyKind = 'publishable' | 'secret';

/** Most allowed origins one site may list. */
export const MAX_SITE_ORIGINS = 20;

/** A site that takes Diamonds: a creator's page or a shop. */
export interface Site {
  /** `site_…` */
  id: string;
  ownerId: string;
  name: string;
  /** Canonical origins (`https://example.com`, or `http://localhost:*` for development). */
  origins: string[];
  createdAt: number;
}

/** A key as listed: never the secret itself, which is shown once when made. */
export interface SiteKey {
  /** `key_…` */
  id: string;
  siteId: string;
  kind: KeyKind;
  /** The publishable key in full; for a secret key, `undefined`. */
  publishableKey: string | undefined;
  /** The last four characters, to tell keys apart. */
  last4: string;
  createdAt: number;
  revokedAt: number | null;
}

/** A new site with its keys; the secret key appears here and nowhere else, ever. */
export interface CreatedSite {
  site: Site;
  publishableKey: string;
  secretKey: string;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length)) {
      // 248 = 62 × 4: bytes above it would favour some characters.
      if (byte < 248 && out.length < length) out += BASE62.charAt(byte % 62);
    }
  }
  return out;
}

/** Makes a key of `kind` in test mode: `pk_test_` + 24 or `sk_test_` + 32 base62 characters. */
export function generateKey(kind: KeyKind): string {
  return kind === 'publishable' ? `pk_test_${randomBase62(24)}` : `sk_test_${randomBase62(32)}`;
}

/** What a key looks like, before any database lookup. */
export function keyKindOf(key: string): KeyKind | undefined {
  if (/^pk_(test|live)_[0-9A-Za-z]{24}$/.test(key)) return 'publishable';
  if (/^sk_(test|live)_[0-9A-Za-z]{32}$/.test(key)) return 'secret';
  return undefined;
}

/** The value a key is found by: a publishable key is public and is its own; a secret, its hash. */
function lookupOf(kind: KeyKind, key: string): string {
  return kind === 'publishable' ? key : hashSecret(key);
}

/** Checks a site's name. */
export function checkSiteName(value: unknown): string {
  return cleanText(value, { param: 'name', max: 80 });
}

/** A reason as a sentence: one full stop at the end, never two. */
function sentence(reason: string): string {
  return reason.endsWith('.') ? reason : `${reason}.`;
}

/**
 * Checks and canonicalises a site's list of allowed origins.
 *
 * @throws {@link ApiError} `invalid_request` for an empty list (a site keeps at least one origin)
 * or one longer than {@link MAX_SITE_ORIGINS}; `invalid_origin` (param `origins.<index>`) for an
 * entry that is not a bare `scheme://host[:port]` (see `http/origins.ts`).
 */
export function checkOrigins(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ApiError('invalid_request', 'origins lists at least one origin, such as "https://example.com".', { param: 'origins' });
  }
  if (value.length > MAX_SITE_ORIGINS) {
    throw new ApiError('invalid_request', `A site lists at most ${MAX_SITE_ORIGINS} origins.`, { param: 'origins' });
  }
  const origins = value.map((entry: unknown, index) => {
    const parsed = typeof entry === 'string' ? parseOrigin(entry) : { ok: false as const, reason: 'an origin is a string' };
    if (!parsed.ok) throw new ApiError('invalid_origin', `origins.${index}: ${sentence(parsed.reason)}`, { param: `origins.${index}` });
    return parsed.origin;
  });
  return [...new Set(origins)];
}

/**
 * Checks one allowed origin and returns its canonical form.
 *
 * @throws {@link ApiError} `invalid_origin` (param `origin`) when it is not a bare `scheme://host[:port]`.
 */
export function checkOrigin(value: unknown): string {
  const parsed = typeof value === 'string' ? parseOrigin(value) : { ok: false as const, reason: 'an origin is a string' };
  if (!parsed.ok) throw new ApiError('invalid_origin', `origin: ${sentence(parsed.reason)}`, { param: 'origin' });
  return parsed.origin;
}

async function insertKey(tx: SqlClient, siteId: string, kind: KeyKind, now: number): Promise<string> {
  const key = generateKey(kind);
  await tx.run('INSERT INTO site_keys (id, site_id, kind, lookup, last4, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, NULL)', [
    newId('key'),
    siteId,
    kind,
    lookupOf(kind, key),
    key.slice(-4),
    now,
  ]);
  return key;
}

/**
 * Registers a site for `ownerId` with a fresh publishable and secret key.
 *
 * @throws {@link ApiError} `invalid_request` for a bad name or origin.
 */
export async function createSite(
  db: Database,
  input: { ownerId: string; name: unknown; origins: unknown },
  now = Date.now(),
): Promise<CreatedSite> {
  const name = checkSiteName(input.name);
  const origins = checkOrigins(input.origins);
  const site: Site = { id: newId('site'), ownerId: input.ownerId, name, origins, createdAt: now };
  return db.transaction(async (tx) => {
    await tx.run('INSERT INTO sites (id, owner_id, name, origins, created_at) VALUES (?, ?, ?, ?, ?)', [
      site.id,
      site.ownerId,
      site.name,
      JSON.stringify(site.origins),
      site.createdAt,
    ]);
    const publishableKey = await insertKey(tx, site.id, 'publishable', now);
    const secretKey = await insertKey(tx, site.id, 'secret', now);
    return { site, publishableKey, secretKey };
  });
}

interface SiteRow {
  id: string;
  owner_id: string;
  name: string;
  origins: string;
  created_at: number;
}

function toSite(row: SiteRow): Site {
  return { id: row.id, ownerId: row.owner_id, name: row.name, origins: JSON.parse(row.origins) as string[], createdAt: row.created_at };
}

/** A site by id, or `undefined`. */
export async function findSite(db: SqlClient, siteId: string): Promise<Site | undefined> {
  const rows = await db.query<SiteRow>('SELECT id, owner_id, name, origins, created_at FROM sites WHERE id = ?', [siteId]);
  return rows[0] ? toSite(rows[0]) : undefined;
}

/** The sites a person owns, oldest first. */
export async function listSites(db: SqlClient, ownerId: string): Promise<Site[]> {
  const rows = await db.query<SiteRow>(
    'SELECT id, owner_id, name, origins, created_at FROM sites WHERE owner_id = ? ORDER BY created_at, id',
    [ownerId],
  );
  return rows.map(toSite);
}

/** Replaces a site's allowed origins. @throws {@link ApiError} `site_not_found`, `invalid_request` */
export async function updateOrigins(db: SqlClient, siteId: string, origins: unknown): Promise<Site> {
  const canonical = checkOrigins(origins);
  const changed = await db.run('UPDATE sites SET origins = ? WHERE id = ?', [JSON.stringify(canonical), siteId]);
  if (changed === 0) throw new ApiError('site_not_found', `No site ${siteId}.`, { param: 'siteId' });
  const site = await findSite(db, siteId);
  if (!site) throw new ApiError('site_not_found', `No site ${siteId}.`, { param: 'siteId' });
  return site;
}

/** Attempts of a compare-and-set change of origins before giving up (only under a storm of edits). */
const ORIGIN_EDIT_ATTEMPTS = 20;

/**
 * Changes a site's origins by `edit`, as a compare-and-set on the stored list so that two edits
 * at once (two tabs, two processes) never lose one another.
 */
async function editOrigins(db: SqlClient, siteId: string, edit: (current: string[]) => string[]): Promise<Site> {
  for (let attempt = 0; attempt < ORIGIN_EDIT_ATTEMPTS; attempt++) {
    const [row] = await db.query<SiteRow>('SELECT id, owner_id, name, origins, created_at FROM sites WHERE id = ?', [siteId]);
    if (!row) throw new ApiError('site_not_found', `No site ${siteId}.`, { param: 'siteId' });
    const next = edit(JSON.parse(row.origins) as string[]);
    const stored = JSON.stringify(next);
    if (stored === row.origins) return toSite(row);
    if ((await db.run('UPDATE sites SET origins = ? WHERE id = ? AND origins = ?', [stored, siteId, row.origins])) === 1) {
      return { ...toSite(row), origins: next };
    }
  }
  throw new ApiError('database_busy', 'The allowed origins changed under this edit too often; try again.');
}

/**
 * Adds one allowed origin to a site, effective at once (CORS reads the list on every request).
 * Adding one already listed changes nothing.
 *
 * @throws {@link ApiError} `invalid_origin` (not a bare `scheme://host[:port]`), `invalid_request`
 * (the site already lists {@link MAX_SITE_ORIGINS}), `site_not_found`.
 */
export async function addOrigin(db: SqlClient, siteId: string, origin: unknown): Promise<Site> {
  const canonical = checkOrigin(origin);
  return editOrigins(db, siteId, (current) => {
    if (current.includes(canonical)) return current;
    if (current.length >= MAX_SITE_ORIGINS) {
      throw new ApiError('invalid_request', `A site lists at most ${MAX_SITE_ORIGINS} origins; remove one first.`, { param: 'origin' });
    }
    return [...current, canonical];
  });
}

/**
 * Removes one allowed origin from a site, effective at once: pages on it can no longer use the
 * site's publishable key. The last origin cannot be removed (a site keeps one, or no page could
 * ever use its key); removing one not listed changes nothing.
 *
 * @throws {@link ApiError} `invalid_origin` (not an origin), `invalid_request` (param `origin`:
 * it is the site's last origin), `site_not_found`.
 */
export async function removeOrigin(db: SqlClient, siteId: string, origin: unknown): Promise<Site> {
  const canonical = checkOrigin(origin);
  return editOrigins(db, siteId, (current) => {
    if (!current.includes(canonical)) return current;
    if (current.length === 1) {
      throw new ApiError('invalid_request', `${canonical} is the last allowed origin of this site; add another before removing it.`, {
        param: 'origin',
      });
    }
    return current.filter((entry) => entry !== canonical);
  });
}

/** A site's keys, newest first, revoked ones included. */
export async function listKeys(db: SqlClient, siteId: string): Promise<SiteKey[]> {
  const rows = await db.query<{
    id: string;
    site_id: string;
    kind: KeyKind;
    lookup: string;
    last4: string;
    created_at: number;
    revoked_at: number | null;
  }>('SELECT id, site_id, kind, lookup, last4, created_at, revoked_at FROM site_keys WHERE site_id = ? ORDER BY created_at DESC, id DESC', [
    siteId,
  ]);
  return rows.map((r) => ({
    id: r.id,
    siteId: r.site_id,
    kind: r.kind,
    publishableKey: r.kind === 'publishable' ? r.lookup : undefined,
    last4: r.last4,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  }));
}

/**
 * Replaces a site's key of `kind`: the old one stops working at once, the new one is returned
 * (for a secret key, the only time it is ever shown).
 *
 * @throws {@link ApiError} `site_not_found`
 */
export async function rollKey(db: Database, siteId: string, kind: KeyKind, now = Date.now()): Promise<string> {
  return db.transaction(async (tx) => {
    if (!(await findSite(tx, siteId))) throw new ApiError('site_not_found', `No site ${siteId}.`, { param: 'siteId' });
    await tx.run('UPDATE site_keys SET revoked_at = ? WHERE site_id = ? AND kind = ? AND revoked_at IS NULL', [now, siteId, kind]);
    return insertKey(tx, siteId, kind, now);
  });
}

/** Revokes one key; it stops working at once. @throws {@link ApiError} `key_not_found` */
export async function revokeKey(db: SqlClient, siteId: string, keyId: string, now = Date.now()): Promise<void> {
  const changed = await db.run('UPDATE site_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND site_id = ?', [
    now,
    keyId,
    siteId,
  ]);
  if (changed === 0) throw new ApiError('key_not_found', `Site ${siteId} has no key ${keyId}.`, { param: 'keyId' });
}

/** The site a live key belongs to, or `undefined` for an unknown, malformed or revoked key. */
export async function findSiteByKey(db: SqlClient, key: string): Promise<{ site: Site; kind: KeyKind } | undefined> {
  const kind = keyKindOf(key);
  if (!kind) return undefined;
  let reader = siteKeyReaders.get(db);
  if (!reader) siteKeyReaders.set(db, (reader = new BatchedRead(db, readSitesByKey)));
  const row = await reader.read(lookupOf(kind, key));
  return row && row.kind === kind ? { site: toSite(row), kind } : undefined;
}

/** Every API request's key, read together with the others of the moment (see {@link BatchedRead}): one reader per database. */
const siteKeyReaders = new WeakMap<SqlClient, BatchedRead<SiteRow & { lookup: string; kind: KeyKind }>>();

/** The live keys among `lookups` (see `lookupOf`), with their sites. */
async function readSitesByKey(db: SqlClient, lookups: readonly string[]) {
  const rows = await db.query<SiteRow & { lookup: string; kind: KeyKind }>(
    `SELECT k.lookup, k.kind, s.id, s.owner_id, s.name, s.origins, s.created_at FROM site_keys k JOIN sites s ON s.id = k.site_id
     WHERE ${lookups.length === 1 ? 'k.lookup = ?' : 'k.lookup = ANY(CAST(? AS TEXT[]))'} AND k.revoked_at IS NULL`,
    [lookups.length === 1 ? lookups[0]! : textArrayLiteral(lookups)],
  );
  return new Map(rows.map((row) => [row.lookup, row]));
}
