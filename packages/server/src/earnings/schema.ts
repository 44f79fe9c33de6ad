import type { DatabaseKind } from '../db/types.js';
import type { Migration } from '../db/migrations.js';

function earningsV20(kind: DatabaseKind): string[] {
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  return [
    `CREATE TABLE earnings_daily (
      creator_id TEXT NOT NULL,
      day ${int} NOT NULL,
      source TEXT NOT NULL CHECK (source IN ('gift', 'unlock', 'order')),
      count ${int} NOT NULL,
      gross ${int} NOT NULL,
      fee ${int} NOT NULL,
      net ${int} NOT NULL,
      PRIMARY KEY (creator_id, day, source)
    )${strict}`,
    `CREATE TABLE earnings_supporters (
      creator_id TEXT NOT NULL,
      fan_id TEXT NOT NULL,
      count ${int} NOT NULL,
      gross ${int} NOT NULL,
      net ${int} NOT NULL,
      first_at ${int} NOT NULL,
      last_at ${int} NOT NULL,
      PRIMARY KEY (creator_id, fan_id)
    )${strict}`,
    'CREATE INDEX earnings_supporters_top ON earnings_supporters (creator_id, gross DESC, fan_id)',
    `CREATE TABLE earnings_messages (
      event_id TEXT PRIMARY KEY,
      creator_id TEXT NOT NULL,
      fan_id TEXT NOT NULL,
      gift_id TEXT NOT NULL,
      amount ${int} NOT NULL,
      message TEXT NOT NULL,
      created_at ${int} NOT NULL
    )${strict}`,
    'CREATE INDEX earnings_messages_creator ON earnings_messages (creator_id, created_at DESC)',
    'CREATE INDEX earnings_messages_fan ON earnings_messages (creator_id, fan_id, created_at DESC)',
    `CREATE TABLE earnings_items (
      creator_id TEXT NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('content', 'product')),
      item_id TEXT NOT NULL,
      count ${int} NOT NULL,
      gross ${int} NOT NULL,
      net ${int} NOT NULL,
      PRIMARY KEY (creator_id, kind, item_id)
    )${strict}`,
    `CREATE TABLE earnings_cursor (
      name TEXT PRIMARY KEY,
      tx_id ${int} NOT NULL,
      seq ${int} NOT NULL
    )${strict}`,
    `INSERT INTO earnings_cursor (name, tx_id, seq) VALUES ('aggregates', -1, 0)`,
    `CREATE TABLE earnings_releases (
      creator_id TEXT PRIMARY KEY,
      released_until ${int} NOT NULL,
      released_net ${int} NOT NULL,
      updated_at ${int} NOT NULL
    )${strict}`,
  ];
}

/**
 * Migration 20: what a creator earned, kept as aggregates (issue 14).
 *
 * @remarks
 * Every table but `earnings_releases` is a projection of the outbox, written only by the
 * aggregates consumer (`aggregates.ts`) in the transaction that moves `earnings_cursor`, so
 * together they always describe the events up to one position, each counted once.
 * - `earnings_daily`: per creator, UTC day (days since the epoch) and source, the count of
 *   spends and their gross, fee and net Diamonds. A refund lowers the row of the day the order
 *   was paid, not of the day it was refunded.
 * - `earnings_supporters`: per creator and fan, totals and the first and last support.
 * - `earnings_messages`: gift messages, newest first per creator.
 * - `earnings_items`: unlocks per content and sales per product (gross is the price of the
 *   product's lines; net is the order's net shared by line price, see `aggregates.ts`).
 * - `earnings_releases`: per creator, up to when spends were announced available
 *   (`earnings.available`), by the release job (`release.ts`).
 */
export const earningsMigration: Migration = {
  version: 20,
  name: 'earnings aggregates',
  statements: { sqlite: earningsV20('sqlite'), postgres: earningsV20('postgres') },
};
