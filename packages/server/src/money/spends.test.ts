import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { isApiError } from '../errors.js';
import { createSite } from '../identity/sites.js';
import { connect } from '../identity/connections.js';
import { createUser } from '../identity/users.js';
import { GroupCommit } from '../ledger/group-commit.js';
import { Ledger } from '../ledger/ledger.js';
import { verifyLedger, formatVerifyReport } from '../ledger/verify.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { TEST_SCRYPT_COST } from '../testing/money.js';
import { idempotent } from './idempotency.js';
import { MoneyRegistry, type MoneyContext } from './operations.js';
import { expireConfirmations, sweeperMoney } from './sweeper.js';
import { inlineMoneyWriter, type MoneyWriter } from './writer.js';
import {
  CONFIRMATION_TTL_MS,
  creatorCredits,
  confirmationsMoney,
  decideConfirmation,
  findConfirmation,
  spend,
  supportTotal,
  walletOf,
  type SpendRequest,
} from './spends.js';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`spends, confirmations and idempotent requests on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let ledger: Ledger;
    let commits: GroupCommit;
    let money: MoneyContext;
    let writer: MoneyWriter;
    let creatorId: string;
    let siteId: string;
    const settled: string[] = [];

    async function newFan(allowance: number, balance: number): Promise<string> {
      const fan = await createUser(
        t.db,
        { email: `${randomUUID()}@example.com`, password: 'a long password', displayName: 'Fan', roles: ['fan'] },
        { cost: TEST_SCRYPT_COST },
      );
      await connect(t.db, fan.id, siteId, allowance);
      await t.db.transaction(async (tx) => {
        const issuance = await ledger.platformAccount('issuance', tx);
        await ledger.transferIn(tx, {
          idempotencyKey: `fund:${fan.id}`,
          code: 'purchase',
          postings: [
            { accountId: issuance.id, amountDiamonds: -balance },
            { accountId: await walletOf(tx, ledger, fan.id), amountDiamonds: balance },
          ],
        });
      });
      return fan.id;
    }

    function giftRequest(
      userId: string,
      amount: number,
      reference = randomUUID(),
    ): (tx: Parameters<typeof spend>[0]) => Promise<SpendRequest> {
      return async (tx) => ({
        kind: 'gift',
        subjectId: `gift_${reference}`,
        userId,
        siteId,
        recipientId: creatorId,
        amount,
        credits: await creatorCredits(tx, ledger, creatorId, amount, 2000),
        description: `${amount} Diamonds for Ada`,
        reference,
      });
    }

    async function balances(userId: string) {
      const rows = await t.db.query<{ kind: string; balance: number; pending_debits: number }>(
        'SELECT kind, balance, pending_debits FROM accounts WHERE owner_id = ?',
        [userId],
      );
      const wallet = rows.find((row) => row.kind === 'wallet');
      const earnings = rows.find((row) => row.kind === 'earnings');
      return { wallet: Number(wallet?.balance ?? 0), held: Number(wallet?.pending_debits ?? 0), earnings: Number(earnings?.balance ?? 0) };
    }

    before(async () => {
      t = await createTestDatabase(kind);
      ledger = new Ledger(t.db);
      commits = new GroupCommit(ledger);
      const creator = await createUser(
        t.db,
        { email: 'ada@example.com', password: 'a long password', displayName: 'Ada', roles: ['creator'] },
        { cost: TEST_SCRYPT_COST },
      );
      creatorId = creator.id;
      siteId = (await createSite(t.db, { ownerId: creator.id, name: 'Ada', origins: ['https://ada.example'] })).site.id;
      // The confirmations' own feature, and a stand-in gifts feature that records what settling did.
      const registry = new MoneyRegistry([
        confirmationsMoney,
        sweeperMoney,
        {
          name: 'recorded gifts',
          operations: [],
          settlements: {
            gift: {
              async posted(_tx, confirmation) {
                settled.push(`posted:${confirmation.id}`);
              },
              async voided(_tx, confirmation) {
                settled.push(`${confirmation.status}:${confirmation.id}`);
              },
            },
          },
        },
      ]);
      money = registry.contextFor(ledger);
      writer = inlineMoneyWriter(registry, ledger, commits);
    });
    after(async () => {
      const report = await verifyLedger(t.db);
      assert.ok(report.ok, formatVerifyReport(report));
      await t?.drop();
    });

    it('posts a spend within the allowance at once, with the fee split exactly and the support counted', async () => {
      const fan = await newFan(100, 500);
      const before = await balances(creatorId);
      const outcome = await commits.run(async (tx) => spend(tx, ledger, await giftRequest(fan, 7)(tx)));
      assert.equal(outcome.status, 'succeeded');
      assert.equal((await balances(fan)).wallet, 493);
      assert.equal((await balances(creatorId)).earnings - before.earnings, 6);
      assert.equal(await supportTotal(t.db, fan, creatorId), 7);
    });

    it('holds a spend beyond the allowance; approving posts it once, deciding again answers the same', async () => {
      const fan = await newFan(5, 500);
      const outcome = await commits.run(async (tx) => spend(tx, ledger, await giftRequest(fan, 50)(tx)));
      assert.equal(outcome.status, 'confirmation_required');
      if (outcome.status !== 'confirmation_required') return;
      assert.deepEqual(await balances(fan), { wallet: 500, held: 50, earnings: 0 });
      assert.equal(await supportTotal(t.db, fan, creatorId), 0);
      const id = outcome.confirmation.id;
      const approved = await commits.run((tx) => decideConfirmation(tx, money, { id, userId: fan, approve: true }));
      assert.equal(approved.status, 'approved');
      assert.equal(approved.transferId, outcome.confirmation.reservationId);
      assert.deepEqual(await balances(fan), { wallet: 450, held: 0, earnings: 0 });
      assert.equal(await supportTotal(t.db, fan, creatorId), 50);
      assert.ok(settled.includes(`posted:${id}`));
      const again = await commits.run((tx) => decideConfirmation(tx, money, { id, userId: fan, approve: true }));
      assert.equal(again.status, 'approved');
      assert.equal((await balances(fan)).wallet, 450);
      await assert.rejects(
        commits.run((tx) => decideConfirmation(tx, money, { id, userId: fan, approve: false })),
        (error) => isApiError(error, 'confirmation_decided'),
      );
    });

    it('declining releases the hold; another fan cannot decide; expiry releases it too', async () => {
      const fan = await newFan(0, 100);
      const other = await newFan(0, 100);
      const held = await commits.run(async (tx) => spend(tx, ledger, await giftRequest(fan, 30)(tx)));
      assert.equal(held.status, 'confirmation_required');
      if (held.status !== 'confirmation_required') return;
      await assert.rejects(
        commits.run((tx) => decideConfirmation(tx, money, { id: held.confirmation.id, userId: other, approve: true })),
        (error) => isApiError(error, 'confirmation_not_found'),
      );
      const declined = await commits.run((tx) => decideConfirmation(tx, money, { id: held.confirmation.id, userId: fan, approve: false }));
      assert.equal(declined.status, 'declined');
      assert.deepEqual(await balances(fan), { wallet: 100, held: 0, earnings: 0 });

      const late = await commits.run(async (tx) => spend(tx, ledger, await giftRequest(fan, 40)(tx)));
      assert.equal(late.status, 'confirmation_required');
      if (late.status !== 'confirmation_required') return;
      const future = Date.now() + CONFIRMATION_TTL_MS + 1;
      assert.equal((await findConfirmation(t.db, late.confirmation.id, future))?.status, 'expired');
      await assert.rejects(
        commits.run((tx) => decideConfirmation(tx, money, { id: late.confirmation.id, userId: fan, approve: true }, future)),
        (error) => isApiError(error, 'confirmation_expired'),
      );
      assert.equal((await balances(fan)).held, 40, 'held until the sweep');
      assert.equal(await expireConfirmations(writer, t.db, future), 1);
      assert.deepEqual(await balances(fan), { wallet: 100, held: 0, earnings: 0 });
      assert.ok(settled.includes(`expired:${late.confirmation.id}`));

      const swept = await commits.run(async (tx) => spend(tx, ledger, await giftRequest(fan, 10)(tx)));
      assert.equal(swept.status, 'confirmation_required');
      assert.equal(await expireConfirmations(writer, t.db, Date.now() + CONFIRMATION_TTL_MS + 1), 1);
      assert.equal(await expireConfirmations(writer, t.db, Date.now() + CONFIRMATION_TTL_MS + 1), 0);
      assert.deepEqual(await balances(fan), { wallet: 100, held: 0, earnings: 0 });
    });

    it('refuses a spend the wallet cannot pay, taking no allowance', async () => {
      const fan = await newFan(1000, 10);
      await assert.rejects(
        commits.run(async (tx) => spend(tx, ledger, await giftRequest(fan, 11)(tx))),
        (error) => isApiError(error, 'insufficient_funds'),
      );
      const [row] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM allowance_spends WHERE user_id = ?', [fan]);
      assert.equal(Number(row?.n), 0);
      assert.deepEqual(await balances(fan), { wallet: 10, held: 0, earnings: 0 });
    });

    it('never lets concurrent spends exceed the allowance: the rest wait for confirmation', async () => {
      const fan = await newFan(50, 1000);
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, () => commits.run(async (tx) => spend(tx, ledger, await giftRequest(fan, 5)(tx)))),
      );
      assert.equal(outcomes.filter((o) => o.status === 'succeeded').length, 10);
      assert.equal(outcomes.filter((o) => o.status === 'confirmation_required').length, 10);
      assert.deepEqual(await balances(fan), { wallet: 950, held: 50, earnings: 0 });
    });

    it('group-commits work: a failing item rolls back alone, the others commit in one transaction', async () => {
      const fan = await newFan(1000, 100);
      const batchesBefore = commits.batches;
      const results = await Promise.allSettled([
        commits.run(async (tx) => spend(tx, ledger, await giftRequest(fan, 10)(tx))),
        commits.run(async (tx) => {
          await spend(tx, ledger, await giftRequest(fan, 20)(tx));
          throw new Error('the flow failed after spending');
        }),
        commits.run(async (tx) => spend(tx, ledger, await giftRequest(fan, 30)(tx))),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      assert.equal(commits.batches - batchesBefore, 1);
      assert.equal((await balances(fan)).wallet, 60);
      const [row] = await t.db.query<{ spent: number }>('SELECT sum(amount) AS spent FROM allowance_spends WHERE user_id = ?', [fan]);
      assert.equal(Number(row?.spent), 40, 'the failed item took no allowance');
    });

    it('stores an answer once per key and scope: replays it, refuses another request under the key', async () => {
      let runs = 0;
      const request = { scope: 'fan:a:b', key: 'k-1', fingerprint: 'f1' };
      const work = async () => ({ status: 201, body: { run: ++runs } });
      const first = await commits.run((tx) => idempotent(tx, request, work));
      const second = await commits.run((tx) => idempotent(tx, request, work));
      assert.deepEqual(first, { status: 201, body: { run: 1 }, replayed: false, json: '{"run":1}' });
      assert.deepEqual(second, { status: 201, body: { run: 1 }, replayed: true, json: '{"run":1}' });
      const concurrent = await Promise.all(
        Array.from({ length: 5 }, () => commits.run((tx) => idempotent(tx, { ...request, key: 'k-2' }, work))),
      );
      assert.equal(concurrent.filter((r) => !r.replayed).length, 1);
      await assert.rejects(
        commits.run((tx) => idempotent(tx, { ...request, fingerprint: 'f2' }, work)),
        (error) => isApiError(error, 'idempotency_key_reused'),
      );
      const otherScope = await commits.run((tx) => idempotent(tx, { ...request, scope: 'fan:c:b' }, work));
      assert.equal(otherScope.replayed, false);
      await assert.rejects(
        commits.run((tx) =>
          idempotent(tx, { ...request, key: 'k-3' }, async () => {
            throw new Error('failed');
          }),
        ),
      );
      const retried = await commits.run((tx) => idempotent(tx, { ...request, key: 'k-3' }, work));
      assert.equal(retried.replayed, false, 'a failed request leaves no claim behind');
      assert.equal(runs, 4);
    });
  });
}
