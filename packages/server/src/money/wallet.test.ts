import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newId, Wallet, WalletHistory, type SpendKind, type WalletEntry } from '@diamonds/protocol';
import { connect } from '../identity/connections.js';
import { createSite } from '../identity/sites.js';
import { removeSiteCreator } from '../identity/site-creators.js';
import { issueTokens, newFamilyId } from '../identity/tokens.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { newDpopKey, type DpopTestKey } from '../testing/dpop.js';
import { startMoneyHarness, TEST_PAGE_ORIGIN, type MoneyHarness, type TestFan } from '../testing/money.js';
import { CONFIRMATION_TTL_MS, creatorCredits, decideConfirmationOperation, spend } from './spends.js';
import { expireConfirmations } from './sweeper.js';

// The spends below are made straight through `spend`, with no gift, content or order rows of
// their own (the wallet reads only the ledger): settling them, the flows' settlements find
// no row of theirs and do nothing.

const FEE_BPS = 2000;
const OTHER_ORIGIN = 'http://127.0.0.1:5174';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`wallet balance and history over HTTP on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    before(async () => {
      h = await startMoneyHarness(kind);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    /** Spends a fan's Diamonds on `siteId` for `recipientId` the way the money flows do. */
    function spendNow(
      fan: { id: string },
      amount: number,
      options: { kind?: SpendKind; recipientId?: string; siteId?: string; description?: string } = {},
    ) {
      const recipientId = options.recipientId ?? h.creator.id;
      return h.server.commits.run(async (tx) => {
        const subjectId = newId('gift');
        return spend(tx, h.server.ledger, {
          kind: options.kind ?? 'gift',
          subjectId,
          userId: fan.id,
          siteId: options.siteId ?? h.site.id,
          recipientId,
          amount,
          credits: await creatorCredits(tx, h.server.ledger, recipientId, amount, FEE_BPS),
          description: options.description ?? `${amount} × Rose for Ada`,
          reference: subjectId,
        });
      });
    }

    /** Signs `userId` in on a site (the test site by default), as the popup sign-in would. */
    async function signIn(
      userId: string,
      site = { id: h.site.id, origin: TEST_PAGE_ORIGIN },
      allowance = 0,
      dpop: DpopTestKey = newDpopKey(),
    ): Promise<string> {
      await connect(h.t.db, userId, site.id, allowance);
      const tokens = await h.t.db.transaction((tx) =>
        issueTokens(tx, { userId, siteId: site.id, origin: site.origin, familyId: newFamilyId(), jkt: dpop.jkt }),
      );
      return tokens.accessToken;
    }

    async function wallet(fan: TestFan): Promise<Wallet> {
      const response = await h.call('/wallet', { fan });
      assert.equal(response.status, 200, await response.clone().text());
      assert.equal(response.headers.get('cache-control'), 'no-store');
      return Wallet.parse(await response.json());
    }

    async function history(fan: TestFan, query = ''): Promise<WalletHistory> {
      const response = await h.call(`/wallet/history${query}`, { fan });
      assert.equal(response.status, 200, await response.clone().text());
      return WalletHistory.parse(await response.json());
    }

    /** Every entry of a fan's history, page by page. */
    async function allEntries(fan: TestFan, query = '', limit = 100): Promise<WalletEntry[]> {
      const entries: WalletEntry[] = [];
      let cursor: string | null = null;
      do {
        const page = await history(fan, `?limit=${limit}${query}${cursor === null ? '' : `&cursor=${cursor}`}`);
        entries.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor !== null);
      return entries;
    }

    it('reads zeros and an empty history for a fan who never held a Diamond, and creates no account', async () => {
      const fan = await h.fan({ allowance: 25 });
      assert.deepEqual(await wallet(fan), {
        object: 'wallet',
        balanceDiamonds: 0,
        heldDiamonds: 0,
        earningsDiamonds: 0,
        remainingAllowance: 25,
        allowancePerDay: 25,
        allowanceRecipients: [h.creator.id],
      });
      assert.deepEqual(await history(fan), { object: 'list', data: [], hasMore: false, nextCursor: null });
      const accounts = await h.t.db.query('SELECT id FROM accounts WHERE owner_id = ?', [fan.id]);
      assert.equal(accounts.length, 0);
    });

    it('shows balances after top-ups and spends, and the creator’s earnings less the fee', async () => {
      const creator = await h.newCreator('Cleo', { listed: true });
      const fan = await h.fan({ allowance: 100, balance: 500, name: 'Bo' });
      await h.credit(fan.id, 250);
      const outcome = await spendNow(fan, 30, { recipientId: creator.id, description: '3 × Rose for Cleo' });
      assert.equal(outcome.status, 'succeeded');

      assert.deepEqual(await wallet(fan), {
        object: 'wallet',
        balanceDiamonds: 720,
        heldDiamonds: 0,
        earningsDiamonds: 0,
        remainingAllowance: 70,
        allowancePerDay: 100,
        allowanceRecipients: [h.creator.id, creator.id],
      });
      const entries = (await history(fan)).data;
      assert.deepEqual(
        entries.map((entry) => [entry.kind, entry.account, entry.direction, entry.amountDiamonds, entry.status, entry.description]),
        [
          ['gift', 'wallet', 'out', 30, 'posted', '3 × Rose for Cleo'],
          ['purchase', 'wallet', 'in', 250, 'posted', 'Test credit of 250 Diamonds'],
          ['purchase', 'wallet', 'in', 500, 'posted', 'Test credit of 500 Diamonds'],
        ],
      );
      const gift = entries[0]!;
      assert.equal(gift.transferId, outcome.status === 'succeeded' ? outcome.transfer.id : null);
      assert.equal(gift.id, `${gift.transferId}:wallet`);
      assert.match(gift.subjectId ?? '', /^gift_/);

      // The creator sees what they received (24 of 30 at a 20% fee) and who gave it.
      const dpop = newDpopKey();
      const creatorFan: TestFan = {
        id: creator.id,
        displayName: creator.displayName,
        token: await signIn(creator.id, undefined, 0, dpop),
        dpop,
      };
      const creatorWallet = await wallet(creatorFan);
      assert.equal(creatorWallet.earningsDiamonds, 24);
      assert.equal(creatorWallet.balanceDiamonds, 0);
      const earned = (await history(creatorFan)).data;
      assert.equal(earned.length, 1);
      assert.equal(earned[0]!.account, 'earnings');
      assert.equal(earned[0]!.direction, 'in');
      assert.equal(earned[0]!.amountDiamonds, 24);
      assert.equal(earned[0]!.transferId, gift.transferId);
      assert.equal(earned[0]!.description, 'Gift from Bo: 3 × Rose for Cleo');
      assert.deepEqual(await h.balances(creator.id), { wallet: 0, held: 0, earnings: 24 });
      await removeSiteCreator(h.t.db, h.site.id, creator.id);
    });

    it('shows a held spend once: pending, then posted when approved', async () => {
      const fan = await h.fan({ allowance: 10, balance: 300 });
      const outcome = await spendNow(fan, 200);
      assert.equal(outcome.status, 'confirmation_required');
      if (outcome.status !== 'confirmation_required') return;

      assert.deepEqual(await wallet(fan), {
        object: 'wallet',
        balanceDiamonds: 100,
        heldDiamonds: 200,
        earningsDiamonds: 0,
        remainingAllowance: 10,
        allowancePerDay: 10,
        allowanceRecipients: [h.creator.id],
      });
      const [held, ...rest] = (await history(fan)).data;
      assert.equal(rest.length, 1);
      assert.equal(held!.transferId, outcome.confirmation.reservationId);
      assert.deepEqual([held!.kind, held!.direction, held!.amountDiamonds, held!.status], ['gift', 'out', 200, 'pending']);

      const transfersBefore = await h.transferCount();
      await h.server.writer.run(decideConfirmationOperation, { id: outcome.confirmation.id, userId: fan.id, approve: true });
      assert.equal(await h.transferCount(), transfersBefore + 1, 'approving adds the resolving transfer');

      const after = (await history(fan)).data;
      assert.equal(after.length, 2, 'the resolving transfer is not a second entry');
      assert.equal(after[0]!.id, held!.id);
      assert.equal(after[0]!.status, 'posted');
      const summary = await wallet(fan);
      assert.deepEqual([summary.balanceDiamonds, summary.heldDiamonds], [100, 0]);
      assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 0, earnings: 0 });
    });

    it('shows a held spend as voided once declined or expired, and gives the Diamonds back', async () => {
      const fan = await h.fan({ allowance: 0, balance: 300 });
      const declined = await spendNow(fan, 120);
      const expiring = await spendNow(fan, 80);
      assert.equal(declined.status, 'confirmation_required');
      assert.equal(expiring.status, 'confirmation_required');
      if (declined.status !== 'confirmation_required' || expiring.status !== 'confirmation_required') return;
      assert.equal((await wallet(fan)).heldDiamonds, 200);

      await h.server.writer.run(decideConfirmationOperation, { id: declined.confirmation.id, userId: fan.id, approve: false });
      assert.equal(await expireConfirmations(h.server.writer, h.t.db, Date.now() + CONFIRMATION_TTL_MS + 1), 1);

      const entries = (await history(fan)).data;
      assert.deepEqual(
        entries.map((entry) => [entry.transferId, entry.status]),
        [
          [expiring.confirmation.reservationId, 'voided'],
          [declined.confirmation.reservationId, 'voided'],
          [entries[2]!.transferId, 'posted'],
        ],
      );
      const summary = await wallet(fan);
      assert.equal(summary.balanceDiamonds, 300);
      assert.equal(summary.heldDiamonds, 0);
    });

    it('pages through 45 entries 20 at a time, newest first, with no duplicate and no gap, even as new entries arrive', async () => {
      const fan = await h.fan({ allowance: 1_000, balance: 1 });
      for (let i = 2; i <= 45; i++) {
        if (i % 3 === 0) await spendNow(fan, 1, { description: `Gift number ${i}` });
        else await h.credit(fan.id, i);
      }
      const everything = await allEntries(fan);
      assert.equal(everything.length, 45);

      const first = await history(fan, '?limit=20');
      assert.equal(first.data.length, 20);
      assert.equal(first.hasMore, true);
      assert.ok(first.nextCursor);
      // A new entry between pages is newer than the cursor: it must not shift the next pages.
      await h.credit(fan.id, 1_000);
      const second = await history(fan, `?limit=20&cursor=${first.nextCursor}`);
      assert.equal(second.data.length, 20);
      assert.equal(second.hasMore, true);
      const third = await history(fan, `?limit=20&cursor=${second.nextCursor}`);
      assert.equal(third.data.length, 5);
      assert.equal(third.hasMore, false);
      assert.equal(third.nextCursor, null);

      const paged = [...first.data, ...second.data, ...third.data];
      assert.deepEqual(
        paged.map((entry) => entry.id),
        everything.map((entry) => entry.id),
      );
      assert.equal(new Set(paged.map((entry) => entry.id)).size, 45);
      const ids = paged.map((entry) => entry.transferId);
      assert.deepEqual(ids, [...ids].sort().reverse(), 'newest first');

      // Exactly limit entries left: the last page says there is no more.
      const exact = await history(fan, `?limit=5&cursor=${second.nextCursor}`);
      assert.deepEqual([exact.data.length, exact.hasMore, exact.nextCursor], [5, false, null]);
      // The default page is 20.
      assert.equal((await history(fan)).data.length, 20);
    });

    it('filters by kind and by account', async () => {
      const creator = await h.newCreator('Dee', { listed: true });
      const fan = await h.fan({ allowance: 1_000, balance: 100 });
      await spendNow(fan, 10, { recipientId: creator.id });
      await spendNow(fan, 20, { recipientId: creator.id, kind: 'unlock', description: 'Unlock “Secret” by Dee' });
      await spendNow(fan, 5, { recipientId: creator.id });

      const gifts = await allEntries(fan, '&kind=gift');
      assert.deepEqual(
        gifts.map((entry) => [entry.kind, entry.amountDiamonds]),
        [
          ['gift', 5],
          ['gift', 10],
        ],
      );
      const unlocks = await allEntries(fan, '&kind=unlock');
      assert.deepEqual(
        unlocks.map((entry) => [entry.kind, entry.amountDiamonds, entry.description]),
        [['unlock', 20, 'Unlock “Secret” by Dee']],
      );
      assert.deepEqual(
        (await allEntries(fan, '&kind=purchase')).map((entry) => entry.amountDiamonds),
        [100],
      );
      assert.deepEqual(await allEntries(fan, '&kind=refund'), []);
      assert.deepEqual(await allEntries(fan, '&account=earnings'), []);
      assert.equal((await allEntries(fan, '&account=wallet')).length, 4);
      // Filters and cursors combine.
      const page = await history(fan, '?kind=gift&limit=1');
      assert.equal(page.hasMore, true);
      const next = await history(fan, `?kind=gift&limit=1&cursor=${page.nextCursor}`);
      assert.deepEqual([next.data[0]!.amountDiamonds, next.hasMore], [10, false]);
    });

    it('refuses a bad cursor, limit, kind or account with a code and the parameter, and changes nothing', async () => {
      const fan = await h.fan({ allowance: 100, balance: 50 });
      const before = { balances: await h.balances(fan.id), transfers: await h.transferCount() };
      const foreign = Buffer.from('rate:1700000000000').toString('base64url');
      const wrongAccount = Buffer.from(`${newId('txn')}:fees`).toString('base64url');
      for (const cursor of ['bogus', foreign, wrongAccount, Buffer.from(`${newId('txn')}:wallet:x`).toString('base64url')]) {
        const error = await h.refused(await h.call(`/wallet/history?cursor=${cursor}`, { fan }), 400, 'invalid_cursor');
        assert.equal(error.param, 'cursor');
        assert.match(error.message, /nextCursor/);
      }
      for (const limit of ['0', '-1', '101', '1.5', 'ten', '']) {
        const error = await h.refused(await h.call(`/wallet/history?limit=${limit}`, { fan }), 400, 'invalid_request');
        assert.equal(error.param, 'limit', limit);
      }
      for (const bad of ['kind=bogus', 'kind=GIFT', 'kind=']) {
        const error = await h.refused(await h.call(`/wallet/history?${bad}`, { fan }), 400, 'invalid_request');
        assert.equal(error.param, 'kind', bad);
      }
      const error = await h.refused(await h.call('/wallet/history?account=fees', { fan }), 400, 'invalid_request');
      assert.equal(error.param, 'account');
      assert.deepEqual({ balances: await h.balances(fan.id), transfers: await h.transferCount() }, before);
    });

    it('needs the fan’s token with the publishable key', async () => {
      const fan = await h.fan({ balance: 10 });
      for (const path of ['/wallet', '/wallet/history']) {
        await h.refused(await h.call(path), 401, 'authentication_required');
        await h.refused(await h.call(path, { fan: { ...fan, token: 'not-a-token' } }), 401, 'invalid_token');
        await h.refused(await h.call(path, { fan, key: 'secret' }), 403, 'permission_denied');
        // The token is bound to its site's origin.
        await h.refused(await h.call(path, { fan, origin: OTHER_ORIGIN }), 403, 'origin_not_allowed');
      }
    });

    it('never shows another fan’s entries', async () => {
      const ann = await h.fan({ allowance: 100, balance: 70, name: 'Ann' });
      const ben = await h.fan({ allowance: 100, balance: 90, name: 'Ben' });
      await spendNow(ann, 7);
      await spendNow(ben, 9);
      await assert.rejects(spendNow(ben, 500), { code: 'insufficient_funds' });
      const annEntries = await allEntries(ann);
      const benEntries = await allEntries(ben);
      assert.deepEqual(
        annEntries.map((entry) => entry.amountDiamonds),
        [7, 70],
      );
      assert.deepEqual(
        benEntries.map((entry) => entry.amountDiamonds),
        [9, 90],
      );
      const benTransfers = new Set(benEntries.map((entry) => entry.transferId));
      assert.ok(annEntries.every((entry) => !benTransfers.has(entry.transferId)));
      assert.equal((await wallet(ann)).balanceDiamonds, 63);
      assert.equal((await wallet(ben)).balanceDiamonds, 81);
    });

    it('tells a page what the fan did on it, and only the amount of what they did on other sites', async () => {
      const other = await h.newCreator('Eve');
      const created = await createSite(h.t.db, { ownerId: other.id, name: 'Eve’s page', origins: [OTHER_ORIGIN] });
      const fan = await h.fan({ allowance: 100, balance: 100 });
      const token = await signIn(fan.id, { id: created.site.id, origin: OTHER_ORIGIN }, 100, fan.dpop);
      await spendNow(fan, 15, { recipientId: other.id, siteId: created.site.id, description: '1 × Crown for Eve' });
      await spendNow(fan, 4, { description: '2 × Rose for Ada' });

      const here = (await history(fan)).data;
      assert.deepEqual(
        here.map((entry) => [entry.amountDiamonds, entry.description, entry.subjectId === null]),
        [
          [4, '2 × Rose for Ada', false],
          [15, 'Gift on another site', true],
          [100, 'Test credit of 100 Diamonds', true],
        ],
      );
      // On Eve's page, the same fan's Eve entry is told in full and Ada's is not.
      const response = await h.call('/wallet/history', { fan: { ...fan, token }, key: created.publishableKey, origin: OTHER_ORIGIN });
      const there = WalletHistory.parse(await response.json()).data;
      assert.deepEqual(
        there.map((entry) => [entry.amountDiamonds, entry.description]),
        [
          [4, 'Gift on another site'],
          [15, '1 × Crown for Eve'],
          [100, 'Test credit of 100 Diamonds'],
        ],
      );
      const eveWallet = Wallet.parse(
        await (await h.call('/wallet', { fan: { ...fan, token }, key: created.publishableKey, origin: OTHER_ORIGIN })).json(),
      );
      assert.deepEqual([eveWallet.balanceDiamonds, eveWallet.remainingAllowance], [81, 85]);
    });

    it('lists each of 20 concurrent spends exactly once, and the balance matches', async () => {
      const fan = await h.fan({ allowance: 1_000, balance: 400 });
      const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => spendNow(fan, 10 + i)));
      assert.ok(outcomes.every((outcome) => outcome.status === 'fulfilled' && outcome.value.status === 'succeeded'));
      const [entries, summary] = await Promise.all([allEntries(fan, '&kind=gift', 7), wallet(fan)]);
      assert.equal(entries.length, 20);
      assert.equal(new Set(entries.map((entry) => entry.id)).size, 20);
      const spent = entries.reduce((sum, entry) => sum + entry.amountDiamonds, 0);
      assert.equal(spent, 390);
      assert.equal(summary.balanceDiamonds, 10);
      assert.equal(summary.remainingAllowance, 610);
    });
  });
}
