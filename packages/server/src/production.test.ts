// Production mode (NODE_ENV=production): what it refuses to start without, and what every
// response carries there (HSTS, __Host- cookies). Development is checked alongside: unchanged.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import { readSettings } from './config.js';
import { createApp } from './app.js';
import { Ledger } from './ledger/ledger.js';
import { createTestDatabase, type TestDatabase } from './testing/databases.js';
import { createUser } from './identity/users.js';
import { Browser, PASSWORD } from './pages/testing.js';
import { HOST_SESSION_COOKIE, SESSION_COOKIE } from './pages/session.js';
import { ALLOW_TEST_PAYMENTS_ENV, checkProduction, HSTS, productionProblems } from './production.js';
import { startServer } from './server.js';

const cost = { N: 2 ** 10, r: 8, p: 1 };
const SECRET_KEY = Buffer.alloc(32, 7).toString('base64');

/** A production environment that lacks nothing. */
const COMPLETE: Record<string, string> = {
  NODE_ENV: 'production',
  DIAMONDS_PUBLIC_URL: 'https://diamonds.example',
  DIAMONDS_SECRET_KEY: SECRET_KEY,
  DIAMONDS_PAYMENTS: 'stripe',
  STRIPE_SECRET_KEY: 'sk_test_x',
  STRIPE_WEBHOOK_SECRET: 'whsec_x',
  STRIPE_CONNECT_WEBHOOK_SECRET: 'whsec_y',
};

/** `COMPLETE` without some variables, with others. */
function env(without: string[], extra: Record<string, string> = {}): Record<string, string> {
  return { ...Object.fromEntries(Object.entries(COMPLETE).filter(([name]) => !without.includes(name))), ...extra };
}

describe('production mode: refusals at start', () => {
  it('starts with everything it needs, and in development with nothing', () => {
    assert.equal(readSettings(COMPLETE).publicUrl, 'https://diamonds.example');
    assert.equal(readSettings({}).publicUrl, undefined, 'development needs none of it');
    assert.deepEqual(productionProblems({}, {}), [], 'nor does development check anything');
  });

  it('refuses without DIAMONDS_PUBLIC_URL, or with an http one', () => {
    assert.throws(() => readSettings(env(['DIAMONDS_PUBLIC_URL'])), /NODE_ENV=production needs DIAMONDS_PUBLIC_URL.*got none/);
    assert.throws(
      () => readSettings(env([], { DIAMONDS_PUBLIC_URL: 'http://diamonds.example' })),
      /https origin.*"http:\/\/diamonds\.example"/,
    );
  });

  it('refuses without DIAMONDS_SECRET_KEY, or with one that is not 32 bytes', () => {
    assert.throws(
      () => readSettings(env(['DIAMONDS_SECRET_KEY'])),
      /DIAMONDS_SECRET_KEY, 32 random bytes in base64 \(openssl rand -base64 32\)/,
    );
    assert.throws(() => readSettings(env([], { DIAMONDS_SECRET_KEY: Buffer.alloc(16).toString('base64') })), /got 16 bytes/);
    assert.throws(
      () => readSettings(env([], { DIAMONDS_SECRET_KEY: 'not base64 at all!' })),
      /DIAMONDS_SECRET_KEY must be 32 random bytes/,
    );
  });

  it('refuses test payments and test payouts unless DIAMONDS_ALLOW_TEST_PAYMENTS=1', () => {
    const testTopUps = env(['DIAMONDS_PAYMENTS', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'STRIPE_CONNECT_WEBHOOK_SECRET']);
    assert.throws(() => readSettings(testTopUps), /refuses test payments.*DIAMONDS_ALLOW_TEST_PAYMENTS=1/s);
    assert.throws(() => readSettings(env(['STRIPE_CONNECT_WEBHOOK_SECRET'])), /refuses test payouts.*STRIPE_CONNECT_WEBHOOK_SECRET/);
    assert.equal(readSettings({ ...testTopUps, [ALLOW_TEST_PAYMENTS_ENV]: '1' }).paymentProvider, 'test', 'a staging server may');
    assert.throws(() => readSettings({ ...testTopUps, [ALLOW_TEST_PAYMENTS_ENV]: 'yes' }), /refuses test payments/, 'only 1 allows');
  });

  it('lists every problem at once', () => {
    const problems = productionProblems({}, { NODE_ENV: 'production' });
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.throws(
      () => checkProduction({}, { NODE_ENV: 'production' }),
      (error: Error) => error.message.split('\n').length === 4,
    );
  });

  it('startServer refuses too, for settings made by hand', async () => {
    const saved = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      await assert.rejects(startServer({ port: 0, publicUrl: 'http://diamonds.example' }), /https origin/);
    } finally {
      if (saved === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = saved;
    }
  });
});

// The shipped command, built by `npm run build` (which `npm test` runs first).
const bin = fileURLToPath(new URL('../bin/diamonds.js', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/cli.js', import.meta.url)));

describe('production mode: diamonds start', () => {
  let dataDir: string;
  before(() => {
    assert.ok(built, 'packages/server/dist is missing: run "npm run build" first');
    dataDir = mkdtempSync(join(tmpdir(), 'diamonds-production-'));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  const start = (variables: Record<string, string>) =>
    spawnSync(process.execPath, [bin, 'start'], {
      env: { ...process.env, DATABASE_URL: '', DIAMONDS_DATA_DIR: dataDir, PORT: '0', ...variables },
      encoding: 'utf8',
      timeout: 60_000,
    });

  it('exits non-zero with a clear message without an https DIAMONDS_PUBLIC_URL', () => {
    const none = start(env(['DIAMONDS_PUBLIC_URL']));
    assert.equal(none.status, 2, none.stdout + none.stderr);
    assert.match(none.stderr, /diamonds: NODE_ENV=production needs DIAMONDS_PUBLIC_URL/);
    const plain = start(env([], { DIAMONDS_PUBLIC_URL: 'http://diamonds.example' }));
    assert.equal(plain.status, 2, plain.stdout + plain.stderr);
    assert.match(plain.stderr, /https origin/);
    assert.equal(existsSync(join(dataDir, 'diamonds.sqlite')), false, 'nothing was opened');
  });

  it('exits non-zero with test payments, unless allowed', () => {
    const refused = start(env(['DIAMONDS_PAYMENTS']));
    assert.equal(refused.status, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /refuses test payments/);
  });

  it('runs with no demo data, HSTS on every response and links from DIAMONDS_PUBLIC_URL only; stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [bin, 'start'], {
      env: {
        ...process.env,
        ...env(['DIAMONDS_PAYMENTS', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'STRIPE_CONNECT_WEBHOOK_SECRET']),
        [ALLOW_TEST_PAYMENTS_ENV]: '1',
        DATABASE_URL: '',
        DIAMONDS_DATA_DIR: dataDir,
        PORT: '0',
        HOST: '127.0.0.1',
      },
    });
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
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
        void exited.then((code) => reject(new Error(`exited ${code}: ${output}`)));
      });
      assert.doesNotMatch(output, /Demo data|demo\.diamonds\.test|Examples/);
      assert.equal(existsSync(join(dataDir, 'demo.json')), false, 'no demo data');
      for (const path of ['/healthz', '/signin', '/nothing-here', '/v1/catalog/gifts']) {
        // A forged Host changes nothing: links come from DIAMONDS_PUBLIC_URL.
        const answer = await fetch(`${url}${path}`, { headers: { 'X-Forwarded-Host': 'evil.example' } });
        assert.equal(answer.headers.get('strict-transport-security'), HSTS, path);
      }
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, output);
  });
});

describe('production mode: every response', () => {
  let t: TestDatabase;
  let production: Hono;
  let development: Hono;
  let email: string;
  before(async () => {
    t = await createTestDatabase('sqlite');
    const ledger = new Ledger(t.db);
    production = createApp({ db: t.db, ledger, production: true, settings: { publicUrl: 'https://diamonds.example' } }) as unknown as Hono;
    development = createApp({ db: t.db, ledger, production: false }) as unknown as Hono;
    email = (await createUser(t.db, { email: 'fan@example.com', password: PASSWORD, displayName: 'Fan', roles: ['fan'] }, { cost })).email;
  });
  after(() => t?.drop());

  it('carries Strict-Transport-Security in production, errors and pages alike; not in development', async () => {
    for (const path of ['/healthz', '/signin', '/account', '/nothing-here', '/v1/catalog/gifts', '/.well-known/jwks.json', '/hosted.css']) {
      const answer = await production.request(`http://localhost${path}`);
      assert.equal(answer.headers.get('Strict-Transport-Security'), HSTS, `${path} (${answer.status})`);
      const local = await development.request(`http://localhost${path}`);
      assert.equal(local.headers.get('Strict-Transport-Security'), null, path);
    }
  });

  it('names its cookies __Host- (Secure, Path=/, no Domain) in production, and signs in with them', async () => {
    const b = new Browser(production, '10.3.0.1');
    const signin = await b.request('/signin');
    const csrfCookie = signin.headers.getSetCookie().find((c) => c.startsWith('__Host-diamonds_csrf='));
    assert.ok(csrfCookie, signin.headers.getSetCookie().join('\n'));
    assert.match(csrfCookie, /; Path=\/(;|$)/);
    assert.match(csrfCookie, /; Secure/);
    assert.doesNotMatch(csrfCookie, /Domain=/i);
    const signedIn = await b.signIn(email);
    assert.equal(signedIn.status, 303, await signedIn.text());
    const session = signedIn.headers.getSetCookie().find((c) => c.startsWith(`${HOST_SESSION_COOKIE}=`));
    assert.ok(session, signedIn.headers.getSetCookie().join('\n'));
    assert.match(session, /; Path=\/(;|$)/);
    assert.match(session, /; Secure/);
    assert.match(session, /; HttpOnly/);
    assert.doesNotMatch(session, /Domain=/i);
    assert.equal((await b.request('/account')).status, 200, 'the __Host- session works');
    // A cookie without the prefix (set by a sibling subdomain, say) is not a session here.
    const token = b.jar.get(HOST_SESSION_COOKIE)!;
    const tossed = await production.request('http://localhost/account', { headers: { Cookie: `${SESSION_COOKIE}=${token}` } });
    assert.notEqual(tossed.status, 200);
  });

  it('takes a form posted from DIAMONDS_PUBLIC_URL behind a proxy that speaks http to it', async () => {
    const b = new Browser(production, '10.3.0.2');
    const page = await b.page('/signin');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const answer = await b.request('/signin', {
      form: { csrf, email, password: PASSWORD, next: '/account' },
      headers: { Origin: 'https://diamonds.example' },
    });
    assert.equal(answer.status, 303);
    const forged = await b.request('/signin', {
      form: { csrf, email, password: PASSWORD, next: '/account' },
      headers: { Origin: 'https://evil.example' },
    });
    assert.equal(forged.status, 403);
  });

  it('keeps the development names and plain-http cookies in development', async () => {
    const b = new Browser(development, '10.3.0.3');
    const signedIn = await b.signIn(email);
    assert.equal(signedIn.status, 303);
    const session = signedIn.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    assert.ok(session);
    assert.doesNotMatch(session, /Secure/);
  });
});
