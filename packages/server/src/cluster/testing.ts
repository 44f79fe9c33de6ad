// Test helpers of the several-processes suites: a site, creators and fans on one PostgreSQL
// database, and calls to whichever platform process a test names (each on its own port).
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Database } from '../db/types.js';
import { connect } from '../identity/connections.js';
import { answerInvitation, inviteCreator } from '../identity/site-creators.js';
import { createSite } from '../identity/sites.js';
import { issueTokens, newFamilyId } from '../identity/tokens.js';
import { createUser } from '../identity/users.js';
import { Ledger } from '../ledger/ledger.js';
import { walletOf } from '../money/spends.js';
import { newDpopKey, type DpopTestKey } from '../testing/dpop.js';
import type { TestDatabase } from '../testing/databases.js';
import { TEST_PAGE_ORIGIN, TEST_SCRYPT_COST } from '../testing/money.js';

/** A signed-in fan of the world's site. */
export interface WorldFan {
  id: string;
  token: string;
  dpop: DpopTestKey;
}

/** A site with creators and fans, made directly in the database (as the money harness does). */
export interface World {
  site: { id: string; publishableKey: string; secretKey: string };
  ownerId: string;
  /** Creators listed on the site (so the fans' allowances pay them). */
  creators: string[];
  fans: WorldFan[];
}

/** Makes a {@link World}: `creators` listed creators and `fans` fans each holding `balance` within a large allowance. */
export async function makeWorld(db: Database, options: { creators: number; fans: number; balance: number }): Promise<World> {
  const ledger = new Ledger(db);
  const user = (role: 'creator' | 'fan', name: string) =>
    createUser(
      db,
      { email: `${role}-${randomUUID()}@example.com`, password: 'a long password', displayName: name, roles: [role] },
      { cost: TEST_SCRYPT_COST },
    );
  const owner = await user('creator', 'Ada');
  const created = await createSite(db, { ownerId: owner.id, name: 'Ada’s page', origins: [TEST_PAGE_ORIGIN] });
  const site = { id: created.site.id, publishableKey: created.publishableKey, secretKey: created.secretKey };
  const creators: string[] = [];
  for (let i = 0; i < options.creators; i++) {
    const creator = await user('creator', `Creator ${i + 1}`);
    await inviteCreator(db, { siteId: site.id, creator: creator.id, invitedBy: owner.id });
    await answerInvitation(db, { siteId: site.id, creatorId: creator.id, accept: true });
    creators.push(creator.id);
  }
  const fans: WorldFan[] = [];
  for (let i = 0; i < options.fans; i++) {
    const fan = await user('fan', `Fan ${i + 1}`);
    await connect(db, fan.id, site.id, 1_000_000_000);
    const dpop = newDpopKey();
    const token = await db.transaction(async (tx) => {
      const wallet = await walletOf(tx, ledger, fan.id);
      const issuance = await ledger.platformAccount('issuance', tx);
      await ledger.transferIn(tx, {
        idempotencyKey: `cluster-credit:${fan.id}`,
        code: 'purchase',
        postings: [
          { accountId: issuance.id, amountDiamonds: -options.balance },
          { accountId: wallet, amountDiamonds: options.balance },
        ],
        metadata: { description: 'Test credit' },
      });
      const tokens = await issueTokens(tx, {
        userId: fan.id,
        siteId: site.id,
        origin: TEST_PAGE_ORIGIN,
        familyId: newFamilyId(),
        jkt: dpop.jkt,
      });
      return tokens.accessToken;
    });
    fans.push({ id: fan.id, token, dpop });
  }
  return { site, ownerId: owner.id, creators, fans };
}

/** What {@link call} sends. */
export interface WorldCall {
  method?: string;
  body?: unknown;
  fan?: WorldFan;
  /** The site's secret key instead of the publishable one. */
  secret?: boolean;
  /** `Idempotency-Key`; a fresh one for a POST by default. */
  idempotencyKey?: string;
  /** Abandon the request after this long (as the SDK's timeout per attempt). @defaultValue no limit */
  timeoutMs?: number;
}

/** Calls `/v1{path}` on the platform at `baseUrl` as the world's site (and fan), with a DPoP proof for that very URL. */
export function call(world: World, baseUrl: string, path: string, options: WorldCall = {}): Promise<Response> {
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  const url = `${baseUrl}/v1${path}`;
  const headers: Record<string, string> = {
    Authorization: `Bearer ${options.secret ? world.site.secretKey : world.site.publishableKey}`,
  };
  if (!options.secret) headers.Origin = TEST_PAGE_ORIGIN;
  if (method === 'POST') headers['Idempotency-Key'] = options.idempotencyKey ?? randomUUID();
  if (options.fan) {
    headers['Diamonds-Token'] = options.fan.token;
    headers.DPoP = options.fan.dpop.proof(method, url, options.fan.token);
  }
  let body: string | undefined;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['Content-Type'] = 'application/json';
  }
  const signal = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
  return fetch(url, { method, headers, body, signal });
}

/** A user's balances: posted wallet, held, posted earnings. */
export async function balancesOf(db: Database, userId: string): Promise<{ wallet: number; held: number; earnings: number }> {
  const rows = await db.query<{ kind: string; balance: number; pending_debits: number }>(
    'SELECT kind, balance, pending_debits FROM accounts WHERE owner_id = ?',
    [userId],
  );
  const wallet = rows.find((row) => row.kind === 'wallet');
  const earnings = rows.find((row) => row.kind === 'earnings');
  return { wallet: Number(wallet?.balance ?? 0), held: Number(wallet?.pending_debits ?? 0), earnings: Number(earnings?.balance ?? 0) };
}

/** The platform fee account's balance. */
export async function feesOf(db: Database): Promise<number> {
  const [row] = await db.query<{ balance: number }>(`SELECT balance FROM accounts WHERE owner_id IS NULL AND kind = 'fees'`);
  return Number(row?.balance ?? 0);
}

/**
 * Deadlocks PostgreSQL has detected in the current database so far. Backends report theirs
 * when they flush their statistics (at the latest when they exit), so read it after the
 * servers under test have closed their connections.
 */
export async function deadlocksSoFar(db: Database): Promise<number> {
  const [row] = await db.query<{ deadlocks: number }>('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()');
  return Number(row?.deadlocks ?? 0);
}

/** Platform processes on a test's PostgreSQL database, as `DIAMONDS_WORKERS=N diamonds start` runs them (see crash-child.ts). */
export interface WorkerProcesses {
  /** The supervisor: answers 'pids', obeys 'stop'. */
  child: ChildProcess;
  /** Where the workers listen (one port, shared by node:cluster). */
  baseUrl: string;
  /** Stops them (SIGTERM through the supervisor, SIGKILL after 35 s). */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `workers` platform processes on `t`'s database, supervised, once they listen. */
export async function startWorkerProcesses(t: TestDatabase, workers = 2): Promise<WorkerProcesses> {
  const port = await freePort();
  const child = fork(fileURLToPath(new URL('./crash-child.ts', import.meta.url)), [], {
    execArgv: ['--conditions=source', '--import', 'tsx'],
    env: { ...process.env, ...t.env, DIAMONDS_DATA_DIR: t.settings.dataDir, PORT: String(port), DIAMONDS_WORKERS: String(workers) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the platform stopped before it was ready (exit ${code})`)));
    child.on('message', (message: { ready?: boolean }) => {
      if (message.ready) resolve();
    });
  });
  return {
    child,
    baseUrl: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 35_000).unref())]);
      child.kill('SIGKILL');
    },
  };
}
