import { GiftAnimation, GiftTypeId, MAX_TRANSFER_DIAMONDS, type GiftType } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { Keyset } from '../db/keyset.js';
import { ApiError } from '../errors.js';
import { cleanText } from '../text.js';

/*
 * The gift catalog: what fans can send, its prices and its art. The built-in gifts below ship
 * with the platform (migration 8 inserts them; `seedGiftCatalog` adds any a later version
 * brings); operators add their own with `addGiftType` (the CLI's `diamonds gifts add`).
 *
 * The art is SVG served from the platform's origin to any page, so every SVG is checked before
 * it is stored (`checkGiftSvg`) and served with a CSP that forbids scripts and fetches anyway.
 */

/** A gift type as defined: what `addGiftType` takes and the built-in catalog lists. */
export interface GiftTypeDefinition {
  /** The slug (`rose`): the catalog id and the art's file name. */
  id: string;
  name: string;
  priceDiamonds: number;
  animation: GiftAnimation;
  /** The art: a small self-contained SVG (see {@link checkGiftSvg}). */
  svg: string;
}

/** A gift type as stored. */
export interface GiftTypeRecord extends GiftTypeDefinition {
  /** Inactive gifts are no longer listed or sendable; their art stays served for old gifts. */
  active: boolean;
  createdAt: number;
}

/** A gift type without its art: what the catalog lists and a gift is priced from. */
export type GiftTypeListing = Omit<GiftTypeRecord, 'svg'>;

/** The largest SVG an operator may add: 10 KiB. */
export const MAX_GIFT_SVG_BYTES = 10 * 1024;

/** The longest gift name, in code points. */
export const MAX_GIFT_NAME_LENGTH = 40;

/** The gifts the platform ships with, from 1 to 10,000 Diamonds, with art drawn for Diamonds. */
export const BUILT_IN_GIFTS: readonly GiftTypeDefinition[] = [
  {
    id: 'heart',
    name: 'Heart',
    priceDiamonds: 1,
    animation: 'pulse',
    svg: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><path d="M32 56 C12 42 4 31 4 20 C4 11 11 5 19 5 C25 5 29 8 32 13 C35 8 39 5 45 5 C53 5 60 11 60 20 C60 31 52 42 32 56 Z" fill="#e63950"/><path d="M15 14 C12 16 11 19 11 22" stroke="#ffd0d7" stroke-width="4" stroke-linecap="round" fill="none"/></svg>`,
  },
  {
    id: 'rose',
    name: 'Rose',
    priceDiamonds: 5,
    animation: 'float',
    svg: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><path d="M32 30 L32 60" stroke="#2f8a3c" stroke-width="4" stroke-linecap="round"/><path d="M32 48 C24 48 19 43 18 38 C25 38 30 42 32 48 Z" fill="#3fa34d"/><path d="M32 42 C40 42 45 37 46 32 C39 32 34 36 32 42 Z" fill="#3fa34d"/><circle cx="32" cy="20" r="16" fill="#c8102e"/><path d="M20 14 C24 6 40 6 44 14 C38 10 26 10 20 14 Z" fill="#e8364f"/><path d="M32 12 C24 12 22 22 30 24 C36 25 38 18 33 17" stroke="#8c0a20" stroke-width="2.5" fill="none" stroke-linecap="round"/><path d="M18 22 C20 32 44 32 46 22" stroke="#8c0a20" stroke-width="2" fill="none"/></svg>`,
  },
  {
    id: 'coffee',
    name: 'Coffee',
    priceDiamonds: 10,
    animation: 'rise',
    svg: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><ellipse cx="30" cy="57" rx="24" ry="4" fill="#c9b8a6"/><path d="M10 26 H50 V42 C50 50 43 55 36 55 H24 C17 55 10 50 10 42 Z" fill="#f4efe9" stroke="#6b4226" stroke-width="3"/><path d="M50 31 C60 31 60 45 50 45" stroke="#6b4226" stroke-width="4" fill="none"/><ellipse cx="30" cy="27" rx="18" ry="3" fill="#6b4226"/><path d="M22 20 C18 15 26 12 22 6 M32 20 C28 15 36 12 32 6 M42 20 C38 15 46 12 42 6" stroke="#a89a8c" stroke-width="2.5" fill="none" stroke-linecap="round"/></svg>`,
  },
  {
    id: 'star',
    name: 'Star',
    priceDiamonds: 50,
    animation: 'spin',
    svg: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><polygon points="32,3 40,23 61,24 45,37 50,59 32,47 14,59 19,37 3,24 24,23" fill="#ffc61a" stroke="#e09a00" stroke-width="2.5" stroke-linejoin="round"/><polygon points="32,14 36,26 48,27 38,34 41,46 32,39" fill="#ffe27a"/></svg>`,
  },
  {
    id: 'cake',
    name: 'Cake',
    priceDiamonds: 100,
    animation: 'burst',
    svg: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect x="6" y="40" width="52" height="18" rx="4" fill="#f2a7c3"/><rect x="14" y="26" width="36" height="16" rx="4" fill="#fbd3e2"/><path d="M14 32 C18 36 22 36 26 32 C30 36 34 36 38 32 C42 36 46 36 50 32" stroke="#fff" stroke-width="3" fill="none"/><path d="M6 46 C12 50 18 50 24 46 C30 50 36 50 42 46 C48 50 54 50 58 46" stroke="#fff" stroke-width="3" fill="none"/><rect x="30" y="13" width="4" height="13" fill="#6ec6ff"/><path d="M32 3 C36 8 36 12 32 12 C28 12 28 8 32 3 Z" fill="#ff9a1f"/><circle cx="22" cy="52" r="2" fill="#d94f86"/><circle cx="42" cy="52" r="2" fill="#d94f86"/></svg>`,
  },
  {
    id: 'rocket',
    name: 'Rocket',
    priceDiamonds: 500,
    animation: 'rise',
    svg: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><path d="M26 48 C24 54 28 60 32 62 C36 60 40 54 38 48 Z" fill="#ff8a1f"/><path d="M29 48 C28 52 30 56 32 58 C34 56 36 52 35 48 Z" fill="#ffd34d"/><path d="M22 36 L12 48 L22 46 Z M42 36 L52 48 L42 46 Z" fill="#d6334a"/><path d="M32 2 C44 12 46 30 42 48 H22 C18 30 20 12 32 2 Z" fill="#eef2f7" stroke="#7a8699" stroke-width="2"/><path d="M25.5 12 C28 8 30 5 32 3 C34 5 36 8 38.5 12 Z" fill="#d6334a"/><circle cx="32" cy="24" r="6" fill="#3a7bd5" stroke="#7a8699" stroke-width="2"/></svg>`,
  },
  {
    id: 'crown',
    name: 'Crown',
    priceDiamonds: 1000,
    animation: 'burst',
    svg: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><path d="M6 20 L18 34 L32 12 L46 34 L58 20 L54 50 H10 Z" fill="#ffc61a" stroke="#c98a00" stroke-width="2.5" stroke-linejoin="round"/><rect x="10" y="48" width="44" height="8" rx="2" fill="#e0a800"/><circle cx="6" cy="18" r="4" fill="#ffc61a"/><circle cx="32" cy="10" r="4" fill="#ffc61a"/><circle cx="58" cy="18" r="4" fill="#ffc61a"/><circle cx="32" cy="38" r="5" fill="#d6334a"/><circle cx="19" cy="42" r="3.5" fill="#3a7bd5"/><circle cx="45" cy="42" r="3.5" fill="#2fa86a"/></svg>`,
  },
  {
    id: 'diamond-castle',
    name: 'Diamond Castle',
    priceDiamonds: 10000,
    animation: 'burst',
    svg: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect x="4" y="26" width="12" height="34" fill="#8fa3c7"/><rect x="48" y="26" width="12" height="34" fill="#8fa3c7"/><rect x="14" y="34" width="36" height="26" fill="#b7c6e3"/><path d="M4 26 V22 H7 V25 H9 V22 H11 V25 H13 V22 H16 V26 Z M48 26 V22 H51 V25 H53 V22 H55 V25 H57 V22 H60 V26 Z" fill="#8fa3c7"/><path d="M26 60 V50 C26 45 38 45 38 50 V60 Z" fill="#4b5d80"/><polygon points="22,16 28,8 36,8 42,16 32,30" fill="#7fe3ff" stroke="#2aa7d6" stroke-width="2" stroke-linejoin="round"/><path d="M22 16 H42 M28 8 L32 16 L36 8 M32 16 V30" stroke="#2aa7d6" stroke-width="1.5" fill="none"/><path d="M32 2 V5 M18 6 L20 8 M46 6 L44 8" stroke="#ffc61a" stroke-width="2" stroke-linecap="round"/></svg>`,
  },
];

function invalid(param: string, message: string): ApiError {
  return new ApiError('invalid_request', message, { param });
}

/**
 * Checks an SVG for the catalog and returns it trimmed: it must be one `<svg>` element of at
 * most {@link MAX_GIFT_SVG_BYTES}, with no script, no event-handler attribute, no link or
 * reference outside the document (`href` only to `#fragment`), no embedded HTML or DTD.
 *
 * @remarks Deliberately a deny-list over the text, not a sanitiser: an SVG that fails is
 * refused, never rewritten, so the operator sees exactly what was stored. The art route's CSP
 * (`default-src 'none'`) is the second line.
 * @throws {@link ApiError} `invalid_request` with `param: 'svg'`.
 */
export function checkGiftSvg(value: unknown): string {
  if (typeof value !== 'string') throw invalid('svg', 'svg must be the text of an SVG file.');
  const svg = value.trim();
  const bytes = Buffer.byteLength(svg, 'utf8');
  if (bytes > MAX_GIFT_SVG_BYTES) throw invalid('svg', `The SVG is ${bytes} bytes; the limit is ${MAX_GIFT_SVG_BYTES} bytes (10 KiB).`);
  if (!/^<svg[\s>]/i.test(svg) || !/<\/svg>$/i.test(svg)) {
    throw invalid('svg', 'The SVG must start with <svg and end with </svg> (no XML declaration, DOCTYPE or comment around it).');
  }
  const problems: [RegExp, string][] = [
    [/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/, 'control characters'],
    [/<\s*script/i, 'a <script> element'],
    [/<!(?:DOCTYPE|ENTITY)/i, 'a DOCTYPE or entity declaration'],
    [
      /<\s*(?:foreignObject|iframe|embed|object|image|use|a|animate|set|animateTransform|animateMotion|feImage)[\s/>]/i,
      'an element that can load, link or rewrite content',
    ],
    [/[\s"'/]on[a-z]+\s*=/i, 'an event-handler attribute (on…=)'],
    [/\bhref\s*=\s*(?!["']#)/i, 'a link or reference outside the SVG (href must point to #an-id)'],
    [/javascript:|data:|vbscript:/i, 'a javascript:, vbscript: or data: URL'],
    [/url\(\s*(?!["']?#)/i, 'a url() outside the SVG (only url(#an-id) is allowed)'],
    [/@import/i, 'a CSS @import'],
  ];
  for (const [pattern, what] of problems) {
    if (pattern.test(svg)) throw invalid('svg', `The SVG contains ${what}, which gift art may not have.`);
  }
  return svg;
}

/**
 * Checks a gift type an operator wants to add.
 *
 * @throws {@link ApiError} `invalid_request` naming the wrong field (`id`, `name`, `priceDiamonds`, `animation`, `svg`).
 */
export function checkGiftTypeDefinition(input: Record<string, unknown>): GiftTypeDefinition {
  const id = GiftTypeId.safeParse(input.id);
  if (!id.success)
    throw invalid('id', 'id must be 1 to 40 lowercase letters, digits or hyphens, starting with a letter (like diamond-castle).');
  const name = cleanText(input.name, { param: 'name', max: MAX_GIFT_NAME_LENGTH });
  const price = input.priceDiamonds;
  if (typeof price !== 'number' || !Number.isSafeInteger(price) || price < 1 || price > MAX_TRANSFER_DIAMONDS) {
    throw invalid('priceDiamonds', `priceDiamonds must be a whole number of Diamonds from 1 to ${MAX_TRANSFER_DIAMONDS}.`);
  }
  const animation = GiftAnimation.safeParse(input.animation ?? 'float');
  if (!animation.success) throw invalid('animation', `animation must be one of ${GiftAnimation.options.join(', ')}.`);
  return { id: id.data, name, priceDiamonds: price, animation: animation.data, svg: checkGiftSvg(input.svg) };
}

interface GiftTypeRow {
  id: string;
  name: string;
  price_diamonds: number;
  animation: string;
  svg: string;
  active: number;
  created_at: number;
}

function toListing(row: Omit<GiftTypeRow, 'svg'>): GiftTypeListing {
  return {
    id: row.id,
    name: row.name,
    priceDiamonds: Number(row.price_diamonds),
    animation: row.animation as GiftAnimation,
    active: Number(row.active) === 1,
    createdAt: Number(row.created_at),
  };
}

function toRecord(row: GiftTypeRow): GiftTypeRecord {
  return { ...toListing(row), svg: row.svg };
}

/** The columns of a gift type but its art: what listings and sending need (the art can be 10 KiB). */
const LISTING_COLUMNS = 'id, name, price_diamonds, animation, active, created_at';

const INSERT_GIFT_TYPE = `INSERT INTO gift_types (id, name, price_diamonds, animation, svg, active, created_at)
  VALUES (?, ?, ?, ?, ?, 1, ?) ON CONFLICT (id) DO NOTHING`;

/**
 * Adds a gift type to the catalog (what `diamonds gifts add` runs).
 *
 * @throws {@link ApiError} `invalid_request`: a field is wrong (see {@link checkGiftTypeDefinition}),
 * or the id is taken (`param: 'id'`).
 */
export async function addGiftType(db: SqlClient, input: Record<string, unknown>, now = Date.now()): Promise<GiftTypeRecord> {
  const definition = checkGiftTypeDefinition(input);
  const inserted = await db.run(INSERT_GIFT_TYPE, [
    definition.id,
    definition.name,
    definition.priceDiamonds,
    definition.animation,
    definition.svg,
    now,
  ]);
  if (inserted === 0) throw invalid('id', `A gift type "${definition.id}" exists already; pick another id.`);
  return { ...definition, active: true, createdAt: now };
}

/**
 * Lists a gift type again, or stops listing it (it can no longer be sent; gifts already sent
 * keep their art).
 *
 * @throws {@link ApiError} `gift_not_found`
 */
export async function setGiftTypeActive(db: SqlClient, id: string, active: boolean): Promise<void> {
  const changed = await db.run('UPDATE gift_types SET active = ? WHERE id = ?', [active ? 1 : 0, id]);
  if (changed === 0) throw new ApiError('gift_not_found', `No gift type ${JSON.stringify(id)} in the catalog.`, { param: 'id' });
}

/**
 * Adds the built-in gifts that are missing, leaving every existing one as it is (an operator's
 * price or a deactivation stays). Safe to run at every start.
 *
 * @returns How many were added.
 */
export async function seedGiftCatalog(db: SqlClient, now = Date.now()): Promise<number> {
  let added = 0;
  for (const gift of BUILT_IN_GIFTS) {
    added += await db.run(INSERT_GIFT_TYPE, [gift.id, gift.name, gift.priceDiamonds, gift.animation, gift.svg, now]);
  }
  return added;
}

/** A gift type by id with its art, active or not. */
export async function findGiftType(db: SqlClient, id: string): Promise<GiftTypeRecord | undefined> {
  const [row] = await db.query<GiftTypeRow>('SELECT * FROM gift_types WHERE id = ?', [id]);
  return row ? toRecord(row) : undefined;
}

/** A gift type by id without its art (what sending a gift needs), active or not. */
export async function findGiftTypeListing(db: SqlClient, id: string): Promise<GiftTypeListing | undefined> {
  const [row] = await db.query<Omit<GiftTypeRow, 'svg'>>(`SELECT ${LISTING_COLUMNS} FROM gift_types WHERE id = ?`, [id]);
  return row ? toListing(row) : undefined;
}

/** Every gift type, cheapest first (for `diamonds gifts list`), inactive ones included. */
export async function listAllGiftTypes(db: SqlClient): Promise<GiftTypeRecord[]> {
  const rows = await db.query<GiftTypeRow>('SELECT * FROM gift_types ORDER BY price_diamonds, id');
  return rows.map(toRecord);
}

/** The catalog pages cheapest first, ties by id (a slug: what a catalog id can be, never a NUL). */
const CATALOG = new Keyset<[number, string]>(
  'gifts',
  [
    { column: 'price_diamonds', kind: 'int' },
    { column: 'id', kind: 'text', pattern: /^[a-z][a-z0-9-]{0,39}$/ },
  ],
  'asc',
);

/** The wire view of a gift type; `baseUrl` is the platform's public origin. */
export function presentGiftType(record: GiftTypeListing, baseUrl: string): GiftType {
  return {
    object: 'gift_type',
    id: record.id,
    name: record.name,
    priceDiamonds: record.priceDiamonds,
    artUrl: `${baseUrl}/gifts/${record.id}.svg`,
    animation: record.animation,
  };
}

/**
 * A page of the active catalog, cheapest first (ties by id).
 *
 * @throws {@link ApiError} `invalid_cursor`
 */
export async function listGiftTypes(
  db: SqlClient,
  page: { limit: number; cursor?: string | undefined },
): Promise<{ items: GiftTypeListing[]; hasMore: boolean; nextCursor: string | null }> {
  const after = CATALOG.after(page.cursor);
  const rows = await db.query<Omit<GiftTypeRow, 'svg'>>(
    `SELECT ${LISTING_COLUMNS} FROM gift_types WHERE active = 1${after ? ` AND ${after.sql}` : ''} ORDER BY ${CATALOG.orderBy} LIMIT ?`,
    [...(after?.params ?? []), page.limit + 1],
  );
  const {
    data: items,
    hasMore,
    nextCursor,
  } = CATALOG.page(
    rows.map(toListing),
    page.limit,
    (item) => item,
    (item) => [item.priceDiamonds, item.id],
  );
  return { items, hasMore, nextCursor };
}
