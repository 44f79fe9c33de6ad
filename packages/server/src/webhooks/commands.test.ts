import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSite } from '../identity/sites.js';
import { createUser } from '../identity/users.js';
import { createTestDatabase, DATABASE_KINDS, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { TEST_SCRYPT_COST } from '../testing/money.js';
import { webhooksCommand, type CommandOutput, type WebhookCommand } from './commands.js';
import { listEndpoints } from './endpoints.js';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`diamonds webhooks … on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let siteId: string;
    before(async () => {
      t = await createTestDatabase(kind);
      const owner = await createUser(
        t.db,
        { email: 'cli-webhooks@example.com', password: 'a long password', displayName: 'Shop', roles: ['creator'] },
        { cost: TEST_SCRYPT_COST },
      );
      siteId = (await createSite(t.db, { ownerId: owner.id, name: 'Shop', origins: ['https://shop.example'] })).site.id;
    });
    after(async () => {
      await t?.drop();
    });

    async function run(command: WebhookCommand, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
      const lines: string[] = [];
      const errors: string[] = [];
      const output: CommandOutput = { log: (line) => lines.push(line), error: (line) => errors.push(line) };
      const code = await webhooksCommand(t.db, command, args, output);
      return { code, out: lines.join('\n'), err: errors.join('\n') };
    }

    it('adds, lists, disables, enables, rolls, tests, replays and removes an endpoint', async () => {
      const added = await run(
        'webhooks add',
        '--site',
        siteId,
        '--url',
        'https://shop.example/hooks',
        '--events',
        'order.paid,order.refunded',
      );
      assert.equal(added.code, 0, added.err);
      assert.match(added.out, /Signing secret \(shown once\): whsec_/);
      const [endpoint] = await listEndpoints(t.db, siteId);
      assert.ok(endpoint);
      assert.match((await run('webhooks list', '--site', siteId)).out, new RegExp(`${endpoint.id}  enabled .*order.paid,order.refunded`));
      assert.match((await run('webhooks disable', '--site', siteId, '--endpoint', endpoint.id)).out, /is disabled/);
      assert.match((await run('webhooks list', '--site', siteId)).out, /Disabled by the site/);
      assert.match((await run('webhooks enable', '--site', siteId, '--endpoint', endpoint.id)).out, /is enabled/);
      assert.match((await run('webhooks roll-secret', '--site', siteId, '--endpoint', endpoint.id)).out, /also signs until/);
      const test = await run('webhooks test', '--site', siteId, '--endpoint', endpoint.id);
      assert.match(test.out, /Queued evt_\w+ \(webhook.test\)/);
      const eventId = /evt_\w+/.exec(test.out)![0];
      assert.match(
        (await run('webhooks replay', '--site', siteId, '--endpoint', endpoint.id, '--event', eventId)).out,
        /Queued 1 delivery/,
      );
      assert.match(
        (await run('webhooks replay', '--site', siteId, '--endpoint', endpoint.id, '--since', '2020-01-01T00:00:00Z')).out,
        /Queued 0 deliveries/,
      );
      assert.match((await run('webhooks deliveries', '--site', siteId, '--endpoint', endpoint.id)).out, /webhook\.test .*pending/);
      assert.match((await run('webhooks remove', '--site', siteId, '--endpoint', endpoint.id)).out, /Removed/);
      assert.deepEqual(await listEndpoints(t.db, siteId), []);
    });

    it('refuses bad input with exit code 2 and a message, changing nothing', async () => {
      assert.equal((await run('webhooks list', '--site', 'site_nope')).code, 2);
      assert.equal((await run('webhooks list', '--nope', 'x')).code, 2);
      assert.equal((await run('webhooks remove', '--site', siteId)).code, 2);
      assert.equal((await run('webhooks replay', '--site', siteId, '--endpoint', 'we_x')).code, 2);
      assert.equal((await run('webhooks replay', '--site', siteId, '--endpoint', 'we_x', '--since', 'yesterday')).code, 2);
      assert.equal((await run('webhooks deliveries', '--site', siteId, '--endpoint', 'we_x', '--limit', '0')).code, 2);
      // Domain refusals are ApiErrors; the CLI prints them with their code and exits 2.
      await assert.rejects(run('webhooks add', '--site', siteId, '--url', 'ftp://shop.example'), { code: 'invalid_url' });
      await assert.rejects(run('webhooks add', '--site', siteId, '--url', 'https://shop.example', '--events', 'nope'), {
        code: 'invalid_event_type',
      });
      await assert.rejects(run('webhooks enable', '--site', siteId, '--endpoint', 'we_nope'), { code: 'webhook_endpoint_not_found' });
      assert.deepEqual(await listEndpoints(t.db, siteId), []);
    });
  });
}
