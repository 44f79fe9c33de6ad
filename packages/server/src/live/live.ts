import { randomBytes } from 'node:crypto';
import { isId, newId, type LiveSessionState, type LiveSessionSummary } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { ApiError } from '../errors.js';
import { appendEvent } from '../events/outbox.js';
import { hashSecret } from '../identity/users.js';
import { moneyOperation, type MoneyFeature } from '../money/operations.js';
import { liveFoldOperation, pruneLiveFeedOperation } from './fold.js';

/** Most blocked words a creator may list. */
export const MAX_BLOCKED_WORDS = 200;

/** Longest title of a live session or a goal. */
export const MAX_LIVE_TITLE_LENGTH = 80;

function checkTitle(title: unknown, what: string): string {
  const text = typeof title === 'string' ? title.trim() : '';
  if (text.length === 0 || [...text].length > MAX_LIVE_TITLE_LENGTH) {
    throw new ApiError('invalid_request', `${what} needs a title of 1 to ${MAX_LIVE_TITLE_LENGTH} characters.`, { param: 'title' });
  }
  return text;
}

/** Input of {@link startLiveOperation}. */
export interface StartLiveInput {
  creatorId: string;
  title: string;
  now: number;
}

/**
 * Starts a live session: gifts from now on count for it, and `live.started` tells the streams.
 * Starting while one is live returns that one (a double click starts one session).
 *
 * @throws {@link ApiError} `invalid_request` (the title).
 */
export const startLiveOperation = moneyOperation<StartLiveInput, LiveSessionState>('live.start', async (tx, _money, input) => {
  const title = checkTitle(input.title, 'A live session');
  const [live] = await tx.query<{ id: string; title: string; started_at: number | string }>(
    'SELECT id, title, started_at FROM live_sessions WHERE creator_id = ? AND ended_at IS NULL',
    [input.creatorId],
  );
  if (live)
    return {
      sessionId: live.id as LiveSessionState['sessionId'],
      status: 'live',
      title: live.title,
      startedAt: Number(live.started_at),
      endedAt: null,
    };
  const sessionId = newId('ls', input.now);
  await tx.run('INSERT INTO live_sessions (id, creator_id, title, started_at) VALUES (?, ?, ?, ?)', [
    sessionId,
    input.creatorId,
    title,
    input.now,
  ]);
  await appendEvent(
    tx,
    { type: 'live.started', siteId: null, creatorId: input.creatorId, fanId: null, data: { sessionId, title } },
    input.now,
  );
  return { sessionId, status: 'live', title, startedAt: input.now, endedAt: null };
});

/** Input of {@link endLiveOperation}. */
export interface EndLiveInput {
  creatorId: string;
  now: number;
}

/**
 * Ends the creator's live session and appends `live.ended`; `undefined` when none is live (ending
 * twice is harmless). Gifts that committed before the end count for it.
 */
export const endLiveOperation = moneyOperation<EndLiveInput, LiveSessionState | undefined>('live.end', async (tx, _money, input) => {
  const [live] = await tx.query<{ id: string; title: string; started_at: number | string }>(
    'SELECT id, title, started_at FROM live_sessions WHERE creator_id = ? AND ended_at IS NULL',
    [input.creatorId],
  );
  if (!live) return undefined;
  await tx.run('UPDATE live_sessions SET ended_at = ? WHERE id = ?', [input.now, live.id]);
  await appendEvent(
    tx,
    { type: 'live.ended', siteId: null, creatorId: input.creatorId, fanId: null, data: { sessionId: live.id as never, title: live.title } },
    input.now,
  );
  return {
    sessionId: live.id as LiveSessionState['sessionId'],
    status: 'ended',
    title: live.title,
    startedAt: Number(live.started_at),
    endedAt: input.now,
  };
});

/** Input of {@link setGoalOperation}. */
export interface SetGoalInput {
  creatorId: string;
  /** `null` removes the goal. */
  goal: { title: string; targetDiamonds: number; endsAt: number | null } | null;
  now: number;
}

/**
 * Sets (or replaces, or with `null` removes) the creator's goal: it counts the Diamonds given
 * from now on, until `endsAt` if set; reaching it appends `goal.reached` once.
 *
 * @throws {@link ApiError} `invalid_request`, `invalid_amount`.
 */
export const setGoalOperation = moneyOperation<SetGoalInput, void>('live.setGoal', async (tx, _money, input) => {
  if (input.goal === null) {
    await tx.run('DELETE FROM live_goals WHERE creator_id = ?', [input.creatorId]);
    return;
  }
  const title = checkTitle(input.goal.title, 'A goal');
  const target = input.goal.targetDiamonds;
  if (!Number.isSafeInteger(target) || target < 1 || target > 1_000_000_000) {
    throw new ApiError('invalid_amount', 'A goal’s target is a whole number of Diamonds from 1 to 1,000,000,000.', {
      param: 'targetDiamonds',
    });
  }
  if (input.goal.endsAt !== null && (!Number.isSafeInteger(input.goal.endsAt) || input.goal.endsAt <= input.now)) {
    throw new ApiError('invalid_request', 'A goal’s end must be in the future.', { param: 'endsAt' });
  }
  await tx.run(
    `INSERT INTO live_goals (creator_id, title, target, progress, starts_at, ends_at, reached_at) VALUES (?, ?, ?, 0, ?, ?, NULL)
     ON CONFLICT (creator_id) DO UPDATE SET title = excluded.title, target = excluded.target, progress = 0, starts_at = excluded.starts_at,
       ends_at = excluded.ends_at, reached_at = NULL`,
    [input.creatorId, title, target, input.now, input.goal.endsAt],
  );
});

/** The creator's live moderation and overlay settings. */
export interface LiveSettings {
  blockedWords: string[];
  /** Whether an overlay URL exists (its token is only shown once, when made). */
  hasOverlay: boolean;
}

/** The creator's live settings (defaults when never set). */
export async function liveSettingsOf(db: SqlClient, creatorId: string): Promise<LiveSettings> {
  const [row] = await db.query<{ blocked_words: string; overlay_token_hash: string | null }>(
    'SELECT blocked_words, overlay_token_hash FROM live_settings WHERE creator_id = ?',
    [creatorId],
  );
  return {
    blockedWords: row ? (JSON.parse(row.blocked_words) as string[]) : [],
    hasOverlay: row !== undefined && row.overlay_token_hash !== null,
  };
}

/** Parses a creator's blocked words: one per line or comma, trimmed, deduplicated, at most 200 of 1–40 characters. */
export function parseBlockedWords(text: string): string[] {
  const words = [
    ...new Set(
      text
        .split(/[\n,]/)
        .map((word) => word.trim())
        .filter((word) => word !== ''),
    ),
  ];
  if (words.length > MAX_BLOCKED_WORDS) {
    throw new ApiError('invalid_request', `At most ${MAX_BLOCKED_WORDS} blocked words.`, { param: 'blockedWords' });
  }
  const long = words.find((word) => [...word].length > 40);
  if (long !== undefined)
    throw new ApiError('invalid_request', `“${long.slice(0, 40)}…” is longer than 40 characters.`, { param: 'blockedWords' });
  return words;
}

/** Sets the creator's blocked words (messages containing one are never shown; the gift still counts). */
export const setBlockedWordsOperation = moneyOperation<{ creatorId: string; words: string[]; now: number }, void>(
  'live.setBlockedWords',
  async (tx, _money, input) => {
    const words = parseBlockedWords(input.words.join('\n'));
    await tx.run(
      `INSERT INTO live_settings (creator_id, blocked_words, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (creator_id) DO UPDATE SET blocked_words = excluded.blocked_words, updated_at = excluded.updated_at`,
      [input.creatorId, JSON.stringify(words), input.now],
    );
  },
);

/** Mutes (or unmutes) a fan on the creator's live: their gifts count but are never shown. */
export const muteFanOperation = moneyOperation<{ creatorId: string; fanId: string; muted: boolean; now: number }, void>(
  'live.muteFan',
  async (tx, _money, input) => {
    if (!isId('usr', input.fanId)) throw new ApiError('invalid_id', 'Expected a fan’s id (usr_…).', { param: 'fanId' });
    if (input.muted) {
      await tx.run('INSERT INTO live_mutes (creator_id, fan_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [
        input.creatorId,
        input.fanId,
        input.now,
      ]);
    } else {
      await tx.run('DELETE FROM live_mutes WHERE creator_id = ? AND fan_id = ?', [input.creatorId, input.fanId]);
    }
  },
);

/** Whether the fan stays anonymous in live alerts ("A fan"). */
export const setAnonymousOperation = moneyOperation<{ fanId: string; anonymous: boolean; now: number }, void>(
  'live.setAnonymous',
  async (tx, _money, input) => {
    if (input.anonymous) {
      await tx.run('INSERT INTO live_anonymous_fans (fan_id, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING', [input.fanId, input.now]);
    } else {
      await tx.run('DELETE FROM live_anonymous_fans WHERE fan_id = ?', [input.fanId]);
    }
  },
);

/**
 * Makes a new secret overlay URL token for the creator (the old URL stops working at once) and
 * returns it: shown once, stored hashed.
 */
export const rollOverlayTokenOperation = moneyOperation<{ creatorId: string; now: number }, string>(
  'live.rollOverlay',
  async (tx, _money, input) => {
    const token = `ov_${randomBytes(24).toString('base64url')}`;
    await tx.run(
      `INSERT INTO live_settings (creator_id, overlay_token_hash, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (creator_id) DO UPDATE SET overlay_token_hash = excluded.overlay_token_hash, updated_at = excluded.updated_at`,
      [input.creatorId, hashSecret(token), input.now],
    );
    return token;
  },
);

/** The creator whose overlay URL carries `token`, or `undefined` (unknown or replaced). */
export async function overlayCreator(db: SqlClient, token: string): Promise<string | undefined> {
  if (!/^ov_[\w-]{32}$/.test(token)) return undefined;
  const [row] = await db.query<{ creator_id: string }>('SELECT creator_id FROM live_settings WHERE overlay_token_hash = ?', [
    hashSecret(token),
  ]);
  return row?.creator_id;
}

/** The creator's sessions, newest first, with what each brought. */
export async function liveSessionSummaries(db: SqlClient, creatorId: string, now: number, limit = 10): Promise<LiveSessionSummary[]> {
  const rows = await db.query<{
    id: string;
    title: string;
    started_at: number | string;
    ended_at: number | string | null;
    diamonds: number | string;
    gifts: number | string;
    top_gifts: string;
  }>(
    'SELECT id, title, started_at, ended_at, diamonds, gifts, top_gifts FROM live_sessions WHERE creator_id = ? ORDER BY started_at DESC LIMIT ?',
    [creatorId, limit],
  );
  const summaries: LiveSessionSummary[] = [];
  for (const row of rows) {
    const [gifters] = await db.query<{ n: number | string }>('SELECT count(*) AS n FROM live_gifters WHERE creator_id = ? AND scope = ?', [
      creatorId,
      `session:${row.id}`,
    ]);
    const endedAt = row.ended_at === null ? null : Number(row.ended_at);
    summaries.push({
      sessionId: row.id as LiveSessionSummary['sessionId'],
      status: endedAt === null ? 'live' : 'ended',
      title: row.title,
      startedAt: Number(row.started_at),
      endedAt,
      diamonds: Number(row.diamonds),
      gifts: Number(row.gifts),
      gifters: Number(gifters?.n ?? 0),
      topGifts: JSON.parse(row.top_gifts) as LiveSessionSummary['topGifts'],
      durationMs: (endedAt ?? now) - Number(row.started_at),
    });
  }
  return summaries;
}

/** The live features' part in the money path (see `features.ts`). */
export const liveMoney: MoneyFeature = {
  name: 'live',
  operations: [
    liveFoldOperation,
    pruneLiveFeedOperation,
    startLiveOperation,
    endLiveOperation,
    setGoalOperation,
    setBlockedWordsOperation,
    muteFanOperation,
    setAnonymousOperation,
    rollOverlayTokenOperation,
  ],
};
