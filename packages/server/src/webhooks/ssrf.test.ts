import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';
import { createEndpoint, deleteEndpoint, listDeliveries } from './endpoints.js';
import { isPublicAddress, resolveTarget, type Resolver } from './ssrf.js';
import { eventually, startReceiver, type WebhookReceiver } from './testing.js';

describe('webhook SSRF rules', () => {
  it('refuses loopback, private, link-local, CGNAT, multicast, unspecified and metadata addresses, v4 and v6', () => {
    for (const address of [
      '127.0.0.1',
      '127.255.0.9',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '0:0:0:0:0:ffff:a00:1',
      '::ffff:169.254.169.254',
      'fe80::1',
      'fd00:ec2::254',
      'fc00::1',
      'ff02::1',
      '64:ff9b::7f00:1',
      '[::1]',
      'localhost',
      'not an address',
    ]) {
      assert.equal(isPublicAddress(address), false, address);
    }
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8', '172.32.0.1', '100.128.0.1']) {
      assert.equal(isPublicAddress(address), true, address);
    }
  });

  it('checks every address a name resolves to in production, and nothing in development', async () => {
    const resolver: Resolver = async (name) =>
      name === 'rebind.example'
        ? [
            { address: '93.184.216.34', family: 4 },
            { address: '127.0.0.1', family: 4 },
          ]
        : [{ address: '93.184.216.34', family: 4 }];
    await assert.rejects(resolveTarget('rebind.example', true, resolver), { name: 'BlockedAddressError' });
    await assert.rejects(resolveTarget('localhost', true, resolver), { name: 'BlockedAddressError' });
    await assert.rejects(resolveTarget('[::ffff:127.0.0.1]', true, resolver), { name: 'BlockedAddressError' });
    assert.deepEqual(await resolveTarget('shop.example', true, resolver), { address: '93.184.216.34', family: 4 });
    assert.deepEqual(await resolveTarget('rebind.example', false, resolver), { address: '93.184.216.34', family: 4 });
  });
});

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`webhook SSRF at delivery time on ${kind}, against a real listener`, { skip }, () => {
    let h: MoneyHarness;
    let receiver: WebhookReceiver;
    let fan: TestFan;
    before(async () => {
      receiver = await startReceiver('127.0.0.1');
      // Names a site could point at this machine; the rest resolve as the system says.
      const resolver: Resolver = async (name) => {
        if (name === 'loopback.evil.example') return [{ address: '127.0.0.1', family: 4 }];
        if (name === 'rebind.evil.example') {
          return [
            { address: '93.184.216.34', family: 4 },
            { address: '127.0.0.1', family: 4 },
          ];
        }
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      };
      h = await startMoneyHarness(kind, { webhooks: { production: true, resolver, timeoutMs: 2000, pollIntervalMs: 50 } });
      fan = await h.fan({ allowance: 10_000, balance: 10_000 });
    });
    after(async () => {
      await h?.close();
      await receiver?.close();
    });

    it('production refuses every local target: the listener receives nothing, and the reason is recorded', async () => {
      const port = receiver.port;
      const targets = [
        `http://127.0.0.1:${port}/a`,
        `http://10.0.0.1:${port}/b`,
        `http://169.254.169.254:${port}/latest/meta-data`,
        `http://[::1]:${port}/c`,
        `http://[::ffff:127.0.0.1]:${port}/d`,
        `http://localhost:${port}/e`,
        `http://loopback.evil.example:${port}/f`,
        `http://rebind.evil.example:${port}/g`,
      ];
      // Made as development would allow (an endpoint from before a move to production, or a
      // name that resolved elsewhere when it was added): the delivery-time check is what counts.
      const endpoints = [];
      for (const url of targets) endpoints.push((await createEndpoint(h.t.db, h.site.id, { url }, { production: false })).endpoint);
      const res = await h.call('/gifts', { fan, body: { creatorId: h.creator.id, giftId: 'rose', quantity: 1 } });
      assert.equal(res.status, 201);
      for (const endpoint of endpoints) {
        const delivery = await eventually(
          async () => (await listDeliveries(h.t.db, h.site.id, endpoint.id)).find((d) => d.attempts >= 1 && d.lastError !== null),
          `the refused attempt to ${endpoint.url}`,
        );
        assert.equal(delivery.lastStatus, null, endpoint.url);
        assert.match(delivery.lastError ?? '', /may not call it/, endpoint.url);
      }
      assert.deepEqual(receiver.received, [], 'the listener received nothing');
      for (const endpoint of endpoints) await deleteEndpoint(h.t.db, h.site.id, endpoint.id);
    });
  });
}
