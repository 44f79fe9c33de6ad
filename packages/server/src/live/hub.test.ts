import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../testing/databases.js';
import { LiveHub, liveFeedBus } from './hub.js';

/** What one fake stream was sent: each write, decoded, and whether the hub closed it. */
interface Received {
  writes: Uint8Array[];
  text: () => string;
  closed: boolean;
}

describe('the live hub’s fan-out', () => {
  let t: TestDatabase;
  let hub: LiveHub;
  before(async () => {
    t = await createTestDatabase('sqlite');
    hub = new LiveHub(t.db, { heartbeatMs: 60_000 });
    await hub.start();
  });
  after(async () => {
    await hub.close();
    await t.drop();
  });

  const decoder = new TextDecoder();
  const open = (params: { creatorId: string; baseUrl: string; includeTests?: boolean; lastSeq?: number; tooSlow?: boolean }) => {
    const received: Received = { writes: [], text: () => received.writes.map((w) => decoder.decode(w)).join(''), closed: false };
    const stop = hub.subscribe({
      creatorId: params.creatorId,
      address: '127.0.0.1',
      baseUrl: params.baseUrl,
      lastSeq: params.lastSeq,
      includeTests: params.includeTests ?? false,
      send: (bytes) => {
        received.writes.push(bytes);
        return params.tooSlow === true;
      },
      close: () => {
        received.closed = true;
        stop?.();
      },
    });
    assert.ok(stop);
    return { received, stop };
  };
  const append = async (rows: Array<[creatorId: string, kind: string, data: string]>): Promise<number[]> => {
    const seqs: number[] = [];
    for (const [creatorId, kind, data] of rows) {
      await t.db.run('INSERT INTO live_feed (creator_id, kind, created_at, data) VALUES (?, ?, ?, ?)', [creatorId, kind, Date.now(), data]);
      const [row] = await t.db.query<{ seq: number }>('SELECT max(seq) AS seq FROM live_feed');
      seqs.push(Number(row?.seq));
    }
    liveFeedBus.publish([]);
    return seqs;
  };
  const until = async (what: string, done: () => boolean) => {
    const deadline = Date.now() + 5_000;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  it('sends a read’s rows of a creator in one write per stream, the same bytes for one origin, test alerts only to the overlay', async () => {
    const site = open({ creatorId: 'usr_a', baseUrl: 'https://one.example' });
    const sameOrigin = open({ creatorId: 'usr_a', baseUrl: 'https://one.example' });
    const otherOrigin = open({ creatorId: 'usr_a', baseUrl: 'https://two.example' });
    const overlay = open({ creatorId: 'usr_a', baseUrl: 'https://one.example', includeTests: true });
    const otherCreator = open({ creatorId: 'usr_b', baseUrl: 'https://one.example' });
    try {
      const [gift, test, tops, elsewhere] = await append([
        ['usr_a', 'gift', JSON.stringify({ giftId: 'gift_1', artPath: '/gifts/rose.svg' })],
        ['usr_a', 'gift', JSON.stringify({ giftId: 'gift_t', artPath: '/gifts/cake.svg', test: true })],
        ['usr_a', 'top_gifters', JSON.stringify({ scope: 'session', gifters: [] })],
        ['usr_b', 'goal', JSON.stringify({ title: 'Mic' })],
      ]);
      await until('every stream', () => [site, sameOrigin, otherOrigin, overlay, otherCreator].every((s) => s.received.writes.length > 0));
      // Give a second read the chance to send anything twice.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const roseOn = (origin: string) =>
        `id: ${gift}\nevent: gift\ndata: ${JSON.stringify({ giftId: 'gift_1', artUrl: `${origin}/gifts/rose.svg` })}\n\n`;
      const topList = `id: ${tops}\nevent: top_gifters\ndata: ${JSON.stringify({ scope: 'session', gifters: [] })}\n\n`;
      assert.equal(site.received.text(), roseOn('https://one.example') + topList);
      assert.equal(otherOrigin.received.text(), roseOn('https://two.example') + topList);
      const cake = `id: ${test}\nevent: gift\ndata: ${JSON.stringify({ giftId: 'gift_t', test: true, artUrl: 'https://one.example/gifts/cake.svg' })}\n\n`;
      assert.equal(overlay.received.text(), roseOn('https://one.example') + cake + topList);
      assert.equal(otherCreator.received.text(), `id: ${elsewhere}\nevent: goal\ndata: {"title":"Mic"}\n\n`);
      for (const stream of [site, sameOrigin, otherOrigin, overlay, otherCreator]) assert.equal(stream.received.writes.length, 1);
      // Made once for the origin: the very same bytes.
      assert.equal(sameOrigin.received.writes[0], site.received.writes[0]);
    } finally {
      for (const stream of [site, sameOrigin, otherOrigin, overlay, otherCreator]) stream.stop();
    }
  });

  it('a stream that says it saw some of a read’s rows gets only the rest; one too slow is closed and let go', async () => {
    const [last] = await append([['usr_c', 'goal', '{"title":"before"}']]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // It saw the next row already (from another process, say): it is ahead of this hub's cursor.
    const ahead = open({ creatorId: 'usr_c', baseUrl: 'https://one.example', lastSeq: last! + 1 });
    const slow = open({ creatorId: 'usr_c', baseUrl: 'https://one.example', tooSlow: true });
    try {
      const [, second] = await append([
        ['usr_c', 'goal', '{"title":"first"}'],
        ['usr_c', 'goal', '{"title":"second"}'],
      ]);
      await until('both streams', () => ahead.received.writes.length > 0 && slow.received.closed);
      assert.equal(ahead.received.text(), `id: ${second}\nevent: goal\ndata: {"title":"second"}\n\n`);
      assert.equal(slow.received.closed, true);
      assert.equal(hub.hasSubscribers('usr_c'), true, 'the other stream stays');
      assert.equal(hub.size, 1);
    } finally {
      ahead.stop();
      slow.stop();
    }
    assert.equal(hub.size, 0);
  });
});
