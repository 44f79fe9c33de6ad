import type { DatabaseKind } from '../db/types.js';
import type { Migration } from '../db/migrations.js';

/**
 * What every money flow shares.
 *
 * - `api_requests` remembers each money-moving request by its `Idempotency-Key`, per caller
 *   (`scope`): the first response is stored in the transaction that did the work, so a retry
 *   gets the same answer and moves nothing. The primary key, not a read-then-write race,
 *   decides which of two concurrent requests with one key runs.
 * - `confirmations` are spends beyond the fan's allowance: the Diamonds are held by a ledger
 *   reservation (`transfer_id`) until the fan approves, declines, or the time runs out.
 * - `signing_keys` sign receipts; retired keys stay published so old receipts still verify.
 * - `creator_support` is the running total of Diamonds each fan has gifted each creator (posted
 *   gifts only), kept in the transaction that posts the gift: what support thresholds read.
 */
function moneyV6(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  return [
    `CREATE TABLE api_requests (
      scope TEXT NOT NULL,
      idempotency_key TEXT NOT NULL,
      request_hash TEXT NOT NULL,
      status ${int} NOT NULL,
      body TEXT NOT NULL,
      created_at ${int} NOT NULL,
      PRIMARY KEY (scope, idempotency_key)
    )${strict}`,
    `CREATE TABLE confirmations (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      subject_id TEXT NOT NULL,
      user_id TEXT NOT NULL REFERENCES users (id),
      site_id TEXT NOT NULL REFERENCES sites (id),
      recipient_id TEXT NOT NULL,
      amount ${int} NOT NULL CHECK (amount > 0),
      description TEXT NOT NULL,
      reservation_id TEXT NOT NULL UNIQUE REFERENCES transfers (id),
      transfer_id TEXT,
      status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'declined', 'expired')),
      created_at ${int} NOT NULL,
      expires_at ${int} NOT NULL,
      decided_at ${int}
    )${strict}`,
    `CREATE INDEX confirmations_due ON confirmations (expires_at) WHERE status = 'pending'`,
    `CREATE INDEX confirmations_user ON confirmations (user_id, id)`,
    `CREATE TABLE creator_support (
      user_id TEXT NOT NULL,
      creator_id TEXT NOT NULL,
      gifted ${int} NOT NULL CHECK (gifted >= 0),
      updated_at ${int} NOT NULL,
      PRIMARY KEY (user_id, creator_id)
    )${strict}`,
    `CREATE TABLE signing_keys (
      kid TEXT PRIMARY KEY,
      algorithm TEXT NOT NULL,
      private_jwk TEXT NOT NULL,
      public_jwk TEXT NOT NULL,
      created_at ${int} NOT NULL,
      retired_at ${int}
    )${strict}`,
  ];
}

/**
 * Migration 31: a confirmation keeps the origin of the page that asked for the spend, so the
 * confirmation page names that page (`https://shop.example`) rather than every origin the
 * site allows (`https://*.example`). Empty for confirmations made before it, and for spends not
 * asked by a page.
 */
export const confirmationOriginMigration: Migration = {
  version: 31,
  name: 'confirmations remember the asking page',
  statements: {
    sqlite: ['ALTER TABLE confirmations ADD COLUMN origin TEXT'],
    postgres: ['ALTER TABLE confirmations ADD COLUMN origin TEXT'],
  },
};

/** Migration 6: idempotent API requests, confirmations and receipt signing keys. */
export const moneyMigration: Migration = {
  version: 6,
  name: 'money',
  statements: { sqlite: moneyV6('sqlite'), postgres: moneyV6('postgres') },
};
