import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { DiamondsEvent, FundOverview } from '@diamonds/protocol';
import { createContent } from '../content/content.js';
import { earningsCsvLines, parseDateRange } from '../earnings/csv.js';
import { earningsSummary } from '../earnings/summary.js';
import { isApiError } from '../errors.js';
import { sendOk, signedInBrowser } from '../gifts/testing.js';
import { answerCollaboration, endCollaboration, inviteCollaborator } from '../collabs/collabs.js';
import { answerInvitation, inviteCreator } from '../identity/site-creators.js';
import { createSite } from '../identity/sites.js';
import { walletOf } from '../money/spends.js';
import { inlineMoneyWriter } from '../money/writer.js';
import { platformMoney } from '../features.js';
import { GroupCommit } from '../ledger/group-commit.js';
import { Ledger } from '../ledger/ledger.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, TEST_PAGE_ORIGIN, type MoneyHarness, type TestFan } from '../testing/money.js';
import { FUND_PATH } from '../pages/fund.js';
import { fundCommand } from './commands.js';
import {
  closeFund,
  closeFundOperation,
  FUND_RULES,
  openFundOperation,
  periodScores,
  scoreSpends,
  sharePool,
  type CreatorScore,
  type FundPeriodReport,
  type FundSpend,
} from './fund.js';

const none = { refunded: new Set<string>(), linked: () => false };

function spend(fanId: string, creatorId: string, code: 'gift' | 'unlock' = 'gift', transferId = `txn_${randomUUID()}`): FundSpend {
  return { transferId, pendingId: null, code, fanId, creatorId };
}

describe('the engagement score (pure)', () => {
  it('counts distinct supporters, unlocks and gifts, caps each supporter, and needs the minimum', () => {
    const spends = [
      ...Array.from({ length: 20 }, () => spend('fan1', 'usr_a')), // 10 + 2×20 = 50 → capped at 40
      spend('fan2', 'usr_a', 'unlock'), // 10 + 5 = 15
      spend('fan3', 'usr_a'), // 10 + 2 = 12
      spend('fan1', 'usr_b'),
      spend('fan2', 'usr_b'), // 2 supporters: below the minimum
    ];
    const [a, b] = scoreSpends(spends, none);
    assert.deepEqual(a, { creatorId: 'usr_a', supporters: 3, unlocks: 1, gifts: 21, rawPoints: 77, score: 67, qualified: true });
    assert.deepEqual(b, { creatorId: 'usr_b', supporters: 2, unlocks: 0, gifts: 2, rawPoints: 24, score: 24, qualified: false });
    const { shares, totalScore, returned } = sharePool(1000, [a!, b!]);
    assert.equal(shares.get('usr_a'), 1000);
    assert.equal(shares.get('usr_b'), 0);
    assert.equal(totalScore, 67);
    assert.equal(returned, 0);
  });

  it('leaves out self-support, linked accounts and refunded spends (by the spend or its reservation)', () => {
    const refundedSpend = spend('fan4', 'usr_a', 'gift', 'txn_refunded');
    const confirmed: FundSpend = { ...spend('fan5', 'usr_a'), pendingId: 'txn_reservation' };
    const spends = [
      spend('usr_a', 'usr_a'),
      spend('owner', 'usr_a'),
      refundedSpend,
      confirmed,
      spend('fan1', 'usr_a'),
      spend('fan2', 'usr_a'),
      spend('fan3', 'usr_a'),
    ];
    const [a] = scoreSpends(spends, {
      refunded: new Set(['txn_refunded', 'txn_reservation']),
      linked: (fan, creator) => fan === 'owner' && creator === 'usr_a',
    });
    assert.equal(a?.supporters, 3);
    assert.equal(a?.score, 36);
  });

  it('returns the whole pool when nobody qualifies', () => {
    const scores = scoreSpends([spend('fan1', 'usr_a')], none);
    assert.deepEqual(sharePool(500, scores), { shares: new Map([['usr_a', 0]]), totalScore: 0, returned: 500 });
  });

  it('shares always sum to the pool, and are deterministic whatever the order of the spends', () => {
    const spendArb = fc.record({
      fan: fc.integer({ min: 0, max: 12 }),
      creator: fc.integer({ min: 0, max: 6 }),
      unlock: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000_000 }), fc.array(spendArb, { maxLength: 120 }), fc.integer(), (pool, raw, seed) => {
        const spends = raw.map((s, i) => spend(`fan${s.fan}`, `usr_${s.creator}`, s.unlock ? 'unlock' : 'gift', `txn_${i}`));
        const first = sharePool(pool, scoreSpends(spends, none));
        const shuffled = [...spends].sort(
          (x, y) => ((x.transferId.length * seed) % 7) - ((y.transferId.length * seed) % 7) || (seed % 2 ? -1 : 1),
        );
        const again = sharePool(pool, scoreSpends(shuffled, none));
        assert.deepEqual([...again.shares], [...first.shares]);
        const paid = [...first.shares.values()].reduce((sum, n) => sum + n, 0);
        assert.equal(paid + first.returned, pool);
        for (const share of first.shares.values()) assert.ok(Number.isSafeInteger(share) && share >= 0);
      }),
      { numRuns: 300 },
    );
  });
});

for (const kind of DATABASE_KINDS) {
  // Skipped only outside CI when PostgreSQL is unreachable (skipUnlessPostgres warns loudly; under CI=true it throws).
  const skip = await skipUnlessPostgres(kind);
  describe(`the creator fund on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    let fans: TestFan[];
    /** Where the next test's period may start: periods never overlap. */
    let cursor = 0;

    before(async () => {
      h = await startMoneyHarness(kind);
      fans = await Promise.all([0, 1, 2, 3, 4].map((i) => h.fan({ allowance: 10_000_000, balance: 1_000_000, name: `Fan ${i}` })));
      cursor = Date.now() - 1;
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    const gift = (fan: TestFan, creatorId: string) => sendOk(h, fan, { creatorId, giftId: 'rose', quantity: 1 }, 201);
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

    async function fundBalance(): Promise<number> {
      const [row] = await h.t.db.query<{ balance: number }>(
        `SELECT balance FROM accounts WHERE owner_id IS NULL AND kind = 'creator_fund'`,
      );
      return Number(row?.balance ?? 0);
    }

    /** Opens a period from the cursor to now (after `work` ran), so it holds exactly `work`'s spends. */
    async function periodAround(work: () => Promise<void>, pool: number): Promise<string> {
      const startsAt = cursor;
      await work();
      const endsAt = Date.now() + 1;
      await sleep(3);
      cursor = endsAt;
      const periodId = `test-${randomUUID()}`;
      await h.server.writer.run(openFundOperation, { periodId, startsAt, endsAt, pool, now: Date.now() });
      return periodId;
    }

    const close = (periodId: string, graceMs = 0) => closeFund(h.t.db, h.server.writer, { periodId, now: Date.now(), graceMs });

    it('opens a period from the platform, closes it, and pays each creator their exact share as earnings available at once', async () => {
      const a = await h.newCreator('Fund A', { listed: true });
      const b = await h.newCreator('Fund B', { listed: true });
      const c = await h.newCreator('Fund C', { listed: true });
      const before = await fundBalance();
      const periodId = await periodAround(async () => {
        for (let i = 0; i < 20; i++) await gift(fans[0]!, a.id); // capped at 40
        for (const fan of fans.slice(1, 3)) await gift(fan, a.id);
        for (const fan of fans.slice(0, 3)) {
          await gift(fan, b.id);
          await gift(fan, b.id);
        }
        for (const fan of fans.slice(0, 2)) await gift(fan, c.id); // two supporters: not qualified
      }, 1001);
      assert.equal(await fundBalance(), before + 1001, 'the pool is in the creator fund account once opened');

      const report = await close(periodId);
      const line = (id: string) => report.lines.find((l) => l.creatorId === id);
      assert.equal(line(a.id)?.score, 40 + 12 + 12);
      assert.equal(line(b.id)?.score, 3 * 14);
      assert.equal(line(c.id)?.qualified, false);
      assert.equal(line(c.id)?.amountDiamonds, 0);
      assert.equal(report.totalScore, 64 + 42);
      const paid = report.lines.reduce((sum, l) => sum + l.amountDiamonds, 0);
      assert.equal(paid + report.returnedDiamonds, 1001);
      assert.equal(report.returnedDiamonds, 0);
      // 1001 × 64/106 = 604.38, × 42/106 = 396.6: floors 604 + 396, the leftover unit to the larger remainder.
      assert.equal(line(a.id)?.amountDiamonds, 604);
      assert.equal(line(b.id)?.amountDiamonds, 397);
      assert.equal(await fundBalance(), before);

      // A fund payment is not held: available at once, while the gifts' earnings are pending.
      const summary = await earningsSummary(h.t.db, a.id);
      assert.equal(summary.availableDiamonds, 604);
      // The earnings CSV lists it as a `fund` movement, no fee.
      let csv = '';
      const today = new Date().toISOString().slice(0, 10);
      for await (const chunk of earningsCsvLines(h.t.db, a.id, parseDateRange(today, today))) csv += chunk;
      assert.match(csv, new RegExp(`,${line(a.id)?.transferId},fund,Creator fund for test-[^,]*: 64 of 106 points,604,0,604\\r\\n`));

      const events = await h.t.db.query<{ creator_id: string; data: string; type: string; site_id: string | null }>(
        `SELECT type, creator_id, site_id, data FROM events WHERE type = 'fund.paid' ORDER BY creator_id`,
      );
      const mine = events.filter((e) => JSON.parse(e.data).periodId === periodId);
      assert.equal(mine.length, 2);
      for (const event of mine) {
        assert.equal(event.site_id, null);
        const parsed = DiamondsEvent.safeParse({
          object: 'event',
          id: 'evt_00000000000000000000000000',
          createdAt: 1,
          type: event.type,
          siteId: null,
          creatorId: event.creator_id,
          fanId: null,
          data: JSON.parse(event.data),
        });
        assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
      }
    });

    it('GET /v1/fund: the site owner reads the rules, their running estimate, then what they were paid; only with the secret key', async () => {
      const e = await h.newCreator('Fund E', { listed: true });
      const theirs = await createSite(h.t.db, { ownerId: e.id, name: 'Fund E’s site', origins: ['http://127.0.0.1:5998'] });
      const read = async () => {
        const res = await h.call('/fund', { method: 'GET', key: theirs.secretKey, origin: null });
        assert.equal(res.status, 200, await res.clone().text());
        return FundOverview.parse(await res.json());
      };
      const periodId = await periodAround(async () => {
        for (const fan of fans.slice(0, 3)) await gift(fan, e.id);
      }, 90);
      const open = await read();
      assert.equal(open.creatorId, e.id);
      assert.deepEqual(open.rules, { ...FUND_RULES });
      const estimate = open.periods.find((p) => p.period.id === periodId);
      assert.equal(estimate?.estimate, true);
      assert.equal(estimate?.line?.supporters, 3);
      assert.equal(estimate?.line?.score, 3 * 12);
      assert.equal(estimate?.line?.transferId, null);
      // Other creators' lines are not in the owner's view.
      assert.ok(open.periods.every((p) => p.line === null || p.line.creatorId === e.id));

      const closed = await close(periodId);
      const paid = (await read()).periods.find((p) => p.period.id === periodId);
      assert.equal(paid?.estimate, false);
      assert.equal(paid?.period.status, 'closed');
      assert.equal(paid?.line?.amountDiamonds, closed.lines.find((l) => l.creatorId === e.id)?.amountDiamonds);
      assert.ok(paid?.line?.transferId);

      const withPublishable = await h.call('/fund', { method: 'GET', key: theirs.publishableKey, origin: 'http://127.0.0.1:5998' });
      assert.equal(withPublishable.status, 403);
      assert.equal(((await withPublishable.json()) as { error: { code: string } }).error.code, 'permission_denied');
      const noKey = await h.call('/fund', { method: 'GET', key: 'sk_test_nope', origin: null });
      assert.equal(noKey.status, 401);
    });

    it('counts unlocks, and leaves out support between linked accounts and refunded spends', async () => {
      const d = await h.newCreator('Fund D', { listed: true });
      // Fan 4 owns a site that lists D: linked, so fan 4's support of D does not count.
      const theirs = await createSite(h.t.db, { ownerId: fans[4]!.id, name: 'Fan 4’s site', origins: ['http://127.0.0.1:5999'] });
      await inviteCreator(h.t.db, { siteId: theirs.site.id, creator: d.id, invitedBy: fans[4]!.id });
      await answerInvitation(h.t.db, { siteId: theirs.site.id, creatorId: d.id, accept: true });
      const content = await h.t.db.transaction((tx) =>
        createContent(tx, { siteId: h.site.id, creatorId: d.id }, { title: 'Fund post', teaser: '', body: 'x', priceDiamonds: 7 }),
      );
      let refundedGift = '';
      const periodId = await periodAround(async () => {
        for (const fan of fans.slice(0, 3)) {
          const res = await h.call(`/content/${content.id}/unlock`, { fan, body: {} });
          assert.equal(res.status, 201, await res.clone().text());
        }
        await gift(fans[4]!, d.id);
        const refunded = await gift(fans[3]!, d.id);
        // A refund names the spend it gives back (what order refunds and top-up reversals write).
        refundedGift = refunded.transferId ?? '';
        assert.ok(refundedGift);
        await h.t.db.transaction(async (tx) => {
          const earnings = await h.server.ledger.accountId({ ownerId: d.id, kind: 'earnings' }, tx);
          const wallet = await walletOf(tx, h.server.ledger, fans[3]!.id);
          await h.server.ledger.transferIn(tx, {
            idempotencyKey: `test-refund:${refundedGift}`,
            code: 'refund',
            postings: [
              { accountId: earnings, amountDiamonds: -1 },
              { accountId: wallet, amountDiamonds: 1 },
            ],
            metadata: { refundOf: refundedGift },
          });
        });
      }, 100);
      const report = await close(periodId);
      assert.deepEqual(
        report.lines.map((l) => [l.creatorId, l.supporters, l.unlocks, l.gifts, l.score, l.amountDiamonds]),
        [[d.id, 3, 3, 0, 45, 100]],
      );
    });

    it('leaves out support between collaborators, even after the collaboration ended', async () => {
      const g = await h.newCreator('Fund G', { listed: true });
      // Fan 3 is a creator too, and collaborated with G (accepted, then left): linked.
      await h.t.db.run('UPDATE users SET is_creator = 1 WHERE id = ?', [fans[3]!.id]);
      await h.t.db.transaction(async (tx) => {
        await inviteCollaborator(tx, g.id, { creatorId: fans[3]!.id });
        await answerCollaboration(tx, { ownerId: g.id, collaboratorId: fans[3]!.id, accept: true });
        await endCollaboration(tx, { ownerId: g.id, collaboratorId: fans[3]!.id, by: 'collaborator' });
      });
      const periodId = await periodAround(async () => {
        for (const fan of fans.slice(0, 4)) await gift(fan, g.id);
      }, 10);
      const report = await close(periodId);
      assert.deepEqual(
        report.lines.map((l) => [l.creatorId, l.supporters, l.gifts, l.score]),
        [[g.id, 3, 3, 36]],
      );
    });

    it('refuses bad input with a code, and moves nothing', async () => {
      const transfers = await h.transferCount();
      const fund = await fundBalance();
      const refusedWith = async (code: string, run: () => Promise<unknown>) => {
        await assert.rejects(run(), (error: unknown) => isApiError(error) && error.code === code);
        assert.equal(await h.transferCount(), transfers, `${code}: nothing moved`);
        assert.equal(await fundBalance(), fund);
      };
      const open = (input: Partial<{ periodId: string; startsAt: number; endsAt: number; pool: number }>) =>
        h.server.writer.run(openFundOperation, {
          periodId: `bad-${randomUUID()}`,
          startsAt: 1_000,
          endsAt: 2_000,
          pool: 10,
          now: Date.now(),
          ...input,
        });
      for (const pool of [0, -5, 1.5, Number.NaN, 2_000_000_000]) await refusedWith('fund_pool_invalid', () => open({ pool }));
      await refusedWith('fund_period_invalid', () => open({ startsAt: 2_000, endsAt: 2_000 }));
      // The CLI's parsing: a month, or --from/--to.
      const out = { log: () => undefined, error: () => undefined };
      for (const args of [['--period', '2026-13'], ['--period', '2026-1'], ['--from', '2026-12-02', '--to', '2026-12-01'], []]) {
        await refusedWith('fund_period_invalid', () => fundCommand(h.t.db, 'fund open', [...args, '--pool', '10'], out));
      }
      for (const pool of ['0', '-5', '10.5', '1e3', 'many']) {
        await refusedWith('fund_pool_invalid', () =>
          fundCommand(h.t.db, 'fund open', ['--from', '1970-01-01T00:00:01Z', '--to', '1970-01-01T00:00:02Z', `--pool=${pool}`], out),
        );
      }
      // `--pool -5` reads as an option: a usage error (exit code 2), nothing moved.
      assert.equal(await fundCommand(h.t.db, 'fund open', ['--period', '2026-12', '--pool', '-5'], out), 2);
      assert.equal(await h.transferCount(), transfers);
      // An open period far in the future; another overlapping it is refused, and it cannot be closed yet.
      await h.server.writer.run(openFundOperation, {
        periodId: 'future',
        startsAt: 4_000_000_000_000,
        endsAt: 4_100_000_000_000,
        pool: 5,
        now: Date.now(),
      });
      const afterOpen = await h.transferCount();
      assert.equal(afterOpen, transfers + 1);
      const refusedAgain = async (code: string, run: () => Promise<unknown>) => {
        await assert.rejects(run(), (error: unknown) => isApiError(error) && error.code === code);
        assert.equal(await h.transferCount(), afterOpen, `${code}: nothing moved`);
      };
      await refusedAgain('fund_period_overlaps', () => open({ startsAt: 4_050_000_000_000, endsAt: 4_200_000_000_000 }));
      await refusedAgain('fund_period_overlaps', () =>
        open({ periodId: 'future', startsAt: 5_000_000_000_000, endsAt: 5_100_000_000_000 }),
      );
      // Opening the same period again (a retried command) answers it, moving nothing more.
      const again = await h.server.writer.run(openFundOperation, {
        periodId: 'future',
        startsAt: 4_000_000_000_000,
        endsAt: 4_100_000_000_000,
        pool: 5,
        now: Date.now(),
      });
      assert.equal(again.id, 'future');
      await refusedAgain('fund_period_open', () => close('future'));
      await refusedAgain('fund_period_open', () => h.server.writer.run(closeFundOperation, { periodId: 'future', now: 4_100_000_030_000 }));
      await refusedAgain('fund_period_not_found', () => close('nope'));
    });

    it('closes once: a second close and 10 concurrent closes answer the first result and pay once', async () => {
      const e = await h.newCreator('Fund E', { listed: true });
      const periodId = await periodAround(async () => {
        for (const fan of fans.slice(0, 3)) await gift(fan, e.id);
      }, 77);
      const results = await Promise.all(Array.from({ length: 10 }, () => close(periodId)));
      const again = await close(periodId);
      for (const result of [...results, again]) {
        assert.equal(result.lines.length, 1);
        assert.equal(result.lines[0]?.amountDiamonds, 77);
        assert.equal(result.lines[0]?.transferId, results[0]?.lines[0]?.transferId);
      }
      const [paid] = await h.t.db.query<{ n: number }>(`SELECT count(*) AS n FROM transfers WHERE idempotency_key LIKE ?`, [
        `fund:${periodId}:%`,
      ]);
      assert.equal(Number(paid?.n), 1);
      const [events] = await h.t.db.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE type = 'fund.paid' AND creator_id = ?`, [
        e.id,
      ]);
      assert.equal(Number(events?.n), 1);
    });

    it('a close racing with spends counts exactly the spends timed inside the period', async () => {
      const creators = await Promise.all([0, 1].map((i) => h.newCreator(`Racer ${i}`, { listed: true })));
      const otherDb = h.t.reopen();
      const otherLedger = new Ledger(otherDb);
      const operator = inlineMoneyWriter(platformMoney(), otherLedger, new GroupCommit(otherLedger));
      const startsAt = cursor;
      const endsAt = Date.now() + 300;
      cursor = endsAt;
      const periodId = `race-${randomUUID()}`;
      await h.server.writer.run(openFundOperation, { periodId, startsAt, endsAt, pool: 1_000, now: Date.now() });
      let stop = false;
      const spenders = fans.map(async (fan, i) => {
        while (!stop) await gift(fan, creators[i % 2]!.id);
      });
      while (Date.now() < endsAt) await sleep(5);
      // Close the moment it may (grace 0), while spends keep coming: from another connection with
      // its own writer, as the CLI does while the platform runs (on PostgreSQL, truly concurrent
      // transactions).
      let report: FundPeriodReport | undefined;
      while (!report) {
        try {
          report = await closeFund(otherDb, operator, { periodId, now: Date.now(), graceMs: 0 });
        } catch (error) {
          if (!isApiError(error, 'fund_period_open')) throw error;
          await sleep(1);
        }
      }
      await sleep(100);
      stop = true;
      await Promise.all(spenders);
      cursor = Date.now() + 1; // the spends after the end belong to no later test's period
      // Recomputed now that every spend has committed: the same scores the close paid on.
      const recomputed: CreatorScore[] = await periodScores(h.t.db, startsAt, endsAt);
      assert.ok(recomputed.length > 0);
      assert.deepEqual(
        report.lines.map(({ amountDiamonds: _a, transferId: _t, ...score }) => score),
        recomputed,
      );
      const paid = report.lines.reduce((sum, l) => sum + l.amountDiamonds, 0);
      assert.equal(paid + report.returnedDiamonds, 1_000);
      await operator.close();
      await otherDb.close();
    });

    it('a close waits for a spend timed inside the period that has not committed yet, and counts it', async () => {
      const g = await h.newCreator('Fund G', { listed: true });
      const startsAt = cursor;
      for (const fan of fans.slice(0, 2)) await gift(fan, g.id);
      const endsAt = Date.now() + 150;
      cursor = endsAt;
      const periodId = `late-${randomUUID()}`;
      await h.server.writer.run(openFundOperation, { periodId, startsAt, endsAt, pool: 60, now: Date.now() });
      // Another connection writes a third supporter's gift before the end, and commits well after
      // the close has started: the close must wait for it (PostgreSQL: its lock on transfers;
      // SQLite: the one writer), or it would pay on two supporters and return the pool.
      const otherDb = h.t.reopen();
      const otherLedger = new Ledger(otherDb);
      let written!: () => void;
      const spendWritten = new Promise<void>((resolve) => (written = resolve));
      const late = otherDb.transaction(async (tx) => {
        const wallet = await walletOf(tx, otherLedger, fans[2]!.id);
        const earnings = await otherLedger.accountId({ ownerId: g.id, kind: 'earnings' }, tx);
        await otherLedger.transferIn(tx, {
          idempotencyKey: `test-late:${randomUUID()}`,
          code: 'gift',
          postings: [
            { accountId: wallet, amountDiamonds: -5 },
            { accountId: earnings, amountDiamonds: 5 },
          ],
          metadata: { kind: 'gift', payerId: fans[2]!.id, recipientId: g.id, siteId: h.site.id, subjectId: 'gift_late' },
        });
        written();
        while (Date.now() < endsAt + 300) await sleep(10);
      });
      await spendWritten;
      while (Date.now() < endsAt) await sleep(5);
      const report = await close(periodId);
      await late;
      await otherDb.close();
      assert.deepEqual(
        report.lines.map((l) => [l.creatorId, l.supporters, l.score, l.amountDiamonds]),
        [[g.id, 3, 36, 60]],
      );
      assert.equal(report.returnedDiamonds, 0);
    });

    it('the CLI opens, shows and closes a period; closing again prints the same result', async () => {
      const lines: string[] = [];
      const out = { log: (line: string) => lines.push(line), error: (line: string) => lines.push(line) };
      const from = new Date(cursor).toISOString();
      const to = new Date(cursor + 1).toISOString();
      cursor += 2;
      assert.equal(await fundCommand(h.t.db, 'fund open', ['--from', from, '--to', to, '--pool', '50'], out), 0);
      assert.equal(await fundCommand(h.t.db, 'fund show', ['--from', from, '--to', to], out), 0);
      assert.match(lines.join('\n'), /running estimate/);
      const later = () => cursor + 120_000;
      assert.equal(await fundCommand(h.t.db, 'fund close', ['--from', from, '--to', to], out, later), 0);
      assert.equal(await fundCommand(h.t.db, 'fund close', ['--from', from, '--to', to], out, later), 0);
      const closes = lines.filter((l) => l.startsWith('fund close:'));
      assert.equal(closes.length, 2);
      assert.equal(closes[0], closes[1]);
      assert.match(closes[0]!, /returned 50/);
    });

    it('the dashboard shows a creator their running estimate, then the paid breakdown', async () => {
      const f = await h.newCreator('Fund F', { listed: true });
      const browser = await signedInBrowser(h, f);
      const startsAt = cursor;
      const endsAt = Date.now() + 400;
      cursor = endsAt;
      const periodId = `page-${randomUUID()}`;
      await h.server.writer.run(openFundOperation, { periodId, startsAt, endsAt, pool: 90, now: Date.now() });
      for (const fan of fans.slice(0, 3)) await gift(fan, f.id);
      let page = await browser.page(FUND_PATH);
      assert.match(page, /data-state="estimate"/);
      assert.match(page, /data-fund="supporters">3</);
      assert.match(page, /data-fund="score">36</);
      assert.match(page, /data-fund="amount">90 Diamonds</);
      assert.match(page, new RegExp(`at most\\s+${FUND_RULES.capPerSupporter} points per fan`));
      while (Date.now() < endsAt) await sleep(10);
      await close(periodId);
      page = await browser.page(FUND_PATH);
      assert.match(page, /data-state="paid"/);
      assert.match(page, /Paid to your earnings/);
      assert.match(page, /data-fund="amount">90 Diamonds</);
      // The earnings dashboard links to it.
      assert.match(await browser.page('/dashboard'), /href="\/dashboard\/fund"/);
      // A fan is not a creator.
      const res = await (await signedInBrowser(h, fans[0]!)).request(FUND_PATH);
      assert.equal(res.status, 403);
      void TEST_PAGE_ORIGIN;
    });
  });
}
