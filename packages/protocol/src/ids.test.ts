import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isId, newId } from './ids.js';

describe('newId', () => {
  it('makes well-formed, distinct ids across many refills of its random pool', () => {
    const ids = new Set<string>();
    // 256 ids use one 4 KB pool: 2,000 ids cross several refills.
    for (let i = 0; i < 2_000; i++) {
      const id = newId('gift');
      assert.ok(isId('gift', id), id);
      ids.add(id.slice('gift_'.length + 10));
    }
    assert.equal(ids.size, 2_000, 'the random parts never repeat');
  });

  it('keeps the time first, so ids sort by creation', () => {
    const early = newId('txn', 1_000);
    const late = newId('txn', 2_000);
    assert.ok(early < late);
  });
});
