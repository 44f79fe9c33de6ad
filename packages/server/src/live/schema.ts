import type { DatabaseKind } from '../db/types.js';
import type { Migration } from '../db/migrations.js';

function liveV23(kind: DatabaseKind): string[] {
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const serial = kind === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY';
  return [
    `CREATE TABLE live_sessions (
      id TEXT PRIMARY KEY,
      creator_id TEXT NOT NULL,
      title TEXT NOT NULL,
      started_at ${int} NOT NULL,
      ended_at ${int},
      diamonds ${int} NOT NULL DEFAULT 0,
      gifts ${int} NOT NULL DEFAULT 0,
      top_gifts TEXT NOT NULL DEFAULT '[]'
    )${strict}`,
    // One session live per creator at a time.
    'CREATE UNIQUE INDEX live_sessions_live ON live_sessions (creator_id) WHERE ended_at IS NULL',
    'CREATE INDEX live_sessions_creator ON live_sessions (creator_id, started_at)',
    `CREATE TABLE live_goals (
      creator_id TEXT PRIMARY KEY,
      title TEXT NOT NULL,
      target ${int} NOT NULL,
      progress ${int} NOT NULL DEFAULT 0,
      starts_at ${int} NOT NULL,
      ends_at ${int},
      reached_at ${int}
    )${strict}`,
    `CREATE TABLE live_settings (
      creator_id TEXT PRIMARY KEY,
      blocked_words TEXT NOT NULL DEFAULT '[]',
      overlay_token_hash TEXT,
      overlay_options TEXT NOT NULL DEFAULT '{}',
      updated_at ${int} NOT NULL
    )${strict}`,
    'CREATE UNIQUE INDEX live_settings_overlay ON live_settings (overlay_token_hash) WHERE overlay_token_hash IS NOT NULL',
    `CREATE TABLE live_mutes (
      creator_id TEXT NOT NULL,
      fan_id TEXT NOT NULL,
      created_at ${int} NOT NULL,
      PRIMARY KEY (creator_id, fan_id)
    )${strict}`,
    `CREATE TABLE live_anonymous_fans (
      fan_id TEXT PRIMARY KEY,
      created_at ${int} NOT NULL
    )${strict}`,
    // What the live streams send, written only by the live fold (one at a time, under its
    // cursor's lock), so its sequence follows the commit order on both engines.
    `CREATE TABLE live_feed (
      seq ${serial},
      creator_id TEXT NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('gift', 'goal', 'top_gifters', 'session')),
      created_at ${int} NOT NULL,
      data TEXT NOT NULL
    )${strict}`,
    'CREATE INDEX live_feed_creator ON live_feed (creator_id, seq)',
    'CREATE INDEX live_feed_created ON live_feed (created_at)',
    // The last gift of each fan, gift and creator: where a combo continues.
    `CREATE TABLE live_combos (
      creator_id TEXT NOT NULL,
      fan_id TEXT NOT NULL,
      gift_type_id TEXT NOT NULL,
      last_at ${int} NOT NULL,
      combo ${int} NOT NULL,
      PRIMARY KEY (creator_id, fan_id, gift_type_id)
    )${strict}`,
    `CREATE TABLE live_gifters (
      creator_id TEXT NOT NULL,
      scope TEXT NOT NULL,
      fan_id TEXT NOT NULL,
      diamonds ${int} NOT NULL,
      PRIMARY KEY (creator_id, scope, fan_id)
    )${strict}`,
    'CREATE INDEX live_gifters_top ON live_gifters (creator_id, scope, diamonds DESC)',
    `CREATE TABLE live_cursor (
      name TEXT PRIMARY KEY,
      tx_id ${int} NOT NULL,
      seq ${int} NOT NULL
    )${strict}`,
  ];
}

/** Migration 23: live sessions, goals, moderation, the live feed and its fold (issue 15). */
export const liveMigration: Migration = {
  version: 23,
  name: 'live gifting',
  statements: { sqlite: liveV23('sqlite'), postgres: liveV23('postgres') },
};
