import { newId } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { ApiError } from '../errors.js';
import { appendEvent } from '../events/outbox.js';
import { moneyOperation, type MoneyFeature } from '../money/operations.js';
import { rollOverlayTokenOperation } from './live.js';

/**
 * How a creator's stream-alerts overlay behaves, stored as JSON in `live_settings.overlay_options`.
 */
export interface OverlayOptions {
  /** How long one alert stays on screen (ms). */
  durationMs: number;
  /** The pause between two alerts (ms). */
  gapMs: number;
  /** Whether an alert plays the chime. */
  sound: boolean;
  /** Whether the browser reads the gift's message aloud (speech synthesis). */
  speech: boolean;
  /** Whether the goal bar shows (when the creator has a goal). */
  goalBar: boolean;
}

/** The options of an overlay never configured. */
export const DEFAULT_OVERLAY_OPTIONS: Readonly<OverlayOptions> = {
  durationMs: 6_000,
  gapMs: 1_000,
  sound: true,
  speech: false,
  goalBar: true,
};

/** Shortest and longest alert (seconds). */
export const ALERT_SECONDS = { min: 2, max: 30 } as const;

/** Shortest and longest gap between alerts (seconds). */
export const GAP_SECONDS = { min: 0, max: 10 } as const;

/** An overlay stream says it is open this often; the creator's page calls it connected within {@link CONNECTED_WITHIN_MS}. */
export const OVERLAY_SEEN_INTERVAL_MS = 10_000;

/** An overlay seen this recently is "connected". */
export const CONNECTED_WITHIN_MS = 30_000;

/** Longest message of a test alert. */
export const MAX_TEST_MESSAGE_LENGTH = 200;

/** The name a test alert shows for its (made-up) fan. */
export const TEST_ALERT_FAN_NAME = 'Test fan';

function wholeSeconds(value: unknown, range: { min: number; max: number }, param: string, what: string): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^\d{1,3}$/.test(text) || Number(text) < range.min || Number(text) > range.max) {
    throw new ApiError('invalid_request', `${what} is a whole number of seconds from ${range.min} to ${range.max}.`, { param });
  }
  return Number(text) * 1000;
}

/**
 * The overlay options of a submitted form: `duration` and `gap` in whole seconds, and the
 * checkboxes `sound`, `speech`, `goalBar` (`on` when ticked, absent otherwise).
 *
 * @throws {@link ApiError} `invalid_request` naming the field (`duration`, `gap`).
 */
export function parseOverlayForm(form: Record<string, string | undefined>): OverlayOptions {
  return {
    durationMs: wholeSeconds(form.duration, ALERT_SECONDS, 'duration', 'How long an alert shows'),
    gapMs: wholeSeconds(form.gap, GAP_SECONDS, 'gap', 'The gap between alerts'),
    sound: form.sound === 'on',
    speech: form.speech === 'on',
    goalBar: form.goalBar === 'on',
  };
}

/**
 * Checks options as stored (the operation's input crosses a thread: checked again there).
 *
 * @throws {@link ApiError} `invalid_request`.
 */
export function checkOverlayOptions(options: OverlayOptions): OverlayOptions {
  const ms = (value: unknown, range: { min: number; max: number }, param: string, what: string) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value % 1000 !== 0) {
      throw new ApiError('invalid_request', `${what} is a whole number of seconds.`, { param });
    }
    return wholeSeconds(value / 1000, range, param, what);
  };
  const flag = (value: unknown, param: string) => {
    if (typeof value !== 'boolean') throw new ApiError('invalid_request', `${param} is on or off.`, { param });
    return value;
  };
  return {
    durationMs: ms(options.durationMs, ALERT_SECONDS, 'duration', 'How long an alert shows'),
    gapMs: ms(options.gapMs, GAP_SECONDS, 'gap', 'The gap between alerts'),
    sound: flag(options.sound, 'sound'),
    speech: flag(options.speech, 'speech'),
    goalBar: flag(options.goalBar, 'goalBar'),
  };
}

/** Stored options read back: anything missing or out of range falls back to its default. */
function storedOptions(json: string | undefined): OverlayOptions {
  let stored: Partial<OverlayOptions> = {};
  try {
    stored = JSON.parse(json ?? '{}') as Partial<OverlayOptions>;
  } catch {
    // Unreadable: the defaults.
  }
  const merged = { ...DEFAULT_OVERLAY_OPTIONS, ...stored };
  try {
    return checkOverlayOptions(merged);
  } catch {
    return { ...DEFAULT_OVERLAY_OPTIONS };
  }
}

/** The creator's overlay as their live page shows it. */
export interface OverlayState {
  /** Whether an overlay URL exists (its token is only shown once, when made). */
  hasOverlay: boolean;
  options: OverlayOptions;
  /** When an overlay stream last said it was open, or `null`. */
  seenAt: number | null;
  /** Seen within {@link CONNECTED_WITHIN_MS}. */
  connected: boolean;
}

/** The creator's overlay: whether it exists, its options, whether one is connected now. */
export async function overlayOf(db: SqlClient, creatorId: string, now: number): Promise<OverlayState> {
  const [row] = await db.query<{ overlay_token_hash: string | null; overlay_options: string; overlay_seen_at: number | string | null }>(
    'SELECT overlay_token_hash, overlay_options, overlay_seen_at FROM live_settings WHERE creator_id = ?',
    [creatorId],
  );
  const seenAt = row?.overlay_seen_at === null || row?.overlay_seen_at === undefined ? null : Number(row.overlay_seen_at);
  const hasOverlay = row !== undefined && row.overlay_token_hash !== null;
  return {
    hasOverlay,
    options: storedOptions(row?.overlay_options),
    seenAt,
    connected: hasOverlay && seenAt !== null && now - seenAt <= CONNECTED_WITHIN_MS,
  };
}

/**
 * Stores the creator's overlay options (an overlay open now takes them at its next reload).
 *
 * @throws {@link ApiError} `invalid_request`.
 */
export const setOverlayOptionsOperation = moneyOperation<{ creatorId: string; options: OverlayOptions; now: number }, void>(
  'live.setOverlayOptions',
  async (tx, _money, input) => {
    const options = checkOverlayOptions(input.options);
    await tx.run(
      `INSERT INTO live_settings (creator_id, overlay_options, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (creator_id) DO UPDATE SET overlay_options = excluded.overlay_options, updated_at = excluded.updated_at`,
      [input.creatorId, JSON.stringify(options), input.now],
    );
  },
);

/** Input of {@link testAlertOperation}. */
export interface TestAlertInput {
  creatorId: string;
  giftTypeId: string;
  /** Empty or absent: no message. */
  message?: string | undefined;
  now: number;
}

/**
 * Sends the creator a test alert through the real pipeline: a `live.test_alert` event in the
 * outbox, which the live fold turns into a feed `gift` flagged `test` (nothing sent or counted),
 * which every stream of the creator (overlays, the site's elements) then shows.
 *
 * @throws {@link ApiError} `gift_not_found` (no such active gift), `invalid_message`.
 */
export const testAlertOperation = moneyOperation<TestAlertInput, { alertId: string }>('live.testAlert', async (tx, _money, input) => {
  const [type] = await tx.query<{ id: string }>('SELECT id FROM gift_types WHERE id = ? AND active = 1', [input.giftTypeId]);
  if (!type) throw new ApiError('gift_not_found', `No gift ${String(input.giftTypeId).slice(0, 40)}.`, { param: 'giftTypeId' });
  const message = (input.message ?? '').trim();
  if ([...message].length > MAX_TEST_MESSAGE_LENGTH) {
    throw new ApiError('invalid_message', `A test alert’s message is at most ${MAX_TEST_MESSAGE_LENGTH} characters.`, { param: 'message' });
  }
  const alertId = newId('gift', input.now);
  await appendEvent(
    tx,
    {
      type: 'live.test_alert',
      siteId: null,
      creatorId: input.creatorId,
      fanId: null,
      data: {
        alertId: alertId as never,
        giftTypeId: type.id,
        quantity: 1,
        fanName: TEST_ALERT_FAN_NAME,
        message: message === '' ? null : message,
      },
    },
    input.now,
  );
  return { alertId };
});

/**
 * Makes the creator's overlay URL, or a new one that replaces it (see `rollOverlayTokenOperation`):
 * returns the token, shown once. The old URL's overlays are no longer "connected" (their streams
 * end at their next beat, and their page then says the URL was replaced).
 */
export const regenerateOverlayOperation = moneyOperation<{ creatorId: string; now: number }, string>(
  'live.regenerateOverlay',
  async (tx, money, input) => {
    const token = await rollOverlayTokenOperation.run(tx, money, input);
    await tx.run('UPDATE live_settings SET overlay_seen_at = NULL WHERE creator_id = ?', [input.creatorId]);
    return token;
  },
);

/**
 * An overlay stream of the URL whose token hashes to `tokenHash` is open now: stamps the time,
 * and says whether that URL still works (`false` once regenerated: the stream is closed).
 */
export const overlaySeenOperation = moneyOperation<{ creatorId: string; tokenHash: string; now: number }, boolean>(
  'live.overlaySeen',
  async (tx, _money, input) => {
    const changed = await tx.run('UPDATE live_settings SET overlay_seen_at = ? WHERE creator_id = ? AND overlay_token_hash = ?', [
      input.now,
      input.creatorId,
      input.tokenHash,
    ]);
    return changed > 0;
  },
);

/** The overlay's part in the money path (see `features.ts`): writes of live settings and the test alert's event. */
export const overlayMoney: MoneyFeature = {
  name: 'live overlay',
  operations: [setOverlayOptionsOperation, testAlertOperation, overlaySeenOperation, regenerateOverlayOperation],
};
