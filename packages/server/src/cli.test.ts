import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorBody, Health } from '@diamonds/protocol';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from './testing/databases.js';
import { Ledger } from './ledger/ledger.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './db/migrations.js';

// The shipped command, built by `npm run build` (which `npm test` runs first).
const bin = fileURLToPath(new URL('../bin/diamonds.js', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/cli.js', import.meta.url)));

function diamonds(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('diamonds command line', () => {
  before(() => assert.ok(built, 'packages/server/dist is missing: run "npm run build" first'));

  it('--help lists every command with one line each', () => {
    const { code, stdout } = diamonds(['--help'], {});
    assert.equal(code, 0);
    for (const command of [
      'start',
      'migrate',
      'ledger verify',
      'seed-demo',
      'sites create',
      'sites roll-key',
      'sites list',
      'sites revoke-key',
      'sites creators',
      'sites invite',
      'sites remove-creator',
      'rates set',
      'rates list',
      'gifts list',
      'gifts add',
      'keys rotate',
      'keys list',
      '--help',
    ])
      assert.match(stdout, new RegExp(`^  ${command}\\s+\\S`, 'm'));
    assert.match(stdout, /DATABASE_URL/);
  });

  it("--help, a command's --help and a mistyped command load none of the platform, only the command table", () => {
    // Every module the process loads, written down by a module hook (hooks run on their own thread).
    const dir = mkdtempSync(join(tmpdir(), 'diamonds-cli-modules-'));
    const log = join(dir, 'loaded.txt');
    const hooks = `import { appendFileSync } from 'node:fs';
      export async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }`;
    const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
    try {
      for (const args of [['--help'], ['rates', 'set', '--help'], ['webhooks'], ['ledger', 'fix']]) {
        rmSync(log, { force: true });
        const result = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, bin, ...args], {
          encoding: 'utf8',
          timeout: 60_000,
        });
        assert.ok(result.status === 0 || result.status === 2, `${args.join(' ')}: ${result.stderr}`);
        const ours = readFileSync(log, 'utf8')
          .split('\n')
          .filter((url) => url.startsWith('file:') && !url.includes('/node_modules/'));
        const platform = ours.filter((url) =>
          /\/dist\/(?:server|app|examples)\.js|\/dist\/db\/(?:open|sqlite|postgres|migrations)\.js|\/dist\/(?:ledger|money)\/|\/protocol\//.test(
            url,
          ),
        );
        assert.deepEqual(platform, [], `${args.join(' ')} loaded the platform`);
        assert.ok(ours.length < 20, `${args.join(' ')} loaded ${ours.length} of our modules:\n${ours.join('\n')}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown command and a bad setting', () => {
    const unknown = diamonds(['ledger', 'fix'], {});
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "ledger fix"/);
    const badPort = diamonds(['migrate'], { PORT: 'eighty' });
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /PORT must be a port number/);
    const badUrl = diamonds(['migrate'], { DATABASE_URL: 'mysql://x' });
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.stderr, /DATABASE_URL must be a postgres/);
  });
});

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`diamonds on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let env: Record<string, string>;

    before(async () => {
      assert.ok(built, 'packages/server/dist is missing: run "npm run build" first');
      t = await createTestDatabase(kind);
      // For SQLite use a folder nobody has migrated yet, so `migrate` has work to do.
      const dataDir = mkdtempSync(join(tmpdir(), 'diamonds-cli-'));
      env = kind === 'sqlite' ? { DIAMONDS_DATA_DIR: dataDir, DATABASE_URL: '' } : { ...t.env, DIAMONDS_DATA_DIR: dataDir };
    });
    after(async () => {
      if (t) await t.drop();
      rmSync(env.DIAMONDS_DATA_DIR ?? '/nonexistent', { recursive: true, force: true });
    });

    it('migrate applies the schema once', () => {
      const first = diamonds(['migrate'], env);
      assert.equal(first.code, 0, first.stderr);
      const all = MIGRATIONS.map((m) => m.version).join(', ');
      assert.match(
        first.stdout,
        kind === 'sqlite'
          ? new RegExp(`applied ${all};.* at schema version ${LATEST_SCHEMA_VERSION}\\.`)
          : new RegExp(`already at schema version ${LATEST_SCHEMA_VERSION}\\.`),
      );
      const second = diamonds(['migrate'], env);
      assert.equal(second.code, 0);
      assert.match(second.stdout, new RegExp(`already at schema version ${LATEST_SCHEMA_VERSION}\\.`));
    });

    it('ledger verify exits 0 on a clean ledger and 1 with a readable report on a breach', async () => {
      const db =
        kind === 'sqlite'
          ? (await import('./db/sqlite.js')).openSqlite({ file: join(env.DIAMONDS_DATA_DIR ?? '', 'diamonds.sqlite') })
          : t.reopen();
      try {
        const ledger = new Ledger(db);
        const wallet = await ledger.openAccount({ ownerId: 'usr_cli', kind: 'wallet' });
        const issuance = await ledger.platformAccount('issuance');
        await ledger.transfer({
          idempotencyKey: 'cli-1',
          code: 'purchase',
          postings: [
            { accountId: issuance.id, amountDiamonds: -50 },
            { accountId: wallet.id, amountDiamonds: 50 },
          ],
        });
        const clean = diamonds(['ledger', 'verify'], env);
        assert.equal(clean.code, 0, clean.stderr);
        assert.match(clean.stdout, /^ledger verify: OK: 2 accounts, 1 transfers, 2 postings/);

        await db.run('UPDATE accounts SET balance = 51 WHERE id = ?', [wallet.id]);
        const broken = diamonds(['ledger', 'verify'], env);
        assert.equal(broken.code, 1);
        assert.match(broken.stderr, /FAILED/);
        assert.match(broken.stderr, new RegExp(`account ${wallet.id}: cached balance/held/incoming 51/0/0, journal says 50/0/0`));
        await db.run('UPDATE accounts SET balance = 50 WHERE id = ?', [wallet.id]);
        assert.equal(diamonds(['ledger', 'verify'], env).code, 0);
      } finally {
        await db.close();
      }
    });

    it('seed-demo creates the demo accounts and site once, and sites create registers a site', () => {
      const seeded = diamonds(['seed-demo'], env);
      assert.equal(seeded.code, 0, seeded.stderr);
      assert.match(seeded.stdout, /creator\s+creator@demo\.diamonds\.test\s+password demo-\S+/);
      assert.match(seeded.stdout, /publishable\s+pk_test_[0-9A-Za-z]{24}/);
      assert.match(seeded.stdout, /secret\s+sk_test_[0-9A-Za-z]{32}/);
      assert.match(seeded.stdout, /origins http:\/\/localhost:\*, http:\/\/127\.0\.0\.1:\*/);
      assert.ok(existsSync(join(env.DIAMONDS_DATA_DIR ?? '', 'demo.json')));
      // The money side of the demo: the fan's Diamonds, the creator's content, the shop's products.
      assert.match(seeded.stdout, /fan wallet\s+1000 Diamonds/);
      assert.equal(seeded.stdout.match(/^ {2}content {6}ct_\w+/gm)?.length, 3);
      assert.equal(seeded.stdout.match(/^ {2}product {6}prod_\w+/gm)?.length, 3);
      const again = diamonds(['seed-demo'], env);
      assert.match(again.stdout, /already seeded/);
      assert.equal(again.stdout.match(/pk_test_\w+/)?.[0], seeded.stdout.match(/pk_test_\w+/)?.[0]);
      assert.equal(again.stdout.match(/^ {2}content {6}ct_\w+/gm)?.length, 3, 'seeding again adds nothing');
      assert.equal(diamonds(['ledger', 'verify'], env).code, 0);
      const gifts = diamonds(['gifts', 'list'], env);
      assert.equal(gifts.code, 0, gifts.stderr);
      assert.match(gifts.stdout, /rose/);
      const rotated = diamonds(['keys', 'rotate'], env);
      assert.equal(rotated.code, 0, rotated.stderr);
      const kid = rotated.stdout.match(/key_\w+/)?.[0] ?? 'none';
      assert.match(diamonds(['keys', 'list'], env).stdout, new RegExp(`^${kid}  ES256`, 'm'));

      const created = diamonds(
        ['sites', 'create', '--name', 'My shop', '--origin', 'https://Shop.Example', '--origin', 'http://localhost:*'],
        env,
      );
      assert.equal(created.code, 0, created.stderr);
      assert.match(created.stdout, /Site My shop \(site_\w+\) for creator@demo\.diamonds\.test/);
      assert.match(created.stdout, /origins\s+https:\/\/shop\.example, http:\/\/localhost:\*/);
      const site = created.stdout.match(/site_\w+/)?.[0] ?? '';
      const rolled = diamonds(['sites', 'roll-key', '--site', site, '--kind', 'secret'], env);
      assert.equal(rolled.code, 0, rolled.stderr);
      assert.match(rolled.stdout, /New secret key for site_\w+: sk_test_\w{32}/);

      const listed = diamonds(['sites', 'list'], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`${site}  My shop  \\(https://shop\\.example, http://localhost:\\*\\)`));
      assert.equal(listed.stdout.match(/sk_…\w{4} {2}\(revoked\)/g)?.length, 1, 'the rolled secret is listed as revoked');
      assert.doesNotMatch(listed.stdout, /sk_test_/, 'secrets are never listed');
      const publishableKeyId = new RegExp(`(key_\\w+)  publishable  ${created.stdout.match(/pk_test_\w+/)?.[0]}`).exec(listed.stdout)?.[1];
      assert.ok(publishableKeyId);
      const revoked = diamonds(['sites', 'revoke-key', '--site', site, '--key', publishableKeyId], env);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.match(diamonds(['sites', 'list'], env).stdout, new RegExp(`${publishableKeyId}  publishable  pk_test_\\w+  \\(revoked\\)`));
      assert.equal(diamonds(['sites', 'revoke-key', '--site', site, '--key', 'key_nope'], env).code, 2);

      const badOrigin = diamonds(['sites', 'create', '--name', 'Evil', '--origin', 'https://*.example.com'], env);
      assert.equal(badOrigin.code, 2);
      assert.match(badOrigin.stderr, /origins\.0: .+\(invalid_origin\)/);
      const noOwner = diamonds(['sites', 'create', '--name', 'X', '--origin', 'https://x.example', '--owner', 'nobody@example.com'], env);
      assert.equal(noOwner.code, 2);
      assert.match(noOwner.stderr, /no account nobody@example\.com/);
    });

    it('sites invite, creators and remove-creator manage whom a site’s allowances pay', async () => {
      // seed-demo (above) made the demo site; a second creator signs up on the platform.
      const db =
        kind === 'sqlite'
          ? (await import('./db/sqlite.js')).openSqlite({ file: join(env.DIAMONDS_DATA_DIR ?? '', 'diamonds.sqlite') })
          : t.reopen();
      try {
        const { createUser } = await import('./identity/users.js');
        const { answerInvitation } = await import('./identity/site-creators.js');
        const grace = await createUser(
          db,
          { email: 'grace@cli.example', password: 'a long password', displayName: 'Grace', roles: ['creator'] },
          { cost: { N: 2 ** 10, r: 8, p: 1 } },
        );
        const site = /^(site_\w+) {2}Demo site/m.exec(diamonds(['sites', 'list'], env).stdout)?.[1] ?? '';
        assert.ok(site, 'the demo site is listed');
        const invited = diamonds(['sites', 'invite', '--site', site, '--creator', 'Grace@CLI.example'], env);
        assert.equal(invited.code, 0, invited.stderr);
        assert.match(invited.stdout, new RegExp(`Invited Grace \\(${grace.id}\\) to ${site}`));
        assert.match(diamonds(['sites', 'invite', '--site', site, '--creator', grace.id], env).stdout, /already invited/);
        const fanOnly = diamonds(['sites', 'invite', '--site', site, '--creator', 'fan@demo.diamonds.test'], env);
        assert.equal(fanOnly.code, 2);
        assert.match(fanOnly.stderr, /creator role.*\(creator_not_found\)/);
        assert.match(diamonds(['sites', 'creators', '--site', site], env).stdout, new RegExp(`^  ${grace.id}  invited   Grace`, 'm'));

        await answerInvitation(db, { siteId: site, creatorId: grace.id, accept: true });
        const listed = diamonds(['sites', 'creators', '--site', site], env);
        assert.equal(listed.code, 0, listed.stderr);
        assert.match(listed.stdout, /^ {2}usr_\w+ {2}owner {5}Demo Creator$/m);
        assert.match(listed.stdout, new RegExp(`^  ${grace.id}  accepted  Grace`, 'm'));

        const removed = diamonds(['sites', 'remove-creator', '--site', site, '--creator', grace.id], env);
        assert.equal(removed.code, 0, removed.stderr);
        assert.match(diamonds(['sites', 'creators', '--site', site], env).stdout, new RegExp(`^  ${grace.id}  removed   Grace`, 'm'));
        assert.equal(diamonds(['sites', 'creators', '--site', 'site_nope'], env).code, 2);
        assert.equal(diamonds(['sites', 'remove-creator', '--site', 'site_nope', '--creator', grace.id], env).code, 2);
      } finally {
        await db.close();
      }
    });

    it('rates set records a rate (now or scheduled) and rates list shows them; bad input exits 2', () => {
      // seed-demo (above) seeded the default rates.
      const seeded = diamonds(['rates', 'list'], env);
      assert.equal(seeded.code, 0, seeded.stderr);
      assert.match(seeded.stdout, /^USD {2}1,000 Diamonds = 12\.99 \(payout 8\.00\)/m);
      assert.match(seeded.stdout, /^JPY {2}1,000 Diamonds = 1980 \(payout 1220\)/m);

      const set = diamonds(['rates', 'set', '--currency', 'CHF', '--price-per-1000', '1150', '--payout-per-1000', '700'], env);
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout, /^rates set: CHF {2}1,000 Diamonds = 11\.50 \(payout 7\.00\) {2}effective \d{4}-/);
      const scheduled = diamonds(
        [
          'rates',
          'set',
          '--currency',
          'CHF',
          '--price-per-1000',
          '1250',
          '--payout-per-1000',
          '750',
          '--effective-at',
          '2099-01-01T00:00:00Z',
        ],
        env,
      );
      assert.equal(scheduled.code, 0, scheduled.stderr);
      const listed = diamonds(['rates', 'list'], env);
      assert.match(listed.stdout, /^CHF {2}1,000 Diamonds = 11\.50/m);
      assert.match(
        listed.stdout,
        /^ {2}scheduled: CHF {2}1,000 Diamonds = 12\.50 \(payout 7\.50\) {2}effective 2099-01-01T00:00:00\.000Z$/m,
      );

      const lower = diamonds(['rates', 'set', '--currency', 'chf', '--price-per-1000', '1', '--payout-per-1000', '0'], env);
      assert.equal(lower.code, 2);
      assert.match(lower.stderr, /\(invalid_currency\)/);
      const zero = diamonds(['rates', 'set', '--currency', 'CHF', '--price-per-1000', '0', '--payout-per-1000', '0'], env);
      assert.equal(zero.code, 2);
      assert.match(zero.stderr, /\(invalid_request\)/);
      const fraction = diamonds(['rates', 'set', '--currency', 'CHF', '--price-per-1000', '11.5', '--payout-per-1000', '7'], env);
      assert.equal(fraction.code, 2);
      assert.match(fraction.stderr, /whole numbers of minor units/);
      const past = diamonds(
        ['rates', 'set', '--currency', 'CHF', '--price-per-1000', '1', '--payout-per-1000', '0', '--effective-at', '2001-01-01'],
        env,
      );
      assert.equal(past.code, 2);
      assert.match(past.stderr, /never backdated/);
      assert.equal(
        diamonds(['rates', 'set', '--currency', 'CHF', '--price-per-1000', '1', '--payout-per-1000', '0', '--effective-at', 'soon'], env)
          .code,
        2,
      );
    });

    it('start serves /healthz and JSON errors, and stops cleanly on Ctrl-C', async () => {
      const child = spawn(process.execPath, [bin, 'start'], { env: { ...process.env, ...env, PORT: '0' } });
      let output = '';
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no address printed: ${output}`)), 30_000);
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /running at (http:\/\/\S+) /.exec(output);
          if (match?.[1]) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${output}`)));
      });
      try {
        const health = await fetch(`${url}/healthz`);
        assert.equal(health.status, 200);
        assert.match(health.headers.get('request-id') ?? '', /^req_/);
        assert.deepEqual(Health.parse(await health.json()), {
          status: 'ok',
          database: kind,
          schemaVersion: LATEST_SCHEMA_VERSION,
          version: '0.1.0',
        });

        const missing = await fetch(`${url}/nothing-here`);
        assert.equal(missing.status, 404);
        const body = ErrorBody.parse(await missing.json());
        assert.equal(body.error.code, 'not_found');
        assert.equal(body.error.type, 'invalid_request_error');
        assert.equal(body.error.requestId, missing.headers.get('request-id'));

        const keyless = await fetch(`${url}/v1/anything`);
        assert.equal(keyless.status, 401);
        assert.equal(ErrorBody.parse(await keyless.json()).error.code, 'authentication_required');

        const home = await fetch(url, { redirect: 'manual' });
        assert.equal(home.status, 303);
        assert.equal(home.headers.get('location'), '/account');

        const page = await fetch(`${url}/signin`);
        assert.equal(page.status, 200);
        assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
        // A popup page: the opener must still see when the fan closes it.
        assert.equal(page.headers.get('cross-origin-opener-policy'), 'unsafe-none');
        const account = await fetch(`${url}/account`, { redirect: 'manual' });
        assert.equal(account.headers.get('cross-origin-opener-policy'), 'same-origin');
      } finally {
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        assert.equal(await exited, 0, output);
      }
      assert.match(output, /Stopped cleanly/);
      if (kind === 'sqlite') {
        // better-sqlite3 checkpoints and removes the WAL file only when the database is closed.
        assert.equal(existsSync(join(env.DIAMONDS_DATA_DIR ?? '', 'diamonds.sqlite-wal')), false, 'the database was not closed');
      }
    });
  });
}
