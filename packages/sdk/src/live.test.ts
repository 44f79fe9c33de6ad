// The live client (issue 15) in Node, with a stand-in EventSource (Node 20 has none): one stream
// per creator shared and counted, combos grouped into one alert, replays dropped, refusals
// explained. The browser suites (packages/elements/src/live-*) run it against the real platform.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { LiveGift, LiveGoal, LiveSnapshot, LiveTopGifters } from '@diamonds/protocol';
import { createDiamonds } from './index.js';
import { live, type LiveGift as LiveGiftType } from './live.js';
import { LiveGiftSchema, LiveGoalSchema, LiveSnapshotSchema, LiveTopGiftersSchema } from './live-schemas.js';

/** What the tests read of a stand-in EventSource. */
class FakeEventSource {
  static made: FakeEventSource[] = [];
  readyState = 0;
  closed = false;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  readonly listeners = new Map<string, Array<(event: { data: string; lastEventId: string }) => void>>();
  constructor(readonly url: string) {
    FakeEventSource.made.push(this);
  }
  addEventListener(type: string, listener: (event: { data: string; lastEventId: string }) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  close(): void {
    this.closed = true;
    this.readyState = 2;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.();
  }
  emit(type: string, data: unknown, id = ''): void {
    for (const listener of this.listeners.get(type) ?? []) listener({ data: JSON.stringify(data), lastEventId: id });
  }
}

const globals = globalThis as unknown as { EventSource?: unknown; fetch: typeof fetch };
const realFetch = globals.fetch;
let n = 0;

/** A client whose snapshot read answers an empty live, and a fresh creator id (feeds are shared per creator). */
function setup(): { creatorId: string; client: ReturnType<typeof createDiamonds> } {
  globals.EventSource = FakeEventSource;
  FakeEventSource.made = [];
  const creatorId = `usr_live${++n}`;
  const snapshot = { object: 'live', creatorId, session: null, goal: null, topGifters: [], recentGifts: [] };
  const client = createDiamonds({
    publishableKey: 'pk_test_live',
    apiBase: 'https://diamonds.test',
    fetch: () => Promise.resolve(new Response(JSON.stringify(snapshot), { headers: { 'Content-Type': 'application/json' } })),
  });
  return { creatorId, client };
}

afterEach(() => {
  delete globals.EventSource;
  globals.fetch = realFetch;
});

const gift = (id: number, fanName: string, giftTypeId: string, combo: number, message: string | null = null): LiveGiftType => ({
  giftId: `gift_01JD${String(id).padStart(22, '0')}` as LiveGiftType['giftId'],
  giftTypeId,
  giftName: giftTypeId === 'rose' ? 'Rose' : 'Heart',
  artUrl: `https://diamonds.test/gifts/${giftTypeId}.svg`,
  animation: 'float',
  quantity: 1,
  amountDiamonds: 5,
  combo,
  fanName,
  message,
  messageHidden: false,
  sessionId: null,
  createdAt: 1_796_334_733_404 + id,
});

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('live(client, creatorId)', () => {
  it('opens one stream per creator, with the key in the URL, shared and counted; closes with the last holder', () => {
    const { client, creatorId } = setup();
    const feed = live(client, creatorId);
    assert.equal(live(client, creatorId), feed, 'one feed per creator');
    const release1 = feed.retain();
    const release2 = live(client, creatorId).retain();
    assert.equal(FakeEventSource.made.length, 1);
    assert.equal(FakeEventSource.made[0]!.url, `https://diamonds.test/v1/live/${creatorId}/stream?key=pk_test_live`);
    assert.equal(feed.connection.value?.status, 'connecting');
    release1();
    release1();
    assert.equal(FakeEventSource.made[0]!.closed, false, 'still held');
    release2();
    assert.equal(FakeEventSource.made[0]!.closed, true);
    assert.equal(feed.connection.value?.status, 'idle');
    assert.throws(() => live(client, 'creator'), TypeError);
  });

  it('groups a combo into one alert (the latest count, the first gift’s key), drops replays and gifts seen twice', () => {
    const { client, creatorId } = setup();
    const feed = live(client, creatorId);
    const release = feed.retain();
    const source = FakeEventSource.made[0]!;
    source.open();
    assert.equal(feed.connection.value?.status, 'open');
    source.emit('gift', gift(1, 'Grace', 'rose', 1, 'hello'), '10');
    source.emit('gift', gift(2, 'Grace', 'rose', 2), '11');
    source.emit('gift', gift(3, 'Alan', 'rose', 1), '12');
    source.emit('gift', gift(4, 'Grace', 'rose', 3), '13');
    source.emit('gift', gift(5, 'Grace', 'heart', 1), '14');
    // A replay after a reconnection: ids at or below the last seen, and a gift already shown.
    source.emit('gift', gift(2, 'Grace', 'rose', 2), '11');
    source.emit('gift', gift(4, 'Grace', 'rose', 3), '15');
    source.emit('gift', { not: 'a gift' }, '16');
    assert.deepEqual(
      feed.gifts.value!.map((a) => [a.key, a.fanName, a.giftTypeId, a.combo, a.message]),
      [
        ['gift_01JD0000000000000000000003', 'Alan', 'rose', 1, null],
        ['gift_01JD0000000000000000000001', 'Grace', 'rose', 3, 'hello'],
        ['gift_01JD0000000000000000000005', 'Grace', 'heart', 1, null],
      ],
    );
    source.emit('goal', { title: 'Mic', targetDiamonds: 100, progressDiamonds: 40, reachedAt: null, endsAt: null });
    source.emit('top_gifters', { scope: 'today', gifters: [{ fanName: 'Grace', diamonds: 20 }] });
    source.emit('session', { sessionId: 'ls_1', status: 'live', title: 'Jam', startedAt: 1, endedAt: null });
    assert.equal(feed.goal.value?.progressDiamonds, 40);
    assert.deepEqual(feed.topGifters.value, { today: [{ fanName: 'Grace', diamonds: 20 }] });
    assert.equal(feed.session.value?.title, 'Jam');
    source.emit('session', { sessionId: 'ls_1', status: 'ended', title: 'Jam', startedAt: 1, endedAt: 2 });
    assert.equal(feed.session.value, null);
    release();
  });

  it('keeps at most MAX_LIVE_ALERTS alerts, the newest', async () => {
    const { client, creatorId } = setup();
    const feed = live(client, creatorId);
    const release = feed.retain();
    for (let i = 1; i <= 25; i++) FakeEventSource.made[0]!.emit('gift', gift(i, `Fan ${i}`, 'rose', 1), String(i));
    assert.equal(feed.gifts.value!.length, 20);
    assert.equal(feed.gifts.value![0]!.fanName, 'Fan 6');
    release();
    await tick();
  });

  it('explains a refused stream: 404 creator_not_found stays an error; 429 waits out Retry-After, then opens again', async () => {
    const { client, creatorId } = setup();
    const answers = [
      { status: 404, code: 'creator_not_found', type: 'invalid_request_error', retryAfter: '' },
      { status: 429, code: 'rate_limited', type: 'rate_limit_error', retryAfter: '1' },
    ];
    globals.fetch = () => {
      const { status, code, type, retryAfter } = answers.shift()!;
      return Promise.resolve(
        new Response(JSON.stringify({ error: { type, code, message: code, requestId: 'req_1' } }), {
          status,
          headers: { 'Content-Type': 'application/json', ...(retryAfter ? { 'Retry-After': retryAfter } : {}) },
        }),
      );
    };
    const feed = live(client, creatorId);
    const release = feed.retain();
    const first = FakeEventSource.made[0]!;
    first.readyState = 2;
    first.onerror?.();
    await until(() => feed.connection.value?.status === 'error');
    assert.equal(feed.connection.value?.error?.code, 'creator_not_found');
    release();
    // Again, refused for too many streams: it opens a new stream once Retry-After (1 s) is over, not before.
    const again = feed.retain();
    const second = FakeEventSource.made[1]!;
    second.readyState = 2;
    second.onerror?.();
    await until(() => feed.connection.value?.error?.code === 'rate_limited');
    assert.equal(FakeEventSource.made.length, 2, 'not at once');
    await until(() => FakeEventSource.made.length === 3);
    again();
  });
});

async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(predicate(), 'in time');
}

describe('live schemas', () => {
  it('accept and refuse what the protocol’s zod schemas accept and refuse', () => {
    const good = gift(1, 'Grace', 'rose', 2);
    const goal = { title: 'Mic', targetDiamonds: 100, progressDiamonds: 0, reachedAt: null, endsAt: null };
    const top = { scope: 'all_time', gifters: [{ fanName: 'A fan', diamonds: 5 }] };
    const snapshot = {
      object: 'live',
      creatorId: `usr_01JD${'0'.repeat(22)}`,
      session: null,
      goal,
      topGifters: [top],
      recentGifts: [good],
    };
    const cases: Array<[{ safeParse(v: unknown): { success: boolean } }, { safeParse(v: unknown): { success: boolean } }, unknown]> = [
      [LiveGiftSchema, LiveGift, good],
      [LiveGiftSchema, LiveGift, { ...good, combo: 0 }],
      [LiveGiftSchema, LiveGift, { ...good, giftId: 'rose' }],
      [LiveGiftSchema, LiveGift, { ...good, message: 3 }],
      [LiveGoalSchema, LiveGoal, goal],
      [LiveGoalSchema, LiveGoal, { ...goal, progressDiamonds: -1 }],
      [LiveTopGiftersSchema, LiveTopGifters, top],
      [LiveTopGiftersSchema, LiveTopGifters, { ...top, scope: 'week' }],
      [LiveSnapshotSchema, LiveSnapshot, snapshot],
      [LiveSnapshotSchema, LiveSnapshot, { ...snapshot, object: 'list' }],
    ];
    for (const [ours, protocol, body] of cases) {
      assert.equal(ours.safeParse(body).success, protocol.safeParse(body).success, JSON.stringify(body));
    }
  });
});
