import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { main } from '../cli.js';
import { MAX_WORKERS, workerCount } from './workers.js';

const PG = 'postgres://diamonds@127.0.0.1/diamonds';

describe('DIAMONDS_WORKERS', () => {
  it('is 1 unless asked; a whole number or auto on PostgreSQL', () => {
    assert.equal(workerCount({}, undefined), 1);
    assert.equal(workerCount({ DIAMONDS_WORKERS: '' }, undefined), 1);
    assert.equal(workerCount({ DIAMONDS_WORKERS: '1' }, undefined), 1);
    assert.equal(workerCount({ DIAMONDS_WORKERS: ' 3 ' }, PG), 3);
    assert.equal(workerCount({ DIAMONDS_WORKERS: String(MAX_WORKERS) }, PG), MAX_WORKERS);
    assert.equal(workerCount({ DIAMONDS_WORKERS: 'auto' }, PG), Math.min(MAX_WORKERS, availableParallelism()));
  });

  it('refuses what is not a count, and more than one process on SQLite, saying why', () => {
    for (const bad of ['0', '-2', '1.5', 'two', String(MAX_WORKERS + 1), '2x']) {
      assert.throws(() => workerCount({ DIAMONDS_WORKERS: bad }, PG), /DIAMONDS_WORKERS is a whole number of processes from 1 to 64/, bad);
    }
    assert.throws(() => workerCount({ DIAMONDS_WORKERS: '2' }, undefined), /DIAMONDS_WORKERS=2 needs PostgreSQL: set DATABASE_URL/);
  });

  it('diamonds start refuses several workers on SQLite before opening anything', async () => {
    const saved = { workers: process.env.DIAMONDS_WORKERS, url: process.env.DATABASE_URL };
    process.env.DIAMONDS_WORKERS = '2';
    process.env.DATABASE_URL = '';
    try {
      await assert.rejects(main(['start']), /needs PostgreSQL/);
    } finally {
      if (saved.workers === undefined) delete process.env.DIAMONDS_WORKERS;
      else process.env.DIAMONDS_WORKERS = saved.workers;
      if (saved.url === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved.url;
    }
  });
});
