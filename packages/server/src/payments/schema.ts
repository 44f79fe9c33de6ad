import type { DatabaseKind } from '../db/types.js';
import type { Migration } from '../db/migrations.js';

/**
 * Top-ups and the payment providers' events.
 *
 * - `topups` is one purchase of Diamonds at the price of one quote (`quote_id` is UNIQUE: a
 *   quote pays for one top-up at most). The price is copied from the quote so a provider's
 *   report can be checked against it. `transfer_id` is the ledger transfer that credited the
 *   wallet, set in the same transaction as `status = 'succeeded'` (the CHECK ties the two).
 *   `provider_ref` is the provider's own id (a Stripe Checkout Session).
 * - `payment_events` holds every provider event processed, by the provider's event id: the
 *   primary key, not a read-then-write race, makes a redelivered event move nothing.
 */
function paymentsV7(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  return [
    `CREATE TABLE topups (
      id TEXT PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users (id),
      site_id TEXT NOT NULL REFERENCES sites (id),
      quote_id TEXT NOT NULL UNIQUE REFERENCES quotes (id),
      provider TEXT NOT NULL CHECK (provider IN ('test', 'stripe')),
      diamonds ${int} NOT NULL CHECK (diamonds > 0),
      currency TEXT NOT NULL,
      amount_minor ${int} NOT NULL CHECK (amount_minor >= 0),
      status TEXT NOT NULL CHECK (status IN ('requires_payment', 'requires_action', 'succeeded', 'failed')),
      failure_code TEXT,
      payment_url TEXT,
      provider_ref TEXT,
      transfer_id TEXT REFERENCES transfers (id),
      created_at ${int} NOT NULL,
      updated_at ${int} NOT NULL,
      CHECK ((status = 'succeeded') = (transfer_id IS NOT NULL)),
      CHECK ((status = 'failed') = (failure_code IS NOT NULL))
    )${strict}`,
    `CREATE INDEX topups_user ON topups (user_id, id)`,
    `CREATE UNIQUE INDEX topups_provider_ref ON topups (provider, provider_ref) WHERE provider_ref IS NOT NULL`,
    `CREATE TABLE payment_events (
      provider TEXT NOT NULL,
      event_id TEXT NOT NULL,
      type TEXT NOT NULL,
      topup_id TEXT,
      outcome TEXT NOT NULL,
      received_at ${int} NOT NULL,
      PRIMARY KEY (provider, event_id)
    )${strict}`,
  ];
}

/** Migration 7: top-ups and the payment providers' processed events. */
export const paymentsMigration: Migration = {
  version: 7,
  name: 'payments',
  statements: { sqlite: paymentsV7('sqlite'), postgres: paymentsV7('postgres') },
};
