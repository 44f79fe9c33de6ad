import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sendOk, signedInBrowser } from '../gifts/testing.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { LIVE_PATH } from './live.js';
import { csrfOf, type Browser } from './testing.js';

function squash(body: string): string {
  return body.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`the live page on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let fan: TestFan;
    before(async () => {
      h = await startMoneyHarness(kind);
      fan = await h.fan({ allowance: 100_000, balance: 10_000, name: 'Grace' });
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    const post = async (browser: Browser, path: string, form: Record<string, string>, from = LIVE_PATH) => {
      const csrf = csrfOf(await browser.page(from));
      return browser.request(path, { form: { csrf, ...form }, headers: { Origin: h.server.url } });
    };

    it('starts a session, sets a goal and blocked words, ends it with its summary; bad input is said in the form', async () => {
      const browser = await signedInBrowser(h, h.creator);
      let page = squash(await browser.page(LIVE_PATH));
      assert.match(page, /No sessions yet/);
      assert.match(page, /No goal yet/);

      let res = await post(browser, `${LIVE_PATH}/start`, { title: '' });
      assert.equal(res.status, 400);
      assert.match(squash(await res.text()), /A live session needs a title of 1 to 80 characters/);
      res = await post(browser, `${LIVE_PATH}/start`, { title: 'Friday jam' });
      assert.equal(res.status, 303);
      res = await post(browser, `${LIVE_PATH}/goal`, { title: 'New microphone', targetDiamonds: 'lots' });
      assert.equal(res.status, 400);
      assert.match(squash(await res.text()), /target is a whole number of Diamonds/);
      assert.equal((await post(browser, `${LIVE_PATH}/goal`, { title: 'New microphone', targetDiamonds: '500' })).status, 303);
      assert.equal((await post(browser, `${LIVE_PATH}/blocked-words`, { blockedWords: 'spoiler\nrude' })).status, 303);
      res = await post(browser, `${LIVE_PATH}/blocked-words`, { blockedWords: 'y'.repeat(41) });
      assert.equal(res.status, 400);

      await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'cake', quantity: 1 }, 201);
      await h.server.live.caughtUp();
      page = squash(await browser.page(LIVE_PATH));
      assert.match(page, /Live now : “Friday jam”, since .*, 100 Diamonds so far/);
      assert.match(page, /“New microphone”: 100 of 500 Diamonds/);
      assert.match(page, /spoiler rude/);
      assert.equal((await post(browser, `${LIVE_PATH}/end`, {})).status, 303);
      page = squash(await browser.page(LIVE_PATH));
      assert.match(page, /Friday jam .* 100 1 1 Grace: 1 × Cake \(100\)/);
      // Muting Grace from the list of gifters.
      assert.match(page, /Grace, 100 Diamonds Mute Grace/);
      assert.equal((await post(browser, `${LIVE_PATH}/mute`, { fanId: fan.id, muted: 'on' })).status, 303);
      assert.match(squash(await browser.page(LIVE_PATH)), /Grace \(muted\) ?, 100 Diamonds Unmute Grace/);
      assert.equal((await post(browser, `${LIVE_PATH}/mute`, { fanId: 'nobody', muted: 'on' })).status, 400);
      assert.equal((await post(browser, `${LIVE_PATH}/mute`, { fanId: fan.id, muted: 'off' })).status, 303);
      // Without the form's token: refused; a fan: refused.
      res = await browser.request(`${LIVE_PATH}/start`, { form: { title: 'x' }, headers: { Origin: h.server.url } });
      assert.equal(res.status, 403);
      const fanBrowser = await signedInBrowser(h, fan);
      assert.equal((await fanBrowser.request(LIVE_PATH)).status, 403);
    });

    it('a fan chooses to stay anonymous in live alerts from the account page', async () => {
      const browser = await signedInBrowser(h, fan);
      assert.match(squash(await browser.page('/account')), /your gifts show with your name, Grace/);
      assert.equal((await post(browser, `${LIVE_PATH}/anonymous`, { anonymous: 'on' }, '/account')).status, 303);
      assert.match(squash(await browser.page('/account')), /your gifts show as “A fan”/);
      assert.equal((await post(browser, `${LIVE_PATH}/anonymous`, { anonymous: 'off' }, '/account')).status, 303);
      assert.match(squash(await browser.page('/account')), /with your name, Grace/);
    });
  });
}
