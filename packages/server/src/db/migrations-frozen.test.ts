import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { MIGRATIONS } from './migrations.js';

/**
 * Each released migration's statements, hashed. A database migrated once never runs a
 * migration again, so changing a released one would leave old and new databases with different
 * schemas: a change goes in a new migration. A new migration is added here once released.
 */
const RELEASED: ReadonlyArray<readonly [version: number, hash: string]> = [
  [1, 'Y5k1q0PTWmThoMRmXfO-1Y'], // ledger
  [2, 'tVGtwJBlf68xFikQcWTJgk'], // identity
  [3, 'xa7t6kHGrR2usECE_F_4pr'], // signin
  [4, 'mEwtUd7Z3CaepHjDtGG_T0'], // allowance
  [5, 'l6CnmvZapjsuexUbExrAXz'], // rates
  [6, 'TXsj8km-5I1XK50HXPP7wE'], // money
  [7, 'UWMaQkBdq2SaWpQEELtASS'], // payments
  [8, 'ucFx9UqDwcyz0xMC1DGl-5'], // gifts (with the built-in gifts as they were then)
  [9, '9ubGYxYoYweDMsrQnlD2kP'], // content
  [10, 'ZEFzuIgTwUtDV4yZCYOUy0'], // orders
  [11, 'BznlA9OjjLXAm3PmZrCKwZ'], // allowance covering index
  [12, 'QkRBYJlEzMJ0tITaak8g__'], // gift lookup covering index
  [13, 'TyUzRMMKqwu3kpOA2xDRdd'], // site creators
  [14, 'eXEc0Bu5gQwnQP4bFNpYAu'], // sign-in code and DPoP-bound tokens
  [16, 'HzlT3PVXX0H6i4wlhHKSIH'], // sign-ups waiting for their emailed code
  [17, '8uYhuVcJbLHOiowkbe-M4y'], // the outbox of money events
  [18, 'mZaco7BTwz0ARRZ_W9h3UE'], // webhook endpoints and deliveries
  [19, 'N-p0HOVW5ygQEmHYmouiM7'], // one-time email links and verified addresses
  [20, 'sVC0hxbZn-qJPYDmma4tKp'], // earnings aggregates
  [21, 'alcKUIdIgy-UZEY8uAXmsa'], // payout methods, quotes and payouts
  [22, '2QkKvm06GUzvXkS8O5ggFf'], // top-up disputes and refunds
  [23, 'mmdSHj89iphfzmRTWPrMQF'], // live gifting
  [24, 'JNQ6pg7y79rnhqAlfyuuh_'], // live overlay: when it was last connected
  [25, 'KxesoWFUK9CRPgmM3CR1th'], // creator fund periods and payments
  [26, 'zIz6Nm8yerEWIRxd-VrC2r'], // collaboration splits
  [27, 'zTGfdg1XipR1L0mEFOUvOI'], // boosts, their counted views and click attributions
  [28, 'J3cpFDe8uBAARqz6g0MJTe'], // DPoP proofs seen, shared by processes
  [29, 'sx3z2ShJ_B2iiiXh22MiCP'], // a spend in one round trip on PostgreSQL
  [30, 'L7ppv3hdUq6mJ_NCkclsWN'], // allowance running totals
];

describe('migrations', () => {
  it('are frozen once released: the same statements, whatever live code (such as the gift catalog) became', () => {
    for (const [version, hash] of RELEASED) {
      const migration = MIGRATIONS.find((m) => m.version === version);
      assert.ok(migration, `migration ${version} is still there`);
      const actual = createHash('sha256').update(JSON.stringify(migration.statements)).digest('base64url').slice(0, 22);
      assert.equal(actual, hash, `migration ${version} (${migration.name}) changed: add a new migration instead`);
    }
  });

  it('run in ascending version order, each version once', () => {
    const versions = MIGRATIONS.map((m) => m.version);
    assert.deepEqual(
      versions,
      [...versions].sort((a, b) => a - b),
    );
    assert.equal(new Set(versions).size, versions.length);
  });
});
