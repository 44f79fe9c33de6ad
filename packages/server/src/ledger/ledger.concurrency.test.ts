import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import type { ChildOp, OpOutcome, OpsJob } from '../testing/ledger-child-protocol.js';
import {
  errorMessages,
  killLedgerChildren,
  runOps,
  startLedgerChildren,
  stopLedgerChildren,
  tally,
  type LedgerChild,
  type MessageOf,
} from '../testing/ledger-child-runner.js';
import { Ledger, type Account, type TransferRequest } from './ledger.js';
import { verifyLedger } from './verify.js';

/** Splits `ops` between `processes` children, alternating, so that each gets a fair share. */
function split(ops: readonly ChildOp[], processes = 2): OpsJob[] {
  return Array.from({ length: processes }, (_, p) => ({ mode: 'ops', ops: ops.filter((_, i) => i % processes === p) }));
}

/** How long the gate stays shut (see `race`): the children are told to start 100 ms in. */
const GATE_MS = 400;

function gift(key: string, from: Account, to: Account, amountDiamonds: number): TransferRequest {
  return {
    idempotencyKey: key,
    code: 'gift',
    postings: [
      { accountId: from.id, amountDiamonds: -amountDiamonds },
      { accountId: to.id, amountDiamonds },
    ],
  };
}

for (const kind of DATABASE_KINDS) {
  // Skipped only outside CI when PostgreSQL is unreachable (skipUnlessPostgres warns loudly; under
  // CI=true it throws instead), so a machine without PostgreSQL still runs the SQLite half.
  const skip = await skipUnlessPostgres(kind);
  describe(kind, { skip }, () => {
    let testDb: TestDatabase;
    let ledger: Ledger;

    /** Two processes, each with its own connection (SQLite) or pool (PostgreSQL). */
    let children: LedgerChild[] = [];

    before(async () => {
      testDb = await createTestDatabase(kind);
      ledger = new Ledger(testDb.db);
      children = await startLedgerChildren(testDb, 2);
    });

    after(async () => {
      try {
        await stopLedgerChildren(children);
      } finally {
        killLedgerChildren();
        if (testDb) await testDb.drop();
      }
    });

    /** A funded wallet and an empty earnings account, owned by `name`-fan and `name`-creator. */
    async function accounts(name: string, fundDiamonds: number): Promise<{ wallet: Account; creator: Account }> {
      const wallet = await ledger.openAccount({ ownerId: `${name}-fan`, kind: 'wallet' });
      const creator = await ledger.openAccount({ ownerId: `${name}-creator`, kind: 'earnings' });
      const issuance = await ledger.platformAccount('issuance');
      await ledger.transfer({
        idempotencyKey: `${name}-topup`,
        code: 'purchase',
        postings: [
          { accountId: issuance.id, amountDiamonds: -fundDiamonds },
          { accountId: wallet.id, amountDiamonds: fundDiamonds },
        ],
      });
      return { wallet, creator };
    }

    /**
     * Runs `ops`, split between the two children, through a gate: this process holds the
     * wallet's row lock (PostgreSQL) or the write lock (SQLite) until both children are under
     * way, so that their requests pile up behind it and are let go together.
     */
    async function race(wallet: Account, ops: readonly ChildOp[]): Promise<{ jobs: OpsJob[]; answers: MessageOf<'ops_done'>[] }> {
      const jobs = split(ops);
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      let shut!: () => void;
      const isShut = new Promise<void>((resolve) => (shut = resolve));
      const gate = testDb.db.transaction(async (tx) => {
        await tx.query(`SELECT id FROM accounts WHERE id = ?${kind === 'postgres' ? ' FOR UPDATE' : ''}`, [wallet.id]);
        shut();
        await opened;
      });
      await Promise.race([isShut, gate]);
      const answering = runOps(children, jobs);
      answering.catch(() => {}); // awaited below
      await sleep(GATE_MS);
      const openedAt = Date.now();
      open();
      await gate;
      const answers = await answering;
      const late = answers.filter((answer) => answer.startedAt >= openedAt);
      assert.equal(late.length, 0, `a child started ${(late[0]?.startedAt ?? openedAt) - openedAt} ms after the gate opened: no race`);
      return { jobs, answers };
    }

    async function transfersWithKey(key: string): Promise<number> {
      const rows = await testDb.db.query<{ n: number }>('SELECT count(*) AS n FROM transfers WHERE idempotency_key = ?', [key]);
      return Number(rows[0]?.n);
    }

    async function assertVerifyClean(): Promise<void> {
      const report = await verifyLedger(testDb.db);
      assert.deepEqual(report.problems, []);
      assert.equal(report.ok, true);
    }

    it('50 concurrent spends of 10 from a wallet of 100, from two processes: exactly 10 succeed', { timeout: 60_000 }, async (t) => {
      const { wallet, creator } = await accounts('spend', 100);
      const ops = Array.from({ length: 50 }, (_, i): ChildOp => ({
        op: 'transfer',
        request: gift(`spend-gift-${i}`, wallet, creator, 10),
      }));

      const { answers } = await race(wallet, ops);
      const outcomes = answers.flatMap((answer) => answer.outcomes);

      assert.deepEqual(tally(outcomes), { ok: 10, insufficient_funds: 40 }, errorMessages(outcomes));
      const succeeded = outcomes.filter((o): o is Extract<OpOutcome, { ok: true }> => o.ok);
      assert.equal(new Set(succeeded.map((o) => o.transferId)).size, 10);
      assert.ok(succeeded.every((o) => !o.replayed && o.state === 'posted'));
      t.diagnostic(answers.map((a, i) => `child ${i + 1}: ${JSON.stringify(tally(a.outcomes))}`).join('; '));

      const after = await ledger.getAccount(wallet.id);
      assert.equal(after.balanceDiamonds, 0);
      assert.equal(after.availableDiamonds, 0);
      assert.equal(after.heldDiamonds, 0);
      assert.equal((await ledger.getAccount(creator.id)).balanceDiamonds, 100);
      const rows = await testDb.db.query<{ n: number }>("SELECT count(*) AS n FROM transfers WHERE idempotency_key LIKE 'spend-gift-%'");
      assert.equal(Number(rows[0]?.n), 10);
      await assertVerifyClean();
    });

    // Funds for many: every request may pass the balance check, and only the key can stop the
    // second movement. Funds for exactly one: a request that lost the race for the key must
    // still answer with the first result, not with insufficient_funds.
    for (const fundDiamonds of [100, 10]) {
      it(
        `one idempotency key sent 10 times at once from two processes moves money once (wallet of ${fundDiamonds})`,
        { timeout: 60_000 },
        async () => {
          const name = `samekey${fundDiamonds}`;
          const { wallet, creator } = await accounts(name, fundDiamonds);
          const key = `${name}-gift`;
          const ops = Array.from({ length: 10 }, (): ChildOp => ({ op: 'transfer', request: gift(key, wallet, creator, 10) }));

          const outcomes = (await race(wallet, ops)).answers.flatMap((answer) => answer.outcomes);

          const succeeded = outcomes.filter((o): o is Extract<OpOutcome, { ok: true }> => o.ok);
          const others = tally(outcomes.filter((o) => !o.ok));
          assert.deepEqual(
            Object.keys(others).filter((code) => code !== 'idempotency_request_in_progress'),
            [],
            errorMessages(outcomes),
          );
          assert.equal(succeeded.filter((o) => !o.replayed).length, 1, 'exactly one request applied the transfer');
          assert.equal(new Set(succeeded.map((o) => o.transferId)).size, 1, 'every replay answers with the one transfer');
          assert.equal(await transfersWithKey(key), 1);
          assert.equal((await ledger.getAccount(wallet.id)).balanceDiamonds, fundDiamonds - 10);
          assert.equal((await ledger.getAccount(creator.id)).balanceDiamonds, 10);
          await assertVerifyClean();
        },
      );
    }

    it('concurrent posts and voids of one reservation from two processes resolve it exactly once', { timeout: 60_000 }, async (t) => {
      const { wallet, creator } = await accounts('race', 100);
      const reservation = await ledger.transfer({ ...gift('race-hold', wallet, creator, 30), code: 'unlock', reserveForMs: 10 * 60_000 });
      const pendingId = reservation.transfer.id;
      assert.equal((await ledger.getAccount(wallet.id)).heldDiamonds, 30);

      // A quarter each: post or void, under a key shared with other requests or under its own;
      // each child gets some of all four.
      const ops = Array.from({ length: 40 }, (_, i): ChildOp => {
        const action = (i >> 1) % 2 === 0 ? 'post' : 'void';
        const key = (i >> 2) % 2 === 0 ? `race-${action}-shared` : `race-${action}-${i}`;
        return { op: action, request: { idempotencyKey: key, pendingId } };
      });

      const { jobs, answers } = await race(wallet, ops);
      const outcomes = answers.flatMap((answer) => answer.outcomes);
      // The outcomes come child by child; so, from here on, do the ops.
      const sent = jobs.flatMap((job) => job.ops);

      const winners = outcomes.flatMap((o, i) => (o.ok && !o.replayed ? [sent[i]] : []));
      assert.equal(winners.length, 1, `exactly one resolution applied: ${JSON.stringify(tally(outcomes))}\n${errorMessages(outcomes)}`);
      const winner = winners[0];
      t.diagnostic(`${winner?.op} won; ${JSON.stringify(tally(outcomes))}`);
      const sameKeyRefused = outcomes.filter((o, i) => !o.ok && sent[i]?.request.idempotencyKey === winner?.request.idempotencyKey).length;
      // A retry under the winning key replays the one result; it never fails.
      assert.equal(sameKeyRefused, 0, `${sameKeyRefused} request(s) under the winning key got an error instead of the replay`);
      assert.ok(winner && winner.op !== 'transfer');
      const posted = winner.op === 'post';
      outcomes.forEach((outcome, i) => {
        const op = sent[i];
        assert.ok(op && op.op !== 'transfer');
        if (outcome.ok) {
          // Only the winner's key can succeed; the rest of them are replays of it.
          assert.equal(op.request.idempotencyKey, winner.request.idempotencyKey);
          assert.equal(outcome.transferId, pendingId);
          assert.equal(outcome.state, posted ? 'posted' : 'voided');
        } else {
          assert.ok(
            ['transfer_already_resolved', 'idempotency_request_in_progress'].includes(outcome.code),
            `${outcome.code}: ${outcome.message}`,
          );
          // A request under another key must not succeed after the reservation was resolved.
          if (op.request.idempotencyKey !== winner.request.idempotencyKey) assert.equal(outcome.code, 'transfer_already_resolved');
        }
      });
      const resolutions = await testDb.db.query<{ n: number }>('SELECT count(*) AS n FROM transfers WHERE pending_id = ?', [pendingId]);
      assert.equal(Number(resolutions[0]?.n), 1);
      const open = await testDb.db.query<{ n: number }>('SELECT count(*) AS n FROM reservations WHERE transfer_id = ?', [pendingId]);
      assert.equal(Number(open[0]?.n), 0);
      assert.equal((await ledger.getTransfer(pendingId)).state, posted ? 'posted' : 'voided');

      const walletAfter = await ledger.getAccount(wallet.id);
      assert.equal(walletAfter.balanceDiamonds, posted ? 70 : 100);
      assert.equal(walletAfter.heldDiamonds, 0);
      const creatorAfter = await ledger.getAccount(creator.id);
      assert.equal(creatorAfter.balanceDiamonds, posted ? 30 : 0);
      assert.equal(creatorAfter.incomingDiamonds, 0);
      await assertVerifyClean();
    });

    it(
      'a post sent 10 times at once under one key from two processes answers every time with the one result',
      { timeout: 60_000 },
      async () => {
        const { wallet, creator } = await accounts('samepost', 100);
        const reservation = await ledger.transfer({
          ...gift('samepost-hold', wallet, creator, 30),
          code: 'unlock',
          reserveForMs: 10 * 60_000,
        });
        const pendingId = reservation.transfer.id;
        const ops = Array.from({ length: 10 }, (): ChildOp => ({ op: 'post', request: { idempotencyKey: 'samepost-post', pendingId } }));

        const outcomes = (await race(wallet, ops)).answers.flatMap((answer) => answer.outcomes);

        const succeeded = outcomes.filter((o): o is Extract<OpOutcome, { ok: true }> => o.ok);
        const others = tally(outcomes.filter((o) => !o.ok));
        assert.deepEqual(
          Object.keys(others).filter((code) => code !== 'idempotency_request_in_progress'),
          [],
          errorMessages(outcomes),
        );
        assert.equal(succeeded.filter((o) => !o.replayed).length, 1, 'exactly one request posted the reservation');
        assert.ok(succeeded.every((o) => o.transferId === pendingId && o.state === 'posted'));
        const resolutions = await testDb.db.query<{ n: number }>('SELECT count(*) AS n FROM transfers WHERE pending_id = ?', [pendingId]);
        assert.equal(Number(resolutions[0]?.n), 1);
        assert.equal((await ledger.getAccount(wallet.id)).balanceDiamonds, 70);
        assert.equal((await ledger.getAccount(creator.id)).balanceDiamonds, 30);
        await assertVerifyClean();
      },
    );
  });
}
