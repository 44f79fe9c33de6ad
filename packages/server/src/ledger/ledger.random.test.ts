import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isApiError } from '../errors.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { Ledger, type Account, type TransferRequest } from './ledger.js';
import { verifyLedger } from './verify.js';

/** One step of a random history. Indexes pick among the run's accounts and reservations. */
type Step =
  | { op: 'buy'; wallet: number; amount: number }
  | { op: 'gift'; wallet: number; earnings: number; amount: number }
  | { op: 'reserve'; wallet: number; earnings: number; amount: number; ttlMs: number }
  | { op: 'post' | 'void'; reservation: number }
  | { op: 'tick'; ms: number }
  | { op: 'batch'; gifts: Array<{ wallet: number; earnings: number; amount: number }> }
  | { op: 'replay'; previous: number }
  | { op: 'reuse'; previous: number; amount: number };

const WALLETS = 3;
const EARNINGS = 2;
const amount = fc.integer({ min: 1, max: 80 });
const wallet = fc.integer({ min: 0, max: WALLETS - 1 });
const earnings = fc.integer({ min: 0, max: EARNINGS - 1 });

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('buy' as const), wallet, amount }),
  fc.record({ op: fc.constant('gift' as const), wallet, earnings, amount }),
  fc.record({ op: fc.constant('reserve' as const), wallet, earnings, amount, ttlMs: fc.integer({ min: 1, max: 5_000 }) }),
  fc.record({ op: fc.constantFrom('post' as const, 'void' as const), reservation: fc.nat(20) }),
  fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 4_000 }) }),
  fc.record({
    op: fc.constant('batch' as const),
    gifts: fc.array(fc.record({ wallet, earnings, amount }), { minLength: 1, maxLength: 6 }),
  }),
  fc.record({ op: fc.constant('replay' as const), previous: fc.nat(30) }),
  fc.record({ op: fc.constant('reuse' as const), previous: fc.nat(30), amount }),
);

/** What the balances must be: the model the ledger is checked against. */
interface Model {
  balance: Map<string, number>;
  held: Map<string, number>;
}

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`random histories on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let now = Date.UTC(2026, 10, 25);
    let ledger: Ledger;
    let run = 0;

    before(async () => {
      t = await createTestDatabase(kind);
      ledger = new Ledger(t.db, { now: () => now });
    });
    after(async () => {
      if (t) await t.drop();
    });

    it('keep every invariant: verify is clean and balances match a model after each history', async () => {
      const issuance = await ledger.platformAccount('issuance');
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 30 }), async (steps) => {
          run++;
          const wallets: Account[] = [];
          const earned: Account[] = [];
          for (let i = 0; i < WALLETS; i++) wallets.push(await ledger.openAccount({ ownerId: `usr_run${run}_fan${i}`, kind: 'wallet' }));
          for (let i = 0; i < EARNINGS; i++)
            earned.push(await ledger.openAccount({ ownerId: `usr_run${run}_creator${i}`, kind: 'earnings' }));
          const model: Model = { balance: new Map(), held: new Map() };
          const get = (map: Map<string, number>, id: string) => map.get(id) ?? 0;
          const add = (map: Map<string, number>, id: string, delta: number) => map.set(id, get(map, id) + delta);
          const reservations: Array<{ id: string; from: string; to: string; amount: number; expiresAt: number; open: boolean }> = [];
          const done: Array<{ request: TransferRequest; outcome: string }> = [];
          let n = 0;
          const key = () => `run${run}-${kind}-${++n}`;
          const giftRequest = (w: number, e: number, value: number, extra: Partial<TransferRequest> = {}): TransferRequest => ({
            idempotencyKey: key(),
            code: 'gift',
            postings: [
              { accountId: wallets[w]?.id ?? '', amountDiamonds: -value },
              { accountId: earned[e]?.id ?? '', amountDiamonds: value },
            ],
            ...extra,
          });
          /** Applies a posted two-legged gift to the model if the wallet can afford it. */
          const expectGift = (request: TransferRequest): string => {
            const [debit, credit] = request.postings;
            if (!debit || !credit) throw new Error('bad request');
            const available = get(model.balance, debit.accountId) - get(model.held, debit.accountId);
            if (available < -debit.amountDiamonds) return 'insufficient_funds';
            if (request.reserveForMs === undefined) {
              add(model.balance, debit.accountId, debit.amountDiamonds);
              add(model.balance, credit.accountId, credit.amountDiamonds);
            } else {
              add(model.held, debit.accountId, -debit.amountDiamonds);
            }
            return 'ok';
          };
          const outcomeOf = async (promise: Promise<unknown>): Promise<string> => {
            try {
              await promise;
              return 'ok';
            } catch (error) {
              if (isApiError(error)) return error.code;
              throw error;
            }
          };

          for (const s of steps) {
            switch (s.op) {
              case 'buy': {
                const id = wallets[s.wallet]?.id ?? '';
                const request: TransferRequest = {
                  idempotencyKey: key(),
                  code: 'purchase',
                  postings: [
                    { accountId: issuance.id, amountDiamonds: -s.amount },
                    { accountId: id, amountDiamonds: s.amount },
                  ],
                };
                assert.equal(await outcomeOf(ledger.transfer(request)), 'ok');
                add(model.balance, id, s.amount);
                done.push({ request, outcome: 'ok' });
                break;
              }
              case 'gift': {
                const request = giftRequest(s.wallet, s.earnings, s.amount);
                const expected = expectGift(request);
                assert.equal(await outcomeOf(ledger.transfer(request)), expected);
                done.push({ request, outcome: expected });
                break;
              }
              case 'reserve': {
                const request = giftRequest(s.wallet, s.earnings, s.amount, { reserveForMs: s.ttlMs });
                const expected = expectGift(request);
                let id = '';
                const outcome = await outcomeOf(ledger.transfer(request).then((r) => (id = r.transfer.id)));
                assert.equal(outcome, expected);
                if (outcome === 'ok') {
                  reservations.push({
                    id,
                    from: request.postings[0]?.accountId ?? '',
                    to: request.postings[1]?.accountId ?? '',
                    amount: s.amount,
                    expiresAt: now + s.ttlMs,
                    open: true,
                  });
                }
                done.push({ request, outcome });
                break;
              }
              case 'post':
              case 'void': {
                const r = reservations[s.reservation % Math.max(1, reservations.length)];
                if (!r) break;
                const outcome = await outcomeOf(ledger[s.op]({ idempotencyKey: key(), pendingId: r.id }));
                const expected = !r.open
                  ? 'transfer_already_resolved'
                  : s.op === 'post' && r.expiresAt <= now
                    ? 'reservation_expired'
                    : 'ok';
                assert.equal(outcome, expected);
                if (outcome === 'ok') {
                  r.open = false;
                  add(model.held, r.from, -r.amount);
                  if (s.op === 'post') {
                    add(model.balance, r.from, -r.amount);
                    add(model.balance, r.to, r.amount);
                  }
                }
                break;
              }
              case 'tick': {
                now += s.ms;
                await ledger.voidExpired();
                for (const r of reservations) {
                  if (r.open && r.expiresAt <= now) {
                    r.open = false;
                    add(model.held, r.from, -r.amount);
                  }
                }
                break;
              }
              case 'batch': {
                const requests = s.gifts.map((g) => giftRequest(g.wallet, g.earnings, g.amount));
                const expected = requests.map(expectGift);
                const results = await ledger.transferBatch(requests);
                assert.deepEqual(
                  results.map((r) => (r.ok ? 'ok' : r.error.code)),
                  expected,
                );
                requests.forEach((request, i) => done.push({ request, outcome: expected[i] ?? '' }));
                break;
              }
              case 'replay': {
                const previous = done[s.previous % Math.max(1, done.length)];
                if (!previous || previous.outcome !== 'ok') break;
                const result = await ledger.transfer(previous.request);
                assert.equal(result.replayed, true);
                break;
              }
              case 'reuse': {
                const previous = done[s.previous % Math.max(1, done.length)];
                if (!previous || previous.outcome !== 'ok') break;
                const changed = { ...previous.request, metadata: { changed: s.amount } };
                assert.equal(await outcomeOf(ledger.transfer(changed)), 'idempotency_key_reused');
                break;
              }
            }
          }

          for (const account of [...wallets, ...earned]) {
            const actual = await ledger.getAccount(account.id);
            assert.equal(actual.balanceDiamonds, get(model.balance, account.id), `balance of ${account.id}`);
            assert.equal(actual.heldDiamonds, get(model.held, account.id), `held of ${account.id}`);
          }
          const report = await verifyLedger(t.db);
          assert.deepEqual(report.problems, []);
        }),
        { numRuns: kind === 'sqlite' ? 40 : 25, interruptAfterTimeLimit: 60_000 },
      );
    });
  });
}
