// A fan's daily allowance for a site pays only that site's own creators (its owner, and the
// creators who accepted to be listed on it). Written as the attacker first: a hostile script on
// site A holds A's publishable key and the fan's token, and sends gifts within the allowance to
// a creator account of its own. Every such gift must wait for the fan's confirmation: nothing
// posted, the allowance untouched, and once the holds end the fan's wallet is as it was.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Gift, Me, Wallet } from '@diamonds/protocol';
import { decideConfirmationOperation, CONFIRMATION_TTL_MS } from '../money/spends.js';
import { expireConfirmations } from '../money/sweeper.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { postGift, signedInBrowser } from '../gifts/testing.js';
import { unescapeHtml } from '../pages/testing.js';
import { answerInvitation, inviteCreator, leaveSite, removeSiteCreator } from './site-creators.js';

/** Transfers that moved Diamonds (posted): a hold is pending, and its release voids it. */
async function postedTransfers(h: MoneyHarness): Promise<number> {
  const [row] = await h.t.db.query<{ n: number }>(`SELECT count(*) AS n FROM transfers WHERE state = 'posted'`);
  return Number(row?.n ?? 0);
}

/** What the fan's allowance for the test site says now (`GET /v1/me`). */
async function me(h: MoneyHarness, fan: TestFan): Promise<Me> {
  const response = await h.call('/me', { fan });
  assert.equal(response.status, 200);
  return Me.parse(await response.json());
}

/** Releases every hold by letting its confirmation expire (the sweep, run as if later). */
async function expireAll(h: MoneyHarness): Promise<void> {
  while ((await expireConfirmations(h.server.writer, h.t.db, Date.now() + CONFIRMATION_TTL_MS + 1)) > 0);
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`the allowance pays only the site's own creators, attacked from Node, on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    before(async () => {
      h = await startMoneyHarness(kind);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    it('a hostile script draining the allowance to its own creator account: every gift is held, nothing moves', async () => {
      const fan = await h.fan({ allowance: 100, balance: 100 });
      const mallory = await h.newCreator('Mallory');
      const posted = await postedTransfers(h);
      // 20 roses of 5 Diamonds: exactly the day's allowance, as fast as the script can send them.
      const answers = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const response = await postGift(h, fan, { creatorId: mallory.id, giftId: 'rose' });
          return { status: response.status, gift: Gift.parse(await response.json()) };
        }),
      );
      for (const { status, gift } of answers) {
        assert.equal(status, 202, `a gift to a creator outside the site went through: ${JSON.stringify(gift)}`);
        assert.equal(gift.status, 'confirmation_required');
        assert.equal(gift.transferId, null);
      }
      assert.equal(await postedTransfers(h), posted, 'nothing was posted');
      assert.deepEqual(await h.balances(mallory.id), { wallet: 0, held: 0, earnings: 0 });
      assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 100, earnings: 0 }, 'held, not paid');
      const allowance = await me(h, fan);
      assert.equal(allowance.remainingAllowance, 100, 'the allowance is untouched');

      // The fan never confirms: the holds end, and the wallet is exactly as it was.
      await expireAll(h);
      assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 0, earnings: 0 });
      assert.deepEqual(await h.balances(mallory.id), { wallet: 0, held: 0, earnings: 0 });
      assert.equal(await postedTransfers(h), posted);
      await h.verifyClean();
    });

    it('the owner of another site is no creator of this one: a gift to them is held too', async () => {
      const fan = await h.fan({ allowance: 50, balance: 50 });
      const other = await h.newCreator('Other site owner');
      const { createSite } = await import('./sites.js');
      await createSite(h.t.db, { ownerId: other.id, name: 'Another page', origins: ['https://other.example'] });
      const posted = await postedTransfers(h);
      const response = await postGift(h, fan, { creatorId: other.id, giftId: 'heart', quantity: 10 });
      const gift = Gift.parse(await response.json());
      assert.equal(response.status, 202, JSON.stringify(gift));
      assert.equal(gift.status, 'confirmation_required');
      assert.equal(await postedTransfers(h), posted);
      assert.equal((await me(h, fan)).remainingAllowance, 50);
      await expireAll(h);
      assert.deepEqual(await h.balances(fan.id), { wallet: 50, held: 0, earnings: 0 });
      assert.equal((await h.balances(other.id)).earnings, 0);
    });

    it('the confirmation page says plainly that the recipient is not one of the site’s creators', async () => {
      const fan = await h.fan({ allowance: 100, balance: 300 });
      const mallory = await h.newCreator('Mallory');
      const held = Gift.parse(await (await postGift(h, fan, { creatorId: mallory.id, giftId: 'rose' })).json());
      const browser = await signedInBrowser(h, fan);
      const text = unescapeHtml(await browser.page(`/confirm/${held.confirmation!.id}`));
      assert.match(text, /<strong>Mallory<\/strong> is not one of <strong>Ada’s page<\/strong>’s creators/);
      // A gift to the site's owner beyond the allowance: held, but no such notice.
      const big = Gift.parse(await (await postGift(h, fan, { creatorId: h.creator.id, giftId: 'heart', quantity: 101 })).json());
      assert.equal(big.status, 'confirmation_required');
      assert.doesNotMatch(await browser.page(`/confirm/${big.confirmation!.id}`), /is not one of/);
      await expireAll(h);
    });

    it('approved by the fan, a gift to a creator outside the site is paid, and takes nothing from the allowance', async () => {
      const fan = await h.fan({ allowance: 20, balance: 100 });
      const mallory = await h.newCreator('Mallory');
      const held = Gift.parse(await (await postGift(h, fan, { creatorId: mallory.id, giftId: 'rose' })).json());
      await h.server.writer.run(decideConfirmationOperation, { id: held.confirmation!.id, userId: fan.id, approve: true });
      assert.deepEqual(await h.balances(fan.id), { wallet: 95, held: 0, earnings: 0 });
      assert.equal((await h.balances(mallory.id)).earnings, 4);
      assert.equal((await me(h, fan)).remainingAllowance, 20);
    });

    it('pays a listed creator at once, once they accepted; invited, declined, removed or gone: held', async () => {
      const fan = await h.fan({ allowance: 100, balance: 200 });
      const send = async (creatorId: string) => {
        const response = await postGift(h, fan, { creatorId, giftId: 'rose' });
        return { status: response.status, gift: Gift.parse(await response.json()) };
      };
      const invite = (creatorId: string) => inviteCreator(h.t.db, { siteId: h.site.id, creator: creatorId, invitedBy: h.creator.id });
      const answer = (creatorId: string, accept: boolean) => answerInvitation(h.t.db, { siteId: h.site.id, creatorId, accept });
      const [grace, ivy, dan, rex, lea] = await Promise.all(['Grace', 'Ivy', 'Dan', 'Rex', 'Lea'].map((name) => h.newCreator(name)));
      await invite(grace!.id);
      await answer(grace!.id, true);
      await invite(ivy!.id);
      await invite(dan!.id);
      await answer(dan!.id, false);
      await invite(rex!.id);
      await answer(rex!.id, true);
      await removeSiteCreator(h.t.db, h.site.id, rex!.id);
      await invite(lea!.id);
      await answer(lea!.id, true);
      await leaveSite(h.t.db, h.site.id, lea!.id);

      const posted = await postedTransfers(h);
      assert.equal((await send(grace!.id)).status, 201, 'accepted: paid at once');
      assert.equal((await send(h.creator.id)).status, 201, 'the owner: paid at once');
      assert.equal((await me(h, fan)).remainingAllowance, 90);
      for (const [who, creator] of [
        ['invited, not yet accepted', ivy],
        ['declined', dan],
        ['removed by the owner', rex],
        ['left the site', lea],
      ] as const) {
        const { status, gift } = await send(creator!.id);
        assert.equal(status, 202, `${who}: ${JSON.stringify(gift)}`);
        assert.equal(gift.status, 'confirmation_required');
      }
      assert.equal(await postedTransfers(h), posted + 2);
      assert.equal((await me(h, fan)).remainingAllowance, 90, 'the held gifts took nothing from the allowance');
      for (const creator of [ivy, dan, rex, lea]) assert.equal((await h.balances(creator!.id)).earnings, 0);
      await expireAll(h);
      assert.deepEqual(await h.balances(fan.id), { wallet: 190, held: 0, earnings: 0 });
    });

    it('20 concurrent gifts to listed and unlisted creators: only the listed ones take the allowance, never more than it', async () => {
      const fan = await h.fan({ allowance: 30, balance: 500 });
      const grace = await h.newCreator('Grace');
      await inviteCreator(h.t.db, { siteId: h.site.id, creator: grace.id, invitedBy: h.creator.id });
      await answerInvitation(h.t.db, { siteId: h.site.id, creatorId: grace.id, accept: true });
      const mallory = await h.newCreator('Mallory');
      const ivy = await h.newCreator('Ivy');
      await inviteCreator(h.t.db, { siteId: h.site.id, creator: ivy.id, invitedBy: h.creator.id });
      const listed = new Set([h.creator.id, grace.id]);
      const recipients = Array.from({ length: 20 }, (_, i) => [h.creator.id, mallory.id, grace.id, ivy.id][i % 4]!);
      const posted = await postedTransfers(h);
      const answers = await Promise.all(
        recipients.map(async (creatorId) => {
          const response = await postGift(h, fan, { creatorId, giftId: 'rose' });
          return { creatorId, status: response.status, gift: Gift.parse(await response.json()) };
        }),
      );
      const paid = answers.filter((answer) => answer.status === 201);
      assert.equal(paid.length, 6, '30 Diamonds of allowance: six roses of 5');
      assert.ok(
        paid.every((answer) => listed.has(answer.creatorId)),
        'only listed creators were paid from the allowance',
      );
      assert.ok(answers.every((answer) => answer.status === 201 || answer.status === 202));
      assert.ok(answers.filter((answer) => !listed.has(answer.creatorId)).every((answer) => answer.status === 202));
      assert.equal(await postedTransfers(h), posted + 6);
      assert.equal((await me(h, fan)).remainingAllowance, 0);
      const [spent] = await h.t.db.query<{ n: number }>('SELECT sum(amount) AS n FROM allowance_spends WHERE user_id = ?', [fan.id]);
      assert.equal(Number(spent?.n), 30);
      assert.deepEqual(await h.balances(mallory.id), { wallet: 0, held: 0, earnings: 0 });
      assert.deepEqual(await h.balances(ivy.id), { wallet: 0, held: 0, earnings: 0 });
      await expireAll(h);
      assert.deepEqual(await h.balances(fan.id), { wallet: 470, held: 0, earnings: 0 });
      await h.verifyClean();
    });

    it('a gift within the allowance to the site owner still goes through at once', async () => {
      const fan = await h.fan({ allowance: 50, balance: 50 });
      const response = await postGift(h, fan, { creatorId: h.creator.id, giftId: 'rose' });
      const gift = Gift.parse(await response.json());
      assert.equal(response.status, 201, JSON.stringify(gift));
      assert.equal(gift.status, 'succeeded');
      assert.equal((await me(h, fan)).remainingAllowance, 45);
      const wallet = Wallet.parse(await (await h.call('/wallet', { fan })).json());
      assert.equal(wallet.remainingAllowance, 45);
    });
  });
}
