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

  it('keeps ids made in the same millisecond in the order they were made, and unpredictable', () => {
    const ids = Array.from({ length: 1_000 }, () => newId('txn', 5_000));
    assert.deepEqual([...ids].sort(), ids, 'sorted as made');
    // The step from one id to the next is random, so a neighbour does not give the next id away.
    const low = (id: string) => [...id.slice(-7)].reduce((n, c) => n * 32 + '0123456789ABCDEFGHJKMNPQRSTVWXYZ'.indexOf(c), 0);
    const steps = new Set(ids.slice(1).map((id, i) => (low(id) - low(ids[i]!) + 32 ** 7) % 32 ** 7));
    assert.ok(steps.size > 900, `${steps.size} distinct steps`);
    assert.equal(new Set(ids).size, ids.length);
  });
});
