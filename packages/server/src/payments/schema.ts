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

/**
 * Disputes and refunds of top-ups (issue 14).
 *
 * - `payment_refs` maps the provider's ids of a top-up's payment (Stripe's PaymentIntent
 *   `pi_…` and Charge `ch_…`, recorded from the events that credit it) to the top-up: a dispute
 *   or a refund names only those.
 * - `topup_reversals` is the one reversal a top-up can have (its id is the key: a second
 *   dispute, refund or redelivery of either finds it and moves nothing): how many Diamonds came
 *   out of the wallet, how many became the fan's debt, how many of those the reversed spends
 *   gave back, and the ledger transfer.
 * - `topup_reversal_spends` lists the spends the reversal took as paid with the disputed
 *   Diamonds (`covered`), and what was taken back from each (`reversed`, 0 when its earnings
 *   were already available): a later reversal counts only what no earlier one covered.
 */
function disputesV22(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  return [
    `CREATE TABLE payment_refs (
      provider TEXT NOT NULL,
      ref TEXT NOT NULL,
      topup_id TEXT NOT NULL REFERENCES topups (id),
      PRIMARY KEY (provider, ref)
    )${strict}`,
    `CREATE TABLE topup_reversals (
      topup_id TEXT PRIMARY KEY REFERENCES topups (id),
      user_id TEXT NOT NULL REFERENCES users (id),
      reason TEXT NOT NULL CHECK (reason IN ('dispute', 'refund')),
      source TEXT NOT NULL,
      provider_event_id TEXT,
      amount ${int} NOT NULL CHECK (amount > 0),
      from_wallet ${int} NOT NULL CHECK (from_wallet >= 0),
      to_debt ${int} NOT NULL CHECK (to_debt >= 0),
      reversed ${int} NOT NULL CHECK (reversed >= 0),
      transfer_id TEXT NOT NULL REFERENCES transfers (id),
      created_at ${int} NOT NULL,
      CHECK (from_wallet + to_debt = amount),
      CHECK (reversed <= to_debt)
    )${strict}`,
    `CREATE INDEX topup_reversals_user ON topup_reversals (user_id, created_at)`,
    `CREATE TABLE topup_reversal_spends (
      topup_id TEXT NOT NULL REFERENCES topup_reversals (topup_id),
      spend_transfer_id TEXT NOT NULL REFERENCES transfers (id),
      covered ${int} NOT NULL CHECK (covered > 0),
      reversed ${int} NOT NULL CHECK (reversed >= 0 AND reversed <= covered),
      transfer_id TEXT REFERENCES transfers (id),
      PRIMARY KEY (topup_id, spend_transfer_id)
    )${strict}`,
    `CREATE INDEX topup_reversal_spends_spend ON topup_reversal_spends (spend_transfer_id)`,
  ];
}

/** Migration 22: disputes and refunds of top-ups, and the provider ids they name. */
export const disputesMigration: Migration = {
  version: 22,
  name: 'top-up disputes',
  statements: { sqlite: disputesV22('sqlite'), postgres: disputesV22('postgres') },
};
