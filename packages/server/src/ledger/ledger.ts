import { hash } from 'node:crypto';
import {
  AccountKind,
  MAX_METADATA_KEYS,
  MAX_TRANSFER_DIAMONDS,
  Metadata,
  TransferCode,
  USER_ACCOUNT_KINDS,
  isId,
  newId,
  type Transfer,
  type TransferState,
} from '@diamonds/protocol';
import { ApiError, isApiError } from '../errors.js';
import { canonicalJson } from '../canonical-json.js';
import type { Database, SqlClient, SqlValue } from '../db/types.js';
import { afterCommit } from './group-commit.js';
import { MONEY_BATCH_LOCK_ID } from '../db/locks.js';

/** Most postings one transfer may have (a revenue split among collaborators, say). */
export const MAX_POSTINGS = 32;

/** Longest idempotency key accepted. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** Longest a reservation may be held before it voids itself: seven days. */
export const MAX_RESERVATION_MS = 7 * 24 * 60 * 60 * 1000;

/** One line of a transfer request: negative debits the account, positive credits it. */
export interface PostingInput {
  accountId: string;
  amountDiamonds: number;
}

/** A request to move Diamonds (see {@link Ledger.transfer}). */
export interface TransferRequest {
  /**
   * Unique per intended movement, chosen by the caller. The same key with the same request
   * returns the first result; with a different request it fails with `idempotency_key_reused`.
   */
  idempotencyKey: string;
  code: TransferCode;
  /** Two or more postings on distinct accounts, summing to zero. */
  postings: readonly PostingInput[];
  metadata?: Metadata;
  /**
   * Reserve instead of post: the debits are held (not spendable) until the reservation is
   * posted or voided, or voids itself after this many milliseconds.
   */
  reserveForMs?: number;
}

/** A request to post or void a reservation. */
export interface ResolveRequest {
  idempotencyKey: string;
  pendingId: string;
  metadata?: Metadata;
}

/** An account and its balances. */
export interface Account {
  id: string;
  ownerId: string | null;
  kind: AccountKind;
  /** Posted Diamonds: the sum of the account's posted postings. */
  balanceDiamonds: number;
  /** Diamonds held by unresolved reservations that debit this account. */
  heldDiamonds: number;
  /** What can be spent now: balance less held. */
  availableDiamonds: number;
  /** Diamonds that unresolved reservations will credit to this account. */
  incomingDiamonds: number;
}

/** A transfer, with whether this call replayed an earlier result. */
export interface TransferResult {
  transfer: Transfer;
  /** True when the idempotency key had been used for this same request before. */
  replayed: boolean;
}

/** One item of {@link Ledger.transferBatch}'s answer, in the order of the requests. */
export type BatchItemResult = ({ ok: true } & TransferResult) | { ok: false; error: ApiError };

/** Options of {@link Ledger}. */
export interface LedgerOptions {
  /** The clock, in milliseconds since the epoch; tests move it. @defaultValue Date.now */
  now?: () => number;
}

interface TransferRow {
  id: string;
  code: string;
  state: 'posted' | 'pending' | 'post_pending' | 'void_pending';
  amount: number;
  idempotency_key: string;
  request_hash: string;
  pending_id: string | null;
  metadata: string;
  expires_at: number | null;
  created_at: number;
}

interface AccountRow {
  id: string;
  owner_id: string | null;
  kind: string;
  balance: number;
  pending_debits: number;
  pending_credits: number;
}

const TRANSFER_COLUMNS = 'id, code, state, amount, idempotency_key, request_hash, pending_id, metadata, expires_at, created_at';

/*
 * The hot path's statements as constant texts, written once: a text built at each call is a new
 * string, which the connection's statement cache must copy and hash again to find (every spend
 * runs a dozen statements on the money writer's thread).
 */
const INSERT_TRANSFER = `INSERT INTO transfers (${TRANSFER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`;
const INSERT_RESOLVING_TRANSFER = `INSERT INTO transfers (${TRANSFER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (idempotency_key) DO NOTHING`;
/** By engine (how each says `allow_negative` is true), then by whether the debit is held: a covered debit. */
const DEBIT = {
  sqlite: {
    posted: 'UPDATE accounts SET balance = balance - ? WHERE id = ? AND (allow_negative = 1 OR balance - pending_debits >= ?)',
    held: 'UPDATE accounts SET pending_debits = pending_debits + ? WHERE id = ? AND (allow_negative = 1 OR balance - pending_debits >= ?)',
  },
  postgres: {
    posted: 'UPDATE accounts SET balance = balance - ? WHERE id = ? AND (allow_negative OR balance - pending_debits >= ?)',
    held: 'UPDATE accounts SET pending_debits = pending_debits + ? WHERE id = ? AND (allow_negative OR balance - pending_debits >= ?)',
  },
} as const;
const CREDIT = {
  posted: 'UPDATE accounts SET balance = balance + ? WHERE id = ?',
  held: 'UPDATE accounts SET pending_credits = pending_credits + ? WHERE id = ?',
} as const;
/** `INSERT INTO postings` of n rows, by n (a transfer has at most MAX_POSTINGS). */
const INSERT_POSTINGS: string[] = [];
function insertPostingsSql(rows: number): string {
  return (INSERT_POSTINGS[rows] ??= `INSERT INTO postings (transfer_id, account_id, amount, pending) VALUES ${Array.from(
    { length: rows },
    () => '(?, ?, ?, ?)',
  ).join(', ')}`);
}

/** A marker that a concurrent transaction committed the same idempotency key first. */
class KeyRaceLost extends Error {}

/** Inside a caller's transaction a lost key race cannot be rerun here: the caller retries. */
async function inProgressOnRace<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof KeyRaceLost) {
      throw new ApiError('idempotency_request_in_progress', 'A request with this idempotency key is in progress; retry shortly.');
    }
    throw error;
  }
}

function isUniqueViolationOn(error: unknown, what: string): boolean {
  const { code, message, constraint } = error as { code?: unknown; message?: unknown; constraint?: unknown };
  if (code === '23505') return typeof constraint === 'string' && constraint.includes(what);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' && typeof message === 'string' && message.includes(what);
}

function hashRequest(kind: string, body: unknown): string {
  return hash('sha256', `${kind}\n${canonicalJson(body)}`, 'base64url');
}

function validateKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    throw new ApiError(
      'idempotency_key_invalid',
      `An idempotency key is 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters without spaces, such as a UUID.`,
      { param: 'idempotencyKey' },
    );
  }
  return key;
}

const METADATA_KEY = /^[A-Za-z0-9_.-]{1,40}$/;

/**
 * Whether `value` is metadata that the `Metadata` schema accepts as it is: a plain object of at
 * most {@link MAX_METADATA_KEYS} keys of letters, digits, `_`, `.` and `-`, each holding a string
 * of at most 500 characters, a finite number, a boolean or null. Every spend's metadata is built
 * by the platform and passes, so the schema (and its message for what fails) runs only for the
 * rest; anything unusual (a symbol key, `__proto__`, another prototype) is left to it.
 */
function isPlainMetadata(value: unknown): value is Metadata {
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return false;
  const keys = Object.keys(value);
  if (keys.length > MAX_METADATA_KEYS || Object.getOwnPropertySymbols(value).length > 0) return false;
  for (const key of keys) {
    if (key === '__proto__' || !METADATA_KEY.test(key)) return false;
    const item = (value as Record<string, unknown>)[key];
    if (item === null || typeof item === 'boolean') continue;
    if (typeof item === 'string' ? item.length > 500 : typeof item !== 'number' || !Number.isFinite(item)) return false;
  }
  return true;
}

function validateMetadata(metadata: unknown): Metadata {
  if (metadata === undefined) return {};
  // A copy, as the schema's parse gives.
  if (isPlainMetadata(metadata)) return { ...metadata };
  const parsed = Metadata.safeParse(metadata);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiError('invalid_metadata', `Invalid metadata: ${issue?.message ?? 'not an object of flat values'}.`, {
      param: ['metadata', ...(issue?.path ?? []).map(String)].join('.'),
    });
  }
  return parsed.data;
}

function validateAmount(amount: unknown, param: string): number {
  if (typeof amount !== 'number' || !Number.isInteger(amount)) {
    throw new ApiError('invalid_amount', `Diamond amounts are whole numbers; got ${JSON.stringify(amount) ?? String(amount)}.`, {
      param,
    });
  }
  if (amount === 0) throw new ApiError('invalid_amount', 'A posting must move at least one Diamond.', { param });
  if (Math.abs(amount) > MAX_TRANSFER_DIAMONDS) {
    throw new ApiError('amount_too_large', `One transfer moves at most ${MAX_TRANSFER_DIAMONDS} Diamonds.`, { param });
  }
  return amount;
}

/** A posted transfer ready to be written: see {@link Ledger.prepareTransfer}. */
export interface PreparedTransfer {
  id: string;
  code: TransferCode;
  /** The Diamonds moved: the sum of the positive postings. */
  amount: number;
  idempotencyKey: string;
  requestHash: string;
  metadataJson: string;
  createdAt: number;
  /** The postings sorted by account id: the order their rows must be locked and changed in. */
  lockOrder: PostingInput[];
  /** The wire view of the transfer once written. */
  transfer: Transfer;
}

interface ValidTransfer {
  idempotencyKey: string;
  code: TransferCode;
  postings: PostingInput[];
  metadata: Metadata;
  reserveForMs: number | null;
  amount: number;
  hash: string;
}

/** Checks a transfer request completely before any database work; throws {@link ApiError}. */
export function validateTransfer(request: TransferRequest): ValidTransfer {
  if (request === null || typeof request !== 'object') throw new ApiError('invalid_request', 'A transfer request is an object.');
  const idempotencyKey = validateKey(request.idempotencyKey);
  const code = TransferCode.safeParse(request.code);
  if (!code.success) {
    throw new ApiError(
      'invalid_request',
      `Unknown transfer code ${JSON.stringify(request.code)}; expected one of ${TransferCode.options.join(', ')}.`,
      {
        param: 'code',
      },
    );
  }
  if (!Array.isArray(request.postings) || request.postings.length < 2 || request.postings.length > MAX_POSTINGS) {
    throw new ApiError('invalid_request', `A transfer has 2 to ${MAX_POSTINGS} postings.`, { param: 'postings' });
  }
  const seen = new Set<string>();
  let sum = 0;
  let amount = 0;
  const postings: PostingInput[] = [];
  request.postings.forEach((posting: unknown, index) => {
    if (posting === null || typeof posting !== 'object') {
      throw new ApiError('invalid_request', 'Each posting is an object { accountId, amountDiamonds }.', { param: `postings.${index}` });
    }
    const { accountId, amountDiamonds } = posting as Record<string, unknown>;
    if (!isId('acct', accountId)) {
      throw new ApiError('invalid_id', `Expected an account id (acct_…); got ${JSON.stringify(accountId) ?? String(accountId)}.`, {
        param: `postings.${index}.accountId`,
      });
    }
    const value = validateAmount(amountDiamonds, `postings.${index}.amountDiamonds`);
    if (seen.has(accountId)) {
      throw new ApiError('same_account', `Account ${accountId} appears twice; a transfer moves Diamonds between distinct accounts.`, {
        param: `postings.${index}.accountId`,
      });
    }
    seen.add(accountId);
    sum += value;
    if (value > 0) amount += value;
    postings.push({ accountId, amountDiamonds: value });
  });
  if (sum !== 0) {
    throw new ApiError('postings_unbalanced', `Postings must sum to zero; these sum to ${sum}.`, { param: 'postings' });
  }
  if (amount > MAX_TRANSFER_DIAMONDS) {
    throw new ApiError('amount_too_large', `One transfer moves at most ${MAX_TRANSFER_DIAMONDS} Diamonds.`, { param: 'postings' });
  }
  let reserveForMs: number | null = null;
  if (request.reserveForMs !== undefined) {
    if (!Number.isSafeInteger(request.reserveForMs) || request.reserveForMs < 1 || request.reserveForMs > MAX_RESERVATION_MS) {
      throw new ApiError('invalid_request', `reserveForMs is a whole number of milliseconds from 1 to ${MAX_RESERVATION_MS}.`, {
        param: 'reserveForMs',
      });
    }
    reserveForMs = request.reserveForMs;
  }
  const metadata = validateMetadata(request.metadata);
  const hash = hashRequest('transfer', { code: code.data, postings, metadata, reserveForMs });
  return { idempotencyKey, code: code.data, postings, metadata, reserveForMs, amount, hash };
}

/**
 * The double-entry ledger: every movement of Diamonds, on SQLite or PostgreSQL.
 *
 * @remarks
 * Each transfer is two or more postings that sum to zero, written with the cached balances
 * they change in one database transaction. A debit of a user account is one conditional
 * update (`… WHERE balance - pending_debits >= amount`), so the check and the debit cannot be
 * separated by a concurrent spend; a CHECK constraint stands behind it. Transfers and postings
 * are append-only (database triggers refuse UPDATE and DELETE); a reservation is resolved by a
 * second transfer that names it. See `docs/ledger.md`.
 *
 * @example
 * ```ts
 * const ledger = new Ledger(db);
 * const wallet = await ledger.openAccount({ ownerId: fanId, kind: 'wallet' });
 * const issuance = await ledger.platformAccount('issuance');
 * await ledger.transfer({
 *   idempotencyKey: 'topup-8c1f…',
 *   code: 'purchase',
 *   postings: [
 *     { accountId: issuance.id, amountDiamonds: -500 },
 *     { accountId: wallet.id, amountDiamonds: 500 },
 *   ],
 * });
 * ```
 */
export class Ledger {
  readonly db: Database;
  readonly #now: () => number;
  /**
   * Account ids by `kind` and owner, for accounts known to be committed. Accounts are never
   * deleted and their owner and kind never change, so an id once committed is right forever;
   * balances are never cached.
   */
  readonly #accountIds = new Map<string, string>();

  constructor(db: Database, options: LedgerOptions = {}) {
    this.db = db;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Returns the account of `kind` owned by `ownerId`, creating it the first time.
   *
   * @remarks User kinds (`wallet`, `earnings`) need an owner and may never go below zero;
   * platform kinds have no owner and may (issuance is negative by every Diamond sold). A fan's
   * `debt` has an owner and may go below zero (what the fan owes after a card dispute, see
   * `payments/disputes.ts`); it never goes above zero, which that module and `ledger verify` keep.
   */
  async openAccount(params: { ownerId: string | null; kind: AccountKind }, client: SqlClient = this.db): Promise<Account> {
    const kind = AccountKind.safeParse(params.kind);
    if (!kind.success) throw new ApiError('invalid_request', `Unknown account kind ${JSON.stringify(params.kind)}.`, { param: 'kind' });
    const isDebt = kind.data === 'debt';
    const isUser = (USER_ACCOUNT_KINDS as readonly string[]).includes(kind.data) || isDebt;
    if (isUser && (typeof params.ownerId !== 'string' || params.ownerId.length === 0)) {
      throw new ApiError('invalid_request', `A ${kind.data} account needs an owner.`, { param: 'ownerId' });
    }
    if (!isUser && params.ownerId !== null) {
      throw new ApiError('invalid_request', `A ${kind.data} account belongs to the platform and has no owner.`, { param: 'ownerId' });
    }
    const ownerKey = params.ownerId ?? '';
    // The same expression as the unique index on each engine (SQLite's says ifnull, PostgreSQL's
    // coalesce), or SQLite scans every account instead of using it.
    const ownerExpression = client.kind === 'sqlite' ? `ifnull(owner_id, '')` : `coalesce(owner_id, '')`;
    const find = `SELECT id, owner_id, kind, balance, pending_debits, pending_credits FROM accounts
      WHERE ${ownerExpression} = ? AND kind = ?`;
    const existing = await client.query<AccountRow>(find, [ownerKey, kind.data]);
    if (existing[0]) return toAccount(existing[0]);
    await client.run(
      `INSERT INTO accounts (id, owner_id, kind, allow_negative, balance, pending_debits, pending_credits, created_at)
       VALUES (?, ?, ?, ?, 0, 0, 0, ?) ON CONFLICT DO NOTHING`,
      [newId('acct'), params.ownerId, kind.data, !isUser || isDebt, this.#now()],
    );
    const created = await client.query<AccountRow>(find, [ownerKey, kind.data]);
    if (!created[0]) throw new Error('account vanished after insert');
    return toAccount(created[0]);
  }

  /**
   * The id of the account of `kind` owned by `ownerId` (`null` for the platform's), opened the
   * first time: {@link Ledger.openAccount} without the balances, answered from memory once the
   * account is known to be committed.
   *
   * @remarks The hot path of every spend needs three account ids (the fan's wallet, the
   * creator's earnings, the fee account); none of them ever changes, so after the first spend
   * they cost no statement. An id is remembered only once its row is durable: at once when
   * `client` is the database itself, or after the commit of the `GroupCommit.run` batch that
   * saw it (see `afterCommit`); an account seen inside a transaction that rolls back is
   * never remembered, so the cache can never name a missing account.
   * @throws {@link ApiError} `invalid_request` as {@link Ledger.openAccount}.
   * @example
   * ```ts
   * const walletId = await ledger.accountId({ ownerId: fanId, kind: 'wallet' }, tx);
   * ```
   */
  async accountId(params: { ownerId: string | null; kind: AccountKind }, client: SqlClient = this.db): Promise<string> {
    const key = `${String(params.kind)}:${params.ownerId ?? ''}`;
    const known = this.#accountIds.get(key);
    if (known !== undefined) return known;
    const { id } = await this.openAccount(params, client);
    if (client === this.db) this.#accountIds.set(key, id);
    else afterCommit(client, () => this.#accountIds.set(key, id));
    return id;
  }

  /** The platform's account of `kind` (issuance, fees, payouts, creator_fund, boosts). */
  platformAccount(kind: Exclude<AccountKind, 'wallet' | 'earnings'>, client: SqlClient = this.db): Promise<Account> {
    return this.openAccount({ ownerId: null, kind }, client);
  }

  /** An account by id. @throws {@link ApiError} `account_not_found` */
  async getAccount(id: string): Promise<Account> {
    const rows = isId('acct', id)
      ? await this.db.query<AccountRow>('SELECT id, owner_id, kind, balance, pending_debits, pending_credits FROM accounts WHERE id = ?', [
          id,
        ])
      : [];
    if (!rows[0]) throw new ApiError('account_not_found', `No account ${JSON.stringify(id)}.`);
    return toAccount(rows[0]);
  }

  /**
   * Moves Diamonds, or reserves them when `reserveForMs` is set: one transfer, atomically.
   *
   * @throws {@link ApiError} with code `insufficient_funds`, `account_not_found`,
   * `idempotency_key_reused`, or a validation code (`invalid_amount`, `amount_too_large`,
   * `invalid_id`, `same_account`, `postings_unbalanced`, `invalid_metadata`, …); on any of
   * them nothing was written.
   */
  async transfer(request: TransferRequest): Promise<TransferResult> {
    const valid = validateTransfer(request);
    // The one algorithm production runs (see transferIn), in a transaction of its own; a key
    // race lost to a concurrent request runs again and replays that request's result.
    return this.#withKeyRaceRetry(() => this.db.transaction((tx) => this.#transferValid(tx, valid, false)));
  }

  /**
   * Moves (or reserves) Diamonds inside the caller's transaction, so that the movement and the
   * caller's own rows (a gift, an order, an allowance spend) commit together or not at all.
   *
   * @remarks A refusal throws after undoing this call's balance changes, so the caller's
   * transaction may go on (or roll back to its savepoint). A same-key request replays; when
   * another transaction holds the key, `idempotency_request_in_progress` is thrown.
   *
   * `options.fresh` says the idempotency key was made in this very transaction (from a new
   * id), so no transfer can carry it yet: the look-up for an earlier one is skipped. Should
   * the key exist after all, the insert still refuses it (its unique index), and the caller's
   * transaction fails with `idempotency_request_in_progress` rather than moving anything twice.
   * @throws the same errors as {@link Ledger.transfer}.
   */
  async transferIn(tx: SqlClient, request: TransferRequest, options: { fresh?: boolean } = {}): Promise<TransferResult> {
    return inProgressOnRace(this.#transferValid(tx, validateTransfer(request), options.fresh === true));
  }

  /** Replays a known key, or applies the transfer: the path every transfer takes. */
  async #transferValid(tx: SqlClient, valid: ValidTransfer, fresh: boolean): Promise<TransferResult> {
    const existing = fresh ? undefined : (await this.#prefetchKeys(tx, [valid.idempotencyKey])).get(valid.idempotencyKey);
    if (existing) return this.#replayRow(tx, existing, valid.hash);
    const applied = await this.#apply(tx, valid);
    return { transfer: applied.transfer, replayed: false };
  }

  /**
   * A posted transfer checked and made ready in memory, not written: what a caller that writes
   * it by other means (the PostgreSQL spend function, money/pg-spend.ts) needs, computed exactly
   * as {@link Ledger.transferIn} computes it, so both paths store the same rows.
   *
   * @throws the validation errors of {@link Ledger.transfer}; a reservation is refused
   * (`invalid_request`): holds always go through `transferIn`.
   */
  prepareTransfer(request: TransferRequest): PreparedTransfer {
    const valid = validateTransfer(request);
    if (valid.reserveForMs !== null) throw new ApiError('invalid_request', 'prepareTransfer makes posted transfers only.');
    const now = this.#now();
    const id = newId('txn', now);
    const metadata = JSON.stringify(valid.metadata);
    return {
      id,
      code: valid.code,
      amount: valid.amount,
      idempotencyKey: valid.idempotencyKey,
      requestHash: valid.hash,
      metadataJson: metadata,
      createdAt: now,
      // The order every transfer takes its row locks in (see #apply).
      lockOrder: [...valid.postings].sort((a, b) => (a.accountId < b.accountId ? -1 : 1)),
      transfer: newTransferView(valid, id, 'posted', now, null),
    };
  }

  /** Posts a reservation inside the caller's transaction (see {@link Ledger.transferIn}). */
  postIn(tx: SqlClient, request: ResolveRequest): Promise<TransferResult> {
    return inProgressOnRace(this.#resolveIn(tx, 'post', request, false));
  }

  /**
   * Voids a reservation inside the caller's transaction (see {@link Ledger.transferIn}); an
   * expired reservation may be voided too.
   */
  voidIn(tx: SqlClient, request: ResolveRequest): Promise<TransferResult> {
    return inProgressOnRace(this.#resolveIn(tx, 'void', request, true));
  }

  /** Inserts the transfer row unless its idempotency key is taken; `undefined` when it is. */
  async #insertTransfer(tx: SqlClient, valid: ValidTransfer, now: number): Promise<{ row: TransferRow; transfer: Transfer } | undefined> {
    const reserve = valid.reserveForMs !== null;
    const row: TransferRow = {
      id: newId('txn', now),
      code: valid.code,
      state: reserve ? 'pending' : 'posted',
      amount: valid.amount,
      idempotency_key: valid.idempotencyKey,
      request_hash: valid.hash,
      pending_id: null,
      metadata: JSON.stringify(valid.metadata),
      expires_at: reserve ? now + (valid.reserveForMs ?? 0) : null,
      created_at: now,
    };
    const inserted = await tx.run(INSERT_TRANSFER, [
      row.id,
      row.code,
      row.state,
      row.amount,
      row.idempotency_key,
      row.request_hash,
      row.metadata,
      row.expires_at,
      row.created_at,
    ]);
    if (inserted === 0) return undefined;
    return { row, transfer: newTransferView(valid, row.id, reserve ? 'pending' : 'posted', now, row.expires_at) };
  }

  /**
   * Applies many transfers in one database transaction, each with its own result.
   *
   * @remarks
   * One commit (one fsync on SQLite) for the whole batch is what makes this fast; a transfer
   * that fails (insufficient funds, an unknown account, bad input) fails alone and writes
   * nothing, while the others commit. Results come back in the order of the requests. Two
   * requests with one key in a batch behave as two calls in that order.
   */
  async transferBatch(requests: readonly TransferRequest[]): Promise<BatchItemResult[]> {
    const validated = requests.map((request) => {
      try {
        return validateTransfer(request);
      } catch (error) {
        if (isApiError(error)) return error;
        throw error;
      }
    });
    return this.#withKeyRaceRetry(() =>
      this.db.transaction(async (tx) => {
        // Batches of several processes take turns, before any row lock (see db/locks.ts).
        if (tx.kind === 'postgres') await tx.query(`SELECT pg_advisory_xact_lock(${MONEY_BATCH_LOCK_ID})`);
        const known = await this.#prefetchKeys(
          tx,
          validated.flatMap((item) => (item instanceof ApiError ? [] : [item.idempotencyKey])),
        );
        const results: BatchItemResult[] = [];
        for (const item of validated) {
          if (item instanceof ApiError) {
            results.push({ ok: false, error: item });
            continue;
          }
          try {
            const existing = known.get(item.idempotencyKey);
            let result: TransferResult;
            if (existing) {
              result = await this.#replayRow(tx, existing, item.hash);
            } else {
              const applied = await this.#apply(tx, item);
              // A later request with the same key in this batch replays this row, from memory.
              known.set(item.idempotencyKey, applied.row);
              result = { transfer: applied.transfer, replayed: false };
            }
            results.push({ ok: true, ...result });
          } catch (error) {
            if (isApiError(error)) results.push({ ok: false, error });
            else throw error;
          }
        }
        return results;
      }),
    );
  }

  /** Posts a reservation: the held Diamonds move for good. */
  post(request: ResolveRequest): Promise<TransferResult> {
    return this.#resolve('post', request);
  }

  /** Voids a reservation: the held Diamonds are released and nothing moves. */
  void(request: ResolveRequest): Promise<TransferResult> {
    return this.#resolve('void', request);
  }

  /**
   * Voids every reservation whose time is up, each exactly once, even when several processes
   * sweep at the same time or the process restarted since the reservation was made.
   *
   * @remarks The platform sweeps through its money writer instead ({@link Ledger.dueReservations}
   * read here, {@link Ledger.expireReservationIn} written there); this is the same, each in its
   * own transaction, for the CLI and tests.
   * @returns How many this call voided.
   */
  async voidExpired(limit = 500): Promise<number> {
    let voided = 0;
    for (const pendingId of await this.dueReservations(this.db, limit)) {
      if (await this.#withKeyRaceRetry(() => this.db.transaction((tx) => this.expireReservationIn(tx, pendingId)))) voided++;
    }
    return voided;
  }

  /** The ids of reservations whose time is up, soonest first (a read: what the sweeper then expires). */
  async dueReservations(db: SqlClient, limit = 500): Promise<string[]> {
    const due = await db.query<{ transfer_id: string }>(
      'SELECT transfer_id FROM reservations WHERE expires_at <= ? ORDER BY expires_at LIMIT ?',
      [this.#now(), limit],
    );
    return due.map((row) => row.transfer_id);
  }

  /**
   * Voids one reservation whose time is up, inside the caller's transaction, exactly once: one
   * posted or voided meanwhile (or not yet due) is left alone.
   *
   * @returns Whether this call voided it.
   */
  async expireReservationIn(tx: SqlClient, pendingId: string): Promise<boolean> {
    const [due] = await tx.query<{ one: number }>('SELECT 1 AS one FROM reservations WHERE transfer_id = ? AND expires_at <= ?', [
      pendingId,
      this.#now(),
    ]);
    if (!due) return false;
    try {
      const result = await this.voidIn(tx, { pendingId, idempotencyKey: `expire:${pendingId}`, metadata: { reason: 'expired' } });
      return !result.replayed;
    } catch (error) {
      // Posted or voided by someone else meanwhile: nothing left to do.
      if (isApiError(error, 'transfer_already_resolved')) return false;
      throw error;
    }
  }

  /** A transfer by id, with its current state. @throws {@link ApiError} `transfer_not_found` */
  async getTransfer(id: string): Promise<Transfer> {
    const row = isId('txn', id) ? await this.#transferRow(this.db, id) : undefined;
    if (!row || row.state === 'post_pending' || row.state === 'void_pending') {
      throw new ApiError('transfer_not_found', `No transfer ${JSON.stringify(id)}.`);
    }
    return this.#present(this.db, row);
  }

  async #withKeyRaceRetry<T>(attempt: () => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        return await attempt();
      } catch (error) {
        // Another transaction committed this idempotency key (or resolved this reservation)
        // while ours ran; run again and we will see its result.
        if (
          (error instanceof KeyRaceLost || isUniqueViolationOn(error, 'idempotency_key') || isUniqueViolationOn(error, 'pending_id')) &&
          tries < 5
        ) {
          continue;
        }
        throw error;
      }
    }
  }

  async #transferRow(tx: SqlClient, id: string): Promise<TransferRow | undefined> {
    const rows = await tx.query<TransferRow>(`SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE id = ?`, [id]);
    return rows[0];
  }

  async #keyTaken(tx: SqlClient, key: string): Promise<boolean> {
    return (await tx.query('SELECT id FROM transfers WHERE idempotency_key = ?', [key])).length > 0;
  }

  async #prefetchKeys(tx: SqlClient, keys: string[]): Promise<Map<string, TransferRow>> {
    const known = new Map<string, TransferRow>();
    for (let start = 0; start < keys.length; start += 500) {
      const chunk = keys.slice(start, start + 500);
      const rows = await tx.query<TransferRow>(
        `SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE idempotency_key IN (${chunk.map(() => '?').join(', ')})`,
        chunk,
      );
      for (const row of rows) known.set(row.idempotency_key, row);
    }
    return known;
  }

  async #replay(tx: SqlClient, key: string, hash: string): Promise<TransferResult | undefined> {
    const rows = await tx.query<TransferRow>(`SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE idempotency_key = ?`, [key]);
    return rows[0] ? this.#replayRow(tx, rows[0], hash) : undefined;
  }

  async #replayRow(tx: SqlClient, row: TransferRow, hash: string): Promise<TransferResult> {
    if (row.request_hash !== hash) {
      throw new ApiError(
        'idempotency_key_reused',
        'This idempotency key was already used for a different request; use a new key for a new movement.',
        { param: 'idempotencyKey' },
      );
    }
    const shown = row.pending_id ? await this.#transferRow(tx, row.pending_id) : row;
    if (!shown) throw new Error(`resolution ${row.id} names a missing reservation`);
    return { transfer: await this.#present(tx, shown), replayed: true };
  }

  /**
   * Applies one transfer inside a batch's transaction. Balances first, and the transfer row
   * only once they all moved: a refused transfer undoes its own balance updates and leaves no
   * row, since the batch's transaction goes on and an append-only row could not be taken back.
   */
  async #apply(tx: SqlClient, valid: ValidTransfer): Promise<{ row: TransferRow; transfer: Transfer }> {
    const reserve = valid.reserveForMs !== null;
    // Row locks in one global order (by account id) within a transfer; a batch of them takes
    // its turn first (db/locks.ts), and the rare race left is run again (db/postgres.ts).
    const ordered = [...valid.postings].sort((a, b) => (a.accountId < b.accountId ? -1 : 1));
    const applied: PostingInput[] = [];
    for (const posting of ordered) {
      const changed = await this.#applyPosting(tx, posting, reserve);
      if (changed === 0) {
        await this.#undo(tx, applied, reserve);
        // On PostgreSQL a request with our key may have committed while we waited for a row
        // lock; what we saw as refused is then its success, and a rerun replays it.
        if (tx.kind === 'postgres' && (await this.#keyTaken(tx, valid.idempotencyKey))) throw new KeyRaceLost();
        throw await this.#explainRefusal(tx, posting);
      }
      applied.push(posting);
    }
    const claimed = await this.#insertTransfer(tx, valid, this.#now());
    if (!claimed) throw new KeyRaceLost();
    await this.#insertPostings(tx, claimed.row.id, valid.postings, reserve);
    if (reserve) await tx.run('INSERT INTO reservations (transfer_id, expires_at) VALUES (?, ?)', [claimed.row.id, claimed.row.expires_at]);
    return claimed;
  }

  #applyPosting(tx: SqlClient, posting: PostingInput, reserve: boolean): Promise<number> {
    const amount = posting.amountDiamonds;
    if (amount < 0) {
      const debit = DEBIT[tx.kind === 'postgres' ? 'postgres' : 'sqlite'];
      return tx.run(reserve ? debit.held : debit.posted, [-amount, posting.accountId, -amount]);
    }
    return tx.run(reserve ? CREDIT.held : CREDIT.posted, [amount, posting.accountId]);
  }

  async #undo(tx: SqlClient, applied: readonly PostingInput[], reserve: boolean): Promise<void> {
    for (const posting of applied) {
      const amount = posting.amountDiamonds;
      const column = reserve ? (amount < 0 ? 'pending_debits' : 'pending_credits') : 'balance';
      const delta = reserve ? -Math.abs(amount) : -amount;
      await tx.run(`UPDATE accounts SET ${column} = ${column} + ? WHERE id = ?`, [delta, posting.accountId]);
    }
  }

  async #explainRefusal(tx: SqlClient, posting: PostingInput): Promise<ApiError> {
    const rows = await tx.query<AccountRow>(
      'SELECT id, owner_id, kind, balance, pending_debits, pending_credits FROM accounts WHERE id = ?',
      [posting.accountId],
    );
    const row = rows[0];
    if (!row) return new ApiError('account_not_found', `No account ${posting.accountId}.`, { param: 'postings' });
    const available = row.balance - row.pending_debits;
    return new ApiError(
      'insufficient_funds',
      `Account ${row.id} has ${available} Diamonds available; this needs ${-posting.amountDiamonds}.`,
      { param: 'postings' },
    );
  }

  async #insertPostings(tx: SqlClient, transferId: string, postings: readonly PostingInput[], pending: boolean): Promise<void> {
    const values: SqlValue[] = [];
    for (const posting of postings) values.push(transferId, posting.accountId, posting.amountDiamonds, pending);
    await tx.run(insertPostingsSql(postings.length), values);
  }

  #resolve(action: 'post' | 'void', request: ResolveRequest, allowExpired = false): Promise<TransferResult> {
    return this.#withKeyRaceRetry(() => this.db.transaction((tx) => this.#resolveIn(tx, action, request, allowExpired)));
  }

  async #resolveIn(tx: SqlClient, action: 'post' | 'void', request: ResolveRequest, allowExpired: boolean): Promise<TransferResult> {
    const idempotencyKey = validateKey(request.idempotencyKey);
    if (!isId('txn', request.pendingId)) {
      throw new ApiError('invalid_id', `Expected a transfer id (txn_…); got ${JSON.stringify(request.pendingId)}.`, { param: 'pendingId' });
    }
    const metadata = validateMetadata(request.metadata);
    const hash = hashRequest(action, { pendingId: request.pendingId, metadata });
    const now = this.#now();
    // Lock the reservation so concurrent resolvers queue here rather than race; only then
    // look for an earlier result, so one that committed while we queued is replayed.
    const lock = tx.kind === 'postgres' ? ' FOR UPDATE' : '';
    const pending = (await tx.query<TransferRow>(`SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE id = ?${lock}`, [request.pendingId]))[0];
    const replay = await this.#replay(tx, idempotencyKey, hash);
    if (replay) return replay;
    if (!pending || pending.state === 'post_pending' || pending.state === 'void_pending') {
      throw new ApiError('transfer_not_found', `No transfer ${request.pendingId}.`, { param: 'pendingId' });
    }
    if (pending.state !== 'pending') {
      throw new ApiError('transfer_not_pending', `Transfer ${pending.id} was posted at once; only a reservation can be ${action}ed.`, {
        param: 'pendingId',
      });
    }
    const open = await tx.query<{ expires_at: number }>('SELECT expires_at FROM reservations WHERE transfer_id = ?', [pending.id]);
    if (!open[0]) {
      throw new ApiError('transfer_already_resolved', `Reservation ${pending.id} was already posted or voided.`, {
        param: 'pendingId',
      });
    }
    if (action === 'post' && !allowExpired && open[0].expires_at <= now) {
      throw new ApiError('reservation_expired', `Reservation ${pending.id} expired; it will be voided.`, { param: 'pendingId' });
    }
    const postings = await tx.query<{ account_id: string; amount: number }>(
      'SELECT account_id, amount FROM postings WHERE transfer_id = ? ORDER BY account_id',
      [pending.id],
    );
    for (const { account_id: accountId, amount } of postings) {
      const sql =
        amount < 0
          ? action === 'post'
            ? 'UPDATE accounts SET pending_debits = pending_debits - ?, balance = balance - ? WHERE id = ?'
            : 'UPDATE accounts SET pending_debits = pending_debits - ? WHERE id = ?'
          : action === 'post'
            ? 'UPDATE accounts SET pending_credits = pending_credits - ?, balance = balance + ? WHERE id = ?'
            : 'UPDATE accounts SET pending_credits = pending_credits - ? WHERE id = ?';
      const magnitude = Math.abs(amount);
      await tx.run(sql, action === 'post' ? [magnitude, magnitude, accountId] : [magnitude, accountId]);
    }
    const id = newId('txn', now);
    const inserted = await tx.run(INSERT_RESOLVING_TRANSFER, [
      id,
      pending.code,
      action === 'post' ? 'post_pending' : 'void_pending',
      pending.amount,
      idempotencyKey,
      hash,
      pending.id,
      JSON.stringify(metadata),
      now,
    ]);
    if (inserted === 0) throw new KeyRaceLost();
    if (action === 'post') {
      await this.#insertPostings(
        tx,
        id,
        postings.map((p) => ({ accountId: p.account_id, amountDiamonds: p.amount })),
        false,
      );
    }
    await tx.run('DELETE FROM reservations WHERE transfer_id = ?', [pending.id]);
    return { transfer: await this.#present(tx, pending), replayed: false };
  }

  /** The wire view of a posted transfer or a reservation, with its current state. */
  async #present(tx: SqlClient, row: TransferRow): Promise<Transfer> {
    const postings = await tx.query<{ account_id: string; amount: number }>(
      'SELECT account_id, amount FROM postings WHERE transfer_id = ?',
      [row.id],
    );
    let state: TransferState = 'posted';
    if (row.state === 'pending') {
      const resolution = await tx.query<{ state: string }>('SELECT state FROM transfers WHERE pending_id = ?', [row.id]);
      state = resolution[0] ? (resolution[0].state === 'post_pending' ? 'posted' : 'voided') : 'pending';
    }
    return {
      object: 'transfer',
      id: row.id as Transfer['id'],
      code: row.code as TransferCode,
      state,
      amountDiamonds: row.amount,
      postings: inWireOrder(
        postings.map((p) => ({ accountId: p.account_id as Transfer['postings'][number]['accountId'], amountDiamonds: p.amount })),
      ),
      metadata: JSON.parse(row.metadata) as Metadata,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    };
  }
}

/**
 * The one order postings are shown in: debits first (largest first), then credits (smallest
 * first), ties by account id. The journal keeps no order, so a first answer and a replay of it
 * must both use this one, or the same transfer would read differently.
 */
/** The wire view of a transfer just written from `valid` (by `transferIn`, or by the PostgreSQL spend). */
function newTransferView(
  valid: ValidTransfer,
  id: string,
  state: 'posted' | 'pending',
  createdAt: number,
  expiresAt: number | null,
): Transfer {
  return {
    object: 'transfer',
    id: id as Transfer['id'],
    code: valid.code,
    state,
    amountDiamonds: valid.amount,
    postings: inWireOrder(
      valid.postings.map((p) => ({
        accountId: p.accountId as Transfer['postings'][number]['accountId'],
        amountDiamonds: p.amountDiamonds,
      })),
    ),
    metadata: valid.metadata,
    createdAt,
    expiresAt,
  };
}

function inWireOrder(postings: Transfer['postings']): Transfer['postings'] {
  return [...postings].sort((a, b) =>
    a.amountDiamonds !== b.amountDiamonds
      ? a.amountDiamonds - b.amountDiamonds
      : a.accountId < b.accountId
        ? -1
        : a.accountId > b.accountId
          ? 1
          : 0,
  );
}

function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    ownerId: row.owner_id,
    kind: row.kind as AccountKind,
    balanceDiamonds: row.balance,
    heldDiamonds: row.pending_debits,
    availableDiamonds: row.balance - row.pending_debits,
    incomingDiamonds: row.pending_credits,
  };
}
