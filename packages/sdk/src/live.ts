/**
 * A creator's live (issue 15), `@diamonds/sdk/live`: one Server-Sent Events stream per creator
 * per page, shared by everything that shows it, as nanostores atoms. A module of its own, not a
 * method of the client, so that only the pages that show a live carry its code (the browser
 * entry's size budget, and the drop-in's core, which bundles the client).
 *
 * @example
 * ```ts
 * import { createDiamonds } from '@diamonds/sdk';
 * import { live } from '@diamonds/sdk/live';
 *
 * const feed = live(createDiamonds({ publishableKey: 'pk_live_…' }), 'usr_01JD…');
 * feed.goal.subscribe((goal) => goal && (bar.value = goal.progressDiamonds / goal.targetDiamonds));
 * ```
 *
 * @packageDocumentation
 */
import type { LiveGift, LiveGoal, LiveSessionState, LiveTopGifters, TopGiftersScope } from '@diamonds/protocol';

export type { LiveGift, LiveGoal, LiveSessionState, LiveSnapshot, LiveTopGifters, TopGiftersScope } from '@diamonds/protocol';
import { atom, onMount, type ReadableAtom, type WritableAtom } from 'nanostores';
import type { DiamondsClientCore } from './client.js';
import { DiamondsNetworkError, isRateLimitError, type DiamondsError } from './errors.js';
import { apiErrorFrom, path } from './internal/http.js';
import type { ResponseSchema } from './internal/check.js';
import { LiveGiftSchema, LiveGoalSchema, LiveSessionSchema, LiveSnapshotSchema, LiveTopGiftersSchema } from './live-schemas.js';

/** How many alerts {@link LiveFeed.gifts} keeps (the newest). */
export const MAX_LIVE_ALERTS = 20;

/** How long to wait before opening a stream again after a refusal without `Retry-After`, or a failed probe. */
const REOPEN_MS = 3_000;

/**
 * One alert of the feed: the latest gift of a combo (its `combo` is the combo's count so far, the
 * "×N"), under the `key` of the combo's first gift, so that a view updates one alert in place.
 */
export interface LiveAlert extends LiveGift {
  /** The id of the combo's first gift: stable while the combo grows. */
  key: string;
  /** True for a gift of the opening snapshot (sent before the stream opened): history, not news to announce. */
  recent?: boolean;
}

/** One line of a top gifters list. */
export type LiveGifter = LiveTopGifters['gifters'][number];

/**
 * Where the stream stands, in {@link LiveFeed.connection}.
 *
 * - `idle`: nobody follows the feed (no stream open).
 * - `connecting`: opening the stream; `reconnecting`: it dropped, the browser is opening it
 *   again (with `Last-Event-ID`, so nothing is missed or shown twice).
 * - `open`: events flow.
 * - `error`: the platform refused the stream (`error` says why: `creator_not_found`,
 *   `rate_limited`, `origin_not_allowed`…). After a `rate_limited` it tries again once the
 *   `Retry-After` is over.
 */
export interface LiveConnection {
  status: 'idle' | 'connecting' | 'open' | 'reconnecting' | 'error';
  /** Why, when `error`. */
  error?: DiamondsError | undefined;
}

/**
 * A creator's live: the gifts as they arrive (combos grouped), the goal, the top gifters and the
 * session, as nanostores atoms. Get it with {@link live}.
 *
 * @remarks
 * One Server-Sent Events stream per creator (and platform and key) per page, opened when the
 * first of its atoms gets a subscriber and closed a second after the last one leaves: every
 * element and script of the page that shows the same creator shares it. (As with any nanostores
 * store that connects on mount, `.get()` on an atom nobody follows opens it for that second too:
 * follow the atoms, or read `.value`.) The browser's
 * `EventSource` reconnects by itself and resumes with `Last-Event-ID`; the feed also drops any
 * event it has already seen, so a reconnection never shows a gift twice.
 */
export class LiveFeed {
  /** The creator (`usr_…`). */
  readonly creatorId: string;
  /** Where the stream stands. */
  readonly connection: ReadableAtom<LiveConnection>;
  /** The latest alerts, oldest first, at most {@link MAX_LIVE_ALERTS}; a combo is one alert. */
  readonly gifts: ReadableAtom<readonly LiveAlert[]>;
  /** The creator's goal; `null` without one, `undefined` until known. */
  readonly goal: ReadableAtom<LiveGoal | null | undefined>;
  /** The top gifters by period (`session`, `today`, `all_time`), once known. */
  readonly topGifters: ReadableAtom<Partial<Record<TopGiftersScope, readonly LiveGifter[]>>>;
  /** The live session; `null` when none is live, `undefined` until known. */
  readonly session: ReadableAtom<LiveSessionState | null | undefined>;

  readonly #client: DiamondsClientCore;
  readonly #url: string;
  #users = 0;
  #source: EventSource | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastId = -1;
  readonly #seen = new Set<string>();

  /** Use {@link live}, which shares one per creator. @internal */
  constructor(client: DiamondsClientCore, creatorId: string) {
    this.#client = client;
    this.creatorId = creatorId;
    this.#url = `${client.apiBase}/${path('v1/live', creatorId)}/stream?key=${encodeURIComponent(client.publishableKey)}`;
    const connection = atom<LiveConnection>({ status: 'idle' });
    this.connection = connection;
    this.gifts = atom<readonly LiveAlert[]>([]);
    this.goal = atom<LiveGoal | null | undefined>(undefined);
    this.topGifters = atom({});
    this.session = atom<LiveSessionState | null | undefined>(undefined);
    for (const store of [connection, this.gifts, this.goal, this.topGifters, this.session]) onMount(store, () => this.retain());
  }

  /**
   * Keeps the stream open until the returned function is called (subscribing to an atom does
   * the same). Counted: the stream closes when the last holder lets go.
   */
  retain(): () => void {
    if (this.#users++ === 0) this.#open();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.#users === 0) this.#close();
    };
  }

  // Reads go through `.value`, never `.get()`: `.get()` on a store nobody follows mounts it for a
  // second (nanostores' way), which would open the stream.
  #set<T>(store: ReadableAtom<T>, value: T): void {
    (store as WritableAtom<T>).set(value);
  }

  #open(): void {
    clearTimeout(this.#timer);
    const EventSourceClass = (globalThis as { EventSource?: typeof EventSource }).EventSource;
    if (!EventSourceClass) {
      this.#set(this.connection, {
        status: 'error',
        error: new DiamondsNetworkError('No EventSource in this runtime.', { code: 'network_error' }),
      });
      return;
    }
    this.#set(this.connection, { status: this.#lastId >= 0 ? 'reconnecting' : 'connecting' });
    // A stream made again by us (after a refusal) resumes where the last one stopped; the
    // browser's own reconnections send `Last-Event-ID` themselves.
    const source = new EventSourceClass(this.#url + (this.#lastId > 0 ? `&lastEventId=${this.#lastId}` : ''));
    this.#source = source;
    const on = <T>(event: string, schema: ResponseSchema<T>, apply: (value: T) => void) =>
      source.addEventListener(event, (message) => {
        const { data, lastEventId } = message as MessageEvent<string>;
        // Ids only grow: one at or below the last seen is a replay already shown.
        if (lastEventId && Number(lastEventId) <= this.#lastId) return;
        let parsed;
        try {
          parsed = schema.safeParse(JSON.parse(data));
        } catch {
          return;
        }
        if (lastEventId) this.#lastId = Number(lastEventId);
        if (parsed.success) apply(parsed.data);
      });
    on('gift', LiveGiftSchema, (gift) => this.#add(gift));
    on('goal', LiveGoalSchema, (goal) => this.#set(this.goal, goal));
    on('session', LiveSessionSchema, (session) => this.#set(this.session, session.status === 'live' ? session : null));
    on('top_gifters', LiveTopGiftersSchema, ({ scope, gifters }) =>
      this.#set(this.topGifters, { ...this.topGifters.value, [scope]: gifters }),
    );
    source.onopen = () => {
      if (this.#lastId < 0) this.#lastId = 0;
      this.#set(this.connection, { status: 'open' });
      // The opening snapshot names no session and no goal when there is none.
      this.#timer = setTimeout(() => {
        if (this.goal.value === undefined) this.#set(this.goal, null);
        if (this.session.value === undefined) this.#set(this.session, null);
      }, 500);
    };
    source.onerror = () => {
      if (source.readyState === 2) void this.#refused(source);
      else this.#set(this.connection, { status: 'reconnecting' });
    };
    void this.#snapshot(source);
  }

  /** The recent gifts (the stream sends only new ones), for a first render: before any streamed gift only. */
  async #snapshot(source: EventSource): Promise<void> {
    try {
      const snapshot = await this.#client.money.http.request('get', path('v1/live', this.creatorId), LiveSnapshotSchema, {
        keyInQuery: true,
      });
      if (this.#source !== source || this.gifts.value!.length > 0) return;
      for (const gift of snapshot.recentGifts) this.#add(gift, true);
      if (this.goal.value === undefined) this.#set(this.goal, snapshot.goal);
      if (this.session.value === undefined) this.#set(this.session, snapshot.session?.status === 'live' ? snapshot.session : null);
    } catch {
      // The stream says why it fails, if it does.
    }
  }

  /**
   * The platform refused the stream (EventSource gives up on any answer but a 200 stream, and
   * tells not why): ask once more with fetch to learn the error, then show it.
   */
  async #refused(source: EventSource): Promise<void> {
    source.close();
    if (this.#source !== source) return;
    const abort = new AbortController();
    let error: DiamondsError | undefined;
    let waitMs = REOPEN_MS;
    try {
      const response = await fetch(this.#url, { headers: { Accept: 'text/event-stream' }, signal: abort.signal });
      if (!response.ok) {
        error = await apiErrorFrom(response);
        waitMs = isRateLimitError(error) ? (error.retryAfterMs ?? REOPEN_MS) : -1;
      }
    } catch (cause) {
      error = new DiamondsNetworkError('The live stream could not be reached.', { code: 'network_error', cause });
    } finally {
      abort.abort();
    }
    if (this.#source !== source) return;
    this.#set(this.connection, error ? { status: 'error', error } : { status: 'reconnecting' });
    // A 404 or 403 stays refused: no retry. A 429 or a network failure: again later.
    if (waitMs >= 0) this.#timer = setTimeout(() => this.#source === source && this.#open(), waitMs);
  }

  #close(): void {
    clearTimeout(this.#timer);
    this.#source?.close();
    this.#source = undefined;
    this.#set(this.connection, { status: 'idle' });
  }

  /**
   * Adds a gift: a gift that continues a combo (same fan and gift, `combo` above the alert's)
   * updates that alert and moves it to the newest place; any other is a new alert.
   */
  #add(gift: LiveGift, recent?: boolean): void {
    // A creator's test alert (`test: true`) is for their OBS overlay, not for the site's feed.
    if (this.#seen.has(gift.giftId) || (gift as { test?: unknown }).test === true) return;
    this.#seen.add(gift.giftId);
    if (this.#seen.size > 4 * MAX_LIVE_ALERTS) this.#seen.delete(this.#seen.values().next().value!);
    const alerts = [...this.gifts.value!];
    let key: string = gift.giftId;
    if (gift.combo > 1) {
      const index = alerts.findLastIndex((a) => a.fanName === gift.fanName && a.giftTypeId === gift.giftTypeId && a.combo < gift.combo);
      if (index >= 0) {
        const [previous] = alerts.splice(index, 1);
        key = previous!.key;
        // A gift of the combo without a message keeps the one shown.
        if (gift.message === null && !gift.messageHidden) gift = { ...gift, message: previous!.message };
      }
    }
    alerts.push(recent ? { ...gift, key, recent } : { ...gift, key });
    this.#set(this.gifts, alerts.slice(-MAX_LIVE_ALERTS));
  }
}

/** The feeds of this page, on `globalThis` so that two copies of the SDK share them too. */
const feeds = ((globalThis as { [key: symbol]: unknown })[Symbol.for('diamonds.live')] ??= new Map()) as Map<string, LiveFeed>;

/**
 * A creator's live, shared by everything on the page that shows it: one stream per creator
 * (and platform and publishable key), opened while anything follows its atoms.
 *
 * @param client - Any client of the site (a {@link DiamondsClientCore} will do).
 * @param creatorId - The creator (`usr_…`).
 * @throws TypeError when `creatorId` is not a `usr_…` id.
 * @example
 * ```ts
 * import { createDiamonds } from '@diamonds/sdk';
 * import { live } from '@diamonds/sdk/live';
 *
 * const feed = live(createDiamonds({ publishableKey: 'pk_live_…' }), 'usr_01JD…');
 * feed.gifts.subscribe((alerts) => {
 *   const newest = alerts.at(-1);
 *   if (newest) banner.textContent = `${newest.fanName}: ${newest.giftName} ×${newest.combo}`;
 * });
 * feed.goal.subscribe((goal) => goal && (bar.value = goal.progressDiamonds / goal.targetDiamonds));
 * ```
 */
export function live(client: DiamondsClientCore, creatorId: string): LiveFeed {
  if (!/^usr_[A-Za-z0-9]+$/.test(creatorId)) throw new TypeError(`live: creatorId must be "usr_…", got ${JSON.stringify(creatorId)}`);
  const id = `${client.apiBase} ${client.publishableKey} ${creatorId}`;
  let feed = feeds.get(id);
  if (!feed) feeds.set(id, (feed = new LiveFeed(client, creatorId)));
  return feed;
}
