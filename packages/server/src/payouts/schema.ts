import type { DatabaseKind } from '../db/types.js';
import type { Migration } from '../db/migrations.js';

function payoutsV21(kind: DatabaseKind): string[] {
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  return [
    // One way to be paid per creator: the test provider (with the behaviour of its test bank
    // account) or a Stripe Connect Express account, ready once the provider says payouts may go.
    `CREATE TABLE payout_methods (
      creator_id TEXT PRIMARY KEY,
      provider TEXT NOT NULL CHECK (provider IN ('test', 'stripe')),
      test_behaviour TEXT CHECK (test_behaviour IN ('pays', 'fails', 'needs_verification')),
      account_ref TEXT,
      status TEXT NOT NULL CHECK (status IN ('pending', 'ready')),
      currency TEXT NOT NULL,
      automatic ${int} NOT NULL DEFAULT 0,
      created_at ${int} NOT NULL,
      updated_at ${int} NOT NULL
    )${strict}`,
    'CREATE UNIQUE INDEX payout_methods_account ON payout_methods (account_ref) WHERE account_ref IS NOT NULL',
    'CREATE INDEX payout_methods_automatic ON payout_methods (creator_id) WHERE automatic = 1',
    `CREATE TABLE payout_quotes (
      id TEXT PRIMARY KEY,
      creator_id TEXT NOT NULL,
      diamonds ${int} NOT NULL,
      currency TEXT NOT NULL,
      amount_minor ${int} NOT NULL,
      rate_effective_at ${int} NOT NULL,
      created_at ${int} NOT NULL,
      expires_at ${int} NOT NULL,
      used_at ${int}
    )${strict}`,
    'CREATE INDEX payout_quotes_creator ON payout_quotes (creator_id, created_at)',
    `CREATE TABLE payouts (
      id TEXT PRIMARY KEY,
      creator_id TEXT NOT NULL,
      quote_id TEXT UNIQUE,
      diamonds ${int} NOT NULL,
      currency TEXT NOT NULL,
      amount_minor ${int} NOT NULL,
      provider TEXT NOT NULL CHECK (provider IN ('test', 'stripe')),
      account_ref TEXT,
      test_behaviour TEXT,
      status TEXT NOT NULL CHECK (status IN ('in_transit', 'paid', 'failed', 'canceled')),
      automatic_week TEXT,
      provider_ref TEXT,
      submitted_at ${int},
      submit_attempts ${int} NOT NULL DEFAULT 0,
      next_submit_at ${int},
      last_error TEXT,
      failure_code TEXT,
      failure_message TEXT,
      transfer_id TEXT NOT NULL,
      created_at ${int} NOT NULL,
      settled_at ${int}
    )${strict}`,
    // One payout in flight per creator, decided by the database whatever the races.
    `CREATE UNIQUE INDEX payouts_one_in_flight ON payouts (creator_id) WHERE status = 'in_transit'`,
    'CREATE UNIQUE INDEX payouts_automatic_week ON payouts (creator_id, automatic_week) WHERE automatic_week IS NOT NULL',
    'CREATE UNIQUE INDEX payouts_provider_ref ON payouts (provider, provider_ref) WHERE provider_ref IS NOT NULL',
    'CREATE INDEX payouts_creator ON payouts (creator_id, id)',
    `CREATE INDEX payouts_to_submit ON payouts (next_submit_at) WHERE status = 'in_transit' AND submitted_at IS NULL`,
  ];
}

/** Migration 21: payout methods, locked payout quotes and payouts (issue 14). */
export const payoutsMigration: Migration = {
  version: 21,
  name: 'payouts',
  statements: { sqlite: payoutsV21('sqlite'), postgres: payoutsV21('postgres') },
};
