import type { Migration } from '../db/migrations.js';

/** Migration 7: the payments tables. (Placeholder: the payments work fills in the statements.) */
export const paymentsMigration: Migration = {
  version: 7,
  name: 'payments',
  statements: { sqlite: [], postgres: [] },
};
