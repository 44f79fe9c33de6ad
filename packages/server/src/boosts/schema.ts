import type { DatabaseKind } from '../db/types.js';
import type { Migration } from '../db/migrations.js';

function boostsV27(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  return [
    // One row per boost. `consumed_milli` is what counted impressions consumed, in thousandths of
    // a Diamond (cpm per impression); `charged` the whole Diamonds already moved to the platform
    // (always floor(consumed_milli / 1000)). `returned` is set once, with its transfer, when the
    // boost is settled: the CHECKs keep the books of a boost whole whatever the code does.
    `CREATE TABLE boosts (
      id TEXT PRIMARY KEY,
      site_id TEXT NOT NULL REFERENCES sites (id),
      creator_id TEXT NOT NULL REFERENCES users (id),
      item_kind TEXT NOT NULL CHECK (item_kind IN ('content', 'product')),
      item_id TEXT NOT NULL,
      title TEXT NOT NULL,
      url TEXT NOT NULL,
      budget ${int} NOT NULL CHECK (budget > 0),
      cpm ${int} NOT NULL CHECK (cpm > 0),
      starts_at ${int} NOT NULL,
      ends_at ${int} NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('active', 'ended')),
      end_reason TEXT CHECK (end_reason IN ('ended', 'stopped', 'exhausted')),
      impressions ${int} NOT NULL DEFAULT 0 CHECK (impressions >= 0),
      clicks ${int} NOT NULL DEFAULT 0 CHECK (clicks >= 0),
      consumed_milli ${int} NOT NULL DEFAULT 0 CHECK (consumed_milli >= 0 AND consumed_milli <= budget * 1000),
      charged ${int} NOT NULL DEFAULT 0 CHECK (charged >= 0 AND charged <= budget),
      returned ${int} CHECK (returned IS NULL OR returned + charged = budget),
      start_transfer_id TEXT NOT NULL REFERENCES transfers (id),
      return_transfer_id TEXT REFERENCES transfers (id),
      stopped_at ${int},
      ended_at ${int},
      created_at ${int} NOT NULL,
      CHECK (ends_at > starts_at),
      CHECK ((status = 'ended') = (returned IS NOT NULL)),
      CHECK ((status = 'ended') = (end_reason IS NOT NULL))
    )${strict}`,
    `CREATE INDEX boosts_creator ON boosts (creator_id, id)`,
    // What discover reads and the settlement sweeps: the boosts not yet settled, by end.
    `CREATE INDEX boosts_open ON boosts (ends_at) WHERE status <> 'ended'`,
    // At most one unsettled boost per item: a viewer's daily impression is per item.
    `CREATE UNIQUE INDEX boosts_one_open_per_item ON boosts (item_id) WHERE status <> 'ended'`,
    // Counted impressions and clicks: the primary key is the once-per-viewer-per-day rule.
    `CREATE TABLE boost_views (
      boost_id TEXT NOT NULL REFERENCES boosts (id),
      day ${int} NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('impression', 'click')),
      viewer TEXT NOT NULL,
      PRIMARY KEY (boost_id, day, kind, viewer)
    )${strict}`,
    // A click by a signed-in fan: their first unlock or order of the item before expires_at is a
    // conversion of the boost (converted_at set, once). Conversions are counted from here rather
    // than kept on the boost's row, so a paid unlock never waits for that row's lock.
    `CREATE TABLE boost_attributions (
      fan_id TEXT NOT NULL,
      item_id TEXT NOT NULL,
      boost_id TEXT NOT NULL REFERENCES boosts (id),
      expires_at ${int} NOT NULL,
      converted_at ${int},
      PRIMARY KEY (fan_id, item_id, boost_id)
    )${strict}`,
    `CREATE INDEX boost_attributions_boost ON boost_attributions (boost_id) WHERE converted_at IS NOT NULL`,
  ];
}

/** Migration 27: boosts, their counted views and the attributions of their clicks (issue 16). */
export const boostsMigration: Migration = {
  version: 27,
  name: 'boosts',
  statements: { sqlite: boostsV27('sqlite'), postgres: boostsV27('postgres') },
};
