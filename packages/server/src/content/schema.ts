import type { Migration } from '../db/migrations.js';

/** Migration 9: the content tables. (Placeholder: the content work fills in the statements.) */
export const contentMigration: Migration = {
  version: 9,
  name: 'content',
  statements: { sqlite: [], postgres: [] },
};
