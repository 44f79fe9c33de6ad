import type { DatabaseKind } from '../db/types.js';
import type { Migration } from '../db/migrations.js';

function collabsV26(kind: DatabaseKind): string[] {
  const int = kind === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const strict = kind === 'sqlite' ? ' STRICT' : '';
  return [
    // One row per (owner, collaborator): a new invitation after a decline, a leave or a removal
    // reuses the row, so "may this creator be named in my splits?" is one primary-key read.
    `CREATE TABLE collaborations (
      owner_id TEXT NOT NULL REFERENCES users (id),
      collaborator_id TEXT NOT NULL REFERENCES users (id),
      status TEXT NOT NULL CHECK (status IN ('invited', 'accepted', 'declined', 'left', 'removed')),
      invited_at ${int} NOT NULL,
      decided_at ${int},
      PRIMARY KEY (owner_id, collaborator_id),
      CHECK (owner_id <> collaborator_id)
    )${strict}`,
    `CREATE INDEX collaborations_collaborator ON collaborations (collaborator_id, owner_id)`,
    // Every version of every split, kept forever: a spend records the version it used. shares is
    // the JSON list [{creatorId, shareBps}] in split order (immutable once written); the current
    // version is the one not ended.
    `CREATE TABLE collab_splits (
      item_kind TEXT NOT NULL CHECK (item_kind IN ('content', 'product', 'live')),
      item_id TEXT NOT NULL,
      version ${int} NOT NULL CHECK (version >= 1),
      owner_id TEXT NOT NULL REFERENCES users (id),
      shares TEXT NOT NULL,
      created_at ${int} NOT NULL,
      ended_at ${int},
      PRIMARY KEY (item_kind, item_id, version)
    )${strict}`,
    `CREATE UNIQUE INDEX collab_splits_current ON collab_splits (item_kind, item_id) WHERE ended_at IS NULL`,
    `CREATE INDEX collab_splits_owner ON collab_splits (owner_id, item_kind) WHERE ended_at IS NULL`,
    // One row per spend on a split item, keyed by the spend's transfer (for a held spend: its
    // reservation, which its events name): the parts each party's earnings got (JSON
    // [{creatorId, netDiamonds}], summing to net) and the split versions used (JSON).
    `CREATE TABLE collab_spends (
      transfer_id TEXT PRIMARY KEY REFERENCES transfers (id),
      kind TEXT NOT NULL,
      subject_id TEXT NOT NULL,
      site_id TEXT NOT NULL,
      fan_id TEXT NOT NULL,
      owner_id TEXT NOT NULL,
      amount ${int} NOT NULL CHECK (amount > 0),
      net ${int} NOT NULL CHECK (net >= 0),
      parts TEXT NOT NULL,
      splits TEXT NOT NULL,
      created_at ${int} NOT NULL
    )${strict}`,
  ];
}

/** Migration 26: collaborations, versioned splits and the parts each split spend paid (issue 16). */
export const collabsMigration: Migration = {
  version: 26,
  name: 'collaboration splits',
  statements: { sqlite: collabsV26('sqlite'), postgres: collabsV26('postgres') },
};
