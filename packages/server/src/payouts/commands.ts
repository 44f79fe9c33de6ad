import { parseArgs } from 'node:util';
import { PayoutStatus } from '@diamonds/protocol';
import type { Database } from '../db/types.js';
import { platformMoney } from '../features.js';
import { GroupCommit } from '../ledger/group-commit.js';
import { Ledger } from '../ledger/ledger.js';
import { inlineMoneyWriter } from '../money/writer.js';
import { listPayouts, retryPayoutOperation, settlePayoutOperation, type PayoutRecord } from './payouts.js';
import type { PayoutCommand } from './command-summaries.js';
export type { PayoutCommand } from './command-summaries.js';

/*
 * The payout commands of the CLI (`diamonds payouts …`), for the operator: each takes the
 * migrated database and the arguments after its name, prints, and returns the exit code (0
 * done, 2 refused). Retry and cancel go through the money writer, so they are atomic and
 * append their events; a running platform's processor submits a retried payout on its next tick.
 */

/** Where the commands write: the console, or a test's collector. */
export interface PayoutCommandOutput {
  log(line: string): void;
  error(line: string): void;
}

function line(record: PayoutRecord): string {
  const { payout } = record;
  const amount = `${payout.amount.amountMinor} ${payout.amount.currency} minor`;
  const detail = payout.failure
    ? `  ${payout.failure.code}: ${payout.failure.message}`
    : record.lastError
      ? `  last error (attempt ${record.submitAttempts}): ${record.lastError}`
      : '';
  return `${payout.id}  ${new Date(payout.createdAt).toISOString()}  ${record.creatorId}  ${payout.diamonds} Diamonds  ${amount}  ${payout.provider}  ${payout.status}${detail}`;
}

/**
 * Runs `diamonds payouts list|retry|cancel` on `db`.
 *
 * @throws {@link ApiError} the money writer's refusals (`payout_not_found`,
 * `payout_not_retryable`, `payout_not_cancelable`): the CLI prints them and exits with 2.
 */
export async function payoutsCommand(
  db: Database,
  name: PayoutCommand,
  args: string[],
  out: PayoutCommandOutput = console,
): Promise<number> {
  if (name === 'payouts list') {
    const { values } = parseArgs({
      args,
      options: { creator: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string' } },
      strict: true,
    });
    const status = values.status === undefined ? undefined : PayoutStatus.safeParse(values.status);
    if (status && !status.success) {
      out.error(`payouts list: --status is one of ${PayoutStatus.options.join(', ')}.`);
      return 2;
    }
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      out.error('payouts list: --limit is a whole number from 1 to 100.');
      return 2;
    }
    const records = await listPayouts(db, { creatorId: values.creator, status: status?.data, limit });
    out.log(records.length === 0 ? 'No payouts.' : records.map(line).join('\n'));
    return 0;
  }
  const { values, positionals } = parseArgs({
    args,
    options: name === 'payouts cancel' ? { reason: { type: 'string' } } : {},
    allowPositionals: true,
    strict: true,
  });
  const [payoutId] = positionals;
  if (positionals.length !== 1 || payoutId === undefined) {
    out.error(`Usage: diamonds ${name} PO_ID`);
    return 2;
  }
  const ledger = new Ledger(db);
  const writer = inlineMoneyWriter(platformMoney(), ledger, new GroupCommit(ledger));
  try {
    if (name === 'payouts retry') {
      const payout = await writer.run(retryPayoutOperation, { payoutId, now: Date.now() });
      out.log(`payouts retry: ${payout.id} is due now; the platform submits it within seconds.`);
      return 0;
    }
    const reason = (values as { reason?: string }).reason?.trim();
    const payout = await writer.run(settlePayoutOperation, {
      payoutId,
      now: Date.now(),
      outcome: 'canceled',
      code: 'canceled_by_operator',
      message: reason ? `Canceled by the operator: ${reason}` : 'Canceled by the operator.',
    });
    out.log(`payouts cancel: ${payout.id} canceled; ${payout.diamonds} Diamonds are back in the creator's earnings.`);
    return 0;
  } finally {
    await writer.close();
  }
}
