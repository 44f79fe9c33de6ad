import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LiveGift, LiveGoal } from '@diamonds/protocol';
import { sendOk, signedInBrowser } from '../gifts/testing.js';
import { LIVE_PATH } from '../pages/live.js';
import { csrfOf, unescapeHtml, type Browser } from '../pages/testing.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, TEST_PAGE_ORIGIN, type MoneyHarness, type TestFan } from '../testing/money.js';
import { setGoalOperation } from './live.js';
import {
  checkOverlayOptions,
  DEFAULT_OVERLAY_OPTIONS,
  OVERLAY_SEEN_INTERVAL_MS,
  overlayOf,
  parseOverlayForm,
  testAlertOperation,
} from './overlay.js';
import { OVERLAY_CSP, OVERLAY_PATH, OVERLAY_PREVIEW_PATH } from './overlay-page.js';
import { openSse, type SseMessage } from './testing.js';

const gifts = (messages: SseMessage[]) => messages.filter((m) => m.event === 'gift').map((m) => LiveGift.parse(JSON.parse(m.data)));

function squash(body: string): string {
  return body.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
}

/** The overlay URL the live page shows once, after "Create" or "Regenerate". */
function overlayUrlIn(body: string): string {
  const match = /id="overlay-url" type="text" readonly value="([^"]+)"/.exec(body);
  assert.ok(match?.[1], 'the page shows the overlay URL');
  return unescapeHtml(match[1]);
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`stream alerts (the OBS overlay) on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let fan: TestFan;
    /** How far the platform's clock is ahead of the real one (the "connected" light). */
    let offset = 0;
    before(async () => {
      h = await startMoneyHarness(kind, { clock: () => Date.now() + offset });
      fan = await h.fan({ allowance: 100_000, balance: 10_000, name: 'Grace' });
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    const post = async (browser: Browser, path: string, form: Record<string, string>) => {
      const csrf = csrfOf(await browser.page(LIVE_PATH));
      return browser.request(path, { form: { csrf, ...form }, headers: { Origin: h.server.url } });
    };
    const newOverlayUrl = async (browser: Browser) => {
      const res = await post(browser, `${LIVE_PATH}/overlay/url`, {});
      assert.equal(res.status, 200);
      const body = await res.text();
      assert.match(squash(body), /copy it now, it is shown only this once/);
      return overlayUrlIn(body);
    };

    it('makes a secret overlay URL; regenerating it replaces the old one (page and stream answer 410); unknown tokens too', async () => {
      const browser = await signedInBrowser(h, h.creator);
      assert.match(squash(await browser.page(LIVE_PATH)), /Overlay: No overlay URL yet\./);
      const first = await newOverlayUrl(browser);
      assert.match(first, new RegExp(`^${h.server.url}${OVERLAY_PATH}/ov_[\\w-]{32}$`));
      // Shown once: the page does not show it again.
      const again = await browser.page(LIVE_PATH);
      assert.doesNotMatch(again, /ov_[\w-]{32}/);
      assert.match(squash(again), /Overlay: Not connected : no overlay has opened this URL yet\./);

      let res = await fetch(first);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-security-policy'), OVERLAY_CSP);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const page = await res.text();
      assert.match(page, /<script src="\/live\/overlay.js" defer><\/script>/);
      assert.match(page, /<link rel="stylesheet" href="\/live\/overlay.css" \/>/);
      assert.doesNotMatch(page, /<script>|style="/, 'no inline script or style');
      for (const asset of ['/live/overlay.js', '/live/overlay.css']) {
        const served = await fetch(`${h.server.url}${asset}`);
        assert.equal(served.status, 200, asset);
        assert.equal(served.headers.get('content-security-policy'), OVERLAY_CSP);
      }
      const stream = await openSse(`${first}/stream`);
      assert.equal(stream.response.status, 200);
      assert.equal(stream.response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      stream.close();

      const second = await newOverlayUrl(browser);
      assert.notEqual(second, first);
      res = await fetch(first);
      assert.equal(res.status, 410);
      assert.match(squash(await res.text()), /This overlay URL was replaced/);
      res = await fetch(`${first}/stream`);
      assert.equal(res.status, 410);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'overlay_replaced');
      assert.equal((await fetch(second)).status, 200);
      for (const token of ['ov_' + 'x'.repeat(32), 'nothing', 'ov_short']) {
        assert.equal((await fetch(`${h.server.url}${OVERLAY_PATH}/${token}`)).status, 410, token);
        assert.equal((await fetch(`${h.server.url}${OVERLAY_PATH}/${token}/stream`)).status, 410, token);
      }
      // The preview is the signed-in creator's own; nobody else's.
      assert.equal((await browser.request(OVERLAY_PREVIEW_PATH)).status, 200);
      assert.equal((await fetch(`${h.server.url}${OVERLAY_PREVIEW_PATH}`, { redirect: 'manual' })).status, 303);
      assert.equal((await fetch(`${h.server.url}${OVERLAY_PREVIEW_PATH}/stream`)).status, 401);
      // A fan has no live page and no overlay.
      const fanBrowser = await signedInBrowser(h, fan);
      assert.equal((await fanBrowser.request(`${LIVE_PATH}/overlay/url`, { form: {}, headers: { Origin: h.server.url } })).status, 403);
    });

    it('an overlay still open on a replaced URL is ended at its next beat (its reconnection then gets 410)', async () => {
      const creator = await h.newCreator('Revoker', { listed: true });
      const browser = await signedInBrowser(h, creator);
      const url = await newOverlayUrl(browser);
      const abort = new AbortController();
      const res = await fetch(`${url}/stream`, { signal: abort.signal });
      try {
        assert.equal(res.status, 200);
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        const ended = (async () => {
          for (;;) if ((await reader.read()).done) return 'ended';
        })().catch(() => 'failed');
        await newOverlayUrl(browser);
        const outcome = await Promise.race([
          ended,
          new Promise((resolve) => setTimeout(() => resolve('still open'), OVERLAY_SEEN_INTERVAL_MS + 5_000)),
        ]);
        assert.equal(outcome, 'ended');
        assert.equal((await fetch(`${url}/stream`)).status, 410);
      } finally {
        abort.abort();
      }
    });

    it('validates the overlay options; the page and the overlay carry them', async () => {
      const browser = await signedInBrowser(h, h.creator);
      const url = await newOverlayUrl(browser);
      const refused = async (form: Record<string, string>, message: RegExp) => {
        const res = await post(browser, `${LIVE_PATH}/overlay/options`, form);
        assert.equal(res.status, 400, JSON.stringify(form));
        const body = await res.text();
        assert.match(squash(body), message);
        assert.match(body, /aria-invalid="true"/);
      };
      await refused({ duration: 'soon', gap: '1' }, /How long an alert shows is a whole number of seconds from 2 to 30/);
      await refused({ duration: '31', gap: '1' }, /from 2 to 30/);
      await refused({ duration: '1', gap: '1' }, /from 2 to 30/);
      await refused({ duration: '5', gap: '-1' }, /The gap between alerts is a whole number of seconds from 0 to 10/);
      await refused({ duration: '5', gap: '1.5' }, /from 0 to 10/);
      await refused({ duration: '5' }, /from 0 to 10/);
      assert.deepEqual((await overlayOf(h.t.db, h.creator.id, Date.now())).options, DEFAULT_OVERLAY_OPTIONS, 'nothing stored');

      const res = await post(browser, `${LIVE_PATH}/overlay/options`, { duration: '8', gap: '2', speech: 'on', goalBar: 'on' });
      assert.equal(res.status, 200);
      assert.match(squash(await res.text()), /Overlay options saved/);
      assert.deepEqual((await overlayOf(h.t.db, h.creator.id, Date.now())).options, {
        durationMs: 8000,
        gapMs: 2000,
        sound: false,
        speech: true,
        goalBar: true,
      });
      const page = await (await fetch(url)).text();
      assert.match(page, /data-duration="8000"/);
      assert.match(page, /data-gap="2000"/);
      assert.match(page, /data-sound="off"/);
      assert.match(page, /data-speech="on"/);
      assert.match(page, /data-goal-bar="on"/);
      // The operation checks again what crosses to the writer.
      assert.throws(() => checkOverlayOptions({ ...DEFAULT_OVERLAY_OPTIONS, durationMs: 1500 }), /whole number of seconds/);
      assert.throws(() => checkOverlayOptions({ ...DEFAULT_OVERLAY_OPTIONS, sound: 'yes' as unknown as boolean }), /on or off/);
      assert.deepEqual(parseOverlayForm({ duration: ' 2 ', gap: '0' }), {
        durationMs: 2000,
        gapMs: 0,
        sound: false,
        speech: false,
        goalBar: false,
      });
    });

    it('a test alert goes through the outbox and the live fold to the overlay’s stream, flagged, counting nothing', async () => {
      const browser = await signedInBrowser(h, h.creator);
      const url = await newOverlayUrl(browser);
      await h.server.writer.run(setGoalOperation, {
        creatorId: h.creator.id,
        goal: { title: 'New lamp', targetDiamonds: 100, endsAt: null },
        now: Date.now(),
      });
      const stream = await openSse(`${url}/stream`);
      // A site's page on the same creator's public stream: it never shows test alerts.
      const site = await openSse(`${h.server.url}/v1/live/${h.creator.id}/stream`, {
        Authorization: `Bearer ${h.site.publishableKey}`,
        Origin: TEST_PAGE_ORIGIN,
      });
      try {
        let res = await post(browser, `${LIVE_PATH}/overlay/test`, { giftTypeId: 'cake', message: 'Hello stream' });
        assert.equal(res.status, 200);
        assert.match(squash(await res.text()), /Test alert sent/);
        let messages = await stream.until((m) => gifts(m).length >= 1);
        const [alert] = gifts(messages);
        assert.equal(alert?.test, true);
        assert.deepEqual(
          [alert?.giftTypeId, alert?.giftName, alert?.fanName, alert?.message, alert?.combo, alert?.sessionId, alert?.artUrl],
          ['cake', 'Cake', 'Test fan', 'Hello stream', 1, null, `${h.server.url}/gifts/cake.svg`],
        );
        // Bad test alerts are said in the form; nothing is appended.
        res = await post(browser, `${LIVE_PATH}/overlay/test`, { giftTypeId: 'unicorn', message: '' });
        assert.equal(res.status, 400);
        assert.match(squash(await res.text()), /No gift unicorn/);
        res = await post(browser, `${LIVE_PATH}/overlay/test`, { giftTypeId: 'rose', message: 'x'.repeat(201) });
        assert.equal(res.status, 400);
        assert.match(squash(await res.text()), /at most 200 characters/);
        // Test alerts are bounded per creator: at most 10 a minute (the 3 above counted). Windows
        // are fixed minutes, so one may turn during the loop: then the refusal comes later.
        const statuses: number[] = [];
        let refusal = '';
        while (statuses.length < 25 && !refusal) {
          res = await post(browser, `${LIVE_PATH}/overlay/test`, { giftTypeId: 'rose', message: 'x'.repeat(201) });
          statuses.push(res.status);
          if (res.status === 429) refusal = squash(await res.text());
        }
        assert.ok(statuses.indexOf(429) >= 7, `refused only after 10 in a minute: ${statuses.join(' ')}`);
        assert.match(refusal, /At most 10 test alerts a minute: try again in \d+ s/);
        // A real gift after it: counted for the goal, not flagged; the test alert moved nothing.
        await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'coffee', quantity: 1 }, 201);
        messages = await stream.until((m) => gifts(m).length >= 2);
        assert.deepEqual(
          gifts(messages).map((g) => [g.giftTypeId, g.test ?? false]),
          [
            ['cake', true],
            ['coffee', false],
          ],
        );
        const goals = messages.filter((m) => m.event === 'goal').map((m) => LiveGoal.parse(JSON.parse(m.data)));
        assert.equal(goals.at(-1)?.progressDiamonds, 10);
        const events = (await h.t.db.query<{ type: string; site_id: string | null }>(
          `SELECT type, site_id FROM events WHERE type = 'live.test_alert' AND creator_id = ?`,
          [h.creator.id],
        )) as Array<{ type: string; site_id: string | null }>;
        assert.deepEqual(events, [{ type: 'live.test_alert', site_id: null }], 'one event, private to the creator');
        // Never shown to the site: not in its events, its stream or its snapshot.
        const list = (await (await h.call('/events?type=live.test_alert', { key: 'secret' })).json()) as { data?: unknown[] };
        assert.ok(!list.data || list.data.length === 0);
        const onSite = await site.until((m) => gifts(m).some((g) => g.giftTypeId === 'coffee'));
        assert.deepEqual(
          gifts(onSite).map((g) => g.giftTypeId),
          ['coffee'],
        );
        const snapshot = (await (await h.call(`/live/${h.creator.id}`)).json()) as { recentGifts: Array<{ test?: boolean }> };
        assert.ok(snapshot.recentGifts.every((g) => g.test !== true));
      } finally {
        stream.close();
        site.close();
      }
      await assert.rejects(
        h.server.writer.run(testAlertOperation, { creatorId: h.creator.id, giftTypeId: 'nope', now: Date.now() }),
        /No gift nope/,
      );
    });

    it('says whether an overlay is connected now: its stream stamps the database, seen within 30 s', async () => {
      const creator = await h.newCreator('Caster', { listed: true });
      const browser = await signedInBrowser(h, creator);
      const url = await newOverlayUrl(browser);
      assert.match(squash(await browser.page(LIVE_PATH)), /Overlay: Not connected : no overlay has opened this URL yet/);
      const stream = await openSse(`${url}/stream`);
      try {
        assert.equal(stream.response.status, 200);
        assert.match(squash(await browser.page(LIVE_PATH)), /Overlay: Connected : an overlay is open right now\./);
        const state = await overlayOf(h.t.db, creator.id, Date.now() + offset);
        assert.equal(state.connected, true);
        assert.ok(state.seenAt !== null && Math.abs(state.seenAt - Date.now()) < 10_000);
      } finally {
        stream.close();
      }
      offset = 31_000;
      try {
        assert.match(squash(await browser.page(LIVE_PATH)), /Overlay: Not connected : last seen .* UTC \(1 min ago\)\./);
      } finally {
        offset = 0;
      }
      // Regenerating the URL: the old URL's overlay is no longer counted as connected.
      const second = await openSse(`${url}/stream`);
      try {
        assert.match(squash(await browser.page(LIVE_PATH)), /Overlay: Connected/);
        await newOverlayUrl(browser);
        assert.match(squash(await browser.page(LIVE_PATH)), /Overlay: Not connected : no overlay has opened this URL yet/);
      } finally {
        second.close();
      }
    });
  });
}
