import type { Migration } from '../db/migrations.js';

/**
 * The outbox of money events (issue 12): each committed money effect appends its events in
 * the same transaction, so an event exists if and only if its effect committed.
 *
 * @remarks
 * `seq` only grows (SQLite's `AUTOINCREMENT` never reuses a value; PostgreSQL's identity).
 * On SQLite one writer commits at a time, so `seq` order is commit order. On PostgreSQL a
 * sequence value is taken at insert time while transactions commit in another order, so each
 * row also records its top-level transaction id (`tx_id`, from `pg_current_xact_id()`), and
 * readers go by `(tx_id, seq)` and only see rows whose transaction is older than the oldest
 * one still running (`pg_snapshot_xmin`): that part of the order can no longer change (see
 * `events/outbox.ts`). A statement trigger sends `NOTIFY diamonds_events`, delivered on
 * commit, to wake other processes. `site_id` is NULL for a fan's private events (top-ups).
 */
export const eventsMigration: Migration = {
  version: 17,
  name: 'the outbox of money events',
  statements: {
    sqlite: [
      `CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        site_id TEXT,
        creator_id TEXT,
        fan_id TEXT,
        created_at INTEGER NOT NULL,
        data TEXT NOT NULL
      ) STRICT`,
      'CREATE INDEX events_site ON events (site_id, seq)',
      'CREATE INDEX events_site_type ON events (site_id, type, seq)',
    ],
    postgres: [
      `CREATE TABLE events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        tx_id BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
        type TEXT NOT NULL,
        site_id TEXT,
        creator_id TEXT,
        fan_id TEXT,
        created_at BIGINT NOT NULL,
        data TEXT NOT NULL
      )`,
      'CREATE INDEX events_order ON events (tx_id, seq)',
      'CREATE INDEX events_site ON events (site_id, tx_id, seq)',
      'CREATE INDEX events_site_type ON events (site_id, type, tx_id, seq)',
      `CREATE FUNCTION diamonds_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM pg_notify('diamonds_events', '');
         RETURN NULL;
       END $$`,
      `CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION diamonds_events_notify()`,
    ],
  },
};
