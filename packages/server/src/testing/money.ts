import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { DatabaseKind } from '../db/types.js';
import { connect } from '../identity/connections.js';
import { createSite } from '../identity/sites.js';
import { answerInvitation, inviteCreator } from '../identity/site-creators.js';
import { issueTokens, newFamilyId } from '../identity/tokens.js';
import { createUser } from '../identity/users.js';
import { formatVerifyReport, verifyLedger } from '../ledger/verify.js';
import { walletOf } from '../money/spends.js';
import { startServer, type RunningServer, type StartOptions } from '../server.js';
import { createTestDatabase, type TestDatabase } from './databases.js';
import { newDpopKey, type DpopTestKey } from './dpop.js';

/** The page origin the test site allows: the fan's browser is "there". */
export const TEST_PAGE_ORIGIN = 'http://127.0.0.1:5173';

/** A cheap scrypt cost for test users (the real cost is for real passwords). */
export const TEST_SCRYPT_COST = { N: 2 ** 10, r: 8, p: 1 };

/** A signed-in fan of the test site. */
export interface TestFan {
  id: string;
  displayName: string;
  /** The fan's access token for the test site and {@link TEST_PAGE_ORIGIN}. */
  token: string;
  /** The fan's refresh token, of the same sign-in. */
  refreshToken?: string;
  /**
   * The DPoP key the fan's tokens are bound to, as the SDK holds it in the fan's browser;
   * {@link MoneyHarness.call} signs a proof with it for every call with this fan. `undefined`
   * (a token stolen without its key) sends no proof.
   */
  dpop?: DpopTestKey | undefined;
}

/** What a call to the test server sends (see {@link MoneyHarness.call}). */
export interface CallOptions {
  method?: string;
  /** JSON body; a string is sent as it is. */
  body?: unknown;
  /** The fan whose token is sent; none by default. */
  fan?: TestFan;
  /** `secret` sends the site's secret key (and no Origin); default the publishable key. */
  key?: 'publishable' | 'secret' | string;
  /** `Idempotency-Key`; `auto` (default for POST) makes a fresh one, `null` sends none. */
  idempotencyKey?: string | null | 'auto';
  /** Origin header; default {@link TEST_PAGE_ORIGIN} with a publishable key, none with a secret one. */
  origin?: string | null;
  /** Extra headers. */
  headers?: Record<string, string>;
  /** The `DPoP` header: this proof, or `null` for none; by default a fresh proof by the fan's key. */
  dpopProof?: string | null;
}

/**
 * A running platform on a throw-away database with a creator, their site, and a helper to
 * make fans: what every money-flow suite starts from.
 */
export interface MoneyHarness {
  t: TestDatabase;
  server: RunningServer;
  creator: { id: string; displayName: string };
  site: { id: string; publishableKey: string; secretKey: string };
  /** Makes a fan connected to the site with this daily allowance, holding `balance` Diamonds. */
  fan(options?: { allowance?: number; balance?: number; name?: string }): Promise<TestFan>;
  /**
   * Makes another creator (a user with the creator role), for gifts to someone else. With
   * `listed: true` they are also listed on the test site (invited and accepted), so the fans'
   * allowances pay them; otherwise a gift to them always waits for the fan's confirmation.
   */
  newCreator(name?: string, options?: { listed?: boolean }): Promise<{ id: string; displayName: string }>;
  /** Credits Diamonds to a fan's wallet from issuance (what a paid top-up does). */
  credit(userId: string, amount: number): Promise<void>;
  /** A user's wallet and earnings balances (posted) and held Diamonds. */
  balances(userId: string): Promise<{ wallet: number; held: number; earnings: number }>;
  /** How many transfers the ledger holds (to prove nothing moved). */
  transferCount(): Promise<number>;
  /** Calls `/v1{path}` (or an absolute path starting with `//` for non-API routes: `//.well-known/jwks.json`). */
  call(path: string, options?: CallOptions): Promise<Response>;
  /** Asserts `response` is the error `code` with `status`; returns the body's error. */
  refused(response: Response, status: number, code: string): Promise<{ code: string; message: string; param?: string }>;
  /** Asserts the ledger verifies clean. */
  verifyClean(): Promise<void>;
  /** Stops the server and drops the database. */
  close(): Promise<void>;
}

/** Starts a {@link MoneyHarness} on `kind`. */
export async function startMoneyHarness(kind: DatabaseKind, options: StartOptions = {}): Promise<MoneyHarness> {
  const t = await createTestDatabase(kind);
  const server = await startServer({ port: 0, host: '127.0.0.1', ...options, db: t.db });
  let users = 0;
  const newCreator = async (name = 'Ada') => {
    const user = await createUser(
      t.db,
      { email: `creator${++users}-${randomUUID()}@example.com`, password: 'a long password', displayName: name, roles: ['creator'] },
      { cost: TEST_SCRYPT_COST },
    );
    return { id: user.id, displayName: user.displayName };
  };
  const creator = await newCreator('Ada');
  const created = await createSite(t.db, { ownerId: creator.id, name: 'Ada’s page', origins: [TEST_PAGE_ORIGIN] });
  const site = { id: created.site.id, publishableKey: created.publishableKey, secretKey: created.secretKey };

  const credit = async (userId: string, amount: number) => {
    await t.db.transaction(async (tx) => {
      const wallet = await walletOf(tx, server.ledger, userId);
      const issuance = await server.ledger.platformAccount('issuance', tx);
      await server.ledger.transferIn(tx, {
        idempotencyKey: `test-credit:${randomUUID()}`,
        code: 'purchase',
        postings: [
          { accountId: issuance.id, amountDiamonds: -amount },
          { accountId: wallet, amountDiamonds: amount },
        ],
        metadata: { description: `Test credit of ${amount} Diamonds` },
      });
    });
  };

  const harness: MoneyHarness = {
    t,
    server,
    creator,
    site,
    async newCreator(name, options = {}) {
      const made = await newCreator(name);
      if (options.listed) {
        await inviteCreator(t.db, { siteId: site.id, creator: made.id, invitedBy: creator.id });
        await answerInvitation(t.db, { siteId: site.id, creatorId: made.id, accept: true });
      }
      return made;
    },
    credit,
    async fan(options = {}) {
      const user = await createUser(
        t.db,
        {
          email: `fan${++users}-${randomUUID()}@example.com`,
          password: 'a long password',
          displayName: options.name ?? `Fan ${users}`,
          roles: ['fan'],
        },
        { cost: TEST_SCRYPT_COST },
      );
      await connect(t.db, user.id, site.id, options.allowance ?? 0);
      // What a sign-in in the fan's browser ends with: tokens bound to the SDK's DPoP key.
      const dpop = newDpopKey();
      const tokens = await t.db.transaction((tx) =>
        issueTokens(tx, { userId: user.id, siteId: site.id, origin: TEST_PAGE_ORIGIN, familyId: newFamilyId(), jkt: dpop.jkt }),
      );
      if (options.balance) await credit(user.id, options.balance);
      return { id: user.id, displayName: user.displayName, token: tokens.accessToken, refreshToken: tokens.refreshToken, dpop };
    },
    async balances(userId) {
      const rows = await t.db.query<{ kind: string; balance: number; pending_debits: number }>(
        'SELECT kind, balance, pending_debits FROM accounts WHERE owner_id = ?',
        [userId],
      );
      const wallet = rows.find((row) => row.kind === 'wallet');
      const earnings = rows.find((row) => row.kind === 'earnings');
      return {
        wallet: Number(wallet?.balance ?? 0),
        held: Number(wallet?.pending_debits ?? 0),
        earnings: Number(earnings?.balance ?? 0),
      };
    },
    async transferCount() {
      const [row] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM transfers');
      return Number(row?.n ?? 0);
    },
    call(path, options = {}) {
      const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
      const headers: Record<string, string> = {};
      const key = options.key ?? 'publishable';
      headers.Authorization = `Bearer ${key === 'publishable' ? site.publishableKey : key === 'secret' ? site.secretKey : key}`;
      const origin = options.origin === undefined ? (key === 'secret' ? null : TEST_PAGE_ORIGIN) : options.origin;
      if (origin !== null) headers.Origin = origin;
      if (options.fan) headers['Diamonds-Token'] = options.fan.token;
      const idempotencyKey = options.idempotencyKey === undefined ? (method === 'POST' ? 'auto' : null) : options.idempotencyKey;
      if (idempotencyKey !== null) headers['Idempotency-Key'] = idempotencyKey === 'auto' ? randomUUID() : idempotencyKey;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
        headers['Content-Type'] = 'application/json';
      }
      const url = path.startsWith('//') ? `${server.url}${path.slice(1)}` : `${server.url}/v1${path}`;
      const proof = options.dpopProof === undefined ? options.fan?.dpop?.proof(method, url, options.fan.token) : options.dpopProof;
      if (proof !== undefined && proof !== null) headers.DPoP = proof;
      Object.assign(headers, options.headers);
      return fetch(url, { method, headers, body });
    },
    async refused(response, status, code) {
      const body = (await response.json()) as { error?: { code: string; message: string; param?: string } };
      assert.equal(response.status, status, `expected ${status} ${code}, got ${response.status} ${JSON.stringify(body)}`);
      assert.equal(body.error?.code, code, JSON.stringify(body));
      return body.error!;
    },
    async verifyClean() {
      const report = await verifyLedger(t.db);
      assert.ok(report.ok, formatVerifyReport(report));
    },
    async close() {
      await server.close();
      await t.drop();
    },
  };
  return harness;
}
