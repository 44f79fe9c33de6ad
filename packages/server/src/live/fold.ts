import {
  ANONYMOUS_FAN_NAME,
  type EventData,
  COMBO_WINDOW_MS,
  type LiveGift,
  type LiveGoal,
  type LiveSessionState,
  type LiveTopGifters,
} from '@diamonds/protocol';
import type { SqlClient, SqlValue } from '../db/types.js';
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

async function topGifters(tx: SqlClient, creatorId: string, scope: string): Promise<LiveTopGifters['gifters']> {
  const rows = await tx.query<{ fan_id: string; diamonds: number | string; display_name: string | null; anonymous: string | null }>(
    `SELECT g.fan_id, g.diamonds, u.display_name, a.fan_id AS anonymous FROM live_gifters g
     LEFT JOIN users u ON u.id = g.fan_id LEFT JOIN live_anonymous_fans a ON a.fan_id = g.fan_id
     WHERE g.creator_id = ? AND g.scope = ?
       AND NOT EXISTS (SELECT 1 FROM live_mutes m WHERE m.creator_id = g.creator_id AND m.fan_id = g.fan_id)
     ORDER BY g.diamonds DESC, g.fan_id LIMIT ?`,
    [creatorId, scope, TOP_GIFTERS],
  );
  return rows.map((row) => ({
    fanName: row.anonymous !== null ? ANONYMOUS_FAN_NAME : (row.display_name ?? ANONYMOUS_FAN_NAME),
    diamonds: Number(row.diamonds),
  }));
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
  const lists: LiveTopGifters[] = [];
  if (session) lists.push({ scope: 'session', gifters: await topGifters(db, creatorId, `session:${session.sessionId}`) });
  lists.push({ scope: 'today', gifters: await topGifters(db, creatorId, dayScope(now)) });
  lists.push({ scope: 'all_time', gifters: await topGifters(db, creatorId, 'all') });
  return lists;
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
 */
export const liveFoldOperation = moneyOperation<LiveFoldInput, LiveFoldResult>('live.fold', async (tx, _money, input) => {
  const cursor = await readLiveCursor(tx, true);
  if (cursor.txId !== input.from.txId || cursor.seq !== input.from.seq) return { applied: false, cursor, creators: [] };
  const creators = new Set<string>();
  const feed: Array<[string, LiveFeedRow['kind'], number, string]> = [];
  const giftTypes = new Map<string, { name: string; animation: string } | undefined>();
  const changedTops = new Map<string, Set<string>>();
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
      const state: LiveSessionState = {
        sessionId: session.id as LiveSessionState['sessionId'],
        status: event.type === 'live.started' ? 'live' : 'ended',
        title: session.title,
        startedAt: Number(session.started_at),
        endedAt: event.type === 'live.ended' && session.ended_at !== null ? Number(session.ended_at) : null,
      };
      feed.push([creatorId, 'session', event.createdAt, JSON.stringify(state)]);
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
    if (event.type !== 'gift.sent' || !event.fanId || !event.siteId) continue;
    const gift = JSON.parse(event.data) as GiftData;
    const fanId = event.fanId;
    // The combo: the same fan, gift and creator within 5 s of the last one.
    const [last] = await tx.query<{ last_at: number | string; combo: number | string }>(
      'SELECT last_at, combo FROM live_combos WHERE creator_id = ? AND fan_id = ? AND gift_type_id = ?',
      [creatorId, fanId, gift.giftTypeId],
    );
    const combo = last && event.createdAt - Number(last.last_at) <= COMBO_WINDOW_MS ? Number(last.combo) + 1 : 1;
    await tx.run(
      `INSERT INTO live_combos (creator_id, fan_id, gift_type_id, last_at, combo) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (creator_id, fan_id, gift_type_id) DO UPDATE SET last_at = excluded.last_at, combo = excluded.combo`,
      [creatorId, fanId, gift.giftTypeId, event.createdAt, combo],
    );
    // The session, the goal, the top gifters.
    // The session live when the gift committed (it may have ended since, before this fold).
    const [session] = await tx.query<{ sessionId: string }>(
      `SELECT id AS "sessionId" FROM live_sessions WHERE creator_id = ? AND started_at <= ? AND (ended_at IS NULL OR ended_at >= ?)
       ORDER BY started_at DESC LIMIT 1`,
      [creatorId, event.createdAt, event.createdAt],
    );
    const sessionCounts = session !== undefined;
    if (sessionCounts) {
      await tx.run('UPDATE live_sessions SET diamonds = diamonds + ?, gifts = gifts + 1 WHERE id = ?', [
        gift.amountDiamonds,
        session.sessionId,
      ]);
    }
    const scopes = ['all', dayScope(event.createdAt), ...(sessionCounts ? [`session:${session.sessionId}`] : [])];
    for (const scope of scopes) {
      await tx.run(
        `INSERT INTO live_gifters (creator_id, scope, fan_id, diamonds) VALUES (?, ?, ?, ?)
         ON CONFLICT (creator_id, scope, fan_id) DO UPDATE SET diamonds = live_gifters.diamonds + excluded.diamonds`,
        [creatorId, scope, fanId, gift.amountDiamonds],
      );
    }
    const tops = changedTops.get(creatorId) ?? new Set<string>();
    for (const scope of scopes) tops.add(scope);
    changedTops.set(creatorId, tops);
    const goal = await currentGoal(tx, creatorId);
    if (goal && (goal.endsAt === null || event.createdAt <= goal.endsAt)) {
      const [row] = await tx.query<{ starts_at: number | string }>('SELECT starts_at FROM live_goals WHERE creator_id = ?', [creatorId]);
      if (row && event.createdAt >= Number(row.starts_at)) {
        const progress = goal.progressDiamonds + gift.amountDiamonds;
        const reached = goal.reachedAt === null && progress >= goal.targetDiamonds;
        await tx.run(`UPDATE live_goals SET progress = ?, reached_at = ${reached ? '?' : 'reached_at'} WHERE creator_id = ?`, [
          progress,
          ...(reached ? [event.createdAt] : []),
          creatorId,
        ]);
        const updated: LiveGoal = { ...goal, progressDiamonds: progress, reachedAt: reached ? event.createdAt : goal.reachedAt };
        if (reached) {
          await appendEvent(
            tx,
            {
              type: 'goal.reached',
              siteId: event.siteId,
              creatorId,
              fanId,
              data: { title: goal.title, targetDiamonds: goal.targetDiamonds, progressDiamonds: progress, giftId: gift.giftId as never },
            },
            input.now,
          );
        }
        feed.push([creatorId, 'goal', event.createdAt, JSON.stringify(updated)]);
      }
    }
    // What the screens show: nothing for a muted fan, and nothing for history older than the replay window.
    const [muted] = await tx.query<{ one: number }>('SELECT 1 AS one FROM live_mutes WHERE creator_id = ? AND fan_id = ?', [
      creatorId,
      fanId,
    ]);
    if (muted || event.createdAt < input.now - LIVE_REPLAY_MS) continue;
    if (!giftTypes.has(gift.giftTypeId)) {
      const [type] = await tx.query<{ name: string; animation: string }>('SELECT name, animation FROM gift_types WHERE id = ?', [
        gift.giftTypeId,
      ]);
      giftTypes.set(gift.giftTypeId, type);
    }
    const type = giftTypes.get(gift.giftTypeId);
    const [fan] = await tx.query<{ display_name: string; anonymous: string | null }>(
      'SELECT u.display_name, a.fan_id AS anonymous FROM users u LEFT JOIN live_anonymous_fans a ON a.fan_id = u.id WHERE u.id = ?',
      [fanId],
    );
    const [settings] = await tx.query<{ blocked_words: string }>('SELECT blocked_words FROM live_settings WHERE creator_id = ?', [
      creatorId,
    ]);
    const blocked = settings ? (JSON.parse(settings.blocked_words) as string[]) : [];
    const hidden = gift.message !== null && isBlocked(gift.message, blocked);
    const item: Omit<LiveGift, 'artUrl'> & { artPath: string } = {
      giftId: gift.giftId as LiveGift['giftId'],
      giftTypeId: gift.giftTypeId,
      giftName: type?.name ?? gift.giftTypeId,
      artPath: `/gifts/${gift.giftTypeId}.svg`,
      animation: (type?.animation ?? 'float') as LiveGift['animation'],
      quantity: gift.quantity,
      amountDiamonds: gift.amountDiamonds,
      combo,
      fanName: !fan || fan.anonymous !== null ? ANONYMOUS_FAN_NAME : fan.display_name,
      message: hidden ? null : gift.message,
      messageHidden: hidden,
      sessionId: sessionCounts ? (session.sessionId as LiveGift['sessionId']) : null,
      createdAt: event.createdAt,
    };
    feed.push([creatorId, 'gift', event.createdAt, JSON.stringify(item)]);
    if (sessionCounts) {
      const [row] = await tx.query<{ top_gifts: string }>('SELECT top_gifts FROM live_sessions WHERE id = ?', [session.sessionId]);
      const top = [
        ...(JSON.parse(row?.top_gifts ?? '[]') as Array<{ amountDiamonds: number }>),
        {
          fanName: item.fanName,
          giftName: item.giftName,
          quantity: item.quantity,
          amountDiamonds: item.amountDiamonds,
        },
      ]
        .sort((a, b) => b.amountDiamonds - a.amountDiamonds)
        .slice(0, 3);
      await tx.run('UPDATE live_sessions SET top_gifts = ? WHERE id = ?', [JSON.stringify(top), session.sessionId]);
    }
    creators.add(creatorId);
  }
  // One top list per creator and period that moved in this batch.
  for (const [creatorId, scopes] of changedTops) {
    for (const scope of scopes) {
      const named = scope === 'all' ? 'all_time' : scope.startsWith('day:') ? 'today' : 'session';
      if (named === 'today' && scope !== dayScope(input.now)) continue;
      const list: LiveTopGifters = { scope: named, gifters: await topGifters(tx, creatorId, scope) };
      feed.push([creatorId, 'top_gifters', input.now, JSON.stringify(list)]);
      creators.add(creatorId);
    }
  }
  for (const [creatorId, kind, createdAt, data] of feed) {
    await tx.run('INSERT INTO live_feed (creator_id, kind, created_at, data) VALUES (?, ?, ?, ?)', [
      creatorId,
      kind,
      createdAt,
      data,
    ] as SqlValue[]);
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
