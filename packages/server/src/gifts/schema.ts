import type { Migration } from '../db/migrations.js';

/** Migration 8: the gifts tables. (Placeholder: the gifts work fills in the statements.) */
export const giftsMigration: Migration = {
  version: 8,
  name: 'gifts',
  statements: { sqlite: [], postgres: [] },
};
