import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpendKind } from '@diamonds/protocol';
import { platformMoney, platformMoneyFeatures } from '../features.js';
import { createTestDatabase } from '../testing/databases.js';
import { GroupCommit } from '../ledger/group-commit.js';
import { Ledger } from '../ledger/ledger.js';
import { MoneyRegistry, moneyOperation } from './operations.js';
import { inlineMoneyWriter } from './writer.js';

describe('the money registry', () => {
  it('holds every operation of the platform once, and a settlement for every kind of spend', () => {
    const registry = platformMoney();
    const names = registry.operationNames();
    assert.equal(new Set(names).size, names.length);
    for (const expected of [
      'gifts.send',
      'content.unlock',
      'orders.pay',
      'orders.refund',
      'confirmations.decide',
      'confirmations.expire',
    ]) {
      assert.ok(names.includes(expected), `${expected} is registered`);
    }
    assert.ok(names.includes('topups.applyPaymentReport') && names.includes('reservations.expire'));
    const money = registry.contextFor(undefined as never);
    for (const kind of SpendKind.options) assert.doesNotThrow(() => money.settlementOf(kind), `a settlement for ${kind}`);
  });

  it('refuses two features registering the same operation or the same kind of spend', () => {
    const twice = moneyOperation('test.twice', async () => 1);
    assert.throws(
      () =>
        new MoneyRegistry([
          { name: 'a', operations: [twice] },
          { name: 'b', operations: [twice] },
        ]),
      /test\.twice is registered twice \(again by b\)/,
    );
    const [gifts] = platformMoneyFeatures.filter((feature) => feature.name === 'gifts');
    assert.throws(
      () => new MoneyRegistry([gifts!, { name: 'copy', operations: [], settlements: gifts!.settlements }]),
      /gift is settled by two features/,
    );
  });

  it('fails loudly, and writes nothing, for an operation or a settlement nobody registered', async () => {
    const t = await createTestDatabase('sqlite');
    try {
      const ledger = new Ledger(t.db);
      const registry = new MoneyRegistry([]);
      const writer = inlineMoneyWriter(registry, ledger, new GroupCommit(ledger));
      const forgotten = moneyOperation('test.forgotten', async (tx) => tx.run(`INSERT INTO api_requests VALUES ('s', 'k', 'h', 0, '', 0)`));
      await assert.rejects(writer.run(forgotten, {}), /test\.forgotten is not registered: add its feature to platformMoneyFeatures/);
      assert.deepEqual(await t.db.query('SELECT * FROM api_requests'), []);
      assert.throws(() => registry.contextFor(ledger).settlementOf('gift'), /No feature settles spends of kind gift/);
    } finally {
      await t.drop();
    }
  });
});
