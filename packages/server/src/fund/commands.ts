import { parseArgs } from 'node:util';
import type { Database } from '../db/types.js';
import { ApiError } from '../errors.js';
import { platformMoney } from '../features.js';
import { GroupCommit } from '../ledger/group-commit.js';
import { Ledger } from '../ledger/ledger.js';
import { inlineMoneyWriter } from '../money/writer.js';
import { closeFund, findFundPeriod, fundPeriodReport, openFundOperation, parsePeriod, type FundPeriodReport } from './fund.js';
import type { FundCommand } from './command-summaries.js';
export type { FundCommand } from './command-summaries.js';

/*
 * The creator fund commands of the CLI (`diamonds fund …`), for the operator: each takes the
 * migrated database and the arguments after its name, prints, and returns the exit code (0
 * done, 2 refused). Open and close go through the money writer: atomic, idempotent, with their
 * events.
 */

/** Where the commands write: the console, or a test's collector. */
export interface FundCommandOutput {
  log(line: string): void;
  error(line: string): void;
}

/** The report as lines: the period, then one line per creator. */
export function formatFundReport(report: FundPeriodReport): string {
  const { period } = report;
  const head =
    `${period.id}  ${new Date(period.startsAt).toISOString()} → ${new Date(period.endsAt).toISOString()}  pool ${period.poolDiamonds} Diamonds  ` +
    `${period.status}${report.estimate ? ' (running estimate)' : ''}  total score ${report.totalScore}  returned ${report.returnedDiamonds}`;
  const lines = report.lines.map(
    (l) =>
      `  ${l.creatorId}  supporters ${l.supporters}  unlocks ${l.unlocks}  gifts ${l.gifts}  points ${l.rawPoints} → score ${l.score}` +
      `${l.qualified ? '' : ' (below the minimum)'}  ${report.estimate ? 'estimate' : 'paid'} ${l.amountDiamonds} Diamonds`,
  );
  return [head, ...(lines.length === 0 ? ['  No creator scored.'] : lines)].join('\n');
}

/**
 * Runs `diamonds fund open|close|show` on `db`.
 *
 * @throws {@link ApiError} the refusals (`fund_period_invalid`, `fund_pool_invalid`,
 * `fund_period_overlaps`, `fund_period_not_found`, `fund_period_open`): the CLI prints them and
 * exits with 2.
 */
export async function fundCommand(
  db: Database,
  name: FundCommand,
  args: string[],
  out: FundCommandOutput = console,
  now: () => number = Date.now,
): Promise<number> {
  let values: { period?: string | undefined; from?: string | undefined; to?: string | undefined; pool?: string | undefined };
  try {
    ({ values } = parseArgs({
      args,
      // Only `fund open` takes a pool: the others refuse it, as their --help says.
      options: {
        period: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        ...(name === 'fund open' ? { pool: { type: 'string' as const } } : {}),
      },
      strict: true,
    }) as { values: typeof values });
  } catch (error) {
    // An unknown option, or a value that looks like one (`--pool -5`: write `--pool=-5`).
    out.error(`diamonds ${name}: ${(error as Error).message}`);
    return 2;
  }
  const { id, startsAt, endsAt } = parsePeriod(values);
  if (name === 'fund show') {
    const period = await findFundPeriod(db, id);
    if (!period) throw new ApiError('fund_period_not_found', `No fund period ${JSON.stringify(id)}.`, { param: 'period' });
    out.log(formatFundReport(await fundPeriodReport(db, period, { now: now() })));
    return 0;
  }
  const ledger = new Ledger(db);
  const writer = inlineMoneyWriter(platformMoney(), ledger, new GroupCommit(ledger));
  try {
    if (name === 'fund open') {
      // Only digits: "1e3", "-5" or "10.5" are refused rather than read as something else.
      const pool = values.pool !== undefined && /^\d{1,16}$/.test(values.pool) ? Number(values.pool) : Number.NaN;
      if (values.pool === undefined) throw new ApiError('fund_pool_invalid', '--pool is required: whole Diamonds.', { param: 'pool' });
      const period = await writer.run(openFundOperation, { periodId: id, startsAt, endsAt, pool, now: now() });
      out.log(`fund open: ${period.id} is open with a pool of ${period.poolDiamonds} Diamonds (moved to the creator fund account).`);
      return 0;
    }
    const report = await closeFund(db, writer, { periodId: id, now: now() });
    out.log(`fund close: ${report.period.id} closed.\n${formatFundReport(report)}`);
    return 0;
  } finally {
    await writer.close();
  }
}
