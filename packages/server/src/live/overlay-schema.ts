import type { DatabaseKind } from '../db/types.js';
import type { Migration } from '../db/migrations.js';

function overlayV24(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  // When an overlay stream of the creator last said it was open: the "connected" light, whichever
  // platform process holds the stream.
  return [`ALTER TABLE live_settings ADD COLUMN overlay_seen_at ${int}`];
}

/** Migration 24: when the creator's stream-alerts overlay was last connected (issue 15). */
export const overlayMigration: Migration = {
  version: 24,
  name: 'live overlay seen',
  statements: { sqlite: overlayV24('sqlite'), postgres: overlayV24('postgres') },
};
