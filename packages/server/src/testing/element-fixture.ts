import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { connect } from '../identity/connections.js';
import { seedDemo, type DemoData } from '../identity/demo.js';
import { decideSignInRequest } from '../identity/signin.js';
import { issueTokens, newFamilyId } from '../identity/tokens.js';
import { payWithTestCardOperation } from '../payments/topups.js';
import { createUser } from '../identity/users.js';
import { seedDemoMoney } from '../money/demo.js';
import { decideConfirmationOperation, CONFIRMATION_TTL_MS, walletOf } from '../money/spends.js';
import { expireConfirmations } from '../money/sweeper.js';
import { startServer, type RunningServer } from '../server.js';
import { sendGiftOperation } from '../gifts/gifts.js';
import { setGoalOperation, startLiveOperation } from '../live/live.js';
import { answerCollaboration, inviteCollaborator, setSplit } from '../collabs/collabs.js';
import { TEST_SCRYPT_COST } from './money.js';

/** What browser tests of the elements learn from `GET /__diamonds/fixture`. */
export interface ElementFixtureInfo {
  apiBase: string;
  publishableKey: string;
  creatorId: string;
  creatorName: string;
  contentIds: string[];
  productIds: string[];
}

/**
 * A running platform for the elements' browser tests (@web/test-runner starts it from its
 * config): the demo site, creator, content and products on a throw-away SQLite file, plus the
 * few things a test does that a fan would do elsewhere (approve a sign-in request, pay a top-up
 * with the test card, approve in the confirmation popup), as plain calls. Tokens it issues are
 * bound to the DPoP key the test page names (`jkt`), as a real sign-in binds them.
 */
export interface ElementFixture {
  platform: RunningServer;
  info: ElementFixtureInfo;
  /**
   * Answers the fixture's routes (`/__diamonds/…`), or `undefined` for any other path.
   * `origin` is the test page's origin, which tokens are bound to.
   */
  handle(path: string, query: URLSearchParams, origin: string): Promise<unknown>;
  close(): Promise<void>;
}

/** Starts an {@link ElementFixture}. */
export async function startElementFixture(): Promise<ElementFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'diamonds-elements-'));
  const platform = await startServer({ port: 0, host: '127.0.0.1', dataDir });
  const seeded = await seedDemo(platform.db, dataDir);
  const demo = seeded.demo as DemoData;
  await seedDemoMoney(platform.db, platform.ledger, demo);
  const content = await platform.db.query<{ id: string }>('SELECT id FROM content WHERE site_id = ? ORDER BY id', [demo.site.id]);
  const products = await platform.db.query<{ id: string }>('SELECT id FROM products WHERE site_id = ? ORDER BY id', [demo.site.id]);
  const info: ElementFixtureInfo = {
    apiBase: platform.url.replace('localhost', '127.0.0.1'),
    publishableKey: demo.site.publishableKey,
    creatorId: demo.creator.userId,
    creatorName: 'Demo Creator',
    contentIds: content.map((row) => row.id),
    productIds: products.map((row) => row.id),
  };

  /**
   * A new fan with tokens, as a sign-in in the test page would leave them: bound to the page's
   * DPoP key (`jkt`, the thumbprint of the key the page's SDK keeps in IndexedDB).
   */
  async function newFan(query: URLSearchParams, origin: string): Promise<{ fanId: string; storageKey: string; storageValue: string }> {
    const user = await createUser(
      platform.db,
      {
        email: `fan-${randomUUID()}@example.com`,
        password: 'a long password',
        displayName: query.get('name') ?? 'Test Fan',
        roles: ['fan'],
      },
      { cost: TEST_SCRYPT_COST },
    );
    await connect(platform.db, user.id, demo.site.id, Number(query.get('allowance') ?? 0));
    const balance = Number(query.get('balance') ?? 0);
    const tokens = await platform.db.transaction(async (tx) => {
      if (balance > 0) {
        const issuance = await platform.ledger.platformAccount('issuance', tx);
        await platform.ledger.transferIn(tx, {
          idempotencyKey: `fixture:${user.id}`,
          code: 'purchase',
          postings: [
            { accountId: issuance.id, amountDiamonds: -balance },
            { accountId: await walletOf(tx, platform.ledger, user.id), amountDiamonds: balance },
          ],
          metadata: { description: `Test credit of ${balance} Diamonds` },
        });
      }
      return issueTokens(tx, { userId: user.id, siteId: demo.site.id, origin, familyId: newFamilyId(), jkt: query.get('jkt') ?? '' });
    });
    // What the SDK keeps with storage "local": a test writes it before the client starts.
    return {
      fanId: user.id,
      storageKey: `diamonds:session:${demo.site.publishableKey}`,
      storageValue: JSON.stringify({ v: 1, refreshToken: tokens.refreshToken, fan: { id: user.id, displayName: user.displayName } }),
    };
  }

  /** The live elements' fans, by name: each made once, with Diamonds and an allowance. */
  const liveFans = new Map<string, Promise<string>>();
  // Each open live stream's closer, for `/__diamonds/live-drop`: the server ending every stream,
  // as a restart or a proxy would, so that a test sees the browser reconnect and resume.
  const liveClosers = new Set<() => void>();
  const { hub } = platform.live;
  const subscribe = hub.subscribe.bind(hub);
  hub.subscribe = (params) => {
    const stop = subscribe(params);
    if (stop) liveClosers.add(params.close);
    return stop;
  };

  async function handle(path: string, query: URLSearchParams, origin: string): Promise<unknown> {
    switch (path) {
      case '/__diamonds/live-gift': {
        // A fan (by name, made once) sends the demo creator a gift, as through the API: the live
        // fold puts it on the stream with the server's combo count.
        const name = query.get('name') ?? 'Live Fan';
        let fanId = liveFans.get(name);
        if (!fanId) {
          fanId = newFan(new URLSearchParams({ name, balance: '100000', allowance: '100000' }), origin).then((fan) => fan.fanId);
          liveFans.set(name, fanId);
        }
        const sent = await platform.writer.run(sendGiftOperation, {
          userId: await fanId,
          siteId: demo.site.id,
          feeBasisPoints: 2000,
          baseUrl: info.apiBase,
          request: {
            creatorId: query.get('creator') ?? info.creatorId,
            giftId: query.get('gift') ?? 'rose',
            quantity: Number(query.get('quantity') ?? 1),
            message: query.get('message') || null,
          },
        });
        return { status: sent.status, id: sent.body.id };
      }
      case '/__diamonds/live-drop': {
        const dropped = liveClosers.size;
        for (const close of liveClosers) close();
        liveClosers.clear();
        return { dropped };
      }
      case '/__diamonds/live-goal':
        await platform.writer.run(setGoalOperation, {
          creatorId: info.creatorId,
          goal: { title: query.get('title') ?? 'New microphone', targetDiamonds: Number(query.get('target') ?? 100), endsAt: null },
          now: Date.now(),
        });
        return { ok: true };
      case '/__diamonds/live-start':
        return platform.writer.run(startLiveOperation, {
          creatorId: info.creatorId,
          title: query.get('title') ?? 'Friday jam',
          now: Date.now(),
        });
      case '/__diamonds/split-creator': {
        // A creator of their own (so no other test's gifts are split) with an accepted
        // collaborator, live (`live=1`) with no split yet: `/__diamonds/live-split` sets one.
        const made = (name: string) =>
          createUser(
            platform.db,
            { email: `creator-${randomUUID()}@example.com`, password: 'a long password', displayName: name, roles: ['creator'] },
            { cost: TEST_SCRYPT_COST },
          );
        const [owner, collaborator] = [await made('Ada'), await made('Bo')];
        await platform.db.transaction(async (tx) => {
          await inviteCollaborator(tx, owner.id, { creatorId: collaborator.id });
          await answerCollaboration(tx, { ownerId: owner.id, collaboratorId: collaborator.id, accept: true });
        });
        const session =
          query.get('live') === '1'
            ? await platform.writer.run(startLiveOperation, { creatorId: owner.id, title: 'Duet', now: Date.now() })
            : undefined;
        return { creatorId: owner.id, collaboratorId: collaborator.id, sessionId: session?.sessionId ?? null };
      }
      case '/__diamonds/live-split': {
        // The split of a split creator's live session: the collaborator's `bps`, the rest the owner's.
        const [ownerId, collaboratorId, sessionId] = ['creator', 'collaborator', 'session'].map((name) => query.get(name) ?? '');
        const bps = Number(query.get('bps'));
        await platform.db.transaction((tx) =>
          setSplit(tx, {
            ownerId: ownerId!,
            itemKind: 'live',
            itemId: sessionId!,
            shares: [
              { creatorId: ownerId as `usr_${string}`, shareBps: 10_000 - bps },
              { creatorId: collaboratorId as `usr_${string}`, shareBps: bps },
            ],
          }),
        );
        return { ok: true };
      }
      case '/__diamonds/fixture':
        return info;
      case '/__diamonds/requests': {
        // How many GET requests of `route` (a pattern: /v1/site/creators) the platform answered:
        // what reached the network, where a test of the page can count only its own calls.
        const route = query.get('route') ?? '';
        const text = await platform.metrics.render();
        const counted = text
          .split('\n')
          .filter(
            (line) =>
              line.startsWith('diamonds_http_requests_total{') && line.includes(`route="${route}"`) && line.includes('method="GET"'),
          )
          .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
        return { count: counted };
      }
      case '/__diamonds/fan':
        return newFan(query, origin);
      case '/__diamonds/approve-signin': {
        // What the fan does on the hosted sign-in page: a new fan (balance, name) approves the
        // page's sign-in request with a daily allowance. The answer carries the one-time code the
        // "done" page would post to the popup's opener; the test posts it (see support.ts).
        const { fanId } = await newFan(new URLSearchParams({ ...Object.fromEntries(query), allowance: '0' }), origin);
        const decided = await decideSignInRequest(platform.db, {
          requestId: query.get('request') ?? '',
          userId: fanId,
          approve: true,
          allowancePerDay: Number(query.get('allowance') ?? 0),
        });
        return { fanId, status: decided.status, code: decided.code };
      }
      case '/__diamonds/pay-topup': {
        // What the fan does on the hosted top-up page with the test card 4242 4242 4242 4242.
        const result = await platform.writer.run(payWithTestCardOperation, { id: query.get('id') ?? '', outcome: 'succeeds' });
        return { result };
      }
      case '/__diamonds/decide': {
        const id = query.get('id') ?? '';
        const [row] = await platform.db.query<{ user_id: string }>('SELECT user_id FROM confirmations WHERE id = ?', [id]);
        const record = await platform.writer.run(decideConfirmationOperation, {
          id,
          userId: row?.user_id ?? '',
          approve: query.get('approve') === '1',
        });
        return { status: record.status };
      }
      case '/__diamonds/expire':
        return { expired: await expireConfirmations(platform.writer, platform.db, Date.now() + CONFIRMATION_TTL_MS + 1) };
      case '/__diamonds/order': {
        const response = await fetch(`${platform.url}/v1/orders`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${demo.site.secretKey}`, 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() },
          body: JSON.stringify({
            lines: [{ productId: query.get('product') ?? info.productIds[0], quantity: Number(query.get('quantity') ?? 1) }],
          }),
        });
        return response.json();
      }
      default:
        return undefined;
    }
  }

  return {
    platform,
    info,
    handle,
    async close() {
      await platform.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
