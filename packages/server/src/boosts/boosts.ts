import {
  BOOST_CPM_DIAMONDS,
  MAX_BOOST_DURATION_MS,
  MAX_TRANSFER_DIAMONDS,
  newId,
  type Boost,
  type BoostEndReason,
  type BoostItemKind,
  type DiscoverItem,
} from '@diamonds/protocol';
import type { SqlClient, SqlValue } from '../db/types.js';
import { earningsSummary } from '../earnings/summary.js';
import { ApiError } from '../errors.js';
import { appendEvent } from '../events/outbox.js';
import { originAllowed } from '../http/origins.js';
import type { Site } from '../identity/sites.js';
import type { StoredResponse } from '../money/idempotency.js';
import { moneyOperation, type MoneyContext, type MoneyFeature } from '../money/operations.js';
import type { MoneyWriter } from '../money/writer.js';
import { isApiError } from '../errors.js';

/*
 * Boosts (issue 16). A creator moves a budget from their available earnings into the platform's
 * `boosts` account (code `boost`); each counted impression consumes the published CPM / 1000
 * Diamonds, kept exactly in thousandths (`consumed_milli`), and whole Diamonds move boosts → fees
 * as the thousandths add up; when the boost ends (its time passed, the creator stopped it, or
 * the budget cannot pay one more impression) what was not charged moves boosts → earnings, once.
 * The arithmetic and the abuse model are in docs/boosts.md.
 */

/** A day of the once-per-viewer rule: UTC days. */
export const BOOST_DAY_MS = 86_400_000;

/** How long after a signed-in fan's click an unlock or order of the item counts as the boost's. */
export const BOOST_ATTRIBUTION_MS = 24 * 60 * 60 * 1000;

/** How far in the past a boost may start (a clock a little behind ours). */
const START_SLACK_MS = 60_000;

/** A boostable item: a piece of content or a product, with what discover shows of it. */
export interface BoostItem {
  kind: BoostItemKind;
  id: string;
  siteId: string;
  /** Content: its creator; a product: its site's owner. */
  creatorId: string;
  title: string;
  available: boolean;
}

/** The content or product `itemId`, or undefined. */
export async function findBoostItem(db: SqlClient, itemId: string, lock = false): Promise<BoostItem | undefined> {
  const forUpdate = lock && db.kind === 'postgres' ? ' FOR UPDATE' : '';
  if (itemId.startsWith('ct_')) {
    const rows = await db.query<{ id: string; site_id: string; creator_id: string; title: string; archived_at: unknown }>(
      `SELECT id, site_id, creator_id, title, archived_at FROM content WHERE id = ?${forUpdate}`,
      [itemId],
    );
    const row = rows[0];
    return row
      ? {
          kind: 'content',
          id: row.id,
          siteId: row.site_id,
          creatorId: row.creator_id,
          title: row.title,
          available: row.archived_at === null,
        }
      : undefined;
  }
  if (itemId.startsWith('prod_')) {
    const rows = await db.query<{ id: string; site_id: string; owner_id: string; name: string; active: unknown }>(
      `SELECT p.id, p.site_id, s.owner_id, p.name, p.active FROM products p JOIN sites s ON s.id = p.site_id WHERE p.id = ?${forUpdate === '' ? '' : ' FOR UPDATE OF p'}`,
      [itemId],
    );
    const row = rows[0];
    return row
      ? {
          kind: 'product',
          id: row.id,
          siteId: row.site_id,
          creatorId: row.owner_id,
          title: row.name,
          available: Boolean(Number(row.active)),
        }
      : undefined;
  }
  return undefined;
}

/** Input of {@link createBoostOperation}: checked by {@link prepareBoost}. */
export interface CreateBoostInput {
  boostId: string;
  siteId: string;
  creatorId: string;
  itemKind: BoostItemKind;
  itemId: string;
  title: string;
  url: string;
  budgetDiamonds: number;
  cpmDiamonds: number;
  startsAt: number;
  endsAt: number;
  now: number;
  /** The earnings' hold: only available earnings may be spent. */
  holdMs: number;
}

/** A request to boost, as a site or the creator's page sends it. */
export interface BoostRequest {
  itemId?: unknown;
  budgetDiamonds?: unknown;
  startsAt?: unknown;
  endsAt?: unknown;
  url?: unknown;
}

/**
 * Checks a boost request and the item it names, reading only: what {@link createBoostOperation}
 * then runs with. The creator is who pays (their earnings), so they must own the item.
 *
 * @throws {@link ApiError} `boost_budget_invalid` (none, 0, not whole, too large),
 * `boost_dates_invalid` (end before start, start in the past, longer than 90 days),
 * `boost_item_not_found` (not of this site, archived), `permission_denied` (another creator's
 * content), `boost_url_invalid` (not on one of the site's origins).
 */
export async function prepareBoost(
  db: SqlClient,
  site: Site,
  creatorId: string,
  request: BoostRequest,
  now: number,
  holdMs: number,
): Promise<CreateBoostInput> {
  const budget = request.budgetDiamonds;
  if (typeof budget !== 'number' || !Number.isSafeInteger(budget) || budget < 1 || budget > MAX_TRANSFER_DIAMONDS) {
    throw new ApiError(
      'boost_budget_invalid',
      budget === undefined || budget === null || budget === 0
        ? 'A boost needs a budget: budgetDiamonds, a whole number of Diamonds of at least 1.'
        : `budgetDiamonds is a whole number of Diamonds from 1 to ${MAX_TRANSFER_DIAMONDS}; got ${JSON.stringify(budget)}.`,
      { param: 'budgetDiamonds' },
    );
  }
  const startsAt = request.startsAt === undefined || request.startsAt === null ? now : request.startsAt;
  const endsAt = request.endsAt;
  if (typeof startsAt !== 'number' || !Number.isSafeInteger(startsAt)) {
    throw new ApiError('boost_dates_invalid', 'startsAt is a time in milliseconds since the epoch.', { param: 'startsAt' });
  }
  if (typeof endsAt !== 'number' || !Number.isSafeInteger(endsAt)) {
    throw new ApiError('boost_dates_invalid', 'A boost needs endsAt, a time in milliseconds since the epoch.', { param: 'endsAt' });
  }
  if (endsAt <= startsAt) {
    throw new ApiError('boost_dates_invalid', 'endsAt must be after startsAt: a boost ends after it starts.', { param: 'endsAt' });
  }
  if (startsAt < now - START_SLACK_MS) throw new ApiError('boost_dates_invalid', 'startsAt is in the past.', { param: 'startsAt' });
  if (endsAt - startsAt > MAX_BOOST_DURATION_MS) {
    throw new ApiError('boost_dates_invalid', 'A boost runs for at most 90 days.', { param: 'endsAt' });
  }
  if (typeof request.itemId !== 'string' || request.itemId.length === 0) {
    throw new ApiError('boost_item_not_found', 'Name the item to boost: itemId, a content id (ct_…) or a product id (prod_…).', {
      param: 'itemId',
    });
  }
  const item = await findBoostItem(db, request.itemId);
  if (!item || item.siteId !== site.id) {
    throw new ApiError('boost_item_not_found', `No content or product ${JSON.stringify(request.itemId.slice(0, 64))} on this site.`, {
      param: 'itemId',
    });
  }
  if (item.creatorId !== creatorId) {
    throw new ApiError('permission_denied', 'Only the creator of this item can boost it: the budget comes from their earnings.', {
      param: 'itemId',
    });
  }
  if (!item.available) {
    throw new ApiError('boost_item_not_found', `${item.id} is archived or inactive: nobody could buy it.`, { param: 'itemId' });
  }
  // By default the site's first origin, unless it is a development pattern (`http://localhost:*`).
  let url = site.origins.find((origin) => !origin.includes('*')) ?? '';
  if (request.url !== undefined && request.url !== null) {
    const origin = typeof request.url === 'string' && request.url.length <= 2048 ? urlOrigin(request.url) : undefined;
    if (origin === undefined || !originAllowed(origin, site.origins)) {
      throw new ApiError('boost_url_invalid', `url must be a page on one of the site’s origins (${site.origins.join(', ')}).`, {
        param: 'url',
      });
    }
    url = request.url as string;
  }
  if (url === '')
    throw new ApiError('boost_url_invalid', 'The site has no fixed origin: give url, the page a click leads to.', { param: 'url' });
  return {
    boostId: newId('bst', now),
    siteId: site.id,
    creatorId,
    itemKind: item.kind,
    itemId: item.id,
    title: item.title,
    url,
    budgetDiamonds: budget,
    cpmDiamonds: BOOST_CPM_DIAMONDS,
    startsAt,
    endsAt,
    now,
    holdMs,
  };
}

function urlOrigin(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

interface BoostRow {
  id: string;
  site_id: string;
  creator_id: string;
  item_kind: BoostItemKind;
  item_id: string;
  title: string;
  url: string;
  budget: number | string;
  cpm: number | string;
  starts_at: number | string;
  ends_at: number | string;
  status: 'active' | 'ended';
  end_reason: BoostEndReason | null;
  impressions: number | string;
  clicks: number | string;
  /** Counted by a subquery (see {@link CONVERSIONS}). */
  conversions?: number | string;
  consumed_milli: number | string;
  charged: number | string;
  returned: number | string | null;
  ended_at: number | string | null;
  created_at: number | string;
}

const BOOST_COLUMNS =
  'id, site_id, creator_id, item_kind, item_id, title, url, budget, cpm, starts_at, ends_at, status, end_reason, impressions, clicks, consumed_milli, charged, returned, ended_at, created_at';

/** A boost's conversions, as a column of a SELECT of `boosts`. */
const CONVERSIONS = `(SELECT count(*) FROM boost_attributions a WHERE a.boost_id = boosts.id AND a.converted_at IS NOT NULL) AS conversions`;

/** A boost as its creator reads it, at `now` (a boost before its start is `scheduled`). */
export function presentBoost(row: BoostRow, now: number): Boost {
  const budget = Number(row.budget);
  const charged = Number(row.charged);
  const startsAt = Number(row.starts_at);
  return {
    object: 'boost',
    id: row.id as Boost['id'],
    siteId: row.site_id,
    creatorId: row.creator_id,
    itemKind: row.item_kind,
    itemId: row.item_id,
    title: row.title,
    url: row.url,
    budgetDiamonds: budget,
    cpmDiamonds: Number(row.cpm),
    status: row.status === 'ended' ? 'ended' : now < startsAt ? 'scheduled' : 'active',
    startsAt,
    endsAt: Number(row.ends_at),
    endReason: row.end_reason,
    endedAt: row.ended_at === null ? null : Number(row.ended_at),
    stats: {
      impressions: Number(row.impressions),
      clicks: Number(row.clicks),
      conversions: Number(row.conversions ?? 0),
      spentDiamonds: charged,
      leftDiamonds: row.status === 'ended' ? 0 : budget - charged,
      returnedDiamonds: row.returned === null ? null : Number(row.returned),
    },
    createdAt: Number(row.created_at),
  };
}

async function boostRow(db: SqlClient, id: string, lock = false): Promise<BoostRow | undefined> {
  // PostgreSQL locks no row of a subquery's table: the row is locked plain, conversions read after.
  const forUpdate = lock && db.kind === 'postgres' ? ' FOR UPDATE' : '';
  const rows = await db.query<BoostRow>(`SELECT ${BOOST_COLUMNS} FROM boosts WHERE id = ?${forUpdate}`, [id]);
  const row = rows[0];
  if (!row) return undefined;
  const [counted] = await db.query<{ n: number | string }>(
    'SELECT count(*) AS n FROM boost_attributions WHERE boost_id = ? AND converted_at IS NOT NULL',
    [id],
  );
  return { ...row, conversions: counted?.n ?? 0 };
}

/** A boost of `siteId` by id. @throws {@link ApiError} `boost_not_found` */
export async function findSiteBoost(db: SqlClient, siteId: string, id: string, now: number): Promise<Boost> {
  const row = await boostRow(db, id);
  if (!row || row.site_id !== siteId) throw new ApiError('boost_not_found', `No boost ${id} on this site.`, { param: 'id' });
  return presentBoost(row, now);
}

/** A creator's boosts (of every site, or of `siteId`), newest first. */
export async function listBoosts(db: SqlClient, creatorId: string, now: number, siteId?: string, limit = 100): Promise<Boost[]> {
  const rows = await db.query<BoostRow>(
    `SELECT ${BOOST_COLUMNS}, ${CONVERSIONS} FROM boosts WHERE creator_id = ?${siteId === undefined ? '' : ' AND site_id = ?'} ORDER BY id DESC LIMIT ?`,
    siteId === undefined ? [creatorId, limit] : [creatorId, siteId, limit],
  );
  return rows.map((row) => presentBoost(row, now));
}

/** The platform account kinds of a boost, and the creator's earnings, locked in the ledger's one order. */
async function boostAccounts(tx: SqlClient, money: MoneyContext, creatorId: string): Promise<{ earnings: string; pool: string }> {
  const earnings = await money.ledger.accountId({ ownerId: creatorId, kind: 'earnings' }, tx);
  const pool = await money.ledger.accountId({ ownerId: null, kind: 'boosts' }, tx);
  return { earnings, pool };
}

/**
 * Settles an unsettled boost in `tx`, once: what was not charged goes back to the creator's
 * earnings (code `boost`, not held: available at once) and `boost.ended` is recorded.
 *
 * @remarks The row is locked first on PostgreSQL and the update is conditional on `active`, so
 * two settlements (a stop and the sweeper, two processes) cannot both return the rest; the
 * transfer's idempotency key (`boost-return:<id>`) is a second guard in the ledger itself.
 * @returns false when it was already settled.
 */
async function settleIn(tx: SqlClient, money: MoneyContext, row: BoostRow, reason: BoostEndReason, now: number): Promise<boolean> {
  if (row.status === 'ended') return false;
  const budget = Number(row.budget);
  const charged = Number(row.charged);
  const returned = budget - charged;
  let transferId: string | null = null;
  if (returned > 0) {
    const { earnings, pool } = await boostAccounts(tx, money, row.creator_id);
    const { transfer } = await money.ledger.transferIn(tx, {
      idempotencyKey: `boost-return:${row.id}`,
      code: 'boost',
      postings: [
        { accountId: pool, amountDiamonds: -returned },
        { accountId: earnings, amountDiamonds: returned },
      ],
      metadata: {
        description: `Unspent budget of the boost of “${row.title.slice(0, 100)}”`,
        kind: 'boost_return',
        boostId: row.id,
        recipientId: row.creator_id,
      },
    });
    transferId = transfer.id;
  }
  const changed = await tx.run(
    `UPDATE boosts SET status = 'ended', end_reason = ?, returned = ?, return_transfer_id = ?, ended_at = ? WHERE id = ? AND status = 'active'`,
    [reason, returned, transferId, now, row.id],
  );
  if (changed !== 1) throw new Error(`boost ${row.id} was settled under us`);
  await appendEvent(
    tx,
    {
      type: 'boost.ended',
      siteId: row.site_id,
      creatorId: row.creator_id,
      fanId: null,
      data: {
        boostId: row.id as Boost['id'],
        itemId: row.item_id,
        reason,
        impressions: Number(row.impressions),
        clicks: Number(row.clicks),
        conversions: Number(row.conversions ?? 0),
        spentDiamonds: charged,
        returnedDiamonds: returned,
        transferId: transferId as `txn_${string}` | null,
      },
    },
    now,
  );
  return true;
}

/**
 * `boosts.create`: moves the budget from the creator's available earnings to the platform's
 * `boosts` account and records the boost, together.
 *
 * @remarks On PostgreSQL the item's row is locked first (two boosts of one item queue), then the
 * earnings account, before what is available is read, so two boosts (or a boost and a payout)
 * cannot both spend the same earnings. A boost of the item whose time passed and was not yet
 * settled is settled first.
 * @throws {@link ApiError} `insufficient_earnings`, `boost_already_active`, `boost_item_not_found`.
 */
export const createBoostOperation = moneyOperation(
  'boosts.create',
  async (tx, money, input: CreateBoostInput): Promise<StoredResponse<Boost>> => {
    const item = await findBoostItem(tx, input.itemId, true);
    if (!item) throw new ApiError('boost_item_not_found', `No content or product ${input.itemId}.`, { param: 'itemId' });
    // Boost rows before accounts, as every boost operation takes them (no deadlock between them).
    const forUpdate = tx.kind === 'postgres' ? ' ORDER BY id FOR UPDATE' : '';
    const open = await tx.query<BoostRow>(`SELECT ${BOOST_COLUMNS} FROM boosts WHERE item_id = ? AND status <> 'ended'${forUpdate}`, [
      input.itemId,
    ]);
    for (const row of open) {
      if (Number(row.ends_at) <= input.now) await settleIn(tx, money, row, 'ended', input.now);
      else {
        throw new ApiError('boost_already_active', `${input.itemId} is already boosted (${row.id}); stop that boost first.`, {
          param: 'itemId',
        });
      }
    }
    const { earnings, pool } = await boostAccounts(tx, money, input.creatorId);
    if (tx.kind === 'postgres')
      await tx.query('SELECT id FROM accounts WHERE id IN (?, ?) ORDER BY id FOR UPDATE', [earnings, pool].sort());
    const summary = await earningsSummary(tx, input.creatorId, input.now, input.holdMs);
    if (input.budgetDiamonds > summary.availableDiamonds) {
      throw new ApiError(
        'insufficient_earnings',
        `The budget is ${input.budgetDiamonds} Diamonds but ${summary.availableDiamonds} of your earnings are available (${summary.pendingDiamonds} are still pending).`,
        { param: 'budgetDiamonds' },
      );
    }
    const { transfer } = await money.ledger.transferIn(
      tx,
      {
        idempotencyKey: `boost:${input.boostId}`,
        code: 'boost',
        postings: [
          { accountId: earnings, amountDiamonds: -input.budgetDiamonds },
          { accountId: pool, amountDiamonds: input.budgetDiamonds },
        ],
        metadata: {
          description: `Boost of “${input.title.slice(0, 100)}”`,
          kind: 'boost_budget',
          boostId: input.boostId,
          itemId: input.itemId,
          payerId: input.creatorId,
          siteId: input.siteId,
        },
      },
      { fresh: true },
    );
    await tx.run(
      `INSERT INTO boosts (id, site_id, creator_id, item_kind, item_id, title, url, budget, cpm, starts_at, ends_at, status,
         start_transfer_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)`,
      [
        input.boostId,
        input.siteId,
        input.creatorId,
        input.itemKind,
        input.itemId,
        input.title,
        input.url,
        input.budgetDiamonds,
        input.cpmDiamonds,
        input.startsAt,
        input.endsAt,
        transfer.id,
        input.now,
      ],
    );
    await appendEvent(
      tx,
      {
        type: 'boost.started',
        siteId: input.siteId,
        creatorId: input.creatorId,
        fanId: null,
        data: {
          boostId: input.boostId as Boost['id'],
          itemKind: input.itemKind,
          itemId: input.itemId,
          budgetDiamonds: input.budgetDiamonds,
          cpmDiamonds: input.cpmDiamonds,
          startsAt: input.startsAt,
          endsAt: input.endsAt,
          transferId: transfer.id,
        },
      },
      input.now,
    );
    const row = await boostRow(tx, input.boostId);
    if (!row) throw new Error('boost vanished after insert');
    return { status: 201, body: presentBoost(row, input.now) };
  },
);

/** Input of {@link stopBoostOperation}. */
export interface StopBoostInput {
  boostId: string;
  /** The boost must be of this site (the secret key's) or, when null, of `creatorId`. */
  siteId: string | null;
  creatorId: string | null;
  now: number;
}

/**
 * `boosts.stop`: ends a boost now and returns what it did not spend. Stopping an ended boost
 * answers it as it is (nothing moves again).
 *
 * @throws {@link ApiError} `boost_not_found`.
 */
export const stopBoostOperation = moneyOperation(
  'boosts.stop',
  async (tx, money, input: StopBoostInput): Promise<StoredResponse<Boost>> => {
    let row = await boostRow(tx, input.boostId, true);
    const mine =
      row && (input.siteId === null || row.site_id === input.siteId) && (input.creatorId === null || row.creator_id === input.creatorId);
    if (!row || !mine) throw new ApiError('boost_not_found', `No boost ${input.boostId} of yours.`, { param: 'id' });
    const reason: BoostEndReason = Number(row.ends_at) <= input.now ? 'ended' : 'stopped';
    if (await settleIn(tx, money, row, reason, input.now)) row = await boostRow(tx, input.boostId);
    return { status: 200, body: presentBoost(row!, input.now) };
  },
);

/**
 * `boosts.settle`: settles one boost whose time has passed (the sweeper's part); false when it
 * was already settled or is not due.
 */
export const settleBoostOperation = moneyOperation('boosts.settle', async (tx, money, input: { boostId: string; now: number }) => {
  const row = await boostRow(tx, input.boostId, true);
  if (!row || Number(row.ends_at) > input.now) return false;
  return settleIn(tx, money, row, 'ended', input.now);
});

/** One view as the element reported it, counted in a batch by {@link recordViewsOperation}. */
export interface BoostView {
  boostId: string;
  kind: 'impression' | 'click';
  /** `usr_…` for a signed-in fan; otherwise `anon:` and the element's random id. */
  viewer: string;
}

/** What one batch counted. */
export interface RecordedViews {
  impressions: number;
  clicks: number;
  /** Diamonds moved to the platform by this batch. */
  chargedDiamonds: number;
  /** Boosts that ran out of budget in this batch (and were settled). */
  exhausted: number;
}

/** Rows per multi-row statement: well under SQLite's limit of bound parameters. */
const ROWS_PER_STATEMENT = 200;

async function newViewers(tx: SqlClient, boostId: string, day: number, kind: string, viewers: string[]): Promise<string[]> {
  const known = new Set<string>();
  for (let i = 0; i < viewers.length; i += ROWS_PER_STATEMENT) {
    const chunk = viewers.slice(i, i + ROWS_PER_STATEMENT);
    const rows = await tx.query<{ viewer: string }>(
      `SELECT viewer FROM boost_views WHERE boost_id = ? AND day = ? AND kind = ? AND viewer IN (${chunk.map(() => '?').join(', ')})`,
      [boostId, day, kind, ...chunk],
    );
    for (const row of rows) known.add(row.viewer);
  }
  return viewers.filter((viewer) => !known.has(viewer));
}

async function insertViews(tx: SqlClient, boostId: string, day: number, kind: string, viewers: string[]): Promise<void> {
  for (let i = 0; i < viewers.length; i += ROWS_PER_STATEMENT) {
    const chunk = viewers.slice(i, i + ROWS_PER_STATEMENT);
    const params: SqlValue[] = [];
    for (const viewer of chunk) params.push(boostId, day, kind, viewer);
    await tx.run(
      `INSERT INTO boost_views (boost_id, day, kind, viewer) VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')} ON CONFLICT DO NOTHING`,
      params,
    );
  }
}

/**
 * `boosts.views`: counts a batch of reported impressions and clicks, and charges them.
 *
 * @remarks Per boost (in id order, the lock order on PostgreSQL): a view counts only while the
 * boost is active and within its dates, once per viewer per UTC day (what `boost_views`'
 * primary key holds; the batch reads which viewers were already counted, under the boost's row
 * lock, so two processes counting the same boost queue). An impression consumes `cpm`
 * thousandths of a Diamond and counts only if the budget still holds them, so a budget is never
 * overspent; the whole Diamonds the thousandths reached move boosts → fees in one transfer per
 * boost and batch, keyed by the boost and its new charged total (idempotent). A boost whose
 * budget cannot pay one more impression is settled in the same transaction. A click by a
 * signed-in fan records an attribution for {@link BOOST_ATTRIBUTION_MS}.
 */
export const recordViewsOperation = moneyOperation(
  'boosts.views',
  async (tx, money, input: { now: number; views: readonly BoostView[] }): Promise<RecordedViews> => {
    const result: RecordedViews = { impressions: 0, clicks: 0, chargedDiamonds: 0, exhausted: 0 };
    const byBoost = new Map<string, { impressions: Set<string>; clicks: Set<string> }>();
    for (const view of input.views) {
      let entry = byBoost.get(view.boostId);
      if (!entry) byBoost.set(view.boostId, (entry = { impressions: new Set(), clicks: new Set() }));
      (view.kind === 'click' ? entry.clicks : entry.impressions).add(view.viewer);
    }
    const day = Math.floor(input.now / BOOST_DAY_MS);
    const attributions: [fanId: string, itemId: string, boostId: string][] = [];
    // Every boost row of the batch is locked first, in id order, then accounts: the order every
    // boost operation takes them in, so two batches, a stop or a new boost cannot deadlock.
    const ids = [...byBoost.keys()].sort();
    const rows = new Map<string, BoostRow>();
    for (let i = 0; i < ids.length; i += ROWS_PER_STATEMENT) {
      const chunk = ids.slice(i, i + ROWS_PER_STATEMENT);
      const forUpdate = tx.kind === 'postgres' ? ' ORDER BY id FOR UPDATE' : '';
      const locked = await tx.query<BoostRow>(
        `SELECT ${BOOST_COLUMNS} FROM boosts WHERE id IN (${chunk.map(() => '?').join(', ')})${forUpdate}`,
        chunk,
      );
      for (const row of locked) rows.set(row.id, row);
    }
    for (const boostId of ids) {
      const row = rows.get(boostId);
      if (!row || row.status !== 'active' || input.now < Number(row.starts_at) || input.now >= Number(row.ends_at)) continue;
      const entry = byBoost.get(boostId)!;
      const budgetMilli = Number(row.budget) * 1000;
      const cpm = Number(row.cpm);
      let consumed = Number(row.consumed_milli);
      const fits = Math.max(0, Math.floor((budgetMilli - consumed) / cpm));
      const impressions = (await newViewers(tx, boostId, day, 'impression', [...entry.impressions])).slice(0, fits);
      await insertViews(tx, boostId, day, 'impression', impressions);
      const clicks = await newViewers(tx, boostId, day, 'click', [...entry.clicks]);
      await insertViews(tx, boostId, day, 'click', clicks);
      for (const viewer of clicks) if (viewer.startsWith('usr_')) attributions.push([viewer, row.item_id, boostId]);
      consumed += impressions.length * cpm;
      const charged = Number(row.charged);
      const nowCharged = Math.floor(consumed / 1000);
      if (nowCharged > charged) {
        const pool = await money.ledger.accountId({ ownerId: null, kind: 'boosts' }, tx);
        const fees = await money.ledger.accountId({ ownerId: null, kind: 'fees' }, tx);
        await money.ledger.transferIn(tx, {
          idempotencyKey: `boost-charge:${boostId}:${nowCharged}`,
          code: 'boost',
          postings: [
            { accountId: pool, amountDiamonds: -(nowCharged - charged) },
            { accountId: fees, amountDiamonds: nowCharged - charged },
          ],
          metadata: {
            description: `Impressions of the boost of “${row.title.slice(0, 100)}”`,
            kind: 'boost_charge',
            boostId,
            chargedTotal: nowCharged,
          },
        });
        result.chargedDiamonds += nowCharged - charged;
      }
      await tx.run(`UPDATE boosts SET impressions = impressions + ?, clicks = clicks + ?, consumed_milli = ?, charged = ? WHERE id = ?`, [
        impressions.length,
        clicks.length,
        consumed,
        nowCharged,
        boostId,
      ]);
      result.impressions += impressions.length;
      result.clicks += clicks.length;
      if (budgetMilli - consumed < cpm) {
        const updated = await boostRow(tx, boostId);
        if (updated && (await settleIn(tx, money, updated, 'exhausted', input.now))) result.exhausted += 1;
      }
    }
    // Last, after every account this batch locked: an unlock locks accounts, then attributions
    // (see recordBoostConversion), so both take them in that order and cannot deadlock.
    for (const [fanId, itemId, boostId] of attributions) {
      await tx.run(
        `INSERT INTO boost_attributions (fan_id, item_id, boost_id, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (fan_id, item_id, boost_id) DO UPDATE SET expires_at = excluded.expires_at
         WHERE boost_attributions.converted_at IS NULL`,
        [fanId, itemId, boostId, input.now + BOOST_ATTRIBUTION_MS],
      );
    }
    return result;
  },
);

/** The boosts' part in the money path. */
export const boostsMoney: MoneyFeature = {
  name: 'boosts',
  operations: [createBoostOperation, stopBoostOperation, settleBoostOperation, recordViewsOperation],
};

/**
 * Settles every boost whose time has passed, each through `writer` (the sweeper's part: an
 * interval of the server, and once at start). Safe with several sweepers: a boost is settled once.
 *
 * @returns How many this call settled.
 */
export async function settleDueBoosts(writer: Pick<MoneyWriter, 'run'>, db: SqlClient, now = Date.now(), limit = 200): Promise<number> {
  const due = await db.query<{ id: string }>(`SELECT id FROM boosts WHERE status <> 'ended' AND ends_at <= ? ORDER BY ends_at LIMIT ?`, [
    now,
    limit,
  ]);
  const settled = await Promise.all(
    due.map((row) =>
      writer.run(settleBoostOperation, { boostId: row.id, now }).catch((error: unknown) => {
        if (isApiError(error, 'database_busy')) return false;
        throw error;
      }),
    ),
  );
  return settled.filter(Boolean).length;
}

interface DiscoverRow {
  id: string;
  item_kind: BoostItemKind;
  item_id: string;
  url: string;
  creator_id: string;
  display_name: string;
  c_title: string | null;
  teaser: string | null;
  c_price: number | string | null;
  p_name: string | null;
  p_price: number | string | null;
  image_url: string | null;
}

/**
 * The boosted items being shown at `now`: active, within their dates, with budget for one more
 * impression, and the item still for sale. In a random order (each read its own), so no boost
 * always takes the first place.
 */
export async function discoverItems(db: SqlClient, now: number, limit = 12): Promise<DiscoverItem[]> {
  const rows = await db.query<DiscoverRow>(
    `SELECT b.id, b.item_kind, b.item_id, b.url, b.creator_id, u.display_name,
            c.title AS c_title, c.teaser, c.price_diamonds AS c_price, p.name AS p_name, p.price_diamonds AS p_price, p.image_url
     FROM boosts b JOIN users u ON u.id = b.creator_id
       LEFT JOIN content c ON c.id = b.item_id AND c.archived_at IS NULL
       LEFT JOIN products p ON p.id = b.item_id AND p.active = 1
     WHERE b.status = 'active' AND b.starts_at <= ? AND b.ends_at > ? AND b.budget * 1000 - b.consumed_milli >= b.cpm
     ORDER BY b.ends_at LIMIT 200`,
    [now, now],
  );
  const items: DiscoverItem[] = [];
  for (const row of rows) {
    const title = row.item_kind === 'content' ? row.c_title : row.p_name;
    if (title === null) continue;
    const price = row.item_kind === 'content' ? row.c_price : row.p_price;
    items.push({
      boostId: row.id as DiscoverItem['boostId'],
      itemKind: row.item_kind,
      itemId: row.item_id,
      title,
      excerpt: row.item_kind === 'content' ? (row.teaser ?? '').slice(0, 280) : '',
      imageUrl: row.item_kind === 'product' ? row.image_url : null,
      priceDiamonds: price === null ? null : Number(price),
      creator: { id: row.creator_id, displayName: row.display_name },
      url: row.url,
    });
  }
  // Fisher–Yates: a fair order each read (not money, so Math.random is enough).
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items.slice(0, limit);
}

/**
 * Records a conversion of a boost in `tx`: `fanId` paid for one of `itemIds` (an unlock, or an
 * order's products) within {@link BOOST_ATTRIBUTION_MS} of clicking it in a boost while signed
 * in. Called by the unlock and the order when they are paid; a click converts once.
 */
export async function recordBoostConversion(tx: SqlClient, fanId: string, itemIds: readonly string[], now = Date.now()): Promise<void> {
  for (const itemId of itemIds) {
    await tx.run(
      'UPDATE boost_attributions SET converted_at = ? WHERE fan_id = ? AND item_id = ? AND converted_at IS NULL AND expires_at >= ?',
      [now, fanId, itemId, now],
    );
  }
}

/** The products of an order, for {@link recordBoostConversion}. */
export async function orderItemIds(tx: SqlClient, orderId: string): Promise<string[]> {
  const rows = await tx.query<{ product_id: string }>('SELECT product_id FROM order_lines WHERE order_id = ? AND product_id IS NOT NULL', [
    orderId,
  ]);
  return rows.map((row) => row.product_id);
}
