import type { DatabaseKind } from '../db/types.js';
import type { Migration } from '../db/migrations.js';

/**
 * The creators a site lists besides its owner (issue 11): the fans' allowances for the site pay
 * them without asking. A row per site and creator, its status the last step of the invitation
 * (`invited` by the site's owner, then `accepted` or `declined` by the creator, or `removed` by
 * either side later); a removed or declined creator can be invited again, which reuses the row.
 *
 * The allowance check asks "is the recipient an accepted creator of this site?" inside the one
 * statement that takes the allowance, on every gift: the primary key (site, creator) answers it
 * in one probe, with the status in the key's own pages (SQLite: WITHOUT ROWID, the row is the
 * key; PostgreSQL: INCLUDE). The second index serves a creator's own list on the account page.
 */
function siteCreatorsV13(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const table = kind === 'sqlite' ? ' STRICT, WITHOUT ROWID' : '';
  const include = kind === 'postgres' ? ' INCLUDE (status)' : '';
  return [
    `CREATE TABLE site_creators (
      site_id TEXT NOT NULL REFERENCES sites (id),
      creator_id TEXT NOT NULL REFERENCES users (id),
      status TEXT NOT NULL CHECK (status IN ('invited', 'accepted', 'declined', 'removed')),
      invited_by TEXT REFERENCES users (id),
      created_at ${int} NOT NULL,
      decided_at ${int},
      PRIMARY KEY (site_id, creator_id)${include}
    )${table}`,
    'CREATE INDEX site_creators_creator ON site_creators (creator_id, status)',
  ];
}

/** Migration 13: the creators a site lists, whom its allowances may pay. */
export const siteCreatorsMigration: Migration = {
  version: 13,
  name: 'site creators',
  statements: { sqlite: siteCreatorsV13('sqlite'), postgres: siteCreatorsV13('postgres') },
};
