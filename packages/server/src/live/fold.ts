import {
  ANONYMOUS_FAN_NAME,
  type EventData,
  COMBO_WINDOW_MS,
  type LiveGift,
  type LiveGoal,
  type LiveSessionState,
  type LiveTopGifters,
} from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { appendEvent } from '../events/outbox.js';
import { latestPosition, type EventPosition, type StoredEvent } from '../events/outbox.js';
import { moneyOperation } from '../money/operations.js';

/** How long the feed keeps what it sent: a stream that reconnects within it misses nothing. */
export const LIVE_REPLAY_MS = 60 * 60 * 1000;

/** How many gifters a top list names. */
export const TOP_GIFTERS = 5;

/** The events the live fold reads. */
export const LIVE_EVENT_TYPES: ReadonlySet<string> = new Set(['gift.sent', 'live.started', 'live.ended', 'live.test_alert']);

/** A feed row as written: which creator's stream, what kind, the item's JSON. */
export interface LiveFeedRow {
  seq: number;
  creatorId: string;
  kind: 'gift' | 'goal' | 'top_gifters' | 'session';
  createdAt: number;
  data: string;
}

/** Input of {@link liveFoldOperation}. */
export interface LiveFoldInput {
  from: EventPosition;
  to: EventPosition;
  /** The batch's live events (gifts, session starts and ends), in order. */
  events: StoredEvent[];
  now: number;
}

/** What {@link liveFoldOperation} did. */
export interface LiveFoldResult {
  applied: boolean;
  cursor: EventPosition;
  /** Creators whose streams have new items. */
  creators: string[];
}

/** The live fold's stored cursor (`lock`: on PostgreSQL, until the transaction ends). */
export async function readLiveCursor(tx: SqlClient, lock: boolean): Promise<EventPosition> {
  const forUpdate = lock && tx.kind === 'postgres' ? ' FOR UPDATE' : '';
  const [row] = await tx.query<{ tx_id: number | string; seq: number | string }>(
    `SELECT tx_id, seq FROM live_cursor WHERE name = 'feed'${forUpdate}`,
  );
  if (row) return { txId: Number(row.tx_id), seq: Number(row.seq) };
  // The first start: from the outbox's end, not its beginning. A platform upgraded with years of
  // gifts would otherwise fold them all before the first live one (the top gifters "of all
  // time" count from the day live gifting started: docs/live.md).
  const start = await latestPosition(tx);
  await tx.run(`INSERT INTO live_cursor (name, tx_id, seq) VALUES ('feed', ?, ?) ON CONFLICT (name) DO NOTHING`, [start.txId, start.seq]);
  return readLiveCursor(tx, lock);
}

/** A creator's blocked words match `message` (whole words, case and accents folded). */
export function isBlocked(message: string, blockedWords: readonly string[]): boolean {
  if (blockedWords.length === 0) return false;
  const folded = fold(message);
  return blockedWords.some((word) => {
    const w = fold(word).trim();
    if (w === '') return false;
    const escaped = w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return new RegExp(`(^|[^\\p{L}\\p{N}])${escaped}($|[^\\p{L}\\p{N}])`, 'u').test(folded);
  });
}

function fold(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The UTC day of `ms`, for today's top gifters. */
function dayScope(ms: number): string {
  return `day:${new Date(ms).toISOString().slice(0, 10)}`;
}

/** Rows (or values of an `IN` list) per statement: far below both engines' limits on bound values. */
const ROWS_PER_STATEMENT = 200;

/** `items` in slices of at most `size`. */
function chunked<T>(items: readonly T[], size = ROWS_PER_STATEMENT): T[][] {
  const slices: T[][] = [];
  for (let i = 0; i < items.length; i += size) slices.push(items.slice(i, i + size));
  return slices;
}

/** `?, ?, ?` for `n` values. */
function marks(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

/** One top list's gifter, as read by {@link topGiftersLists}. */
interface TopGifterRow {
  list: number | string;
  fan_id: string;
  diamonds: number | string;
  display_name: string | null;
  anonymous: string | null;
}

/** The gifters of list `list` (its creator and scope given by `where`), in order: unmuted, the biggest first, then by fan id. */
function topListSelect(list: string, where: string): string {
  return `SELECT ${list} AS list, g.fan_id, g.diamonds, u.display_name, a.fan_id AS anonymous
       FROM live_gifters g LEFT JOIN users u ON u.id = g.fan_id LEFT JOIN live_anonymous_fans a ON a.fan_id = g.fan_id
       WHERE ${where}
         AND NOT EXISTS (SELECT 1 FROM live_mutes m WHERE m.creator_id = g.creator_id AND m.fan_id = g.fan_id)
       ORDER BY g.diamonds DESC, g.fan_id LIMIT ${TOP_GIFTERS}`;
}

/**
 * The top gifters of several (creator, scope) lists, read in one statement per 50 lists, each
 * list walking the `live_gifters_top` index with its own `LIMIT`.
 *
 * @remarks On PostgreSQL the lists are a `VALUES` list joined `LATERAL` to one subquery, with
 * the same plan for each list: the `UNION ALL` of one subquery per list that SQLite runs (it has
 * no `LATERAL`) took PostgreSQL 10–21 ms to plan for 50 lists, at every fold (the statement is
 * not prepared), and 6 ms to run, against 0.4–1.7 ms and 0.2–2.1 ms for this (`EXPLAIN ANALYZE`).
 * Under `bench:live`'s gifts to 100 creators a fold has that many lists, on cores the platform
 * and its streams share with PostgreSQL.
 */
async function topGiftersLists(
  tx: SqlClient,
  lists: ReadonlyArray<readonly [creatorId: string, scope: string]>,
): Promise<Array<LiveTopGifters['gifters']>> {
  const result: Array<LiveTopGifters['gifters']> = lists.map(() => []);
  for (const [offset, slice] of chunked(lists, 50).map((slice, i) => [i * 50, slice] as const)) {
    const sql =
      tx.kind === 'postgres'
        ? `SELECT t.* FROM (VALUES ${slice.map((_, i) => `(${offset + i}, ?::text, ?::text)`).join(', ')}) AS l(list, creator_id, scope)
           CROSS JOIN LATERAL (${topListSelect('l.list', 'g.creator_id = l.creator_id AND g.scope = l.scope')}) AS t
           ORDER BY t.list, t.diamonds DESC, t.fan_id`
        : slice
            .map((_, i) => `SELECT * FROM (${topListSelect(String(offset + i), 'g.creator_id = ? AND g.scope = ?')}) AS t${i}`)
            .join(' UNION ALL ');
    const rows = await tx.query<TopGifterRow>(sql, slice.flat());
    // Each list's rows come in order (UNION ALL keeps each subquery's; the ORDER BY says it on
    // PostgreSQL): the (stable) sort only restates it.
    for (const row of rows) {
      result[Number(row.list)]!.push({
        fanName: row.anonymous !== null ? ANONYMOUS_FAN_NAME : (row.display_name ?? ANONYMOUS_FAN_NAME),
        diamonds: Number(row.diamonds),
      });
    }
  }
  for (const gifters of result) gifters.sort((a, b) => b.diamonds - a.diamonds);
  return result;
}

/** The creator's goal as the stream shows it, or `undefined`. */
export async function currentGoal(db: SqlClient, creatorId: string): Promise<LiveGoal | undefined> {
  const [row] = await db.query<{
    title: string;
    target: number | string;
    progress: number | string;
    reached_at: number | string | null;
    ends_at: number | string | null;
  }>('SELECT title, target, progress, reached_at, ends_at FROM live_goals WHERE creator_id = ?', [creatorId]);
  if (!row) return undefined;
  return {
    title: row.title,
    targetDiamonds: Number(row.target),
    progressDiamonds: Number(row.progress),
    reachedAt: row.reached_at === null ? null : Number(row.reached_at),
    endsAt: row.ends_at === null ? null : Number(row.ends_at),
  };
}

/** The creator's session live now, or `undefined`. */
export async function liveSessionOf(db: SqlClient, creatorId: string): Promise<(LiveSessionState & { diamonds: number }) | undefined> {
  const [row] = await db.query<{ id: string; title: string; started_at: number | string; diamonds: number | string }>(
    'SELECT id, title, started_at, diamonds FROM live_sessions WHERE creator_id = ? AND ended_at IS NULL',
    [creatorId],
  );
  if (!row) return undefined;
  return {
    sessionId: row.id as LiveSessionState['sessionId'],
    status: 'live',
    title: row.title,
    startedAt: Number(row.started_at),
    endedAt: null,
    diamonds: Number(row.diamonds),
  };
}

/** The top gifters lists of a creator now (the session's only while one is live). */
export async function topGiftersOf(db: SqlClient, creatorId: string, now: number): Promise<LiveTopGifters[]> {
  const session = await liveSessionOf(db, creatorId);
  const scopes: Array<[LiveTopGifters['scope'], string]> = [
    ...(session ? [['session', `session:${session.sessionId}`] as [LiveTopGifters['scope'], string]] : []),
    ['today', dayScope(now)],
    ['all_time', 'all'],
  ];
  const gifters = await topGiftersLists(
    db,
    scopes.map(([, scope]) => [creatorId, scope] as const),
  );
  return scopes.map(([named], i) => ({ scope: named, gifters: gifters[i]! }));
}

/** The feed item of a `live.test_alert` event: a gift flagged `test`, of no fan and no session. */
async function testAlertItem(tx: SqlClient, event: StoredEvent): Promise<Omit<LiveGift, 'artUrl'> & { artPath: string }> {
  const data = JSON.parse(event.data) as EventData<'live.test_alert'>;
  const [type] = await tx.query<{ name: string; animation: string; price_diamonds: number | string }>(
    'SELECT name, animation, price_diamonds FROM gift_types WHERE id = ?',
    [data.giftTypeId],
  );
  return {
    giftId: data.alertId,
    giftTypeId: data.giftTypeId,
    giftName: type?.name ?? data.giftTypeId,
    artPath: `/gifts/${data.giftTypeId}.svg`,
    animation: (type?.animation ?? 'float') as LiveGift['animation'],
    quantity: data.quantity,
    // What the gift would be worth (nothing moved): the schema's amounts are at least 1.
    amountDiamonds: Math.max(1, Number(type?.price_diamonds ?? 1) * data.quantity),
    combo: 1,
    fanName: data.fanName,
    message: data.message,
    messageHidden: false,
    sessionId: null,
    createdAt: event.createdAt,
    test: true,
  };
}

interface GiftData {
  giftId: string;
  giftTypeId: string;
  quantity: number;
  amountDiamonds: number;
  message: string | null;
}

/** A gift of the batch: its event and what it carries. */
interface BatchGift {
  event: StoredEvent;
  creatorId: string;
  fanId: string;
  gift: GiftData;
}

/** A gift's line in a session's top gifts. */
interface TopGift {
  fanName: string;
  giftName: string;
  quantity: number;
  amountDiamonds: number;
}

/** What the fold reads once per batch, so that each gift is then folded from memory. */
interface BatchState {
  /** By creator: the sessions the batch's gifts may fall in, the latest start first. */
  sessions: Map<string, Array<{ id: string; startedAt: number; endedAt: number | null; topGifts: string }>>;
  /** By creator: the goal as the gifts move it (`dirty` once one did). */
  goals: Map<string, { goal: LiveGoal; startsAt: number; dirty: boolean }>;
  /** `creator fan` pairs that are muted. */
  muted: Set<string>;
  /** By `creator fan gift type`: the last gift and its combo count. */
  combos: Map<string, { lastAt: number; combo: number }>;
  /** By fan: the name the screens show. */
  names: Map<string, string>;
  giftTypes: Map<string, { name: string; animation: string }>;
  /** By creator: the blocked words. */
  blocked: Map<string, string[]>;
}

/** A map key of several ids (none holds a NUL). */
function key(...parts: string[]): string {
  return parts.join('\u0000');
}

/** A gift older than the replay window or from a muted fan counts but is never shown. */
function isShown(state: Pick<BatchState, 'muted'>, gift: BatchGift, now: number): boolean {
  return !state.muted.has(key(gift.creatorId, gift.fanId)) && gift.event.createdAt >= now - LIVE_REPLAY_MS;
}

/**
 * Reads what the batch's gifts need, a statement per table for the whole batch (`IN` lists of
 * its creators, fans and gift types) rather than one per gift: with many fans, most batches
 * hold a different fan in every gift.
 */
async function readBatch(tx: SqlClient, gifts: readonly BatchGift[], now: number): Promise<BatchState> {
  const state: BatchState = {
    sessions: new Map(),
    goals: new Map(),
    muted: new Set(),
    combos: new Map(),
    names: new Map(),
    giftTypes: new Map(),
    blocked: new Map(),
  };
  if (gifts.length === 0) return state;
  const creators = [...new Set(gifts.map((g) => g.creatorId))];
  const fans = [...new Set(gifts.map((g) => g.fanId))];
  const giftTypeIds = [...new Set(gifts.map((g) => g.gift.giftTypeId))];
  const times = gifts.map((g) => g.event.createdAt);
  const [since, until] = [Math.min(...times), Math.max(...times)];
  for (const slice of chunked(creators)) {
    // Every session live at some gift's commit (it may have ended since, before this fold).
    const sessions = await tx.query<{
      id: string;
      creator_id: string;
      started_at: number | string;
      ended_at: number | string | null;
      top_gifts: string;
    }>(
      `SELECT id, creator_id, started_at, ended_at, top_gifts FROM live_sessions
       WHERE creator_id IN (${marks(slice.length)}) AND started_at <= ? AND (ended_at IS NULL OR ended_at >= ?) ORDER BY started_at DESC`,
      [...slice, until, since],
    );
    for (const row of sessions) {
      const list = state.sessions.get(row.creator_id) ?? [];
      list.push({
        id: row.id,
        startedAt: Number(row.started_at),
        endedAt: row.ended_at === null ? null : Number(row.ended_at),
        topGifts: row.top_gifts,
      });
      state.sessions.set(row.creator_id, list);
    }
    // Locked on PostgreSQL: the goal's new progress is written from this read, and a goal set
    // meanwhile (progress back to 0) must wait for this fold rather than be overwritten by it.
    const goals = await tx.query<{
      creator_id: string;
      title: string;
      target: number | string;
      progress: number | string;
      reached_at: number | string | null;
      ends_at: number | string | null;
      starts_at: number | string;
    }>(
      `SELECT creator_id, title, target, progress, reached_at, ends_at, starts_at FROM live_goals WHERE creator_id IN (${marks(slice.length)})${
        tx.kind === 'postgres' ? ' ORDER BY creator_id FOR UPDATE' : ''
      }`,
      slice,
    );
    for (const row of goals) {
      state.goals.set(row.creator_id, {
        goal: {
          title: row.title,
          targetDiamonds: Number(row.target),
          progressDiamonds: Number(row.progress),
          reachedAt: row.reached_at === null ? null : Number(row.reached_at),
          endsAt: row.ends_at === null ? null : Number(row.ends_at),
        },
        startsAt: Number(row.starts_at),
        dirty: false,
      });
    }
    for (const fanSlice of chunked(fans)) {
      const mutes = await tx.query<{ creator_id: string; fan_id: string }>(
        `SELECT creator_id, fan_id FROM live_mutes WHERE creator_id IN (${marks(slice.length)}) AND fan_id IN (${marks(fanSlice.length)})`,
        [...slice, ...fanSlice],
      );
      for (const row of mutes) state.muted.add(key(row.creator_id, row.fan_id));
      // A superset of the batch's (creator, fan, gift type) triples; the ones it does not hold go unused.
      const combos = await tx.query<{
        creator_id: string;
        fan_id: string;
        gift_type_id: string;
        last_at: number | string;
        combo: number | string;
      }>(
        `SELECT creator_id, fan_id, gift_type_id, last_at, combo FROM live_combos
         WHERE creator_id IN (${marks(slice.length)}) AND fan_id IN (${marks(fanSlice.length)}) AND gift_type_id IN (${marks(giftTypeIds.length)})`,
        [...slice, ...fanSlice, ...giftTypeIds],
      );
      for (const row of combos) {
        state.combos.set(key(row.creator_id, row.fan_id, row.gift_type_id), { lastAt: Number(row.last_at), combo: Number(row.combo) });
      }
    }
  }
  // Names, art and blocked words only for what the screens will show.
  const shown = gifts.filter((g) => isShown(state, g, now));
  for (const slice of chunked([...new Set(shown.map((g) => g.fanId))])) {
    const rows = await tx.query<{ id: string; display_name: string; anonymous: string | null }>(
      `SELECT u.id, u.display_name, a.fan_id AS anonymous FROM users u LEFT JOIN live_anonymous_fans a ON a.fan_id = u.id
       WHERE u.id IN (${marks(slice.length)})`,
      slice,
    );
    for (const row of rows) state.names.set(row.id, row.anonymous !== null ? ANONYMOUS_FAN_NAME : row.display_name);
  }
  for (const slice of chunked([...new Set(shown.map((g) => g.gift.giftTypeId))])) {
    const rows = await tx.query<{ id: string; name: string; animation: string }>(
      `SELECT id, name, animation FROM gift_types WHERE id IN (${marks(slice.length)})`,
      slice,
    );
    for (const row of rows) state.giftTypes.set(row.id, { name: row.name, animation: row.animation });
  }
  for (const slice of chunked([...new Set(shown.filter((g) => g.gift.message !== null).map((g) => g.creatorId))])) {
    const rows = await tx.query<{ creator_id: string; blocked_words: string }>(
      `SELECT creator_id, blocked_words FROM live_settings WHERE creator_id IN (${marks(slice.length)})`,
      slice,
    );
    for (const row of rows) state.blocked.set(row.creator_id, JSON.parse(row.blocked_words) as string[]);
  }
  return state;
}

/**
 * Turns a batch of committed events into what the live streams show, in one transaction: each
 * gift becomes a feed item (its combo decided here, once, from the order of commits; the fan's
 * name unless they stay anonymous; its message unless the creator's blocked words hide it),
 * moves the creator's goal (appending `goal.reached` the first time it is reached), the session's
 * totals and the top gifters (a new list is fed when it changed); a session's start or end
 * becomes a feed item too. A muted fan's gift counts but is not shown.
 *
 * @remarks Exactly once, like the earnings' fold: a compare-and-set of the live cursor from
 * `from` to `to`; a second process that folded the same events finds it moved and applies
 * nothing. On PostgreSQL the cursor row is locked first, so the feed has one writer at a time
 * and its sequence follows the commits.
 *
 * The batch costs about fifteen statements however many gifts, creators and fans it holds: what
 * the gifts need is read once (`IN` lists), each gift is folded in memory in commit order, and
 * what changed is written once (multi-row upserts of combos and gifters, one update per session
 * and goal, the feed's rows together).
 */
export const liveFoldOperation = moneyOperation<LiveFoldInput, LiveFoldResult>('live.fold', async (tx, _money, input) => {
  const cursor = await readLiveCursor(tx, true);
  if (cursor.txId !== input.from.txId || cursor.seq !== input.from.seq) return { applied: false, cursor, creators: [] };
  const creators = new Set<string>();
  const feed: Array<[string, LiveFeedRow['kind'], number, string]> = [];
  const changedTops = new Map<string, Set<string>>();
  const gifts = new Map<StoredEvent, BatchGift>();
  for (const event of input.events) {
    if (event.type !== 'gift.sent' || !event.creatorId || !event.fanId || !event.siteId) continue;
    gifts.set(event, { event, creatorId: event.creatorId, fanId: event.fanId, gift: JSON.parse(event.data) as GiftData });
  }
  const state = await readBatch(tx, [...gifts.values()], input.now);
  const combosWritten = new Set<string>();
  const gifters = new Map<string, { creatorId: string; scope: string; fanId: string; diamonds: number }>();
  const sessionTotals = new Map<string, { diamonds: number; gifts: number; shown: TopGift[] }>();
  for (const event of input.events) {
    const creatorId = event.creatorId;
    if (!creatorId) continue;
    if (event.type === 'live.started' || event.type === 'live.ended') {
      const { sessionId } = JSON.parse(event.data) as { sessionId: string };
      const [session] = await tx.query<{ id: string; title: string; started_at: number | string; ended_at: number | string | null }>(
        'SELECT id, title, started_at, ended_at FROM live_sessions WHERE id = ?',
        [sessionId],
      );
      if (!session) continue;
      const sessionState: LiveSessionState = {
        sessionId: session.id as LiveSessionState['sessionId'],
        status: event.type === 'live.started' ? 'live' : 'ended',
        title: session.title,
        startedAt: Number(session.started_at),
        endedAt: event.type === 'live.ended' && session.ended_at !== null ? Number(session.ended_at) : null,
      };
      feed.push([creatorId, 'session', event.createdAt, JSON.stringify(sessionState)]);
      creators.add(creatorId);
      continue;
    }
    if (event.type === 'live.test_alert') {
      // A creator's test alert: shown like a gift (flagged), counted nowhere.
      if (event.createdAt < input.now - LIVE_REPLAY_MS) continue;
      feed.push([creatorId, 'gift', event.createdAt, JSON.stringify(await testAlertItem(tx, event))]);
      creators.add(creatorId);
      continue;
    }
    const batchGift = gifts.get(event);
    if (!batchGift) continue;
    const { fanId, gift } = batchGift;
    // The combo: the same fan, gift and creator within 5 s of the last one (an earlier gift of
    // this batch included: the map holds what the batch has folded so far).
    const comboKey = key(creatorId, fanId, gift.giftTypeId);
    const last = state.combos.get(comboKey);
    const combo = last && event.createdAt - last.lastAt <= COMBO_WINDOW_MS ? last.combo + 1 : 1;
    state.combos.set(comboKey, { lastAt: event.createdAt, combo });
    combosWritten.add(comboKey);
    // The session live when the gift committed.
    const session = state.sessions
      .get(creatorId)
      ?.find((s) => s.startedAt <= event.createdAt && (s.endedAt === null || s.endedAt >= event.createdAt));
    const scopes = ['all', dayScope(event.createdAt), ...(session ? [`session:${session.id}`] : [])];
    const tops = changedTops.get(creatorId) ?? new Set<string>();
    for (const scope of scopes) {
      const gifter = gifters.get(key(creatorId, scope, fanId)) ?? { creatorId, scope, fanId, diamonds: 0 };
      gifter.diamonds += gift.amountDiamonds;
      gifters.set(key(creatorId, scope, fanId), gifter);
      tops.add(scope);
    }
    changedTops.set(creatorId, tops);
    const totals = session ? (sessionTotals.get(session.id) ?? { diamonds: 0, gifts: 0, shown: [] }) : undefined;
    if (session && totals) {
      totals.diamonds += gift.amountDiamonds;
      totals.gifts++;
      sessionTotals.set(session.id, totals);
    }
    const goal = state.goals.get(creatorId);
    if (goal && (goal.goal.endsAt === null || event.createdAt <= goal.goal.endsAt) && event.createdAt >= goal.startsAt) {
      const progress = goal.goal.progressDiamonds + gift.amountDiamonds;
      const reached = goal.goal.reachedAt === null && progress >= goal.goal.targetDiamonds;
      goal.goal = { ...goal.goal, progressDiamonds: progress, reachedAt: reached ? event.createdAt : goal.goal.reachedAt };
      goal.dirty = true;
      if (reached) {
        await appendEvent(
          tx,
          {
            type: 'goal.reached',
            siteId: event.siteId,
            creatorId,
            fanId,
            data: {
              title: goal.goal.title,
              targetDiamonds: goal.goal.targetDiamonds,
              progressDiamonds: progress,
              giftId: gift.giftId as never,
            },
          },
          input.now,
        );
      }
      feed.push([creatorId, 'goal', event.createdAt, JSON.stringify(goal.goal)]);
    }
    // What the screens show: nothing for a muted fan, and nothing for history older than the replay window.
    if (!isShown(state, batchGift, input.now)) continue;
    const type = state.giftTypes.get(gift.giftTypeId);
    const fanName = state.names.get(fanId) ?? ANONYMOUS_FAN_NAME;
    const hidden = gift.message !== null && isBlocked(gift.message, state.blocked.get(creatorId) ?? []);
    const item: Omit<LiveGift, 'artUrl'> & { artPath: string } = {
      giftId: gift.giftId as LiveGift['giftId'],
      giftTypeId: gift.giftTypeId,
      giftName: type?.name ?? gift.giftTypeId,
      artPath: `/gifts/${gift.giftTypeId}.svg`,
      animation: (type?.animation ?? 'float') as LiveGift['animation'],
      quantity: gift.quantity,
      amountDiamonds: gift.amountDiamonds,
      combo,
      fanName,
      message: hidden ? null : gift.message,
      messageHidden: hidden,
      sessionId: session ? (session.id as LiveGift['sessionId']) : null,
      createdAt: event.createdAt,
    };
    feed.push([creatorId, 'gift', event.createdAt, JSON.stringify(item)]);
    totals?.shown.push({ fanName, giftName: item.giftName, quantity: item.quantity, amountDiamonds: item.amountDiamonds });
    creators.add(creatorId);
  }
  // What the batch changed, each row written once however many of its gifts touched it; rows in
  // key order, so two writers of the same rows (there is one, but a retry is not) lock them alike.
  const combos = [...combosWritten].sort().map((k) => {
    const [creatorId, fanId, giftTypeId] = k.split('\u0000') as [string, string, string];
    const c = state.combos.get(k)!;
    return [creatorId, fanId, giftTypeId, c.lastAt, c.combo];
  });
  for (const rows of chunked(combos)) {
    await tx.run(
      `INSERT INTO live_combos (creator_id, fan_id, gift_type_id, last_at, combo) VALUES ${rows.map(() => '(?, ?, ?, ?, ?)').join(', ')}
       ON CONFLICT (creator_id, fan_id, gift_type_id) DO UPDATE SET last_at = excluded.last_at, combo = excluded.combo`,
      rows.flat(),
    );
  }
  const gifterRows = [...gifters.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, g]) => [g.creatorId, g.scope, g.fanId, g.diamonds]);
  for (const rows of chunked(gifterRows)) {
    await tx.run(
      `INSERT INTO live_gifters (creator_id, scope, fan_id, diamonds) VALUES ${rows.map(() => '(?, ?, ?, ?)').join(', ')}
       ON CONFLICT (creator_id, scope, fan_id) DO UPDATE SET diamonds = live_gifters.diamonds + excluded.diamonds`,
      rows.flat(),
    );
  }
  for (const [sessionId, totals] of sessionTotals) {
    let top: string | undefined;
    if (totals.shown.length > 0) {
      const stored = [...state.sessions.values()].flat().find((s) => s.id === sessionId)?.topGifts ?? '[]';
      // The stored top gifts first, then the batch's in order: a stable sort keeps the earlier of equal gifts, as one at a time did.
      top = JSON.stringify(
        [...(JSON.parse(stored) as TopGift[]), ...totals.shown].sort((a, b) => b.amountDiamonds - a.amountDiamonds).slice(0, 3),
      );
    }
    await tx.run(`UPDATE live_sessions SET diamonds = diamonds + ?, gifts = gifts + ?${top ? ', top_gifts = ?' : ''} WHERE id = ?`, [
      totals.diamonds,
      totals.gifts,
      ...(top ? [top] : []),
      sessionId,
    ]);
  }
  for (const [creatorId, goal] of state.goals) {
    if (!goal.dirty) continue;
    await tx.run('UPDATE live_goals SET progress = ?, reached_at = ? WHERE creator_id = ?', [
      goal.goal.progressDiamonds,
      goal.goal.reachedAt,
      creatorId,
    ]);
  }
  // One top list per creator and period that moved in this batch, all read together.
  const lists: Array<[creatorId: string, scope: string, named: LiveTopGifters['scope']]> = [];
  for (const [creatorId, scopes] of changedTops) {
    for (const scope of scopes) {
      const named = scope === 'all' ? 'all_time' : scope.startsWith('day:') ? 'today' : 'session';
      if (named === 'today' && scope !== dayScope(input.now)) continue;
      lists.push([creatorId, scope, named]);
    }
  }
  const tops = await topGiftersLists(
    tx,
    lists.map(([creatorId, scope]) => [creatorId, scope] as const),
  );
  lists.forEach(([creatorId, , named], i) => {
    const list: LiveTopGifters = { scope: named, gifters: tops[i]! };
    feed.push([creatorId, 'top_gifters', input.now, JSON.stringify(list)]);
    creators.add(creatorId);
  });
  // In order (their sequence is the streams' order), a few hundred rows per statement.
  for (const rows of chunked(feed)) {
    await tx.run(
      `INSERT INTO live_feed (creator_id, kind, created_at, data) VALUES ${rows.map(() => '(?, ?, ?, ?)').join(', ')}`,
      rows.flat(),
    );
  }
  await tx.run(`UPDATE live_cursor SET tx_id = ?, seq = ? WHERE name = 'feed'`, [input.to.txId, input.to.seq]);
  return { applied: true, cursor: input.to, creators: [...creators] };
});

/**
 * Deletes feed items older than twice the replay window, and the daily top gifters of days
 * before yesterday (run now and then by the folder); returns how many rows went.
 */
export const pruneLiveFeedOperation = moneyOperation<{ now: number }, number>('live.prune', async (tx, _money, input) => {
  const feed = await tx.run('DELETE FROM live_feed WHERE created_at < ?', [input.now - 2 * LIVE_REPLAY_MS]);
  const days = await tx.run(`DELETE FROM live_gifters WHERE scope LIKE 'day:%' AND scope < ?`, [dayScope(input.now - 2 * 86_400_000)]);
  return feed + days;
});
