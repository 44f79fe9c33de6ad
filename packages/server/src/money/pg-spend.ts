import type { Migration } from '../db/migrations.js';
import type { SqlClient } from '../db/types.js';
import { ApiError } from '../errors.js';
import type { RowInsert } from '../events/outbox.js';
import type { PreparedTransfer } from '../ledger/ledger.js';
import { selfContained } from '../ledger/group-commit.js';

/**
 * A spend that moves at once, on PostgreSQL, in one round trip (issue 17).
 *
 * On PostgreSQL every statement is a round trip, and a spend within the allowance used to be
 * nine of them (the debt check, the consent's lock, the allowance, three balance updates, the
 * transfer, its postings, the fan's support): the server's CPU went on the driver, and the
 * database's on parsing and the network. `diamonds_spend_at_once` does the same work, in the
 * same order and with the same row locks, in one call. It writes nothing unless it posts:
 *
 * - `posted`: the transfer, its postings, the balances, the allowance spend and (for a gift) the
 *   fan's support total are written;
 * - `in_debt`, `over_allowance`, `known_reference`: nothing is written, and the caller takes the
 *   general path (money/spends.ts), which refuses with the full message, holds the Diamonds for
 *   the fan's confirmation, or replays the earlier spend;
 * - a refusal (insufficient funds, an unknown account, a lost race for the idempotency key)
 *   undoes what the function wrote and is answered as `refused:<code> <detail>`; the caller
 *   throws the ledger's error for it. The statement itself never fails for a refusal, so a
 *   group-commit work needs no savepoint around it (ledger/group-commit.ts `selfContained`).
 *
 * Its SQL mirrors `consumeAllowance` (identity/connections.ts, with `ownCreatorSql`),
 * `assertNotInDebt` (payments/disputes.ts) and the ledger's `#apply`: a change to one of them
 * needs a new version of this function. The spend tests run on both databases, so each of these
 * paths is driven through the function on PostgreSQL and through TypeScript on SQLite.
 */
export const pgSpendMigration: Migration = {
  version: 29,
  name: 'a spend in one round trip on PostgreSQL',
  statements: {
    sqlite: [],
    postgres: [
      `CREATE FUNCTION diamonds_spend_at_once(
        p_user_id TEXT, p_site_id TEXT, p_recipient_id TEXT, p_amount BIGINT, p_reference TEXT, p_fresh BOOLEAN,
        p_now BIGINT, p_window_start BIGINT, p_support BOOLEAN,
        p_transfer_id TEXT, p_code TEXT, p_idempotency_key TEXT, p_request_hash TEXT, p_metadata TEXT, p_created_at BIGINT,
        p_accounts TEXT[], p_amounts BIGINT[],
        p_claim_scope TEXT, p_claim_key TEXT, p_claim_hash TEXT, p_answer_status INTEGER, p_answer_body TEXT
      ) RETURNS TEXT LANGUAGE plpgsql AS $$
      DECLARE
        v_owed BIGINT;
        v_available BIGINT;
        v_message TEXT;
        v_detail TEXT;
      BEGIN
        -- A fan who owes Diamonds after a card dispute spends nothing (assertNotInDebt).
        SELECT -balance INTO v_owed FROM accounts WHERE coalesce(owner_id, '') = p_user_id AND kind = 'debt';
        IF v_owed > 0 THEN RETURN 'in_debt'; END IF;
        -- A reference seen before is a retry: the general path replays it.
        IF NOT p_fresh AND (EXISTS (SELECT 1 FROM allowance_spends WHERE reference = p_reference)
            OR EXISTS (SELECT 1 FROM transfers WHERE idempotency_key = p_idempotency_key)) THEN
          RETURN 'known_reference';
        END IF;
        -- The allowance (consumeAllowance): the consent's row lock first, then the window's sum.
        PERFORM 1 FROM connections WHERE user_id = p_user_id AND site_id = p_site_id AND revoked_at IS NULL FOR UPDATE;
        IF NOT FOUND THEN RETURN 'over_allowance'; END IF;
        -- From here a refusal undoes what the block wrote (a subtransaction, on the server) and is
        -- answered as a result: the statement never fails for it, so the caller's transaction needs
        -- no savepoint of its own around this call (ledger/group-commit.ts selfContained).
        BEGIN
          -- The request's Idempotency-Key, claimed with its answer (money/idempotency.ts): a second
          -- request with the key replays this one's answer rather than spending again.
          IF p_claim_key IS NOT NULL THEN
            INSERT INTO api_requests (scope, idempotency_key, request_hash, status, body, created_at)
              VALUES (p_claim_scope, p_claim_key, p_claim_hash, p_answer_status, p_answer_body, p_now)
              ON CONFLICT (scope, idempotency_key) DO NOTHING;
            IF NOT FOUND THEN RAISE EXCEPTION 'diamonds:claimed'; END IF;
          END IF;
          INSERT INTO allowance_spends (reference, user_id, site_id, amount, created_at)
            SELECT p_reference, c.user_id, c.site_id, p_amount, p_now FROM connections c
            WHERE c.user_id = p_user_id AND c.site_id = p_site_id AND c.revoked_at IS NULL
              AND (EXISTS (SELECT 1 FROM sites own_s WHERE own_s.id = c.site_id AND own_s.owner_id = p_recipient_id)
                OR EXISTS (SELECT 1 FROM site_creators own_c WHERE own_c.site_id = c.site_id AND own_c.creator_id = p_recipient_id
                  AND own_c.status = 'accepted'))
              AND c.allowance_per_day - coalesce((SELECT sum(s.amount) FROM allowance_spends s
                WHERE s.user_id = c.user_id AND s.site_id = c.site_id AND s.created_at > p_window_start), 0) >= p_amount;
          IF NOT FOUND THEN RAISE EXCEPTION 'diamonds:over_allowance'; END IF;
          -- The ledger's #apply: each balance in account-id order, a debit only when it is covered.
          FOR i IN 1 .. array_length(p_accounts, 1) LOOP
            IF p_amounts[i] < 0 THEN
              UPDATE accounts SET balance = balance + p_amounts[i]
                WHERE id = p_accounts[i] AND (allow_negative OR balance - pending_debits >= -p_amounts[i]);
            ELSE
              UPDATE accounts SET balance = balance + p_amounts[i] WHERE id = p_accounts[i];
            END IF;
            IF NOT FOUND THEN
              -- A same-key request may have committed while this one waited for the row lock.
              IF NOT p_fresh AND EXISTS (SELECT 1 FROM transfers WHERE idempotency_key = p_idempotency_key) THEN
                RAISE EXCEPTION 'diamonds:key_race';
              END IF;
              SELECT balance - pending_debits INTO v_available FROM accounts WHERE id = p_accounts[i];
              IF NOT FOUND THEN
                RAISE EXCEPTION 'diamonds:account_not_found' USING DETAIL = p_accounts[i];
              END IF;
              RAISE EXCEPTION 'diamonds:insufficient_funds' USING DETAIL = p_accounts[i] || ' ' || v_available || ' ' || -p_amounts[i];
            END IF;
          END LOOP;
          INSERT INTO transfers (id, code, state, amount, idempotency_key, request_hash, pending_id, metadata, expires_at, created_at)
            VALUES (p_transfer_id, p_code, 'posted', p_amount, p_idempotency_key, p_request_hash, NULL, p_metadata, NULL, p_created_at)
            ON CONFLICT (idempotency_key) DO NOTHING;
          IF NOT FOUND THEN RAISE EXCEPTION 'diamonds:key_race'; END IF;
          INSERT INTO postings (transfer_id, account_id, amount, pending)
            SELECT p_transfer_id, a.account_id, a.amount, FALSE FROM unnest(p_accounts, p_amounts) AS a (account_id, amount);
          IF p_support THEN
            INSERT INTO creator_support (user_id, creator_id, gifted, updated_at) VALUES (p_user_id, p_recipient_id, p_amount, p_now)
              ON CONFLICT (user_id, creator_id)
              DO UPDATE SET gifted = creator_support.gifted + excluded.gifted, updated_at = excluded.updated_at;
          END IF;
          RETURN 'posted';
        EXCEPTION WHEN raise_exception THEN
          GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
          IF v_message LIKE 'diamonds:%' THEN
            RETURN 'refused:' || substr(v_message, 10) || ' ' || coalesce(v_detail, '');
          END IF;
          RAISE;
        END;
      END $$`,
    ],
  },
};

/**
 * The allowance's window without a sum over it (migration 30): every allowance spend keeps the
 * running total of its fan's spends on its site (`spent_through`), in the order of `created_at`,
 * which never goes back for one fan and site. What a site spent in the last 24 hours is then the
 * last spend's total less that of the last spend at or before the window's start: two index
 * look-ups, where summing the window read every spend of the day, on every spend (a fan tapping
 * gifts through a live stream made each gift slower than the one before). Spends made before
 * are numbered in the order of their time. `diamonds_spend_at_once` gets the same allowance
 * statement as `consumeAllowance`.
 */
export const allowanceRunningTotalsMigration: Migration = {
  version: 30,
  name: 'allowance running totals',
  statements: {
    sqlite: [
      'ALTER TABLE allowance_spends ADD COLUMN spent_through INTEGER',
      `UPDATE allowance_spends SET spent_through = running.total FROM (
        SELECT reference, sum(amount) OVER (PARTITION BY user_id, site_id ORDER BY created_at, reference) AS total FROM allowance_spends
      ) running WHERE running.reference = allowance_spends.reference`,
      'CREATE INDEX allowance_spends_running ON allowance_spends (user_id, site_id, created_at, spent_through)',
      'DROP INDEX allowance_spends_window_amount',
    ],
    postgres: [
      'ALTER TABLE allowance_spends ADD COLUMN spent_through BIGINT',
      `UPDATE allowance_spends SET spent_through = running.total FROM (
        SELECT reference, sum(amount) OVER (PARTITION BY user_id, site_id ORDER BY created_at, reference) AS total FROM allowance_spends
      ) running WHERE running.reference = allowance_spends.reference`,
      'CREATE INDEX allowance_spends_running ON allowance_spends (user_id, site_id, created_at, spent_through)',
      'DROP INDEX allowance_spends_window_amount',
      `CREATE OR REPLACE FUNCTION diamonds_spend_at_once(
        p_user_id TEXT, p_site_id TEXT, p_recipient_id TEXT, p_amount BIGINT, p_reference TEXT, p_fresh BOOLEAN,
        p_now BIGINT, p_window_start BIGINT, p_support BOOLEAN,
        p_transfer_id TEXT, p_code TEXT, p_idempotency_key TEXT, p_request_hash TEXT, p_metadata TEXT, p_created_at BIGINT,
        p_accounts TEXT[], p_amounts BIGINT[],
        p_claim_scope TEXT, p_claim_key TEXT, p_claim_hash TEXT, p_answer_status INTEGER, p_answer_body TEXT
      ) RETURNS TEXT LANGUAGE plpgsql AS $$
      DECLARE
        v_owed BIGINT;
        v_available BIGINT;
        v_message TEXT;
        v_detail TEXT;
      BEGIN
        -- A fan who owes Diamonds after a card dispute spends nothing (assertNotInDebt).
        SELECT -balance INTO v_owed FROM accounts WHERE coalesce(owner_id, '') = p_user_id AND kind = 'debt';
        IF v_owed > 0 THEN RETURN 'in_debt'; END IF;
        -- A reference seen before is a retry: the general path replays it.
        IF NOT p_fresh AND (EXISTS (SELECT 1 FROM allowance_spends WHERE reference = p_reference)
            OR EXISTS (SELECT 1 FROM transfers WHERE idempotency_key = p_idempotency_key)) THEN
          RETURN 'known_reference';
        END IF;
        -- The allowance (consumeAllowance): the consent's row lock first, then the window's sum.
        PERFORM 1 FROM connections WHERE user_id = p_user_id AND site_id = p_site_id AND revoked_at IS NULL FOR UPDATE;
        IF NOT FOUND THEN RETURN 'over_allowance'; END IF;
        -- From here a refusal undoes what the block wrote (a subtransaction, on the server) and is
        -- answered as a result: the statement never fails for it, so the caller's transaction needs
        -- no savepoint of its own around this call (ledger/group-commit.ts selfContained).
        BEGIN
          -- The request's Idempotency-Key, claimed with its answer (money/idempotency.ts): a second
          -- request with the key replays this one's answer rather than spending again.
          IF p_claim_key IS NOT NULL THEN
            INSERT INTO api_requests (scope, idempotency_key, request_hash, status, body, created_at)
              VALUES (p_claim_scope, p_claim_key, p_claim_hash, p_answer_status, p_answer_body, p_now)
              ON CONFLICT (scope, idempotency_key) DO NOTHING;
            IF NOT FOUND THEN RAISE EXCEPTION 'diamonds:claimed'; END IF;
          END IF;
          -- The window's sum from two running totals (consumeAllowance): the last spend's, less
          -- that of the last spend at or before the window's start.
          INSERT INTO allowance_spends (reference, user_id, site_id, amount, created_at, spent_through)
            SELECT p_reference, c.user_id, c.site_id, p_amount, greatest(p_now, coalesce(last.created_at, 0)),
              coalesce(last.spent_through, 0) + p_amount
            FROM connections c
            LEFT JOIN (SELECT l.created_at, l.spent_through FROM allowance_spends l WHERE l.user_id = p_user_id AND l.site_id = p_site_id
              ORDER BY l.created_at DESC, l.spent_through DESC LIMIT 1) last ON 1 = 1
            WHERE c.user_id = p_user_id AND c.site_id = p_site_id AND c.revoked_at IS NULL
              AND (EXISTS (SELECT 1 FROM sites own_s WHERE own_s.id = c.site_id AND own_s.owner_id = p_recipient_id)
                OR EXISTS (SELECT 1 FROM site_creators own_c WHERE own_c.site_id = c.site_id AND own_c.creator_id = p_recipient_id
                  AND own_c.status = 'accepted'))
              AND c.allowance_per_day - (coalesce(last.spent_through, 0) - coalesce((SELECT b.spent_through FROM allowance_spends b
                WHERE b.user_id = c.user_id AND b.site_id = c.site_id AND b.created_at <= p_window_start
                ORDER BY b.created_at DESC, b.spent_through DESC LIMIT 1), 0)) >= p_amount;
          IF NOT FOUND THEN RAISE EXCEPTION 'diamonds:over_allowance'; END IF;
          -- The ledger's #apply: each balance in account-id order, a debit only when it is covered.
          FOR i IN 1 .. array_length(p_accounts, 1) LOOP
            IF p_amounts[i] < 0 THEN
              UPDATE accounts SET balance = balance + p_amounts[i]
                WHERE id = p_accounts[i] AND (allow_negative OR balance - pending_debits >= -p_amounts[i]);
            ELSE
              UPDATE accounts SET balance = balance + p_amounts[i] WHERE id = p_accounts[i];
            END IF;
            IF NOT FOUND THEN
              -- A same-key request may have committed while this one waited for the row lock.
              IF NOT p_fresh AND EXISTS (SELECT 1 FROM transfers WHERE idempotency_key = p_idempotency_key) THEN
                RAISE EXCEPTION 'diamonds:key_race';
              END IF;
              SELECT balance - pending_debits INTO v_available FROM accounts WHERE id = p_accounts[i];
              IF NOT FOUND THEN
                RAISE EXCEPTION 'diamonds:account_not_found' USING DETAIL = p_accounts[i];
              END IF;
              RAISE EXCEPTION 'diamonds:insufficient_funds' USING DETAIL = p_accounts[i] || ' ' || v_available || ' ' || -p_amounts[i];
            END IF;
          END LOOP;
          INSERT INTO transfers (id, code, state, amount, idempotency_key, request_hash, pending_id, metadata, expires_at, created_at)
            VALUES (p_transfer_id, p_code, 'posted', p_amount, p_idempotency_key, p_request_hash, NULL, p_metadata, NULL, p_created_at)
            ON CONFLICT (idempotency_key) DO NOTHING;
          IF NOT FOUND THEN RAISE EXCEPTION 'diamonds:key_race'; END IF;
          INSERT INTO postings (transfer_id, account_id, amount, pending)
            SELECT p_transfer_id, a.account_id, a.amount, FALSE FROM unnest(p_accounts, p_amounts) AS a (account_id, amount);
          IF p_support THEN
            INSERT INTO creator_support (user_id, creator_id, gifted, updated_at) VALUES (p_user_id, p_recipient_id, p_amount, p_now)
              ON CONFLICT (user_id, creator_id)
              DO UPDATE SET gifted = creator_support.gifted + excluded.gifted, updated_at = excluded.updated_at;
          END IF;
          RETURN 'posted';
        EXCEPTION WHEN raise_exception THEN
          GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
          IF v_message LIKE 'diamonds:%' THEN
            RETURN 'refused:' || substr(v_message, 10) || ' ' || coalesce(v_detail, '');
          END IF;
          RAISE;
        END;
      END $$`,
    ],
  },
};

/** What {@link spendAtOnceOnPostgres} is asked: the spend's parties and its prepared transfer. */
export interface SpendAtOnce {
  userId: string;
  siteId: string;
  recipientId: string;
  amount: number;
  /** The allowance's and the spend's reference (see `SpendRequest.reference`). */
  reference: string;
  fresh: boolean;
  /** Whether the fan's support total for the recipient grows (gifts). */
  support: boolean;
  /** The allowance's window starts after this time (ms). */
  windowStart: number;
  now: number;
  transfer: PreparedTransfer;
  /** The request's Idempotency-Key, claimed with its answer when the spend posts. */
  answer?: { scope: string; key: string; fingerprint: string; status: number; json: string } | undefined;
}

/** What the function did: see {@link pgSpendMigration}. */
export type SpendAtOnceOutcome = 'posted' | 'in_debt' | 'over_allowance' | 'known_reference' | 'claimed';

const OUTCOMES: ReadonlySet<string> = new Set<SpendAtOnceOutcome>(['posted', 'in_debt', 'over_allowance', 'known_reference']);

/** Refusals answered by the function that are outcomes, not errors: nothing was written. */
const REFUSED_OUTCOMES: Readonly<Record<string, SpendAtOnceOutcome>> = {
  'refused:over_allowance ': 'over_allowance',
  'refused:claimed ': 'claimed',
};

/**
 * Runs `diamonds_spend_at_once` in `tx` (PostgreSQL): one round trip for a spend within the
 * allowance, with `rowsWhenPosted` (the gift's row and its event, say) written in the same
 * statement when it posts, and not at all otherwise.
 *
 * @throws {@link ApiError} `insufficient_funds`, `account_not_found` and
 * `idempotency_request_in_progress`, as the ledger's `transferIn` would, with nothing written.
 */
export async function spendAtOnceOnPostgres(
  tx: SqlClient,
  spend: SpendAtOnce,
  rowsWhenPosted: readonly RowInsert[] = [],
): Promise<SpendAtOnceOutcome> {
  const { transfer } = spend;
  // The flow's own rows ride in the same statement, written only when the spend posted: a
  // data-modifying WITH reads the function's outcome, so the function runs first.
  const inserts = rowsWhenPosted.map(
    (row, i) =>
      `, posted_row_${i} AS (INSERT INTO ${row.table} (${row.columns.join(', ')})
         SELECT ${row.columns.map(() => '?').join(', ')} FROM spent WHERE spent.outcome = 'posted')`,
  );
  const [row] = await selfContained(
    tx,
    (batchTx) =>
      batchTx.query<{ outcome: string }>(
        `WITH spent AS (SELECT diamonds_spend_at_once(CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT),
         CAST(? AS TEXT), CAST(? AS BOOLEAN), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BOOLEAN), CAST(? AS TEXT),
         CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS TEXT[]),
         CAST(? AS BIGINT[]), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS TEXT)) AS outcome)${inserts.join('')}
       SELECT outcome FROM spent`,
        [
          spend.userId,
          spend.siteId,
          spend.recipientId,
          spend.amount,
          spend.reference,
          spend.fresh,
          spend.now,
          spend.windowStart,
          spend.support,
          transfer.id,
          transfer.code,
          transfer.idempotencyKey,
          transfer.requestHash,
          transfer.metadataJson,
          transfer.createdAt,
          // Array literals: the ids are checked (acct_ and letters and digits), the amounts integers.
          `{${transfer.lockOrder.map((posting) => posting.accountId).join(',')}}`,
          `{${transfer.lockOrder.map((posting) => posting.amountDiamonds).join(',')}}`,
          spend.answer?.scope ?? null,
          spend.answer?.key ?? null,
          spend.answer?.fingerprint ?? null,
          spend.answer?.status ?? null,
          spend.answer?.json ?? null,
          ...rowsWhenPosted.flatMap((insert) => insert.values),
        ],
      ),
    (rows) => rows[0]?.outcome === 'posted',
  );
  const outcome = row?.outcome ?? '';
  const refusedOutcome = REFUSED_OUTCOMES[outcome];
  if (refusedOutcome) return refusedOutcome;
  if (outcome.startsWith('refused:')) throw refusalOf(outcome);
  if (!OUTCOMES.has(outcome)) throw new Error(`diamonds_spend_at_once answered ${JSON.stringify(outcome)}`);
  if (outcome === 'posted') for (const insert of rowsWhenPosted) insert.written();
  return outcome as SpendAtOnceOutcome;
}

/** The ledger's error for a refusal the function answered (`refused:<code> <detail>`). */
function refusalOf(outcome: string): Error {
  const [code = '', accountId = '', available = '', needed = ''] = outcome.slice('refused:'.length).split(' ');
  switch (code) {
    case 'insufficient_funds':
      return new ApiError('insufficient_funds', `Account ${accountId} has ${available} Diamonds available; this needs ${needed}.`, {
        param: 'postings',
      });
    case 'account_not_found':
      return new ApiError('account_not_found', `No account ${accountId}.`, { param: 'postings' });
    case 'key_race':
      return new ApiError('idempotency_request_in_progress', 'A request with this idempotency key is in progress; retry shortly.');
    default:
      return new Error(`diamonds_spend_at_once answered ${JSON.stringify(outcome)}`);
  }
}
