import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { newId, type Content, type ContentList, type Entitlement, type Unlock } from '@diamonds/protocol';
import { createSite } from '../identity/sites.js';
import { splitFee } from '../ledger/allocate.js';
import { jwks, rotateSigningKey, verifyReceiptWith } from '../money/receipts.js';
import { creatorCredits, decideConfirmationOperation, spend, CONFIRMATION_TTL_MS } from '../money/spends.js';
import { expireConfirmations } from '../money/sweeper.js';
import { platformMoney } from '../features.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, TEST_PAGE_ORIGIN, type MoneyHarness, type TestFan } from '../testing/money.js';
import { isApiError } from '../errors.js';
import { createContent } from './content.js';
import { unlockContent } from './unlocks.js';

const FEE_BPS = 2000;

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`exclusive content and unlocks on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    before(async () => {
      h = await startMoneyHarness(kind);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    /** Publishes content with the secret key and returns it. */
    async function publish(fields: Record<string, unknown> = {}): Promise<Content> {
      const res = await h.call('/content', {
        key: 'secret',
        body: { title: 'Behind the scenes', teaser: 'How it was made', body: '# Day one\n\nIt rained.', priceDiamonds: 100, ...fields },
      });
      const body = (await res.json()) as Content;
      assert.equal(res.status, 201, JSON.stringify(body));
      return body;
    }

    async function unlock(content: { id: string }, fan: TestFan, idempotencyKey?: string): Promise<Response> {
      return h.call(`/content/${content.id}/unlock`, { fan, body: {}, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) });
    }

    async function contentCount(): Promise<number> {
      const [row] = await h.t.db.query<{ n: number }>('SELECT count(*) AS n FROM content');
      return Number(row?.n ?? 0);
    }

    async function entitlementCount(fanId: string): Promise<number> {
      const [row] = await h.t.db.query<{ n: number }>('SELECT count(*) AS n FROM entitlements WHERE user_id = ?', [fanId]);
      return Number(row?.n ?? 0);
    }

    async function feesBalance(): Promise<number> {
      const [row] = await h.t.db.query<{ balance: number }>(`SELECT balance FROM accounts WHERE kind = 'fees' AND owner_id IS NULL`);
      return Number(row?.balance ?? 0);
    }

    /** A posted gift from the fan to the test creator (through the core spend, within the fan's allowance). */
    async function gift(fan: TestFan, amount: number): Promise<void> {
      await h.t.db.transaction(async (tx) => {
        const ledger = h.server.ledger;
        const outcome = await spend(tx, ledger, {
          kind: 'gift',
          subjectId: newId('gift'),
          userId: fan.id,
          siteId: h.site.id,
          recipientId: h.creator.id,
          amount,
          credits: await creatorCredits(tx, ledger, h.creator.id, amount, FEE_BPS),
          description: `${amount} Diamonds for Ada`,
          reference: newId('gift'),
        });
        assert.equal(outcome.status, 'succeeded');
      });
    }

    async function body(content: { id: string }, fan?: TestFan): Promise<Response> {
      return h.call(`/content/${content.id}/body`, fan ? { fan } : {});
    }

    describe('publishing', () => {
      it('publishes with the secret key: teaser view, Markdown rendered, creator named', async () => {
        const content = await publish();
        assert.match(content.id, /^ct_/);
        assert.equal(content.siteId, h.site.id);
        assert.deepEqual(content.creator, { id: h.creator.id, displayName: 'Ada' });
        assert.equal(content.format, 'markdown');
        assert.equal(content.priceDiamonds, 100);
        assert.equal(content.thresholdDiamonds, null);
        assert.equal(content.archivedAt, null);
        assert.ok(!('html' in content) && !('body' in content) && !('externalUrl' in content), 'no body in the teaser view');
        const [row] = await h.t.db.query<{ body_html: string }>('SELECT body_html FROM content WHERE id = ?', [content.id]);
        assert.equal(row?.body_html, '<h1>Day one</h1>\n<p>It rained.</p>\n');
      });

      it('publishes external content and threshold content', async () => {
        const external = await publish({ body: undefined, externalUrl: 'https://video.example.com/watch?v=1' });
        assert.equal(external.format, 'external');
        const threshold = await publish({ priceDiamonds: undefined, thresholdDiamonds: 500 });
        assert.equal(threshold.priceDiamonds, null);
        assert.equal(threshold.thresholdDiamonds, 500);
      });

      it('refuses the publishable key, and a secret key cannot be used from a page', async () => {
        const before = await contentCount();
        await h.refused(await h.call('/content', { body: { title: 'x', body: 'y', priceDiamonds: 1 } }), 403, 'permission_denied');
        assert.equal(await contentCount(), before);
      });

      it('needs an Idempotency-Key, and replays a retry without publishing twice', async () => {
        await h.refused(
          await h.call('/content', { key: 'secret', idempotencyKey: null, body: { title: 'x', body: 'y', priceDiamonds: 1 } }),
          400,
          'idempotency_key_required',
        );
        const before = await contentCount();
        const key = randomUUID();
        const input = { title: 'Once', body: 'only once', priceDiamonds: 5 };
        const first = await h.call('/content', { key: 'secret', idempotencyKey: key, body: input });
        const second = await h.call('/content', { key: 'secret', idempotencyKey: key, body: input });
        assert.equal(first.status, 201);
        assert.equal(second.status, 201);
        assert.equal(second.headers.get('Idempotent-Replayed'), 'true');
        assert.deepEqual(await second.json(), await first.json());
        assert.equal(await contentCount(), before + 1);
      });

      const badInputs: [string, Record<string, unknown>, string, string][] = [
        ['an empty title', { title: '   ' }, 'invalid_request', 'title'],
        ['no title', { title: undefined }, 'invalid_request', 'title'],
        ['both a price and a threshold', { thresholdDiamonds: 10 }, 'invalid_request', 'thresholdDiamonds'],
        ['neither a price nor a threshold', { priceDiamonds: undefined }, 'invalid_request', 'priceDiamonds'],
        ['price 0', { priceDiamonds: 0 }, 'invalid_amount', 'priceDiamonds'],
        ['price -1', { priceDiamonds: -1 }, 'invalid_amount', 'priceDiamonds'],
        ['price 1.5', { priceDiamonds: 1.5 }, 'invalid_amount', 'priceDiamonds'],
        ['price "10"', { priceDiamonds: '10' }, 'invalid_amount', 'priceDiamonds'],
        ['price 2^53 + 1', { priceDiamonds: 2 ** 53 + 1 }, 'amount_too_large', 'priceDiamonds'],
        ['threshold 0', { priceDiamonds: undefined, thresholdDiamonds: 0 }, 'invalid_amount', 'thresholdDiamonds'],
        ['threshold 1.5', { priceDiamonds: undefined, thresholdDiamonds: 1.5 }, 'invalid_amount', 'thresholdDiamonds'],
        ['both a body and an external URL', { externalUrl: 'https://example.com' }, 'invalid_request', 'externalUrl'],
        ['neither a body nor an external URL', { body: undefined }, 'invalid_request', 'body'],
        ['an http external URL', { body: undefined, externalUrl: 'http://example.com/x' }, 'invalid_request', 'externalUrl'],
        ['a javascript: external URL', { body: undefined, externalUrl: 'javascript:alert(1)' }, 'invalid_request', 'externalUrl'],
        [
          'a data: external URL',
          { body: undefined, externalUrl: 'data:text/html,<script>alert(1)</script>' },
          'invalid_request',
          'externalUrl',
        ],
        ['not a URL', { body: undefined, externalUrl: 'example dot com' }, 'invalid_request', 'externalUrl'],
        ['an unknown parameter', { price: 10 }, 'invalid_request', 'price'],
      ];
      for (const [what, fields, code, param] of badInputs) {
        it(`refuses ${what} (${code}), publishing nothing`, async () => {
          const before = await contentCount();
          const input = { title: 'Title', body: 'Body', priceDiamonds: 10, ...fields };
          const error = await h.refused(await h.call('/content', { key: 'secret', body: input }), 400, code);
          assert.equal(error.param, param, error.message);
          assert.ok(error.message.length > 10);
          assert.equal(await contentCount(), before);
        });
      }
    });

    describe('reading', () => {
      it('lists the site’s content newest first in cursor pages, teasers only', async () => {
        const site = await createSite(h.t.db, { ownerId: h.creator.id, name: 'Second', origins: ['https://second.example'] });
        await h.t.db.transaction((tx) =>
          createContent(
            tx,
            { siteId: site.site.id, creatorId: h.creator.id },
            { title: 'Elsewhere', teaser: '', body: 'x', priceDiamonds: 1 },
          ),
        );
        const published = [await publish({ title: 'A' }), await publish({ title: 'B' }), await publish({ title: 'C' })];
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const res = await h.call(`/content?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
          assert.equal(res.status, 200);
          const page = (await res.json()) as ContentList;
          assert.ok(page.data.length <= 2);
          for (const item of page.data) {
            assert.equal(item.siteId, h.site.id, 'only this site’s content');
            assert.ok(!('html' in item) && !('externalUrl' in item));
            seen.push(item.id);
          }
          cursor = page.nextCursor;
          assert.equal(page.hasMore, cursor !== null);
        } while (cursor);
        assert.deepEqual(seen, [...seen].sort().reverse(), 'newest first');
        assert.deepEqual(seen.slice(0, 3), published.map((c) => c.id).reverse());
        await h.refused(await h.call('/content?cursor=bogus'), 400, 'invalid_cursor');
        await h.refused(await h.call('/content?limit=0'), 400, 'invalid_request');
      });

      it('shows one piece with either key, and content of another site is content_not_found', async () => {
        const content = await publish();
        for (const key of ['publishable', 'secret'] as const) {
          const res = await h.call(`/content/${content.id}`, { key });
          assert.equal(res.status, 200);
          const shown = (await res.json()) as Content;
          assert.equal(shown.title, content.title);
          assert.equal(shown.entitled, undefined, 'no fan fields without a fan');
        }
        const other = await createSite(h.t.db, { ownerId: h.creator.id, name: 'Third', origins: ['https://third.example'] });
        const foreign = await h.t.db.transaction((tx) =>
          createContent(
            tx,
            { siteId: other.site.id, creatorId: h.creator.id },
            { title: 'Theirs', teaser: '', body: 'x', priceDiamonds: 1 },
          ),
        );
        await h.refused(await h.call(`/content/${foreign.id}`), 404, 'content_not_found');
        await h.refused(await h.call(`/content/${newId('ct')}`), 404, 'content_not_found');
        await h.refused(await h.call('/content/ct_00000000000000000000000000'), 404, 'content_not_found');
        const fan = await h.fan({ allowance: 1000, balance: 100 });
        const before = await h.transferCount();
        await h.refused(await unlock(foreign, fan), 404, 'content_not_found');
        await h.refused(await h.call(`/content/${foreign.id}/body`, { fan }), 404, 'content_not_found');
        assert.equal(await h.transferCount(), before);
      });
    });

    describe('unlocking with a price', () => {
      it('within the allowance: pays once, splits the fee exactly, grants the body and a verifiable receipt', async () => {
        const content = await publish({ priceDiamonds: 101 });
        const fan = await h.fan({ allowance: 1000, balance: 500 });
        const creatorBefore = await h.balances(h.creator.id);
        const feesBefore = await feesBalance();

        await h.refused(await body(content), 401, 'authentication_required');
        await h.refused(await body(content, fan), 403, 'not_entitled');
        await h.refused(await h.call(`/content/${content.id}/entitlement`, { fan }), 403, 'not_entitled');

        const res = await unlock(content, fan);
        const answer = (await res.json()) as Unlock;
        assert.equal(res.status, 201, JSON.stringify(answer));
        assert.equal(answer.status, 'succeeded');
        assert.ok(answer.status === 'succeeded');
        assert.equal(answer.entitlement.status, 'active');
        assert.equal(answer.entitlement.amountDiamonds, 101);
        assert.equal(answer.entitlement.fanId, fan.id);
        assert.match(answer.entitlement.transferId ?? '', /^txn_/);
        assert.equal(answer.entitlement.receipt, answer.receipt);

        const { net, fee } = splitFee(101, FEE_BPS);
        assert.equal(net + fee, 101);
        assert.deepEqual(await h.balances(fan.id), { wallet: 399, held: 0, earnings: 0 });
        assert.equal((await h.balances(h.creator.id)).earnings, creatorBefore.earnings + net);
        assert.equal(await feesBalance(), feesBefore + fee);

        const claims = verifyReceiptWith(answer.receipt, (await jwks(h.t.db)).keys);
        assert.equal(claims.sub, fan.id);
        assert.equal(claims.aud, h.site.id);
        assert.equal(claims.kind, 'unlock');
        assert.equal(claims.subjectId, content.id);
        assert.equal(claims.amountDiamonds, 101);
        assert.equal(claims.transferId, answer.entitlement.transferId);
        assert.equal(claims.iss, h.server.url);

        const served = await body(content, fan);
        assert.equal(served.status, 200);
        assert.equal(served.headers.get('Cache-Control'), 'private, no-store');
        assert.deepEqual(await served.json(), {
          object: 'content_body',
          id: content.id,
          html: '<h1>Day one</h1>\n<p>It rained.</p>\n',
          externalUrl: null,
        });
        const shown = (await (await h.call(`/content/${content.id}`, { fan })).json()) as Content;
        assert.equal(shown.entitled, true);
        assert.equal(shown.remainingToThreshold, null);

        const history = await h.t.db.query<{ metadata: string }>(`SELECT t.metadata FROM transfers t WHERE t.id = ?`, [
          answer.entitlement.transferId,
        ]);
        assert.match(String(history[0]?.metadata), /Unlock “Behind the scenes” by Ada/);
      });

      it('unlocking twice answers already_unlocked, charges once, and the entitlement keeps the receipt', async () => {
        const content = await publish({ priceDiamonds: 40 });
        const fan = await h.fan({ allowance: 1000, balance: 100 });
        const first = (await (await unlock(content, fan)).json()) as Unlock & { receipt: string };
        const transfers = await h.transferCount();
        const error = await h.refused(await unlock(content, fan), 409, 'already_unlocked');
        assert.match(error.message, /entitlement/);
        assert.equal(await h.transferCount(), transfers);
        assert.equal((await h.balances(fan.id)).wallet, 60);
        const res = await h.call(`/content/${content.id}/entitlement`, { fan });
        assert.equal(res.status, 200);
        const entitlement = (await res.json()) as Entitlement;
        assert.equal(entitlement.receipt, first.receipt);
        assert.equal(entitlement.status, 'active');
      });

      it('the same Idempotency-Key twice at once charges once and replays the answer', async () => {
        const content = await publish({ priceDiamonds: 30 });
        const fan = await h.fan({ allowance: 1000, balance: 100 });
        const transfers = await h.transferCount();
        const key = randomUUID();
        const [a, b] = await Promise.all([unlock(content, fan, key), unlock(content, fan, key)]);
        assert.equal(a.status, 201);
        assert.equal(b.status, 201);
        assert.deepEqual(await a.json(), await b.json());
        assert.equal([a, b].filter((r) => r.headers.get('Idempotent-Replayed') === 'true').length, 1);
        assert.equal(await h.transferCount(), transfers + 1);
        assert.equal((await h.balances(fan.id)).wallet, 70);
      });

      it('10 unlocks at once with different keys: exactly one charge, the others already_unlocked', async () => {
        const content = await publish({ priceDiamonds: 25 });
        const fan = await h.fan({ allowance: 1000, balance: 1000 });
        const transfers = await h.transferCount();
        const responses = await Promise.all(Array.from({ length: 10 }, () => unlock(content, fan)));
        const statuses = responses.map((r) => r.status).sort();
        assert.deepEqual(statuses, [201, ...Array<number>(9).fill(409)]);
        for (const res of responses.filter((r) => r.status === 409)) await h.refused(res, 409, 'already_unlocked');
        assert.equal(await h.transferCount(), transfers + 1);
        assert.deepEqual(await h.balances(fan.id), { wallet: 975, held: 0, earnings: 0 });
        assert.equal(await entitlementCount(fan.id), 1);
      });

      it('10 unlocks racing in separate transactions (as on several servers): one charge, the rest already_unlocked', async () => {
        const content = await publish({ priceDiamonds: 15 });
        const fan = await h.fan({ allowance: 1000, balance: 1000 });
        const transfers = await h.transferCount();
        const outcomes = await Promise.allSettled(
          Array.from({ length: 10 }, () =>
            h.t.db.transaction((tx) =>
              unlockContent(tx, {
                money: platformMoney().contextFor(h.server.ledger),
                feeBasisPoints: FEE_BPS,
                baseUrl: h.server.url,
                fanId: fan.id,
                siteId: h.site.id,
                contentId: content.id,
              }),
            ),
          ),
        );
        const succeeded = outcomes.filter((o) => o.status === 'fulfilled');
        assert.equal(succeeded.length, 1);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') assert.ok(isApiError(outcome.reason, 'already_unlocked'), String(outcome.reason));
        }
        assert.equal(await h.transferCount(), transfers + 1);
        assert.deepEqual(await h.balances(fan.id), { wallet: 985, held: 0, earnings: 0 });
        assert.equal(await entitlementCount(fan.id), 1);
      });

      it('insufficient funds: 402, nothing moved, no entitlement; the same key works after a top-up', async () => {
        const content = await publish({ priceDiamonds: 80 });
        const fan = await h.fan({ allowance: 1000, balance: 50 });
        const transfers = await h.transferCount();
        const key = randomUUID();
        await h.refused(await unlock(content, fan, key), 402, 'insufficient_funds');
        assert.equal(await h.transferCount(), transfers);
        assert.deepEqual(await h.balances(fan.id), { wallet: 50, held: 0, earnings: 0 });
        assert.equal(await entitlementCount(fan.id), 0);
        await h.credit(fan.id, 50);
        assert.equal((await unlock(content, fan, key)).status, 201);
        assert.equal((await h.balances(fan.id)).wallet, 20);
      });

      it('refuses bad unlock calls with their codes and moves nothing', async () => {
        const content = await publish({ priceDiamonds: 10 });
        const fan = await h.fan({ allowance: 1000, balance: 100 });
        const transfers = await h.transferCount();
        await h.refused(await h.call(`/content/${content.id}/unlock`, { body: {} }), 401, 'authentication_required');
        await h.refused(
          await h.call(`/content/${content.id}/unlock`, { body: {}, fan: { ...fan, token: 'dat_bogus' } }),
          401,
          'invalid_token',
        );
        await h.refused(await h.call(`/content/${content.id}/unlock`, { body: {}, fan, key: 'secret' }), 403, 'permission_denied');
        await h.refused(await unlock(content, fan, null as unknown as string), 400, 'idempotency_key_required');
        await h.refused(await unlock({ id: newId('ct') }, fan), 404, 'content_not_found');
        assert.equal(await h.transferCount(), transfers);
        assert.equal((await h.balances(fan.id)).wallet, 100);
        assert.equal(await entitlementCount(fan.id), 0);
      });

      it('archived content cannot be unlocked, but an entitled fan keeps the body', async () => {
        const content = await publish({ priceDiamonds: 10 });
        const early = await h.fan({ allowance: 1000, balance: 100 });
        const late = await h.fan({ allowance: 1000, balance: 100 });
        assert.equal((await unlock(content, early)).status, 201);
        const archive = await h.call(`/content/${content.id}`, { method: 'PATCH', key: 'secret', body: { archived: true } });
        assert.equal(archive.status, 200);
        assert.notEqual(((await archive.json()) as Content).archivedAt, null);
        await h.refused(await h.call(`/content/${content.id}`, { method: 'PATCH', body: { archived: false } }), 403, 'permission_denied');
        const transfers = await h.transferCount();
        await h.refused(await unlock(content, late), 409, 'content_archived');
        await h.refused(await unlock(content, early), 409, 'already_unlocked');
        assert.equal(await h.transferCount(), transfers);
        assert.equal((await body(content, early)).status, 200);
        const listed = (await (await h.call('/content?limit=100')).json()) as ContentList;
        assert.ok(!listed.data.some((item) => item.id === content.id), 'archived content is not listed for pages');
        const listedForBackend = (await (await h.call('/content?limit=100', { key: 'secret' })).json()) as ContentList;
        assert.ok(
          listedForBackend.data.some((item) => item.id === content.id),
          'the backend sees it',
        );
      });
    });

    describe('unlocking beyond the allowance', () => {
      async function pendingUnlock(price: number): Promise<{ content: Content; fan: TestFan; answer: Unlock }> {
        const content = await publish({ priceDiamonds: price });
        const fan = await h.fan({ allowance: 10, balance: 500 });
        const res = await unlock(content, fan);
        const answer = (await res.json()) as Unlock;
        assert.equal(res.status, 202, JSON.stringify(answer));
        assert.equal(answer.status, 'confirmation_required');
        return { content, fan, answer };
      }

      it('holds the price and answers a confirmation; approving grants the entitlement and the receipt', async () => {
        const { content, fan, answer } = await pendingUnlock(200);
        assert.ok(answer.status === 'confirmation_required');
        assert.equal(answer.entitlement.status, 'pending_confirmation');
        assert.equal(answer.entitlement.receipt, null);
        assert.equal(answer.confirmation.amountDiamonds, 200);
        assert.equal(answer.confirmation.description, 'Unlock “Behind the scenes” by Ada');
        // The confirmation page names the page that asked.
        const [asked] = await h.t.db.query<{ origin: string | null }>('SELECT origin FROM confirmations WHERE id = ?', [
          answer.confirmation.id,
        ]);
        assert.equal(asked?.origin, TEST_PAGE_ORIGIN);
        assert.equal(answer.confirmation.url, `${h.server.url}/confirm/${answer.confirmation.id}`);
        assert.deepEqual(await h.balances(fan.id), { wallet: 500, held: 200, earnings: 0 });
        await h.refused(await body(content, fan), 403, 'not_entitled');

        // Asking again while it waits answers the same confirmation and holds nothing more.
        const again = (await (await unlock(content, fan)).json()) as Unlock;
        assert.ok(again.status === 'confirmation_required');
        assert.equal(again.confirmation.id, answer.confirmation.id);
        assert.equal((await h.balances(fan.id)).held, 200);

        const creatorBefore = (await h.balances(h.creator.id)).earnings;
        await h.server.writer.run(decideConfirmationOperation, { id: answer.confirmation.id, userId: fan.id, approve: true });
        assert.deepEqual(await h.balances(fan.id), { wallet: 300, held: 0, earnings: 0 });
        assert.equal((await h.balances(h.creator.id)).earnings, creatorBefore + splitFee(200, FEE_BPS).net);
        const served = await body(content, fan);
        assert.equal(served.status, 200);
        const entitlement = (await (await h.call(`/content/${content.id}/entitlement`, { fan })).json()) as Entitlement;
        assert.equal(entitlement.status, 'active');
        const claims = verifyReceiptWith(entitlement.receipt!, (await jwks(h.t.db)).keys);
        assert.equal(claims.amountDiamonds, 200);
        assert.equal(claims.subjectId, content.id);
        assert.equal(claims.transferId, entitlement.transferId);
        assert.match(claims.transferId ?? '', /^txn_/);
        await h.refused(await unlock(content, fan), 409, 'already_unlocked');
      });

      it('declining releases the hold, grants nothing, and the fan can try again', async () => {
        const { content, fan, answer } = await pendingUnlock(150);
        assert.ok(answer.status === 'confirmation_required');
        await h.server.writer.run(decideConfirmationOperation, { id: answer.confirmation.id, userId: fan.id, approve: false });
        assert.deepEqual(await h.balances(fan.id), { wallet: 500, held: 0, earnings: 0 });
        await h.refused(await body(content, fan), 403, 'not_entitled');
        assert.equal(await entitlementCount(fan.id), 0);
        const retry = (await (await unlock(content, fan)).json()) as Unlock;
        assert.ok(retry.status === 'confirmation_required');
        assert.notEqual(retry.confirmation.id, answer.confirmation.id);
        await h.server.writer.run(decideConfirmationOperation, { id: retry.confirmation.id, userId: fan.id, approve: true });
        assert.equal((await body(content, fan)).status, 200);
        assert.equal((await h.balances(fan.id)).wallet, 350);
      });

      it('expiry releases the hold and removes the pending entitlement', async () => {
        const { content, fan, answer } = await pendingUnlock(120);
        assert.ok(answer.status === 'confirmation_required');
        await expireConfirmations(h.server.writer, h.t.db, Date.now() + CONFIRMATION_TTL_MS + 1);
        assert.deepEqual(await h.balances(fan.id), { wallet: 500, held: 0, earnings: 0 });
        assert.equal(await entitlementCount(fan.id), 0);
        await h.refused(await body(content, fan), 403, 'not_entitled');
      });
    });

    describe('unlocking with a support threshold', () => {
      it('refuses until the fan’s gifts reach the threshold, then grants a 0-Diamond receipt', async () => {
        const content = await publish({ priceDiamonds: undefined, thresholdDiamonds: 300 });
        const fan = await h.fan({ allowance: 10_000, balance: 1000 });
        await gift(fan, 100);
        const transfers = await h.transferCount();
        const error = await h.refused(await unlock(content, fan), 403, 'threshold_not_met');
        assert.match(error.message, /200 more Diamonds/);
        assert.equal(await h.transferCount(), transfers);
        assert.equal(await entitlementCount(fan.id), 0);
        const shown = (await (await h.call(`/content/${content.id}`, { fan })).json()) as Content;
        assert.equal(shown.entitled, false);
        assert.equal(shown.supportedDiamonds, 100);
        assert.equal(shown.remainingToThreshold, 200);

        await gift(fan, 200);
        const wallet = (await h.balances(fan.id)).wallet;
        const res = await unlock(content, fan);
        const answer = (await res.json()) as Unlock;
        assert.equal(res.status, 201, JSON.stringify(answer));
        assert.ok(answer.status === 'succeeded');
        assert.equal(answer.entitlement.amountDiamonds, 0);
        assert.equal(answer.entitlement.transferId, null);
        assert.equal((await h.balances(fan.id)).wallet, wallet, 'a threshold unlock costs nothing');
        const claims = verifyReceiptWith(answer.receipt, (await jwks(h.t.db)).keys);
        assert.equal(claims.amountDiamonds, 0);
        assert.equal(claims.transferId, null);
        assert.equal((await body(content, fan)).status, 200);
        const after = (await (await h.call(`/content/${content.id}`, { fan })).json()) as Content;
        assert.equal(after.remainingToThreshold, 0);
        assert.equal(after.entitled, true);
        await h.refused(await unlock(content, fan), 409, 'already_unlocked');
      });
    });

    describe('receipts', () => {
      it('verify against the published JWKS, and keep verifying after a key rotation', async () => {
        const fan = await h.fan({ allowance: 1000, balance: 100 });
        const oldAnswer = (await (await unlock(await publish({ priceDiamonds: 5 }), fan)).json()) as Unlock & { receipt: string };
        const oldKid = (JSON.parse(Buffer.from(oldAnswer.receipt.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
        const newKid = await rotateSigningKey(h.t.db);
        assert.notEqual(newKid, oldKid);
        const newAnswer = (await (await unlock(await publish({ priceDiamonds: 5 }), fan)).json()) as Unlock & { receipt: string };
        const header = JSON.parse(Buffer.from(newAnswer.receipt.split('.')[0]!, 'base64url').toString()) as { kid: string; alg: string };
        assert.equal(header.kid, newKid);
        assert.equal(header.alg, 'ES256');

        const res = await h.call('//.well-known/jwks.json', { origin: TEST_PAGE_ORIGIN });
        assert.equal(res.status, 200);
        const published = (await res.json()) as { keys: Parameters<typeof verifyReceiptWith>[1] };
        assert.equal(verifyReceiptWith(oldAnswer.receipt, published.keys).subjectId, oldAnswer.entitlement.contentId);
        assert.equal(verifyReceiptWith(newAnswer.receipt, published.keys).subjectId, newAnswer.entitlement.contentId);
        // A tampered receipt does not verify.
        const [head, claims, signature] = oldAnswer.receipt.split('.');
        const forged = Buffer.from(
          JSON.stringify({ ...(JSON.parse(Buffer.from(claims!, 'base64url').toString()) as object), amountDiamonds: 0 }),
        ).toString('base64url');
        assert.throws(() => verifyReceiptWith(`${head}.${forged}.${signature}`, published.keys));
      });
    });
  });
}
