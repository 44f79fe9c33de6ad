import type { Migration } from '../db/migrations.js';

/** Migration 10: the orders tables. (Placeholder: the orders work fills in the statements.) */
export const ordersMigration: Migration = {
  version: 10,
  name: 'orders',
  statements: { sqlite: [], postgres: [] },
};
