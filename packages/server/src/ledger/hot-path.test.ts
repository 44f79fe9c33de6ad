import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SqlClient } from '../db/types.js';
import { isApiError } from '../errors.js';
import { connect, consumeAllowance, disconnect } from '../identity/connections.js';
import { createSite } from '../identity/sites.js';
import { createUser } from '../identity/users.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { TEST_SCRYPT_COST } from '../testing/money.js';
import { GroupCommit, afterCommit } from './group-commit.js';
import { Ledger } from './ledger.js';
import { verifyLedger } from './verify.js';

/** A client that counts the statements sent through it: what the caches are meant to save. */
function counting(tx: SqlClient): { client: SqlClient; count: () => number } {
  let statements = 0;
  return {
    client: {
      kind: tx.kind,
      query: (sql, params) => {
        statements++;
        return tx.query(sql, params);
      },
      run: (sql, params) => {
        statements++;
        return tx.run(sql, params);
      },
    },
    count: () => statements,
  };
}

// The shortcuts of the spend path (cached account ids, fresh keys, the folded allowance check)
// must answer exactly what the long way answers, and never remember what a rollback undid.
for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`spend hot path on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let ledger: Ledger;
    let commits: GroupCommit;

    before(async () => {
      t = await createTestDatabase(kind);
      ledger = new Ledger(t.db);
      commits = new GroupCommit(ledger);
    });
    after(async () => {
      if (t) {
        assert.deepEqual((await verifyLedger(t.db)).problems, []);
        await t.drop();
      }
    });

    it('runs afterCommit callbacks only for works whose writes committed', async () => {
      const ran: string[] = [];
      const kept = commits.run(async (tx) => {
        afterCommit(tx, () => ran.push('kept'));
        assert.deepEqual(ran, [], 'nothing runs before the commit');
        return 'ok';
      });
      const failed = commits.run(async (tx) => {
        afterCommit(tx, () => ran.push('failed'));
        throw new Error('this work fails alone');
      });
      assert.equal(await kept, 'ok');
      await assert.rejects(failed, /fails alone/);
      assert.deepEqual(ran, ['kept']);
      // Any other transaction: never (it may roll back after the call).
      await t.db.transaction(async (tx) => afterCommit(tx, () => ran.push('plain transaction')));
      assert.deepEqual(ran, ['kept']);
    });

    it('caches an account id only once the account is committed', async () => {
      // Opened in a work that then fails: the account rolls back, and so must the cache.
      await assert.rejects(
        commits.run(async (tx) => {
          await ledger.accountId({ ownerId: 'usr_rolled_back', kind: 'wallet' }, tx);
          throw new Error('roll it back');
        }),
        /roll it back/,
      );
      const [none] = await t.db.query<{ n: number }>(`SELECT count(*) AS n FROM accounts WHERE owner_id = 'usr_rolled_back'`);
      assert.equal(Number(none?.n), 0);
      const id = await commits.run((tx) => ledger.accountId({ ownerId: 'usr_rolled_back', kind: 'wallet' }, tx));
      const [row] = await t.db.query<{ id: string }>(`SELECT id FROM accounts WHERE owner_id = 'usr_rolled_back' AND kind = 'wallet'`);
      assert.equal(row?.id, id, 'the id given is the committed account');
      // Committed: the next look-up costs no statement, and agrees with openAccount.
      const again = await commits.run(async (tx) => {
        const counted = counting(tx);
        const found = await ledger.accountId({ ownerId: 'usr_rolled_back', kind: 'wallet' }, counted.client);
        return { found, statements: counted.count() };
      });
      assert.deepEqual(again, { found: id, statements: 0 });
      assert.equal((await ledger.openAccount({ ownerId: 'usr_rolled_back', kind: 'wallet' })).id, id);
      // Outside a transaction the insert is committed at once.
      const fees = await ledger.accountId({ ownerId: null, kind: 'fees' });
      assert.equal(fees, (await ledger.platformAccount('fees')).id);
      await assert.rejects(ledger.accountId({ ownerId: null, kind: 'wallet' }), (error: unknown) => isApiError(error, 'invalid_request'));
    });

    it('moves the same with a fresh key, and refuses a fresh key that exists without moving anything', async () => {
      const wallet = await ledger.accountId({ ownerId: 'usr_payer', kind: 'wallet' });
      const earnings = await ledger.accountId({ ownerId: 'usr_payee', kind: 'earnings' });
      const issuance = await ledger.accountId({ ownerId: null, kind: 'issuance' });
      await ledger.transfer({
        idempotencyKey: 'fund-payer',
        code: 'purchase',
        postings: [
          { accountId: issuance, amountDiamonds: -100 },
          { accountId: wallet, amountDiamonds: 100 },
        ],
      });
      const request = {
        idempotencyKey: 'fresh-1',
        code: 'gift' as const,
        postings: [
          { accountId: wallet, amountDiamonds: -30 },
          { accountId: earnings, amountDiamonds: 30 },
        ],
      };
      const first = await commits.run((tx) => ledger.transferIn(tx, request, { fresh: true }));
      assert.equal(first.replayed, false);
      assert.equal(first.transfer.amountDiamonds, 30);
      // Not fresh after all: the unique key refuses it, and the savepoint takes the debit back.
      await assert.rejects(
        commits.run((tx) => ledger.transferIn(tx, request, { fresh: true })),
        (error: unknown) => isApiError(error, 'idempotency_request_in_progress'),
      );
      const replay = await commits.run((tx) => ledger.transferIn(tx, request));
      assert.equal(replay.replayed, true);
      assert.equal(replay.transfer.id, first.transfer.id);
      assert.equal((await ledger.getAccount(wallet)).balanceDiamonds, 70);
      assert.equal((await ledger.getAccount(earnings)).balanceDiamonds, 30);
    });

    it('takes the allowance in one step: exact fit, over, not connected, disconnected, replayed', async () => {
      const creator = await createUser(
        t.db,
        { email: `c-${kind}@example.com`, password: 'a long password', displayName: 'Ada', roles: ['creator'] },
        { cost: TEST_SCRYPT_COST },
      );
      const fan = await createUser(
        t.db,
        { email: `f-${kind}@example.com`, password: 'a long password', displayName: 'Fan', roles: ['fan'] },
        { cost: TEST_SCRYPT_COST },
      );
      const { site } = await createSite(t.db, { ownerId: creator.id, name: 'Page', origins: ['http://127.0.0.1:5173'] });
      const take = (reference: string, amount: number, fresh = true, now = Date.now()) =>
        commits.run((tx) =>
          consumeAllowance(tx, { reference, userId: fan.id, siteId: site.id, recipientId: creator.id, amount, fresh }, now),
        );
      assert.equal(await take('a-0', 1), false, 'not connected: the fan must confirm');
      await connect(t.db, fan.id, site.id, 50);
      assert.equal(await take('a-1', 30), true);
      assert.equal(await take('a-2', 21), false, '30 + 21 is over 50');
      assert.equal(await take('a-3', 20), true, '30 + 20 fits exactly');
      assert.equal(await take('a-4', 1), false, 'nothing left');
      assert.equal(await take('a-3', 20, false), true, 'a retry of a taken reference takes nothing more');
      assert.equal(await take('a-5', 50, true, Date.now() + 24 * 60 * 60 * 1000 + 1), true, 'a day later it is all back');
      await disconnect(t.db, fan.id, site.id);
      assert.equal(await take('a-6', 1), false, 'disconnected');
      const [row] = await t.db.query<{ spent: number }>('SELECT sum(amount) AS spent FROM allowance_spends WHERE user_id = ?', [fan.id]);
      assert.equal(Number(row?.spent), 100);
      await assert.rejects(take('a-7', 0), RangeError);
    });
  });
}
