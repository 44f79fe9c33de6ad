import type { Database, DatabaseKind, SqlClient } from './types.js';
import { confirmationOriginMigration, moneyMigration } from '../money/schema.js';
import { disputesMigration, paymentsMigration } from '../payments/schema.js';
import { giftsMigration } from '../gifts/schema.js';
import { contentMigration } from '../content/schema.js';
import { ordersMigration } from '../orders/schema.js';
import { signupsMigration } from '../identity/signups.js';
import { siteCreatorsMigration } from '../identity/site-creators-schema.js';
import { eventsMigration } from '../events/schema.js';
import { webhooksMigration } from '../webhooks/schema.js';
import { earningsMigration } from '../earnings/schema.js';
import { emailTokensMigration } from '../identity/email-tokens.js';
import { payoutsMigration } from '../payouts/schema.js';
import { liveMigration } from '../live/schema.js';
import { fundMigration } from '../fund/schema.js';
import { boostsMigration } from '../boosts/schema.js';
import { collabsMigration } from '../collabs/schema.js';
import { overlayMigration } from '../live/overlay-schema.js';
import { dpopReplaysMigration } from '../identity/dpop-replays.js';
import { allowanceRunningTotalsMigration, pgSpendMigration } from '../money/pg-spend.js';

/** One versioned step of the schema, with DDL for each engine. */
export interface Migration {
  version: number;
  name: string;
  statements: Record<DatabaseKind, readonly string[]>;
}

/**
 * The ledger's tables.
 *
 * - `accounts.balance` is the cached sum of the account's posted postings, and
 *   `pending_debits` of what its unresolved reservations hold. The CHECK constraint is the
 *   last line behind the conditional update: a user account can never go below zero, even by
 *   a bug in our code.
 * - `transfers` and `postings` are the journal: triggers refuse every UPDATE and DELETE.
 *   A reservation is resolved by a second transfer naming it in `pending_id` (UNIQUE, so it
 *   is posted or voided exactly once), never by changing the first.
 * - `reservations` is a work queue, not the journal: a row per unresolved reservation, deleted
 *   when it is posted or voided, so the expiry sweep never scans history.
 * - `idempotency_key` is UNIQUE: the database, not a read-then-write race, decides which of
 *   two concurrent requests with one key wins.
 */
const ledgerV1: Migration = {
  version: 1,
  name: 'ledger',
  statements: {
    sqlite: [
      `CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        owner_id TEXT,
        kind TEXT NOT NULL,
        allow_negative INTEGER NOT NULL CHECK (allow_negative IN (0, 1)),
        balance INTEGER NOT NULL DEFAULT 0,
        pending_debits INTEGER NOT NULL DEFAULT 0 CHECK (pending_debits >= 0),
        pending_credits INTEGER NOT NULL DEFAULT 0 CHECK (pending_credits >= 0),
        created_at INTEGER NOT NULL,
        CHECK (allow_negative = 1 OR balance - pending_debits >= 0)
      ) STRICT`,
      `CREATE UNIQUE INDEX accounts_owner_kind ON accounts (ifnull(owner_id, ''), kind)`,
      `CREATE TABLE transfers (
        id TEXT PRIMARY KEY,
        code TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('posted', 'pending', 'post_pending', 'void_pending')),
        amount INTEGER NOT NULL CHECK (amount >= 0),
        idempotency_key TEXT NOT NULL UNIQUE,
        request_hash TEXT NOT NULL,
        pending_id TEXT UNIQUE REFERENCES transfers (id),
        metadata TEXT NOT NULL,
        expires_at INTEGER,
        created_at INTEGER NOT NULL
      ) STRICT`,
      `CREATE TABLE reservations (
        transfer_id TEXT PRIMARY KEY REFERENCES transfers (id),
        expires_at INTEGER NOT NULL
      ) STRICT`,
      `CREATE INDEX reservations_expiry ON reservations (expires_at)`,
      `CREATE TABLE postings (
        transfer_id TEXT NOT NULL REFERENCES transfers (id),
        account_id TEXT NOT NULL REFERENCES accounts (id),
        amount INTEGER NOT NULL CHECK (amount <> 0),
        pending INTEGER NOT NULL CHECK (pending IN (0, 1)),
        PRIMARY KEY (transfer_id, account_id)
      ) STRICT`,
      `CREATE INDEX postings_account ON postings (account_id, transfer_id)`,
      `CREATE TRIGGER transfers_append_only_update BEFORE UPDATE ON transfers
        BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END`,
      `CREATE TRIGGER transfers_append_only_delete BEFORE DELETE ON transfers
        BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END`,
      `CREATE TRIGGER postings_append_only_update BEFORE UPDATE ON postings
        BEGIN SELECT RAISE(ABORT, 'postings are append-only'); END`,
      `CREATE TRIGGER postings_append_only_delete BEFORE DELETE ON postings
        BEGIN SELECT RAISE(ABORT, 'postings are append-only'); END`,
    ],
    postgres: [
      `CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        owner_id TEXT,
        kind TEXT NOT NULL,
        allow_negative BOOLEAN NOT NULL,
        balance BIGINT NOT NULL DEFAULT 0,
        pending_debits BIGINT NOT NULL DEFAULT 0 CHECK (pending_debits >= 0),
        pending_credits BIGINT NOT NULL DEFAULT 0 CHECK (pending_credits >= 0),
        created_at BIGINT NOT NULL,
        CHECK (allow_negative OR balance - pending_debits >= 0)
      )`,
      `CREATE UNIQUE INDEX accounts_owner_kind ON accounts (coalesce(owner_id, ''), kind)`,
      `CREATE TABLE transfers (
        id TEXT PRIMARY KEY,
        code TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('posted', 'pending', 'post_pending', 'void_pending')),
        amount BIGINT NOT NULL CHECK (amount >= 0),
        idempotency_key TEXT NOT NULL UNIQUE,
        request_hash TEXT NOT NULL,
        pending_id TEXT UNIQUE REFERENCES transfers (id),
        metadata TEXT NOT NULL,
        expires_at BIGINT,
        created_at BIGINT NOT NULL
      )`,
      `CREATE TABLE reservations (
        transfer_id TEXT PRIMARY KEY REFERENCES transfers (id),
        expires_at BIGINT NOT NULL
      )`,
      `CREATE INDEX reservations_expiry ON reservations (expires_at)`,
      `CREATE TABLE postings (
        transfer_id TEXT NOT NULL REFERENCES transfers (id),
        account_id TEXT NOT NULL REFERENCES accounts (id),
        amount BIGINT NOT NULL CHECK (amount <> 0),
        pending BOOLEAN NOT NULL,
        PRIMARY KEY (transfer_id, account_id)
      )`,
      `CREATE INDEX postings_account ON postings (account_id, transfer_id)`,
      `CREATE FUNCTION diamonds_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$`,
      `CREATE TRIGGER transfers_append_only BEFORE UPDATE OR DELETE ON transfers
        FOR EACH ROW EXECUTE FUNCTION diamonds_append_only()`,
      `CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
        FOR EACH ROW EXECUTE FUNCTION diamonds_append_only()`,
    ],
  },
};

/**
 * People, sessions, sites and their keys, and the rate-limit counters.
 *
 * - `users.email` is stored lowercased and UNIQUE; the password only as an scrypt hash.
 * - `sessions.token_hash` and `site_keys.lookup` of secret keys are SHA-256 hashes: the
 *   database never holds a credential that could be replayed if it leaked. A publishable key is
 *   public, so it is its own lookup value.
 * - `connections` is a fan's consent to a site, with the daily spending allowance.
 */
function identityV2(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  return [
    `CREATE TABLE users (
      id TEXT PRIMARY KEY,
      email TEXT NOT NULL UNIQUE,
      password_hash TEXT NOT NULL,
      display_name TEXT NOT NULL,
      is_fan ${int} NOT NULL CHECK (is_fan IN (0, 1)),
      is_creator ${int} NOT NULL CHECK (is_creator IN (0, 1)),
      created_at ${int} NOT NULL
    )${strict}`,
    `CREATE TABLE sessions (
      token_hash TEXT PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users (id),
      csrf_token TEXT NOT NULL,
      created_at ${int} NOT NULL,
      expires_at ${int} NOT NULL,
      revoked_at ${int}
    )${strict}`,
    `CREATE INDEX sessions_user ON sessions (user_id)`,
    `CREATE TABLE sites (
      id TEXT PRIMARY KEY,
      owner_id TEXT NOT NULL REFERENCES users (id),
      name TEXT NOT NULL,
      origins TEXT NOT NULL,
      created_at ${int} NOT NULL
    )${strict}`,
    `CREATE INDEX sites_owner ON sites (owner_id)`,
    `CREATE TABLE site_keys (
      id TEXT PRIMARY KEY,
      site_id TEXT NOT NULL REFERENCES sites (id),
      kind TEXT NOT NULL CHECK (kind IN ('publishable', 'secret')),
      lookup TEXT NOT NULL UNIQUE,
      last4 TEXT NOT NULL,
      created_at ${int} NOT NULL,
      revoked_at ${int}
    )${strict}`,
    `CREATE INDEX site_keys_site ON site_keys (site_id)`,
    `CREATE TABLE connections (
      user_id TEXT NOT NULL REFERENCES users (id),
      site_id TEXT NOT NULL REFERENCES sites (id),
      allowance_per_day ${int} NOT NULL CHECK (allowance_per_day >= 0),
      created_at ${int} NOT NULL,
      updated_at ${int} NOT NULL,
      revoked_at ${int},
      PRIMARY KEY (user_id, site_id)
    )${strict}`,
    `CREATE TABLE rate_limits (
      bucket TEXT PRIMARY KEY,
      window_start ${int} NOT NULL,
      hits ${int} NOT NULL
    )${strict}`,
  ];
}

const identity: Migration = {
  version: 2,
  name: 'identity',
  statements: { sqlite: identityV2('sqlite'), postgres: identityV2('postgres') },
};

/**
 * Sign-in from a third-party page: PKCE sign-in requests and the tokens they turn into.
 *
 * - A request is approved or denied once (a conditional update from `pending`) and exchanged
 *   for tokens once (from `approved` to `consumed`).
 * - Tokens are stored as SHA-256 hashes, bound to a site and an origin, grouped in a family per
 *   sign-in so that reuse of a rotated refresh token can revoke the whole family.
 */
function signInV3(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  return [
    `CREATE TABLE signin_requests (
      id TEXT PRIMARY KEY,
      site_id TEXT NOT NULL REFERENCES sites (id),
      origin TEXT NOT NULL,
      code_challenge TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
      user_id TEXT REFERENCES users (id),
      created_at ${int} NOT NULL,
      expires_at ${int} NOT NULL,
      decided_at ${int},
      consumed_at ${int}
    )${strict}`,
    `CREATE TABLE tokens (
      token_hash TEXT PRIMARY KEY,
      kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
      family_id TEXT NOT NULL,
      user_id TEXT NOT NULL REFERENCES users (id),
      site_id TEXT NOT NULL REFERENCES sites (id),
      origin TEXT NOT NULL,
      created_at ${int} NOT NULL,
      expires_at ${int} NOT NULL,
      used_at ${int},
      revoked_at ${int}
    )${strict}`,
    `CREATE INDEX tokens_family ON tokens (family_id)`,
    `CREATE INDEX tokens_user_site ON tokens (user_id, site_id)`,
  ];
}

const signIn: Migration = {
  version: 3,
  name: 'signin',
  statements: { sqlite: signInV3('sqlite'), postgres: signInV3('postgres') },
};

/**
 * What each site spent from each fan's daily allowance, so the remaining allowance over a
 * rolling 24 hours can be computed (and enforced atomically by the money flows).
 */
function allowanceV4(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  return [
    `CREATE TABLE allowance_spends (
      reference TEXT PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users (id),
      site_id TEXT NOT NULL REFERENCES sites (id),
      amount ${int} NOT NULL CHECK (amount > 0),
      created_at ${int} NOT NULL
    )${strict}`,
    `CREATE INDEX allowance_spends_window ON allowance_spends (user_id, site_id, created_at)`,
  ];
}

const allowance: Migration = {
  version: 4,
  name: 'allowance',
  statements: { sqlite: allowanceV4('sqlite'), postgres: allowanceV4('postgres') },
};

/**
 * Exchange rates and the quotes that lock them.
 *
 * - `rates` is the full history: one row per currency and `effective_at`, never changed; the
 *   rate in force at a time is the row with the latest `effective_at` not after it.
 * - `quotes` holds each quoted price in minor units, so a purchase pays what the fan was shown;
 *   `used_at` is set once, by a conditional update, when a purchase redeems it.
 */
function ratesV5(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  return [
    `CREATE TABLE rates (
      currency TEXT NOT NULL,
      price_minor_per_1000 ${int} NOT NULL CHECK (price_minor_per_1000 >= 1),
      payout_minor_per_1000 ${int} NOT NULL CHECK (payout_minor_per_1000 >= 0),
      effective_at ${int} NOT NULL,
      created_at ${int} NOT NULL,
      PRIMARY KEY (currency, effective_at)
    )${strict}`,
    `CREATE TABLE quotes (
      id TEXT PRIMARY KEY,
      diamonds ${int} NOT NULL CHECK (diamonds > 0),
      currency TEXT NOT NULL,
      amount_minor ${int} NOT NULL CHECK (amount_minor >= 0),
      fee_minor ${int} NOT NULL CHECK (fee_minor >= 0),
      rate_effective_at ${int} NOT NULL,
      created_at ${int} NOT NULL,
      expires_at ${int} NOT NULL,
      used_at ${int}
    )${strict}`,
  ];
}

const rates: Migration = {
  version: 5,
  name: 'rates',
  statements: { sqlite: ratesV5('sqlite'), postgres: ratesV5('postgres') },
};

/**
 * The allowance check sums a fan's spends on a site in the last 24 hours on every spend: a
 * covering index answers it from the index alone, without reading each row.
 */
const allowanceCovering: Migration = {
  version: 11,
  name: 'allowance covering index',
  statements: {
    sqlite: [
      'CREATE INDEX allowance_spends_window_amount ON allowance_spends (user_id, site_id, created_at, amount)',
      'DROP INDEX allowance_spends_window',
    ],
    postgres: [
      'CREATE INDEX allowance_spends_window_amount ON allowance_spends (user_id, site_id, created_at) INCLUDE (amount)',
      'DROP INDEX allowance_spends_window',
    ],
  },
};

/**
 * A gift's lookup (id, active, name, price) without reading its row: the row holds the SVG art,
 * several KB in overflow pages that SQLite would walk to reach the columns stored after it.
 */
const giftLookupCovering: Migration = {
  version: 12,
  name: 'gift lookup covering index',
  statements: {
    sqlite: ['CREATE INDEX gift_types_lookup ON gift_types (id, active, name, price_diamonds)'],
    postgres: ['CREATE INDEX gift_types_lookup ON gift_types (id, active) INCLUDE (name, price_diamonds)'],
  },
};

/**
 * Sign-in bound to the browser window that opened it, and tokens bound to the browser (issue
 * 11): a sign-in request keeps the hash of the one-time code its popup hands to its opener, and
 * how many wrong codes were tried; tokens keep the thumbprint of the DPoP key they are bound to
 * and the end of their family (the sign-in), which rotation does not move. Tokens issued before
 * have neither and are refused: their fans sign in again.
 */
const signInBinding: Migration = {
  version: 14,
  name: 'sign-in code and DPoP-bound tokens',
  statements: {
    sqlite: [
      'ALTER TABLE signin_requests ADD COLUMN code_hash TEXT',
      'ALTER TABLE signin_requests ADD COLUMN code_attempts INTEGER NOT NULL DEFAULT 0',
      'ALTER TABLE tokens ADD COLUMN jkt TEXT',
      'ALTER TABLE tokens ADD COLUMN family_expires_at INTEGER',
    ],
    postgres: [
      'ALTER TABLE signin_requests ADD COLUMN code_hash TEXT',
      'ALTER TABLE signin_requests ADD COLUMN code_attempts INTEGER NOT NULL DEFAULT 0',
      'ALTER TABLE tokens ADD COLUMN jkt TEXT',
      'ALTER TABLE tokens ADD COLUMN family_expires_at BIGINT',
    ],
  },
};

/** Every migration, in order. Append new ones; never edit one that has shipped. */
export const MIGRATIONS: readonly Migration[] = [
  ledgerV1,
  identity,
  signIn,
  allowance,
  rates,
  moneyMigration,
  paymentsMigration,
  giftsMigration,
  contentMigration,
  ordersMigration,
  allowanceCovering,
  giftLookupCovering,
  siteCreatorsMigration,
  signInBinding,
  signupsMigration,
  eventsMigration,
  webhooksMigration,
  emailTokensMigration,
  earningsMigration,
  payoutsMigration,
  disputesMigration,
  liveMigration,
  overlayMigration,
  fundMigration,
  collabsMigration,
  boostsMigration,
  dpopReplaysMigration,
  pgSpendMigration,
  allowanceRunningTotalsMigration,
  confirmationOriginMigration,
];

/** The schema version this build expects. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

/** An arbitrary constant: the advisory lock that serialises migrations across processes. */
const MIGRATION_LOCK_ID = 72_617_001;

async function appliedVersion(tx: SqlClient): Promise<number> {
  const rows = await tx.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
  return Number(rows[0]?.version ?? 0);
}

/** The schema version the database is at (0 for an empty database). Reads only. */
export async function schemaVersion(db: SqlClient): Promise<number> {
  const table =
    db.kind === 'sqlite'
      ? await db.query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`)
      : await db.query(`SELECT to_regclass('schema_migrations') AS name WHERE to_regclass('schema_migrations') IS NOT NULL`);
  return table.length === 0 ? 0 : appliedVersion(db);
}

/**
 * Brings the database to the latest schema, one transaction per migration.
 *
 * @remarks Safe to run from several processes at once: PostgreSQL takes an advisory lock,
 * SQLite's `BEGIN IMMEDIATE` takes the write lock, and each checks the version again inside.
 * @returns The versions applied by this call (empty when the schema was already current).
 */
export async function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  await db.transaction(async (tx) => {
    if (tx.kind === 'postgres') await tx.run('SET LOCAL lock_timeout = 0');
    if (tx.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_ID]);
    await tx.run(CREATE_MIGRATIONS_TABLE);
  });
  for (const migration of migrations) {
    await db.transaction(async (tx) => {
      // A migration may outlast the pool's statement and lock timeouts (see db/postgres.ts), and
      // another process may wait that long for its lock: neither should fail the start.
      if (tx.kind === 'postgres') await tx.run('SET LOCAL statement_timeout = 0');
      if (tx.kind === 'postgres') await tx.run('SET LOCAL lock_timeout = 0');
      if (tx.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_ID]);
      if ((await appliedVersion(tx)) >= migration.version) return;
      for (const statement of migration.statements[tx.kind]) await tx.run(statement);
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        migration.version,
        migration.name,
        Date.now(),
      ]);
      applied.push(migration.version);
    });
  }
  return applied;
}
