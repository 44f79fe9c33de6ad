import type { DatabaseKind } from '../db/types.js';
import type { Migration } from '../db/migrations.js';
import { BUILT_IN_GIFTS } from './catalog.js';

/** A SQL string literal (both engines: standard strings, quotes doubled). */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * The gift catalog and the gifts fans send.
 *
 * - `gift_types` is the catalog: a slug id (also the art's file name), a name, a price, the SVG
 *   art (checked before it is stored) and an animation hint. `active = 0` stops listing and
 *   selling a gift while its art stays served for gifts already sent. The built-in gifts are
 *   inserted here, so a fresh database lists them.
 * - `gifts` records each gift a fan sent: who, to whom, on which site, what and how many, the
 *   price at the time, the message as typed (shown only as text), and where it stands. It is
 *   written in the same transaction as the spend; `transfer_id` is the transfer that paid (for a
 *   confirmed gift, the reservation that was posted), `confirmation_id` the fan's confirmation
 *   when it was beyond the allowance.
 */
function giftsV8(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  const seeds = BUILT_IN_GIFTS.map(
    (gift) =>
      `INSERT INTO gift_types (id, name, price_diamonds, animation, svg, active, created_at) VALUES (${literal(gift.id)}, ` +
      `${literal(gift.name)}, ${gift.priceDiamonds}, ${literal(gift.animation)}, ${literal(gift.svg)}, 1, 0)`,
  );
  return [
    `CREATE TABLE gift_types (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      price_diamonds ${int} NOT NULL CHECK (price_diamonds BETWEEN 1 AND 1000000000),
      animation TEXT NOT NULL,
      svg TEXT NOT NULL,
      active ${int} NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
      created_at ${int} NOT NULL
    )${strict}`,
    `CREATE INDEX gift_types_listed ON gift_types (price_diamonds, id) WHERE active = 1`,
    ...seeds,
    `CREATE TABLE gifts (
      id TEXT PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users (id),
      creator_id TEXT NOT NULL REFERENCES users (id),
      site_id TEXT NOT NULL REFERENCES sites (id),
      gift_type TEXT NOT NULL REFERENCES gift_types (id),
      gift_name TEXT NOT NULL,
      quantity ${int} NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
      unit_price ${int} NOT NULL CHECK (unit_price > 0),
      amount ${int} NOT NULL CHECK (amount > 0 AND amount = unit_price * quantity),
      message TEXT,
      status TEXT NOT NULL CHECK (status IN ('sent', 'pending_confirmation', 'declined', 'expired')),
      transfer_id TEXT REFERENCES transfers (id),
      confirmation_id TEXT REFERENCES confirmations (id),
      created_at ${int} NOT NULL,
      updated_at ${int} NOT NULL,
      CHECK (user_id <> creator_id),
      CHECK (status <> 'sent' OR transfer_id IS NOT NULL)
    )${strict}`,
    `CREATE INDEX gifts_user ON gifts (user_id, id)`,
    `CREATE INDEX gifts_creator ON gifts (creator_id, id)`,
  ];
}

/** Migration 8: the gift catalog (with the built-in gifts) and sent gifts. */
export const giftsMigration: Migration = {
  version: 8,
  name: 'gifts',
  statements: { sqlite: giftsV8('sqlite'), postgres: giftsV8('postgres') },
};
