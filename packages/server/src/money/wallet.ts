import {
  TransferCode,
  type Page,
  type Wallet,
  type WalletAccount,
  type WalletEntry,
  type WalletEntryStatus,
  type WalletHistoryQuery,
} from '@diamonds/protocol';
import type { SqlClient, SqlValue } from '../db/types.js';
import { Keyset } from '../db/keyset.js';
import { findConnection, remainingAllowance } from '../identity/connections.js';
import { allowanceRecipients } from '../identity/site-creators.js';

/*
 * Balances and history are read straight from the ledger's tables, never through
 * `ledger.openAccount`: a GET must not write, and a fan who never held a Diamond simply has no
 * accounts yet, which reads as zeros and an empty history.
 */

interface UserAccountRow {
  id: string;
  kind: WalletAccount;
  balance: number;
  pending_debits: number;
}

/** A user's wallet and earnings accounts, those that exist. */
async function userAccounts(db: SqlClient, userId: string): Promise<UserAccountRow[]> {
  // Written like the unique index on accounts (ifnull/coalesce of the owner, then kind), so
  // both engines look the accounts up by index instead of scanning every account.
  const owner = db.kind === 'sqlite' ? "ifnull(owner_id, '')" : "coalesce(owner_id, '')";
  const rows = await db.query<UserAccountRow>(
    `SELECT id, kind, balance, pending_debits FROM accounts WHERE ${owner} = ? AND kind IN ('wallet', 'earnings')`,
    [userId],
  );
  return rows.map((row) => ({ ...row, balance: Number(row.balance), pending_debits: Number(row.pending_debits) }));
}

/** A user's balances across sites: what they can spend, what is held for confirmations, their earnings. */
export interface WalletBalances {
  /** Spendable now: posted balance less what is held. */
  availableDiamonds: number;
  /** Held for spends waiting for the fan's confirmation. */
  heldDiamonds: number;
  /** Earnings as a creator, available. */
  earningsDiamonds: number;
}

/**
 * A user's balances, for the platform's own wallet page (no site in view).
 *
 * @remarks Creates nothing: a fan without accounts has zeros.
 */
export async function walletBalances(db: SqlClient, userId: string): Promise<WalletBalances> {
  const accounts = await userAccounts(db, userId);
  const wallet = accounts.find((account) => account.kind === 'wallet');
  const earnings = accounts.find((account) => account.kind === 'earnings');
  return {
    availableDiamonds: wallet ? wallet.balance - wallet.pending_debits : 0,
    heldDiamonds: wallet?.pending_debits ?? 0,
    earningsDiamonds: earnings ? earnings.balance - earnings.pending_debits : 0,
  };
}

/**
 * A fan's balances as seen from one site (the body of `GET /v1/wallet`).
 *
 * @remarks Creates nothing: a fan without accounts has zeros.
 */
export async function walletSummary(db: SqlClient, userId: string, siteId: string, now = Date.now()): Promise<Wallet> {
  const [balances, connection, remaining, recipients] = await Promise.all([
    walletBalances(db, userId),
    findConnection(db, userId, siteId),
    remainingAllowance(db, userId, siteId, now),
    allowanceRecipients(db, siteId),
  ]);
  return {
    object: 'wallet',
    balanceDiamonds: balances.availableDiamonds,
    heldDiamonds: balances.heldDiamonds,
    earningsDiamonds: balances.earningsDiamonds,
    remainingAllowance: remaining,
    allowancePerDay: connection?.allowancePerDay ?? 0,
    allowanceRecipients: recipients as Wallet['allowanceRecipients'],
  };
}

/** What an entry says when its transfer carries no description: words a fan understands. */
const DEFAULT_DESCRIPTIONS: Record<TransferCode, string> = {
  purchase: 'Top-up',
  gift: 'Gift',
  unlock: 'Unlock',
  order: 'Order',
  refund: 'Refund',
  payout: 'Payout',
  fund: 'Creator fund',
  boost: 'Boost',
  split: 'Revenue share',
  adjustment: 'Adjustment',
};

/** The codes a fan spends with: a creator's earnings entry of one of these names the fan who paid. */
const SPEND_CODES: ReadonlySet<string> = new Set(['gift', 'unlock', 'order']);

/**
 * A fan's history pages newest first by transfer, then account: one transfer can touch both the
 * wallet and the earnings of the same user.
 */
const WALLET_HISTORY = new Keyset<[string, WalletAccount]>(
  'wallet',
  [
    { column: 't.id', kind: 'id', prefix: 'txn' },
    { column: 'a.kind', kind: 'enum', values: ['wallet', 'earnings'] },
  ],
  'desc',
);

/** Options of {@link walletHistory}. */
export interface WalletHistoryOptions {
  /**
   * The site reading the history, when it is read by a site's page. The page's own script can
   * read whatever the fan's token fetches, so entries made on another site (whose metadata
   * names that site) read "Gift on another site" with no subject: a page learns what the fan
   * did on it, and what the fan holds, but not what they bought or whom they paid elsewhere.
   * Unset (the platform's own pages), every entry is told in full.
   */
  siteId?: string;
}

interface EntryRow {
  transfer_id: string;
  code: string;
  state: 'posted' | 'pending';
  metadata: string;
  created_at: number;
  account: WalletAccount;
  amount: number;
  /** The state of the transfer that resolved a reservation; null while it is unresolved. */
  resolution: 'post_pending' | 'void_pending' | null;
}

function statusOf(row: EntryRow): WalletEntryStatus {
  if (row.state === 'posted') return 'posted';
  if (row.resolution === 'post_pending') return 'posted';
  if (row.resolution === 'void_pending') return 'voided';
  return 'pending';
}

function parseMetadata(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/**
 * One page of a user's history, newest first: every movement of their wallet and earnings
 * accounts, with what it was in words a fan understands.
 *
 * @remarks
 * A reservation (a spend waiting for the fan's confirmation) is listed once, with the state of
 * its resolution: pending, then posted or voided. The resolving transfer itself is not listed.
 * Entries are ordered by transfer id (time-ordered) then account, and the cursor names the last
 * entry of a page, so a page never repeats or skips an entry when new ones arrive meanwhile.
 *
 * With `options.siteId` (a page reading through a fan token), spends made on other sites keep
 * their amount but not their details: see {@link WalletHistoryOptions}.
 *
 * @throws {@link ApiError} `invalid_cursor`.
 */
export async function walletHistory(
  db: SqlClient,
  userId: string,
  query: WalletHistoryQuery,
  options: WalletHistoryOptions = {},
): Promise<Page<WalletEntry>> {
  const after = WALLET_HISTORY.after(query.cursor);
  const accounts = (await userAccounts(db, userId)).filter((account) => query.account === undefined || account.kind === query.account);
  if (accounts.length === 0) return { object: 'list', data: [], hasMore: false, nextCursor: null };

  const params: SqlValue[] = accounts.map((account) => account.id);
  let where = `p.account_id IN (${accounts.map(() => '?').join(', ')}) AND t.state IN ('posted', 'pending')`;
  if (query.kind !== undefined) {
    where += ' AND t.code = ?';
    params.push(query.kind);
  }
  if (after) {
    // Ids compare bytewise on both engines (the id alphabet is digits and capitals, ordered
    // alike by SQLite, the C collation and the usual locales), as the ORDER BY below does.
    where += ` AND ${after.sql}`;
    params.push(...after.params);
  }
  params.push(query.limit + 1);
  const rows = await db.query<EntryRow>(
    `SELECT t.id AS transfer_id, t.code, t.state, t.metadata, t.created_at, a.kind AS account, p.amount, r.state AS resolution
     FROM postings p
     JOIN transfers t ON t.id = p.transfer_id
     JOIN accounts a ON a.id = p.account_id
     LEFT JOIN transfers r ON r.pending_id = t.id
     WHERE ${where}
     ORDER BY ${WALLET_HISTORY.orderBy}
     LIMIT ?`,
    params,
  );
  const page = rows.slice(0, query.limit);
  const metadata = page.map((row) => parseMetadata(row.metadata));
  const elsewhere = metadata.map((facts) => {
    const siteId = nonEmptyString(facts.siteId);
    return options.siteId !== undefined && siteId !== undefined && siteId !== options.siteId;
  });
  const payerNames = await displayNames(
    db,
    page.flatMap((row, i) =>
      row.account === 'earnings' && SPEND_CODES.has(row.code) && !elsewhere[i] ? [nonEmptyString(metadata[i]!.payerId)] : [],
    ),
  );

  const data = page.map((row, i): WalletEntry => {
    const facts = metadata[i]!;
    const amount = Number(row.amount);
    const code = TransferCode.safeParse(row.code).success ? (row.code as TransferCode) : 'adjustment';
    const hidden = elsewhere[i]!;
    let description = hidden
      ? `${DEFAULT_DESCRIPTIONS[code]} on another site`
      : (nonEmptyString(facts.description) ?? DEFAULT_DESCRIPTIONS[code]);
    const payer = row.account === 'earnings' && SPEND_CODES.has(code) ? payerNames.get(String(facts.payerId)) : undefined;
    // The fan's description ("3 × Rose for Ada") reads wrong to the creator without who paid.
    if (payer !== undefined) description = `${DEFAULT_DESCRIPTIONS[code]} from ${payer}: ${description}`;
    return {
      object: 'wallet_entry',
      id: `${row.transfer_id}:${row.account}`,
      transferId: row.transfer_id as WalletEntry['transferId'],
      kind: code,
      account: row.account,
      direction: amount > 0 ? 'in' : 'out',
      amountDiamonds: Math.abs(amount),
      description,
      subjectId: hidden ? null : (nonEmptyString(facts.subjectId) ?? null),
      status: statusOf(row),
      createdAt: Number(row.created_at),
    };
  });
  const hasMore = rows.length > query.limit;
  const last = data.at(-1);
  return { object: 'list', data, hasMore, nextCursor: hasMore && last ? WALLET_HISTORY.encode([last.transferId, last.account]) : null };
}

/** Display names of users by id (missing users are left out). */
async function displayNames(db: SqlClient, ids: readonly (string | undefined)[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids.filter((id): id is string => id !== undefined))];
  if (unique.length === 0) return new Map();
  const rows = await db.query<{ id: string; display_name: string }>(
    `SELECT id, display_name FROM users WHERE id IN (${unique.map(() => '?').join(', ')})`,
    unique,
  );
  return new Map(rows.map((row) => [row.id, row.display_name]));
}
