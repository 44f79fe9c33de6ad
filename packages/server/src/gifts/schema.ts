import type { DatabaseKind } from '../db/types.js';
import type { Migration } from '../db/migrations.js';

/** A SQL string literal (both engines: standard strings, quotes doubled). */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * The built-in gifts as migration 8 inserted them, frozen: a migration never reads the live
 * catalog (`BUILT_IN_GIFTS`), so it writes the same rows on every database, whatever the
 * catalog became since. New built-in gifts reach existing databases through
 * `seedGiftCatalog` at start, not through this migration.
 */
const GIFTS_OF_V8: ReadonlyArray<{ id: string; name: string; priceDiamonds: number; animation: string; svg: string }> = [
  {
    id: 'heart',
    name: 'Heart',
    priceDiamonds: 1,
    animation: 'pulse',
    svg: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><path d="M32 56 C12 42 4 31 4 20 C4 11 11 5 19 5 C25 5 29 8 32 13 C35 8 39 5 45 5 C53 5 60 11 60 20 C60 31 52 42 32 56 Z" fill="#e63950"/><path d="M15 14 C12 16 11 19 11 22" stroke="#ffd0d7" stroke-width="4" stroke-linecap="round" fill="none"/></svg>',
  },
  {
    id: 'rose',
    name: 'Rose',
    priceDiamonds: 5,
    animation: 'float',
    svg: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><path d="M32 30 L32 60" stroke="#2f8a3c" stroke-width="4" stroke-linecap="round"/><path d="M32 48 C24 48 19 43 18 38 C25 38 30 42 32 48 Z" fill="#3fa34d"/><path d="M32 42 C40 42 45 37 46 32 C39 32 34 36 32 42 Z" fill="#3fa34d"/><circle cx="32" cy="20" r="16" fill="#c8102e"/><path d="M20 14 C24 6 40 6 44 14 C38 10 26 10 20 14 Z" fill="#e8364f"/><path d="M32 12 C24 12 22 22 30 24 C36 25 38 18 33 17" stroke="#8c0a20" stroke-width="2.5" fill="none" stroke-linecap="round"/><path d="M18 22 C20 32 44 32 46 22" stroke="#8c0a20" stroke-width="2" fill="none"/></svg>',
  },
  {
    id: 'coffee',
    name: 'Coffee',
    priceDiamonds: 10,
    animation: 'rise',
    svg: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><ellipse cx="30" cy="57" rx="24" ry="4" fill="#c9b8a6"/><path d="M10 26 H50 V42 C50 50 43 55 36 55 H24 C17 55 10 50 10 42 Z" fill="#f4efe9" stroke="#6b4226" stroke-width="3"/><path d="M50 31 C60 31 60 45 50 45" stroke="#6b4226" stroke-width="4" fill="none"/><ellipse cx="30" cy="27" rx="18" ry="3" fill="#6b4226"/><path d="M22 20 C18 15 26 12 22 6 M32 20 C28 15 36 12 32 6 M42 20 C38 15 46 12 42 6" stroke="#a89a8c" stroke-width="2.5" fill="none" stroke-linecap="round"/></svg>',
  },
  {
    id: 'star',
    name: 'Star',
    priceDiamonds: 50,
    animation: 'spin',
    svg: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><polygon points="32,3 40,23 61,24 45,37 50,59 32,47 14,59 19,37 3,24 24,23" fill="#ffc61a" stroke="#e09a00" stroke-width="2.5" stroke-linejoin="round"/><polygon points="32,14 36,26 48,27 38,34 41,46 32,39" fill="#ffe27a"/></svg>',
  },
  {
    id: 'cake',
    name: 'Cake',
    priceDiamonds: 100,
    animation: 'burst',
    svg: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect x="6" y="40" width="52" height="18" rx="4" fill="#f2a7c3"/><rect x="14" y="26" width="36" height="16" rx="4" fill="#fbd3e2"/><path d="M14 32 C18 36 22 36 26 32 C30 36 34 36 38 32 C42 36 46 36 50 32" stroke="#fff" stroke-width="3" fill="none"/><path d="M6 46 C12 50 18 50 24 46 C30 50 36 50 42 46 C48 50 54 50 58 46" stroke="#fff" stroke-width="3" fill="none"/><rect x="30" y="13" width="4" height="13" fill="#6ec6ff"/><path d="M32 3 C36 8 36 12 32 12 C28 12 28 8 32 3 Z" fill="#ff9a1f"/><circle cx="22" cy="52" r="2" fill="#d94f86"/><circle cx="42" cy="52" r="2" fill="#d94f86"/></svg>',
  },
  {
    id: 'rocket',
    name: 'Rocket',
    priceDiamonds: 500,
    animation: 'rise',
    svg: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><path d="M26 48 C24 54 28 60 32 62 C36 60 40 54 38 48 Z" fill="#ff8a1f"/><path d="M29 48 C28 52 30 56 32 58 C34 56 36 52 35 48 Z" fill="#ffd34d"/><path d="M22 36 L12 48 L22 46 Z M42 36 L52 48 L42 46 Z" fill="#d6334a"/><path d="M32 2 C44 12 46 30 42 48 H22 C18 30 20 12 32 2 Z" fill="#eef2f7" stroke="#7a8699" stroke-width="2"/><path d="M25.5 12 C28 8 30 5 32 3 C34 5 36 8 38.5 12 Z" fill="#d6334a"/><circle cx="32" cy="24" r="6" fill="#3a7bd5" stroke="#7a8699" stroke-width="2"/></svg>',
  },
  {
    id: 'crown',
    name: 'Crown',
    priceDiamonds: 1000,
    animation: 'burst',
    svg: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><path d="M6 20 L18 34 L32 12 L46 34 L58 20 L54 50 H10 Z" fill="#ffc61a" stroke="#c98a00" stroke-width="2.5" stroke-linejoin="round"/><rect x="10" y="48" width="44" height="8" rx="2" fill="#e0a800"/><circle cx="6" cy="18" r="4" fill="#ffc61a"/><circle cx="32" cy="10" r="4" fill="#ffc61a"/><circle cx="58" cy="18" r="4" fill="#ffc61a"/><circle cx="32" cy="38" r="5" fill="#d6334a"/><circle cx="19" cy="42" r="3.5" fill="#3a7bd5"/><circle cx="45" cy="42" r="3.5" fill="#2fa86a"/></svg>',
  },
  {
    id: 'diamond-castle',
    name: 'Diamond Castle',
    priceDiamonds: 10000,
    animation: 'burst',
    svg: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect x="4" y="26" width="12" height="34" fill="#8fa3c7"/><rect x="48" y="26" width="12" height="34" fill="#8fa3c7"/><rect x="14" y="34" width="36" height="26" fill="#b7c6e3"/><path d="M4 26 V22 H7 V25 H9 V22 H11 V25 H13 V22 H16 V26 Z M48 26 V22 H51 V25 H53 V22 H55 V25 H57 V22 H60 V26 Z" fill="#8fa3c7"/><path d="M26 60 V50 C26 45 38 45 38 50 V60 Z" fill="#4b5d80"/><polygon points="22,16 28,8 36,8 42,16 32,30" fill="#7fe3ff" stroke="#2aa7d6" stroke-width="2" stroke-linejoin="round"/><path d="M22 16 H42 M28 8 L32 16 L36 8 M32 16 V30" stroke="#2aa7d6" stroke-width="1.5" fill="none"/><path d="M32 2 V5 M18 6 L20 8 M46 6 L44 8" stroke="#ffc61a" stroke-width="2" stroke-linecap="round"/></svg>',
  },
];

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
  const seeds = GIFTS_OF_V8.map(
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
