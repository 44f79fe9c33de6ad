import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TRANSFER_DIAMONDS, type ErrorCode } from '@diamonds/protocol';
import { rejectsWith } from '../testing/assertions.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { Ledger, type Account, type TransferRequest } from './ledger.js';
import { verifyLedger } from './verify.js';

let keyCounter = 0;
const key = (label = 'k') => `${label}-${++keyCounter}-${Math.random().toString(36).slice(2)}`;

async function countRows(t: TestDatabase, table: 'transfers' | 'postings' | 'reservations'): Promise<number> {
  const [row] = await t.db.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(row?.n);
}

for (const kind of DATABASE_KINDS) {
  // Decided before the tests are declared, so a skip is reported as one (loudly; never under CI).
  const skip = await skipUnlessPostgres(kind);
  describe(`ledger on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let now = Date.UTC(2026, 10, 25, 12);
    let ledger: Ledger;
    let issuance: Account;
    let fees: Account;

    before(async () => {
      t = await createTestDatabase(kind);
      ledger = new Ledger(t.db, { now: () => now });
      issuance = await ledger.platformAccount('issuance');
      fees = await ledger.platformAccount('fees');
    });

    after(async () => {
      if (t) {
        const report = await verifyLedger(t.db);
        assert.deepEqual(report.problems, [], 'ledger verify must stay clean after the suite');
        await t.drop();
      }
    });

    /** A fan wallet funded with `amount` Diamonds, and a creator's earnings account. */
    async function fundedWallet(amount: number): Promise<{ wallet: Account; earnings: Account }> {
      const owner = `usr_${key('owner')}`;
      const wallet = await ledger.openAccount({ ownerId: owner, kind: 'wallet' });
      const earnings = await ledger.openAccount({ ownerId: `${owner}-creator`, kind: 'earnings' });
      if (amount > 0) await ledger.transfer(purchase(wallet, amount));
      return { wallet, earnings };
    }

    function purchase(wallet: Account, amount: number, idempotencyKey = key('buy')): TransferRequest {
      return {
        idempotencyKey,
        code: 'purchase',
        postings: [
          { accountId: issuance.id, amountDiamonds: -amount },
          { accountId: wallet.id, amountDiamonds: amount },
        ],
      };
    }

    function gift(from: Account, to: Account, amount: number, extra: Partial<TransferRequest> = {}): TransferRequest {
      return {
        idempotencyKey: key('gift'),
        code: 'gift',
        postings: [
          { accountId: from.id, amountDiamonds: -amount },
          { accountId: to.id, amountDiamonds: amount },
        ],
        ...extra,
      };
    }

    const balance = async (account: Account) => (await ledger.getAccount(account.id)).balanceDiamonds;

    it('opens one account per owner and kind, and refuses malformed accounts', async () => {
      const a = await ledger.openAccount({ ownerId: 'usr_same', kind: 'wallet' });
      const b = await ledger.openAccount({ ownerId: 'usr_same', kind: 'wallet' });
      const c = await ledger.openAccount({ ownerId: 'usr_same', kind: 'earnings' });
      assert.equal(a.id, b.id);
      assert.notEqual(a.id, c.id);
      assert.equal((await ledger.platformAccount('issuance')).id, issuance.id);
      await rejectsWith(ledger.openAccount({ ownerId: null, kind: 'wallet' }), 'invalid_request', 'ownerId');
      await rejectsWith(ledger.openAccount({ ownerId: 'usr_x', kind: 'fees' }), 'invalid_request', 'ownerId');
      await rejectsWith(ledger.openAccount({ ownerId: 'usr_x', kind: 'piggybank' as 'wallet' }), 'invalid_request', 'kind');
      await rejectsWith(ledger.getAccount('acct_nope'), 'account_not_found');
    });

    it('posts a transfer, updating both balances at once', async () => {
      const { wallet, earnings } = await fundedWallet(100);
      const { transfer, replayed } = await ledger.transfer(gift(wallet, earnings, 30, { metadata: { site: 'site_demo', note: 'hi' } }));
      assert.equal(replayed, false);
      assert.equal(transfer.state, 'posted');
      assert.equal(transfer.amountDiamonds, 30);
      assert.match(transfer.id, /^txn_[0-9A-Z]{26}$/);
      assert.deepEqual(transfer.metadata, { site: 'site_demo', note: 'hi' });
      assert.equal(await balance(wallet), 70);
      assert.equal(await balance(earnings), 30);
      const fetched = await ledger.getTransfer(transfer.id);
      assert.deepEqual(fetched, transfer);
    });

    it('splits one transfer over many accounts (gift less the platform fee)', async () => {
      const { wallet, earnings } = await fundedWallet(100);
      const feesBefore = await balance(fees);
      await ledger.transfer({
        idempotencyKey: key(),
        code: 'gift',
        postings: [
          { accountId: wallet.id, amountDiamonds: -100 },
          { accountId: earnings.id, amountDiamonds: 80 },
          { accountId: fees.id, amountDiamonds: 20 },
        ],
      });
      assert.equal(await balance(wallet), 0);
      assert.equal(await balance(earnings), 80);
      assert.equal((await balance(fees)) - feesBefore, 20);
    });

    it('refuses to overdraw a user account and writes nothing', async () => {
      const { wallet, earnings } = await fundedWallet(50);
      const transfers = await countRows(t, 'transfers');
      await rejectsWith(ledger.transfer(gift(wallet, earnings, 51)), 'insufficient_funds');
      assert.equal(await balance(wallet), 50);
      assert.equal(await balance(earnings), 0);
      assert.equal(await countRows(t, 'transfers'), transfers);
      // A multi-debit transfer whose second debit fails leaves the first untouched too.
      const second = await fundedWallet(10);
      await rejectsWith(
        ledger.transfer({
          idempotencyKey: key(),
          code: 'split',
          postings: [
            { accountId: wallet.id, amountDiamonds: -40 },
            { accountId: second.wallet.id, amountDiamonds: -20 },
            { accountId: earnings.id, amountDiamonds: 60 },
          ],
        }),
        'insufficient_funds',
      );
      assert.equal(await balance(wallet), 50);
      assert.equal(await balance(second.wallet), 10);
      assert.equal(await balance(earnings), 0);
      // A failed key is not burnt: the same request succeeds once funds arrive.
      const request = gift(wallet, earnings, 60);
      await rejectsWith(ledger.transfer(request), 'insufficient_funds');
      await ledger.transfer(purchase(wallet, 10));
      assert.equal((await ledger.transfer(request)).replayed, false);
      assert.equal(await balance(wallet), 0);
    });

    it('lets a platform account go negative, but never a user account (the CHECK constraint backs the code)', async () => {
      assert.ok((await balance(issuance)) < 0);
      const { wallet } = await fundedWallet(5);
      await assert.rejects(t.db.run('UPDATE accounts SET balance = -1 WHERE id = ?', [wallet.id]));
      assert.equal(await balance(wallet), 5);
    });

    describe('bad input gets a typed error and nothing is written', () => {
      const cases: Array<[string, (a: Account, b: Account) => TransferRequest, ErrorCode, string?]> = [
        ['amount 0', (a, b) => gift(a, b, 0), 'invalid_amount', 'postings.0.amountDiamonds'],
        ['a negative amount to move', (a, b) => gift(a, b, -5), 'insufficient_funds'],
        ['a fractional amount', (a, b) => gift(a, b, 1.5), 'invalid_amount', 'postings.0.amountDiamonds'],
        ['NaN', (a, b) => gift(a, b, Number.NaN), 'invalid_amount', 'postings.0.amountDiamonds'],
        ['Infinity', (a, b) => gift(a, b, Number.POSITIVE_INFINITY), 'invalid_amount', 'postings.0.amountDiamonds'],
        ['a string', (a, b) => gift(a, b, '10' as unknown as number), 'invalid_amount', 'postings.1.amountDiamonds'],
        ['above the maximum', (a, b) => gift(a, b, MAX_TRANSFER_DIAMONDS + 1), 'amount_too_large', 'postings.0.amountDiamonds'],
        [
          'an unknown account',
          (a) => ({
            ...gift(a, a, 1),
            postings: [
              { accountId: a.id, amountDiamonds: -1 },
              { accountId: 'acct_00000000000000000000000000', amountDiamonds: 1 },
            ],
          }),
          'account_not_found',
        ],
        [
          'a malformed account id',
          (a) => ({
            ...gift(a, a, 1),
            postings: [
              { accountId: a.id, amountDiamonds: -1 },
              { accountId: 'wallet-7', amountDiamonds: 1 },
            ],
          }),
          'invalid_id',
          'postings.1.accountId',
        ],
        ['the same account on both sides', (a) => gift(a, a, 1), 'same_account', 'postings.1.accountId'],
        [
          'postings that do not sum to zero',
          (a, b) => ({
            ...gift(a, b, 1),
            postings: [
              { accountId: a.id, amountDiamonds: -5 },
              { accountId: b.id, amountDiamonds: 4 },
            ],
          }),
          'postings_unbalanced',
          'postings',
        ],
        [
          'a single posting',
          (a) => ({ ...gift(a, a, 1), postings: [{ accountId: a.id, amountDiamonds: 1 }] }),
          'invalid_request',
          'postings',
        ],
        ['no postings array', (a, b) => ({ ...gift(a, b, 1), postings: 'all' as unknown as [] }), 'invalid_request', 'postings'],
        ['an unknown transfer code', (a, b) => ({ ...gift(a, b, 1), code: 'theft' as 'gift' }), 'invalid_request', 'code'],
        ['a missing idempotency key', (a, b) => ({ ...gift(a, b, 1), idempotencyKey: '' }), 'idempotency_key_invalid', 'idempotencyKey'],
        ['an idempotency key with spaces', (a, b) => ({ ...gift(a, b, 1), idempotencyKey: 'two words' }), 'idempotency_key_invalid'],
        ['nested metadata', (a, b) => gift(a, b, 1, { metadata: { deep: { x: 1 } } as never }), 'invalid_metadata', 'metadata.deep'],
        ['a reservation of no time', (a, b) => gift(a, b, 1, { reserveForMs: 0 }), 'invalid_request', 'reserveForMs'],
      ];
      for (const [name, build, code, param] of cases) {
        it(`refuses ${name} with ${code}`, async () => {
          const { wallet, earnings } = await fundedWallet(100);
          const before = [await countRows(t, 'transfers'), await countRows(t, 'postings')];
          await rejectsWith(ledger.transfer(build(wallet, earnings)), code, param);
          assert.deepEqual([await countRows(t, 'transfers'), await countRows(t, 'postings')], before);
          assert.equal(await balance(wallet), 100);
          assert.equal(await balance(earnings), 0);
        });
      }
    });

    describe('idempotency', () => {
      it('returns the first result for the same key and request, moving nothing again', async () => {
        const { wallet, earnings } = await fundedWallet(100);
        const request = gift(wallet, earnings, 10, { metadata: { a: 1, b: 'two' } });
        const first = await ledger.transfer(request);
        const again = await ledger.transfer({ ...request, metadata: { b: 'two', a: 1 } });
        assert.equal(again.replayed, true);
        assert.deepEqual(again.transfer, first.transfer);
        assert.equal(await balance(wallet), 90);
      });

      it('refuses the same key with a different request', async () => {
        const { wallet, earnings } = await fundedWallet(100);
        const request = gift(wallet, earnings, 10);
        await ledger.transfer(request);
        const changed: TransferRequest = {
          ...request,
          postings: [
            { accountId: wallet.id, amountDiamonds: -11 },
            { accountId: earnings.id, amountDiamonds: 11 },
          ],
        };
        await rejectsWith(ledger.transfer(changed), 'idempotency_key_reused', 'idempotencyKey');
        await rejectsWith(ledger.transfer({ ...request, code: 'unlock' }), 'idempotency_key_reused');
        await rejectsWith(ledger.transfer({ ...request, metadata: { x: 1 } }), 'idempotency_key_reused');
        assert.equal(await balance(wallet), 90);
      });

      it('runs one of many concurrent requests with one key in this process', async () => {
        const { wallet, earnings } = await fundedWallet(100);
        const request = gift(wallet, earnings, 10);
        const results = await Promise.all(Array.from({ length: 20 }, () => ledger.transfer(request)));
        assert.equal(results.filter((r) => !r.replayed).length, 1);
        assert.equal(new Set(results.map((r) => r.transfer.id)).size, 1);
        assert.equal(await balance(wallet), 90);
      });

      it('gives every transfer a new id, unique forever', async () => {
        const { wallet, earnings } = await fundedWallet(100);
        const ids = new Set<string>();
        for (let i = 0; i < 20; i++) ids.add((await ledger.transfer(gift(wallet, earnings, 1))).transfer.id);
        assert.equal(ids.size, 20);
        await assert.rejects(
          t.db.run(
            `INSERT INTO transfers (id, code, state, amount, idempotency_key, request_hash, metadata, created_at) VALUES (?, 'gift', 'posted', 0, ?, 'h', '{}', 0)`,
            [[...ids][0] ?? '', key()],
          ),
        );
      });
    });

    describe('two-phase transfers', () => {
      it('holds reserved Diamonds, then posts them', async () => {
        const { wallet, earnings } = await fundedWallet(100);
        const { transfer } = await ledger.transfer(gift(wallet, earnings, 40, { reserveForMs: 60_000 }));
        assert.equal(transfer.state, 'pending');
        assert.equal(transfer.expiresAt, now + 60_000);
        let account = await ledger.getAccount(wallet.id);
        assert.deepEqual([account.balanceDiamonds, account.heldDiamonds, account.availableDiamonds], [100, 40, 60]);
        assert.equal((await ledger.getAccount(earnings.id)).incomingDiamonds, 40);
        // Held Diamonds are not spendable.
        await rejectsWith(ledger.transfer(gift(wallet, earnings, 61)), 'insufficient_funds');
        const posted = await ledger.post({ idempotencyKey: key('post'), pendingId: transfer.id });
        assert.equal(posted.transfer.id, transfer.id);
        assert.equal(posted.transfer.state, 'posted');
        account = await ledger.getAccount(wallet.id);
        assert.deepEqual([account.balanceDiamonds, account.heldDiamonds, account.availableDiamonds], [60, 0, 60]);
        assert.equal(await balance(earnings), 40);
        assert.equal((await ledger.getTransfer(transfer.id)).state, 'posted');
      });

      it('voids a reservation, releasing the hold, and resolves it only once', async () => {
        const { wallet, earnings } = await fundedWallet(100);
        const { transfer } = await ledger.transfer(gift(wallet, earnings, 40, { reserveForMs: 60_000 }));
        const voidKey = key('void');
        const voided = await ledger.void({ idempotencyKey: voidKey, pendingId: transfer.id });
        assert.equal(voided.transfer.state, 'voided');
        assert.equal((await ledger.void({ idempotencyKey: voidKey, pendingId: transfer.id })).replayed, true);
        await rejectsWith(ledger.post({ idempotencyKey: key(), pendingId: transfer.id }), 'transfer_already_resolved');
        await rejectsWith(ledger.void({ idempotencyKey: key(), pendingId: transfer.id }), 'transfer_already_resolved');
        const account = await ledger.getAccount(wallet.id);
        assert.deepEqual([account.balanceDiamonds, account.heldDiamonds], [100, 0]);
        assert.equal(await balance(earnings), 0);
      });

      it('refuses to resolve what is not a reservation', async () => {
        const { wallet, earnings } = await fundedWallet(10);
        const { transfer } = await ledger.transfer(gift(wallet, earnings, 1));
        await rejectsWith(ledger.post({ idempotencyKey: key(), pendingId: transfer.id }), 'transfer_not_pending');
        await rejectsWith(ledger.void({ idempotencyKey: key(), pendingId: 'txn_00000000000000000000000000' }), 'transfer_not_found');
        await rejectsWith(ledger.void({ idempotencyKey: key(), pendingId: 'nope' }), 'invalid_id', 'pendingId');
      });

      it('voids an expired reservation exactly once, also after a restart', async () => {
        const { wallet, earnings } = await fundedWallet(100);
        const { transfer } = await ledger.transfer(gift(wallet, earnings, 25, { reserveForMs: 1_000 }));
        now += 1_001;
        await rejectsWith(ledger.post({ idempotencyKey: key(), pendingId: transfer.id }), 'reservation_expired');
        // A second process (a restarted server) and this one sweep at once.
        const other = t.reopen();
        try {
          const restarted = new Ledger(other, { now: () => now });
          const counts = await Promise.all([ledger.voidExpired(), restarted.voidExpired(), ledger.voidExpired()]);
          assert.ok(counts.reduce((a, b) => a + b, 0) >= 1);
          assert.equal(await restarted.voidExpired(), 0);
        } finally {
          await other.close();
        }
        assert.equal((await ledger.getTransfer(transfer.id)).state, 'voided');
        const [row] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM transfers WHERE pending_id = ?', [transfer.id]);
        assert.equal(Number(row?.n), 1);
        const account = await ledger.getAccount(wallet.id);
        assert.deepEqual([account.balanceDiamonds, account.heldDiamonds], [100, 0]);
      });
    });

    describe('batches', () => {
      it('applies each transfer on its own: a failure does not fail the others', async () => {
        const { wallet, earnings } = await fundedWallet(100);
        const repeated = gift(wallet, earnings, 5);
        const results = await ledger.transferBatch([
          gift(wallet, earnings, 60),
          gift(wallet, earnings, 60),
          gift(wallet, earnings, 0),
          repeated,
          gift(wallet, earnings, 30),
          repeated,
          { ...repeated, postings: [...repeated.postings].reverse() },
          gift(wallet, earnings, 10),
        ]);
        assert.deepEqual(
          results.map((r) => (r.ok ? (r.replayed ? 'replayed' : 'ok') : r.error.code)),
          ['ok', 'insufficient_funds', 'invalid_amount', 'ok', 'ok', 'replayed', 'idempotency_key_reused', 'insufficient_funds'],
        );
        assert.equal(await balance(wallet), 5);
        assert.equal(await balance(earnings), 95);
      });

      it('replays a whole batch without moving anything twice', async () => {
        const { wallet, earnings } = await fundedWallet(1_000);
        const batch = Array.from({ length: 100 }, () => gift(wallet, earnings, 3));
        const first = await ledger.transferBatch(batch);
        const second = await ledger.transferBatch(batch);
        assert.ok(first.every((r) => r.ok && !r.replayed));
        assert.ok(second.every((r) => r.ok && r.replayed));
        assert.deepEqual(
          second.map((r) => (r.ok ? r.transfer.id : '')),
          first.map((r) => (r.ok ? r.transfer.id : '')),
        );
        assert.equal(await balance(wallet), 700);
      });
    });

    describe('the journal is append-only', () => {
      it('refuses UPDATE and DELETE of transfers and postings in the database itself', async () => {
        const { wallet, earnings } = await fundedWallet(10);
        const { transfer } = await ledger.transfer(gift(wallet, earnings, 1));
        await assert.rejects(t.db.run('UPDATE postings SET amount = 5 WHERE transfer_id = ?', [transfer.id]), /append-only/);
        await assert.rejects(t.db.run('DELETE FROM postings WHERE transfer_id = ?', [transfer.id]), /append-only/);
        await assert.rejects(t.db.run(`UPDATE transfers SET code = 'refund' WHERE id = ?`, [transfer.id]), /append-only/);
        await assert.rejects(t.db.run('DELETE FROM transfers WHERE id = ?', [transfer.id]), /append-only/);
        assert.equal((await ledger.getTransfer(transfer.id)).code, 'gift');
      });
    });

    describe('verify', () => {
      it('finds a cached balance that disagrees with the journal, and is clean again once it is fixed', async () => {
        const { wallet } = await fundedWallet(10);
        assert.equal((await verifyLedger(t.db)).ok, true);
        await t.db.run('UPDATE accounts SET balance = balance + 7 WHERE id = ?', [wallet.id]);
        const report = await verifyLedger(t.db);
        assert.equal(report.ok, false);
        assert.ok(
          report.problems.some((p) => p.includes(wallet.id) && p.includes('journal says 10/0/0')),
          report.problems.join('\n'),
        );
        assert.ok(report.problems.some((p) => p.startsWith('books: all balances sum to 7')));
        await t.db.run('UPDATE accounts SET balance = balance - 7 WHERE id = ?', [wallet.id]);
        assert.equal((await verifyLedger(t.db)).ok, true);
      });
    });
  });
}
