import type { DatabaseKind } from '../db/types.js';
import type { Migration } from '../db/migrations.js';

function fundV25(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  return [
    // One row per period. The id is its label (`2026-12`, or `from..to` in ISO): the operator
    // names periods, and there are a dozen a year. Periods never overlap (checked when one opens,
    // under a lock), so a spend belongs to at most one.
    `CREATE TABLE fund_periods (
      id TEXT PRIMARY KEY,
      starts_at ${int} NOT NULL,
      ends_at ${int} NOT NULL,
      pool ${int} NOT NULL CHECK (pool > 0),
      status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
      open_transfer_id TEXT NOT NULL REFERENCES transfers (id),
      returned ${int} CHECK (returned IS NULL OR returned >= 0),
      return_transfer_id TEXT REFERENCES transfers (id),
      total_score ${int},
      created_at ${int} NOT NULL,
      closed_at ${int},
      CHECK (ends_at > starts_at)
    )${strict}`,
    `CREATE INDEX fund_periods_starts ON fund_periods (starts_at)`,
    // The breakdown of a closed period, per creator who scored (qualified or not): what the
    // dashboard shows after the close. amount is 0 for a creator below the minimum.
    `CREATE TABLE fund_payments (
      period_id TEXT NOT NULL REFERENCES fund_periods (id),
      creator_id TEXT NOT NULL REFERENCES users (id),
      supporters ${int} NOT NULL,
      unlocks ${int} NOT NULL,
      gifts ${int} NOT NULL,
      raw_points ${int} NOT NULL,
      score ${int} NOT NULL,
      amount ${int} NOT NULL CHECK (amount >= 0),
      transfer_id TEXT REFERENCES transfers (id),
      PRIMARY KEY (period_id, creator_id)
    )${strict}`,
    `CREATE INDEX fund_payments_creator ON fund_payments (creator_id, period_id)`,
  ];
}

/** Migration 25: creator fund periods and their payments (issue 16). */
export const fundMigration: Migration = {
  version: 25,
  name: 'creator fund',
  statements: { sqlite: fundV25('sqlite'), postgres: fundV25('postgres') },
};
