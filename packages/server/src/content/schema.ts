import type { DatabaseKind } from '../db/types.js';
import type { Migration } from '../db/migrations.js';

/**
 * Exclusive content and who may read it.
 *
 * - `content` is what a creator publishes on one of their sites: a title and teaser anyone may
 *   read, a body (Markdown kept as written, and the sanitised HTML rendered from it when it was
 *   written, so no request renders untrusted Markdown) or an external URL, and one rule: a price
 *   or a support threshold. Archiving stops new unlocks; the row stays for those entitled.
 * - `entitlements` says which fan may read which content. UNIQUE (user_id, content_id) is what
 *   makes unlocking twice impossible, even from two servers at once. A paid unlock waiting for
 *   the fan's approval is `pending_confirmation` (no receipt yet, `confirmation_id` set); a
 *   decline or expiry deletes it so the fan can try again. `issuer` is the platform origin the
 *   receipt names, kept because a confirmation may settle outside any request.
 */
function contentV9(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  return [
    `CREATE TABLE content (
      id TEXT PRIMARY KEY,
      creator_id TEXT NOT NULL REFERENCES users (id),
      site_id TEXT NOT NULL REFERENCES sites (id),
      title TEXT NOT NULL CHECK (length(title) > 0),
      teaser TEXT NOT NULL,
      body_markdown TEXT,
      body_html TEXT,
      external_url TEXT,
      price_diamonds ${int} CHECK (price_diamonds IS NULL OR price_diamonds > 0),
      threshold_diamonds ${int} CHECK (threshold_diamonds IS NULL OR threshold_diamonds > 0),
      created_at ${int} NOT NULL,
      updated_at ${int} NOT NULL,
      archived_at ${int},
      CHECK ((price_diamonds IS NULL) <> (threshold_diamonds IS NULL)),
      CHECK ((body_markdown IS NULL) = (body_html IS NULL)),
      CHECK ((body_markdown IS NULL) <> (external_url IS NULL))
    )${strict}`,
    `CREATE INDEX content_site ON content (site_id, id)`,
    `CREATE INDEX content_creator ON content (creator_id, id)`,
    `CREATE TABLE entitlements (
      id TEXT PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users (id),
      content_id TEXT NOT NULL REFERENCES content (id),
      transfer_id TEXT REFERENCES transfers (id),
      confirmation_id TEXT,
      amount ${int} NOT NULL CHECK (amount >= 0),
      issuer TEXT NOT NULL,
      receipt TEXT,
      status TEXT NOT NULL CHECK (status IN ('active', 'pending_confirmation')),
      created_at ${int} NOT NULL,
      UNIQUE (user_id, content_id),
      CHECK (status = 'pending_confirmation' OR receipt IS NOT NULL)
    )${strict}`,
    `CREATE INDEX entitlements_confirmation ON entitlements (confirmation_id) WHERE confirmation_id IS NOT NULL`,
  ];
}

/** Migration 9: exclusive content and entitlements. */
export const contentMigration: Migration = {
  version: 9,
  name: 'content',
  statements: { sqlite: contentV9('sqlite'), postgres: contentV9('postgres') },
};
