import { MAX_TRANSFER_DIAMONDS } from '@diamonds/protocol';
import type { Database, SqlClient } from '../db/types.js';
import { lastTransferIdAt } from '../earnings/summary.js';
import { ApiError } from '../errors.js';
import { appendEvent } from '../events/outbox.js';
import { allocate } from '../ledger/allocate.js';
import type { MoneyWriter } from '../money/writer.js';
import { moneyOperation, type MoneyFeature } from '../money/operations.js';

/*
 * The creator fund (issue 16): the operator opens a period with a pool, moved at once from the
 * platform's issuance into the `creator_fund` account; at close the pool is divided by an
 * engagement score computed from the period's posted gifts and unlocks, and each creator's share
 * moves creator_fund → earnings (code `fund`, not held) in the one transaction of the close. The
 * formula, with a worked example, is in docs/creator-fund.md.
 */

/**
 * The published rules of the engagement score, in integer points.
 *
 * @remarks Per creator, for each distinct supporter (a fan with at least one counted spend to
 * them in the period): `min(capPerSupporter, supporterPoints + unlockPoints × unlocks +
 * giftPoints × gifts)`. The creator's score is the sum over supporters; a creator with fewer than
 * `minimumSupporters` distinct supporters does not qualify (their share is 0). Counts, not
 * Diamonds: one rich fan cannot buy a creator a large share, and the cap bounds what any one fan
 * adds however often they pay.
 */
export const FUND_RULES = {
  supporterPoints: 10,
  unlockPoints: 5,
  giftPoints: 2,
  capPerSupporter: 40,
  minimumSupporters: 3,
} as const;

/** The rules' shape (see {@link FUND_RULES}); tests pass others. */
export type FundRules = { readonly [K in keyof typeof FUND_RULES]: number };

/**
 * How long after a period's end a close is first allowed: one minute. A spend's transfer takes
 * its time inside its own transaction, just before its insert; this margin (and on PostgreSQL
 * the lock the close takes on `transfers`) means every spend timed inside the period has
 * committed before the close reads them.
 */
export const FUND_CLOSE_GRACE_MS = 60_000;

/** One counted spend: a posted gift or unlock, its fan and its creator. */
export interface FundSpend {
  /** The posted transfer (for a confirmed spend: the transfer that posted the reservation). */
  transferId: string;
  /** The reservation a confirmed spend posted, or null. */
  pendingId: string | null;
  code: 'gift' | 'unlock';
  fanId: string;
  creatorId: string;
}

/** One creator's score in a period, with its components (what the dashboard explains). */
export interface CreatorScore {
  creatorId: string;
  /** Distinct supporters counted (self and linked support excluded). */
  supporters: number;
  unlocks: number;
  gifts: number;
  /** Points before the per-supporter cap. */
  rawPoints: number;
  /** Points after the cap: the creator's score. */
  score: number;
  /** At least {@link FUND_RULES}.minimumSupporters supporters. */
  qualified: boolean;
}

/** What is left out of the score, besides spends outside the period. */
export interface FundExclusions {
  /** Transfer ids (spend or reservation) that a refund names in `refundOf`. */
  refunded: ReadonlySet<string>;
  /** Whether `fanId` and `creatorId` are linked accounts (see {@link loadLinkedPairs}). */
  linked(fanId: string, creatorId: string): boolean;
}

/**
 * The engagement scores of `spends`, one per creator with any counted spend, sorted by creator
 * id (the order shares are allocated in, so the result is deterministic).
 *
 * @remarks Left out: refunded spends, self-support (the fan is the creator), and support between
 * linked accounts. Integers only.
 */
export function scoreSpends(spends: readonly FundSpend[], exclusions: FundExclusions, rules: FundRules = FUND_RULES): CreatorScore[] {
  const byCreator = new Map<string, Map<string, { unlocks: number; gifts: number }>>();
  for (const spend of spends) {
    if (spend.fanId === spend.creatorId) continue;
    if (exclusions.refunded.has(spend.transferId) || (spend.pendingId !== null && exclusions.refunded.has(spend.pendingId))) continue;
    if (exclusions.linked(spend.fanId, spend.creatorId)) continue;
    let fans = byCreator.get(spend.creatorId);
    if (!fans) byCreator.set(spend.creatorId, (fans = new Map()));
    let counts = fans.get(spend.fanId);
    if (!counts) fans.set(spend.fanId, (counts = { unlocks: 0, gifts: 0 }));
    if (spend.code === 'unlock') counts.unlocks += 1;
    else counts.gifts += 1;
  }
  const scores: CreatorScore[] = [];
  for (const [creatorId, fans] of byCreator) {
    let unlocks = 0;
    let gifts = 0;
    let rawPoints = 0;
    let score = 0;
    for (const counts of fans.values()) {
      const points = rules.supporterPoints + rules.unlockPoints * counts.unlocks + rules.giftPoints * counts.gifts;
      unlocks += counts.unlocks;
      gifts += counts.gifts;
      rawPoints += points;
      score += Math.min(rules.capPerSupporter, points);
    }
    scores.push({ creatorId, supporters: fans.size, unlocks, gifts, rawPoints, score, qualified: fans.size >= rules.minimumSupporters });
  }
  return scores.sort((a, b) => (a.creatorId < b.creatorId ? -1 : a.creatorId > b.creatorId ? 1 : 0));
}

/** Shares of a pool (see {@link sharePool}). */
export interface PoolShares {
  /** Per creator id, the share (0 for a creator who did not qualify). */
  shares: Map<string, number>;
  /** The sum of the qualifying scores. */
  totalScore: number;
  /** What no creator qualified for: back to the platform. */
  returned: number;
}

/**
 * Divides `pool` among the qualifying creators in proportion to their scores, with the
 * largest-remainder rule of `ledger/allocate.ts` in creator-id order: the shares sum to the pool
 * exactly, and the same scores always give the same shares. When nobody qualifies the whole pool
 * is returned.
 */
export function sharePool(pool: number, scores: readonly CreatorScore[]): PoolShares {
  const qualified = scores.filter((s) => s.qualified && s.score > 0);
  const shares = new Map<string, number>(scores.map((s) => [s.creatorId, 0]));
  const totalScore = qualified.reduce((sum, s) => sum + s.score, 0);
  if (qualified.length === 0) return { shares, totalScore: 0, returned: pool };
  const parts = allocate(
    pool,
    qualified.map((s) => s.score),
  );
  qualified.forEach((s, i) => shares.set(s.creatorId, parts[i] ?? 0));
  return { shares, totalScore, returned: 0 };
}

function parseMetadata(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * The posted gifts and unlocks whose transfer was made in `[startsAt, endsAt)`: a spend belongs
 * to the period of the time its money moved (a confirmed spend: when the fan approved). Orders
 * are not counted (a shop's sales are commerce, not fan engagement).
 */
export async function loadSpends(db: SqlClient, startsAt: number, endsAt: number): Promise<FundSpend[]> {
  const rows = await db.query<{ id: string; pending_id: string | null; code: string; metadata: string }>(
    `SELECT t.id, t.pending_id, t.code, coalesce(r.metadata, t.metadata) AS metadata
     FROM transfers t LEFT JOIN transfers r ON r.id = t.pending_id
     WHERE t.id > ? AND t.id <= ? AND t.state IN ('posted', 'post_pending') AND t.code IN ('gift', 'unlock')`,
    [lastTransferIdAt(startsAt - 1), lastTransferIdAt(endsAt - 1)],
  );
  const spends: FundSpend[] = [];
  for (const row of rows) {
    const metadata = parseMetadata(row.metadata);
    // Every spend records its payer and recipient (money/spends.ts); one without is not a fan's.
    if (typeof metadata.payerId !== 'string' || typeof metadata.recipientId !== 'string') continue;
    spends.push({
      transferId: row.id,
      pendingId: row.pending_id,
      code: row.code as 'gift' | 'unlock',
      fanId: metadata.payerId,
      creatorId: metadata.recipientId,
    });
  }
  return spends;
}

/** The transfer ids named by refunds made after `startsAt` (a refund follows its spend). */
export async function loadRefunded(db: SqlClient, startsAt: number): Promise<Set<string>> {
  const rows = await db.query<{ metadata: string }>(`SELECT metadata FROM transfers WHERE id > ? AND code = 'refund'`, [
    lastTransferIdAt(startsAt - 1),
  ]);
  const refunded = new Set<string>();
  for (const row of rows) {
    const refundOf = parseMetadata(row.metadata).refundOf;
    if (typeof refundOf === 'string') refunded.add(refundOf);
  }
  return refunded;
}

/**
 * Linked accounts: two users of whom one owns a site on which the other is (or was) a listed
 * creator (`site_creators` accepted, or since removed), or who collaborate (or did: a
 * collaboration accepted, since left or removed).
 *
 * @remarks Why these links: a site's owner chooses whom to list and shares the site's money
 * flows with them, and collaborators split revenue by choice, so either pair can move Diamonds in
 * a circle at no cost but the fee; the platform knows it for certain from its own tables (no
 * guessing from IPs or cards). A fan who owns no site, is listed nowhere and collaborates with
 * nobody is linked to nobody.
 */
export async function loadLinkedPairs(db: SqlClient): Promise<(fanId: string, creatorId: string) => boolean> {
  const rows = await db.query<{ owner_id: string; creator_id: string }>(
    `SELECT s.owner_id, sc.creator_id FROM site_creators sc JOIN sites s ON s.id = sc.site_id
     WHERE sc.status IN ('accepted', 'removed') AND s.owner_id <> sc.creator_id
     UNION
     SELECT owner_id, collaborator_id AS creator_id FROM collaborations WHERE status IN ('accepted', 'left', 'removed')`,
  );
  const pairs = new Set<string>();
  for (const row of rows) {
    pairs.add(`${row.owner_id} ${row.creator_id}`);
    pairs.add(`${row.creator_id} ${row.owner_id}`);
  }
  return (fanId, creatorId) => pairs.has(`${fanId} ${creatorId}`);
}

/** The scores of every creator for spends in `[startsAt, endsAt)`, refunds and links as of now. */
export async function periodScores(
  db: SqlClient,
  startsAt: number,
  endsAt: number,
  rules: FundRules = FUND_RULES,
): Promise<CreatorScore[]> {
  const [spends, refunded, linked] = await Promise.all([loadSpends(db, startsAt, endsAt), loadRefunded(db, startsAt), loadLinkedPairs(db)]);
  return scoreSpends(spends, { refunded, linked }, rules);
}

/** A fund period as stored. */
export interface FundPeriod {
  /** `2026-12`, or `from..to` in ISO. */
  id: string;
  startsAt: number;
  /** Exclusive. */
  endsAt: number;
  poolDiamonds: number;
  status: 'open' | 'closed';
  /** Sum of the qualifying scores (closed periods only). */
  totalScore: number | null;
  /** What returned to the platform at close (closed periods only). */
  returnedDiamonds: number | null;
  closedAt: number | null;
}

/** One creator's line of a period: score components and share (paid, or estimated while open). */
export interface FundLine extends CreatorScore {
  amountDiamonds: number;
  /** The `fund` transfer that paid it; null while open or when nothing was paid. */
  transferId: string | null;
}

/** A period with its lines: stored after the close, estimated before. */
export interface FundPeriodReport {
  period: FundPeriod;
  /** True when the lines are a running estimate (the period is not closed). */
  estimate: boolean;
  lines: FundLine[];
  /** Sum of the qualifying scores. */
  totalScore: number;
  /** What goes (or went) back to the platform. */
  returnedDiamonds: number;
}

interface PeriodRow {
  id: string;
  starts_at: number | string;
  ends_at: number | string;
  pool: number | string;
  status: 'open' | 'closed';
  total_score: number | string | null;
  returned: number | string | null;
  closed_at: number | string | null;
}

const PERIOD_COLUMNS = 'id, starts_at, ends_at, pool, status, total_score, returned, closed_at';

const orNull = (value: number | string | null): number | null => (value === null ? null : Number(value));

function toPeriod(row: PeriodRow): FundPeriod {
  return {
    id: row.id,
    startsAt: Number(row.starts_at),
    endsAt: Number(row.ends_at),
    poolDiamonds: Number(row.pool),
    status: row.status,
    totalScore: orNull(row.total_score),
    returnedDiamonds: orNull(row.returned),
    closedAt: orNull(row.closed_at),
  };
}

/** A period by id, or undefined. */
export async function findFundPeriod(db: SqlClient, id: string, lock = false): Promise<FundPeriod | undefined> {
  const forUpdate = lock && db.kind === 'postgres' ? ' FOR UPDATE' : '';
  const rows = await db.query<PeriodRow>(`SELECT ${PERIOD_COLUMNS} FROM fund_periods WHERE id = ?${forUpdate}`, [id]);
  return rows[0] ? toPeriod(rows[0]) : undefined;
}

/** Every period, newest first. */
export async function listFundPeriods(db: SqlClient, limit = 24): Promise<FundPeriod[]> {
  const rows = await db.query<PeriodRow>(`SELECT ${PERIOD_COLUMNS} FROM fund_periods ORDER BY starts_at DESC LIMIT ?`, [limit]);
  return rows.map(toPeriod);
}

interface PaymentRow {
  creator_id: string;
  supporters: number | string;
  unlocks: number | string;
  gifts: number | string;
  raw_points: number | string;
  score: number | string;
  amount: number | string;
  transfer_id: string | null;
}

function toLine(row: PaymentRow, minimum: number): FundLine {
  const supporters = Number(row.supporters);
  return {
    creatorId: row.creator_id,
    supporters,
    unlocks: Number(row.unlocks),
    gifts: Number(row.gifts),
    rawPoints: Number(row.raw_points),
    score: Number(row.score),
    qualified: supporters >= minimum,
    amountDiamonds: Number(row.amount),
    transferId: row.transfer_id,
  };
}

/**
 * A period's report: for a closed period, the breakdown stored at close; for an open one, the
 * running estimate from the spends up to `now` (the shares the pool would give if it closed now).
 * With `creatorId`, only that creator's line.
 */
export async function fundPeriodReport(
  db: SqlClient,
  period: FundPeriod,
  options: { now?: number; creatorId?: string } = {},
): Promise<FundPeriodReport> {
  if (period.status === 'closed') {
    const filter = options.creatorId === undefined ? '' : ' AND creator_id = ?';
    const rows = await db.query<PaymentRow>(
      `SELECT creator_id, supporters, unlocks, gifts, raw_points, score, amount, transfer_id FROM fund_payments
       WHERE period_id = ?${filter} ORDER BY creator_id`,
      options.creatorId === undefined ? [period.id] : [period.id, options.creatorId],
    );
    return {
      period,
      estimate: false,
      lines: rows.map((row) => toLine(row, FUND_RULES.minimumSupporters)),
      totalScore: period.totalScore ?? 0,
      returnedDiamonds: period.returnedDiamonds ?? 0,
    };
  }
  const until = Math.min(period.endsAt, options.now ?? Date.now());
  const scores = until > period.startsAt ? await periodScores(db, period.startsAt, until) : [];
  const { shares, totalScore, returned } = sharePool(period.poolDiamonds, scores);
  const lines = scores
    .filter((s) => options.creatorId === undefined || s.creatorId === options.creatorId)
    .map((s) => ({ ...s, amountDiamonds: shares.get(s.creatorId) ?? 0, transferId: null }));
  return { period, estimate: true, lines, totalScore, returnedDiamonds: returned };
}

/** A creator's view of the fund: the open periods (estimated) and the closed ones (paid), newest first. */
export async function creatorFundReports(db: SqlClient, creatorId: string, now = Date.now()): Promise<FundPeriodReport[]> {
  const periods = (await listFundPeriods(db)).filter((p) => p.startsAt <= now);
  return Promise.all(periods.map((period) => fundPeriodReport(db, period, { now, creatorId })));
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/**
 * A period's id and bounds from the CLI's arguments: a calendar month in UTC (`2026-12`), or
 * explicit `from`/`to` times (ISO), `to` exclusive.
 *
 * @throws {@link ApiError} `fund_period_invalid`.
 */
export function parsePeriod(args: { period?: string | undefined; from?: string | undefined; to?: string | undefined }): {
  id: string;
  startsAt: number;
  endsAt: number;
} {
  if (args.period !== undefined) {
    if (args.from !== undefined || args.to !== undefined) {
      throw new ApiError('fund_period_invalid', 'Give either --period YYYY-MM or --from and --to, not both.', { param: 'period' });
    }
    const match = MONTH.exec(args.period);
    if (!match)
      throw new ApiError('fund_period_invalid', `--period is a month, YYYY-MM; got ${JSON.stringify(args.period)}.`, { param: 'period' });
    const year = Number(match[1]);
    const month = Number(match[2]) - 1;
    return { id: args.period, startsAt: Date.UTC(year, month, 1), endsAt: Date.UTC(year, month + 1, 1) };
  }
  if (args.from === undefined || args.to === undefined) {
    throw new ApiError('fund_period_invalid', 'Give --period YYYY-MM, or --from and --to (ISO times).', { param: 'period' });
  }
  const startsAt = Date.parse(args.from);
  const endsAt = Date.parse(args.to);
  if (!Number.isFinite(startsAt) || !Number.isFinite(endsAt) || endsAt <= startsAt) {
    throw new ApiError('fund_period_invalid', '--from and --to are ISO times, --to after --from.', { param: 'to' });
  }
  return { id: `${new Date(startsAt).toISOString()}..${new Date(endsAt).toISOString()}`, startsAt, endsAt };
}

/** Input of {@link openFundOperation}. */
export interface OpenFundInput {
  periodId: string;
  startsAt: number;
  endsAt: number;
  /** Whole Diamonds, from 1 to `MAX_TRANSFER_DIAMONDS`. */
  pool: number;
  now: number;
}

/**
 * `fund.open`: records a period and moves its pool issuance → creator_fund, together.
 *
 * @remarks Opening the same period again with the same dates and pool answers the period (a
 * retried command); any other period that overlaps is refused. On PostgreSQL the overlap check
 * runs under a table lock, so two concurrent opens cannot both pass it.
 * @throws {@link ApiError} `fund_pool_invalid`, `fund_period_invalid`, `fund_period_overlaps`.
 */
export const openFundOperation = moneyOperation('fund.open', async (tx, money, input: OpenFundInput): Promise<FundPeriod> => {
  const { periodId, startsAt, endsAt, pool, now } = input;
  if (!Number.isSafeInteger(pool) || pool < 1 || pool > MAX_TRANSFER_DIAMONDS) {
    throw new ApiError(
      'fund_pool_invalid',
      `The pool is a whole number of Diamonds from 1 to ${MAX_TRANSFER_DIAMONDS}; got ${String(pool)}.`,
      {
        param: 'pool',
      },
    );
  }
  if (typeof periodId !== 'string' || periodId.length === 0 || periodId.length > 100) {
    throw new ApiError('fund_period_invalid', 'A period needs a name of 1 to 100 characters.', { param: 'period' });
  }
  if (!Number.isSafeInteger(startsAt) || !Number.isSafeInteger(endsAt) || endsAt <= startsAt) {
    throw new ApiError('fund_period_invalid', 'A period ends after it starts.', { param: 'to' });
  }
  if (tx.kind === 'postgres') await tx.run('LOCK TABLE fund_periods IN SHARE ROW EXCLUSIVE MODE');
  const same = await findFundPeriod(tx, periodId);
  if (same && same.startsAt === startsAt && same.endsAt === endsAt && same.poolDiamonds === pool) return same;
  const overlapping = await tx.query<{ id: string }>(
    'SELECT id FROM fund_periods WHERE starts_at < ? AND ends_at > ? ORDER BY starts_at LIMIT 1',
    [endsAt, startsAt],
  );
  const clash = overlapping[0]?.id ?? same?.id;
  if (clash !== undefined) {
    throw new ApiError('fund_period_overlaps', `The period overlaps fund period ${clash}; periods may not overlap.`, { param: 'period' });
  }
  const issuance = await money.ledger.accountId({ ownerId: null, kind: 'issuance' }, tx);
  const fund = await money.ledger.accountId({ ownerId: null, kind: 'creator_fund' }, tx);
  const { transfer } = await money.ledger.transferIn(tx, {
    idempotencyKey: `fund-open:${periodId}`,
    code: 'fund',
    postings: [
      { accountId: issuance, amountDiamonds: -pool },
      { accountId: fund, amountDiamonds: pool },
    ],
    metadata: { description: `Creator fund pool for ${periodId}`.slice(0, 500), kind: 'fund_pool', fundPeriodId: periodId },
  });
  await tx.run(
    `INSERT INTO fund_periods (id, starts_at, ends_at, pool, status, open_transfer_id, created_at) VALUES (?, ?, ?, ?, 'open', ?, ?)`,
    [periodId, startsAt, endsAt, pool, transfer.id, now],
  );
  return { id: periodId, startsAt, endsAt, poolDiamonds: pool, status: 'open', totalScore: null, returnedDiamonds: null, closedAt: null };
});

/**
 * Closes a fund period through `writer` (see {@link closeFundOperation}), after a barrier on
 * PostgreSQL: a transaction that takes a SHARE lock on `transfers` and commits at once, so every
 * transaction writing transfers when it began has ended. Spends are attributed by their
 * transfer's time, and a close is refused until the grace after the period's end: a transfer
 * begun after the barrier is timed after the end, so none can slip into the period once it is
 * read. The lock is held only for that wait, never while the period's spends are read (which
 * would pause every money write for as long). SQLite has one writer: its order is the barrier.
 */
export async function closeFund(db: Database, writer: Pick<MoneyWriter, 'run'>, input: CloseFundInput): Promise<FundPeriodReport> {
  if (db.kind === 'postgres') await db.transaction((tx) => tx.run('LOCK TABLE transfers IN SHARE MODE'));
  return writer.run(closeFundOperation, input);
}

/** Input of {@link closeFundOperation}. */
export interface CloseFundInput {
  periodId: string;
  now: number;
  /** @defaultValue {@link FUND_CLOSE_GRACE_MS} */
  graceMs?: number;
}

/**
 * `fund.close`: scores the period, pays each qualifying creator's share creator_fund →
 * earnings (code `fund`, one `fund.paid` event each), returns what nobody qualified for to
 * issuance, and stores the breakdown: all in one transaction.
 *
 * @remarks Idempotent: closing a closed period answers its stored report and moves nothing
 * (the period row is locked first on PostgreSQL, so concurrent closes queue and the later ones
 * see it closed; on SQLite the writer is single). Spends cannot slip into the wrong period: only
 * spends timed before the end count, the close is refused until `graceMs` after the end, and on
 * PostgreSQL it locks `transfers` in SHARE mode so transactions that already wrote a transfer
 * commit (and are seen) before it reads.
 * @throws {@link ApiError} `fund_period_not_found`, `fund_period_open`.
 */
export const closeFundOperation = moneyOperation('fund.close', async (tx, money, input: CloseFundInput): Promise<FundPeriodReport> => {
  const period = await findFundPeriod(tx, input.periodId, true);
  if (!period) throw new ApiError('fund_period_not_found', `No fund period ${JSON.stringify(input.periodId)}.`, { param: 'period' });
  if (period.status === 'closed') return fundPeriodReport(tx, period);
  const graceMs = input.graceMs ?? FUND_CLOSE_GRACE_MS;
  if (input.now < period.endsAt + graceMs) {
    throw new ApiError(
      'fund_period_open',
      `Fund period ${period.id} ends at ${new Date(period.endsAt).toISOString()}; it can be closed from ${new Date(period.endsAt + graceMs).toISOString()}.`,
      { param: 'period' },
    );
  }
  const scores = await periodScores(tx, period.startsAt, period.endsAt);
  const { shares, totalScore, returned } = sharePool(period.poolDiamonds, scores);
  const fund = await money.ledger.accountId({ ownerId: null, kind: 'creator_fund' }, tx);
  const lines: FundLine[] = [];
  for (const score of scores) {
    const amount = shares.get(score.creatorId) ?? 0;
    let transferId: string | null = null;
    if (amount > 0) {
      const earnings = await money.ledger.accountId({ ownerId: score.creatorId, kind: 'earnings' }, tx);
      const { transfer } = await money.ledger.transferIn(tx, {
        idempotencyKey: `fund:${period.id}:${score.creatorId}`,
        code: 'fund',
        postings: [
          { accountId: fund, amountDiamonds: -amount },
          { accountId: earnings, amountDiamonds: amount },
        ],
        metadata: {
          description: `Creator fund for ${period.id}: ${score.score} of ${totalScore} points`.slice(0, 500),
          kind: 'fund_payment',
          fundPeriodId: period.id,
          recipientId: score.creatorId,
          score: score.score,
        },
      });
      transferId = transfer.id;
      await appendEvent(
        tx,
        {
          type: 'fund.paid',
          siteId: null,
          creatorId: score.creatorId,
          fanId: null,
          data: {
            periodId: period.id,
            amountDiamonds: amount,
            score: score.score,
            totalScore,
            poolDiamonds: period.poolDiamonds,
            transferId: transfer.id,
          },
        },
        input.now,
      );
    }
    await tx.run(
      `INSERT INTO fund_payments (period_id, creator_id, supporters, unlocks, gifts, raw_points, score, amount, transfer_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [period.id, score.creatorId, score.supporters, score.unlocks, score.gifts, score.rawPoints, score.score, amount, transferId],
    );
    lines.push({ ...score, amountDiamonds: amount, transferId });
  }
  let returnTransferId: string | null = null;
  if (returned > 0) {
    const issuance = await money.ledger.accountId({ ownerId: null, kind: 'issuance' }, tx);
    const { transfer } = await money.ledger.transferIn(tx, {
      idempotencyKey: `fund-return:${period.id}`,
      code: 'fund',
      postings: [
        { accountId: fund, amountDiamonds: -returned },
        { accountId: issuance, amountDiamonds: returned },
      ],
      metadata: {
        description: `Creator fund for ${period.id}: what no creator qualified for`.slice(0, 500),
        kind: 'fund_return',
        fundPeriodId: period.id,
      },
    });
    returnTransferId = transfer.id;
  }
  await tx.run(
    `UPDATE fund_periods SET status = 'closed', total_score = ?, returned = ?, return_transfer_id = ?, closed_at = ? WHERE id = ? AND status = 'open'`,
    [totalScore, returned, returnTransferId, input.now, period.id],
  );
  const closed: FundPeriod = { ...period, status: 'closed', totalScore, returnedDiamonds: returned, closedAt: input.now };
  return { period: closed, estimate: false, lines, totalScore, returnedDiamonds: returned };
});

/** The creator fund's part in the money path: opening and closing periods. */
export const fundMoney: MoneyFeature = {
  name: 'fund',
  operations: [openFundOperation, closeFundOperation],
};
