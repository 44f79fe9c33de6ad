import type { SqlClient } from '../db/types.js';

/** What {@link verifyLedger} found. */
export interface VerifyReport {
  ok: boolean;
  accounts: number;
  transfers: number;
  postings: number;
  /** One readable line per breach; empty when `ok`. */
  problems: string[];
}

/** At most this many lines per kind of breach, so a badly broken ledger still gives a readable report. */
const MAX_LINES_PER_CHECK = 20;

async function check(tx: SqlClient, problems: string[], sql: string, describe: (row: Record<string, unknown>) => string): Promise<void> {
  const rows = await tx.query(`${sql} LIMIT ${MAX_LINES_PER_CHECK + 1}`);
  for (const row of rows.slice(0, MAX_LINES_PER_CHECK)) problems.push(describe(row));
  if (rows.length > MAX_LINES_PER_CHECK) problems.push('  … and more of the same kind');
}

/**
 * Recomputes the ledger from its journal and compares it with the cached balances.
 *
 * @remarks
 * Checks, in one read-consistent transaction:
 * - every transfer's postings sum to zero, and its amount is the sum of its credits;
 * - every account's balance is the sum of its posted postings, and its held and incoming
 *   amounts are the sums of its unresolved reservations;
 * - no user account is below zero, and only platform accounts and a fan's `debt` (never above
 *   zero) may go negative;
 * - every reservation is resolved at most once, and the open-reservation queue holds exactly
 *   the unresolved ones;
 * - a posted reservation's postings equal the reservation's;
 * - the books balance: all balances sum to zero.
 */
export async function verifyLedger(db: { transaction<T>(work: (tx: SqlClient) => Promise<T>): Promise<T> }): Promise<VerifyReport> {
  return db.transaction(async (tx) => {
    // One snapshot for every check, so a live ledger cannot look inconsistent between them.
    if (tx.kind === 'postgres') await tx.run('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const problems: string[] = [];
    const falsy = tx.kind === 'sqlite' ? '0' : 'FALSE';
    const truthy = tx.kind === 'sqlite' ? '1' : 'TRUE';

    await check(
      tx,
      problems,
      'SELECT transfer_id, sum(amount) AS total FROM postings GROUP BY transfer_id HAVING sum(amount) <> 0 ORDER BY transfer_id',
      (r) => `transfer ${String(r.transfer_id)}: postings sum to ${String(r.total)}, not 0`,
    );
    await check(
      tx,
      problems,
      `SELECT t.id, t.amount, coalesce(sum(CASE WHEN p.amount > 0 THEN p.amount ELSE 0 END), 0) AS credits, count(p.account_id) AS lines
       FROM transfers t LEFT JOIN postings p ON p.transfer_id = t.id
       WHERE t.state <> 'void_pending'
       GROUP BY t.id, t.amount
       HAVING t.amount <> coalesce(sum(CASE WHEN p.amount > 0 THEN p.amount ELSE 0 END), 0) OR count(p.account_id) < 2
       ORDER BY t.id`,
      (r) => `transfer ${String(r.id)}: amount ${String(r.amount)} but ${String(r.lines)} postings crediting ${String(r.credits)}`,
    );
    await check(
      tx,
      problems,
      `SELECT t.id, count(p.account_id) AS lines FROM transfers t JOIN postings p ON p.transfer_id = t.id
       WHERE t.state = 'void_pending' GROUP BY t.id ORDER BY t.id`,
      (r) => `void ${String(r.id)}: has ${String(r.lines)} postings, should have none`,
    );
    await check(
      tx,
      problems,
      `SELECT r.id FROM transfers r
       WHERE r.state = 'post_pending' AND EXISTS (
         SELECT 1 FROM postings a LEFT JOIN postings b ON b.transfer_id = r.pending_id AND b.account_id = a.account_id
         WHERE a.transfer_id = r.id AND (b.amount IS NULL OR b.amount <> a.amount)
       ) ORDER BY r.id`,
      (r) => `posting ${String(r.id)}: postings differ from the reservation it posts`,
    );
    await check(
      tx,
      problems,
      `SELECT r.id, r.pending_id, p.state AS pending_state FROM transfers r LEFT JOIN transfers p ON p.id = r.pending_id
       WHERE r.state IN ('post_pending', 'void_pending') AND (p.id IS NULL OR p.state <> 'pending') ORDER BY r.id`,
      (r) => `resolution ${String(r.id)}: resolves ${String(r.pending_id)}, which is not a reservation`,
    );
    await check(
      tx,
      problems,
      `SELECT t.id FROM transfers t
       WHERE t.state = 'pending'
         AND (EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id)) = (EXISTS (SELECT 1 FROM reservations q WHERE q.transfer_id = t.id))
       ORDER BY t.id`,
      (r) => `reservation ${String(r.id)}: open-reservation queue disagrees with its resolution`,
    );
    await check(
      tx,
      problems,
      `SELECT q.transfer_id FROM reservations q LEFT JOIN transfers t ON t.id = q.transfer_id
       WHERE t.id IS NULL OR t.state <> 'pending' ORDER BY q.transfer_id`,
      (r) => `reservation queue: ${String(r.transfer_id)} is not a reservation`,
    );
    await check(
      tx,
      problems,
      `WITH open_pending AS (
         SELECT p.account_id, p.amount FROM postings p JOIN transfers t ON t.id = p.transfer_id
         WHERE t.state = 'pending' AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id)
       ),
       computed AS (
         SELECT a.id,
           (SELECT coalesce(sum(p.amount), 0) FROM postings p WHERE p.account_id = a.id AND p.pending = ${falsy}) AS balance,
           (SELECT coalesce(sum(-o.amount), 0) FROM open_pending o WHERE o.account_id = a.id AND o.amount < 0) AS debits,
           (SELECT coalesce(sum(o.amount), 0) FROM open_pending o WHERE o.account_id = a.id AND o.amount > 0) AS credits
         FROM accounts a
       )
       SELECT a.id, a.balance, a.pending_debits, a.pending_credits, c.balance AS want_balance, c.debits AS want_debits, c.credits AS want_credits
       FROM accounts a JOIN computed c ON c.id = a.id
       WHERE a.balance <> c.balance OR a.pending_debits <> c.debits OR a.pending_credits <> c.credits
       ORDER BY a.id`,
      (r) =>
        `account ${String(r.id)}: cached balance/held/incoming ${String(r.balance)}/${String(r.pending_debits)}/${String(r.pending_credits)}, ` +
        `journal says ${String(r.want_balance)}/${String(r.want_debits)}/${String(r.want_credits)}`,
    );
    await check(
      tx,
      problems,
      `SELECT id, kind, balance, pending_debits, allow_negative FROM accounts
       WHERE (kind IN ('wallet', 'earnings') AND allow_negative = ${truthy})
          OR (allow_negative = ${falsy} AND (balance < 0 OR balance - pending_debits < 0))
       ORDER BY id`,
      (r) =>
        `account ${String(r.id)} (${String(r.kind)}): balance ${String(r.balance)}, held ${String(r.pending_debits)}; a user account may not go below zero`,
    );
    await check(
      tx,
      problems,
      `SELECT id, owner_id, balance, pending_credits, allow_negative FROM accounts
       WHERE kind = 'debt' AND (owner_id IS NULL OR allow_negative = ${falsy} OR balance + pending_credits > 0)
       ORDER BY id`,
      (r) =>
        `account ${String(r.id)} (debt): balance ${String(r.balance)}, owner ${String(r.owner_id)}; a fan's debt is owned and never above zero`,
    );
    const totals = await tx.query<{ balances: number | null; debits: number | null; credits: number | null }>(
      'SELECT sum(balance) AS balances, sum(pending_debits) AS debits, sum(pending_credits) AS credits FROM accounts',
    );
    const total = totals[0];
    if (total && Number(total.balances ?? 0) !== 0) problems.push(`books: all balances sum to ${String(total.balances)}, not 0`);
    if (total && Number(total.debits ?? 0) !== Number(total.credits ?? 0)) {
      problems.push(`books: held ${String(total.debits)} differs from incoming ${String(total.credits)}`);
    }

    const [counts] = await tx.query<{ accounts: number; transfers: number; postings: number }>(
      `SELECT (SELECT count(*) FROM accounts) AS accounts, (SELECT count(*) FROM transfers) AS transfers, (SELECT count(*) FROM postings) AS postings`,
    );
    return {
      ok: problems.length === 0,
      accounts: Number(counts?.accounts ?? 0),
      transfers: Number(counts?.transfers ?? 0),
      postings: Number(counts?.postings ?? 0),
      problems,
    };
  });
}

/** The one-line summary (clean) or the readable report (breaches) that the CLI prints. */
export function formatVerifyReport(report: VerifyReport): string {
  const summary = `${report.accounts} accounts, ${report.transfers} transfers, ${report.postings} postings`;
  if (report.ok)
    return `ledger verify: OK: ${summary}; every transfer sums to zero, every balance matches its postings, no user account is negative.`;
  return [
    `ledger verify: FAILED: ${report.problems.length} problem(s) in ${summary}:`,
    ...report.problems.map((line) => `  - ${line}`),
  ].join('\n');
}
