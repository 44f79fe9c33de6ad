import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Confirmation, Gift } from '@diamonds/protocol';
import { decideConfirmationOperation, CONFIRMATION_TTL_MS } from '../money/spends.js';
import { expireConfirmations } from '../money/sweeper.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { startMoneyHarness, type MoneyHarness } from '../testing/money.js';
import { addGiftType, setGiftTypeActive } from './catalog.js';
import { feesBalance, giftCount, postGift, sendOk, snapshot } from './testing.js';

const SQUARE = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" fill="#09c"/></svg>';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`gifts on ${kind}`, { skip }, () => {
    let h: MoneyHarness;
    before(async () => {
      h = await startMoneyHarness(kind);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    it('sends a gift within the allowance at once: wallet pays, creator earns, the platform takes its fee', async () => {
      const fan = await h.fan({ allowance: 100, balance: 100 });
      const creator = await h.newCreator('Grace', { listed: true });
      const fees = await feesBalance(h);
      const gift = Gift.parse(await sendOk(h, fan, { creatorId: creator.id, giftId: 'rose', quantity: 3, message: 'Bravo!' }, 201));
      assert.equal(gift.status, 'succeeded');
      assert.equal(gift.giftId, 'rose');
      assert.equal(gift.giftName, 'Rose');
      assert.equal(gift.quantity, 3);
      assert.equal(gift.unitPriceDiamonds, 5);
      assert.equal(gift.amountDiamonds, 15);
      assert.equal(gift.fanId, fan.id);
      assert.equal(gift.creatorId, creator.id);
      assert.equal(gift.siteId, h.site.id);
      assert.equal(gift.message, 'Bravo!');
      assert.ok(gift.transferId);
      assert.equal(gift.confirmation, undefined);
      assert.deepEqual(await h.balances(fan.id), { wallet: 85, held: 0, earnings: 0 });
      assert.deepEqual(await h.balances(creator.id), { wallet: 0, held: 0, earnings: 12 });
      assert.equal(await feesBalance(h), fees + 3);

      const [transfer] = await h.t.db.query<{ code: string; metadata: string }>('SELECT code, metadata FROM transfers WHERE id = ?', [
        gift.transferId,
      ]);
      assert.equal(transfer?.code, 'gift');
      assert.equal((JSON.parse(transfer?.metadata ?? '{}') as { description?: string }).description, '3 × Rose for Grace');

      const read = await h.call(`/gifts/${gift.id}`, { fan });
      assert.equal(read.status, 200);
      assert.deepEqual(Gift.parse(await read.json()), gift);
    });

    it('splits an odd amount exactly: 7 Diamonds at 20% → 6 to the creator, 1 to the platform', async () => {
      const fan = await h.fan({ allowance: 100, balance: 10 });
      const creator = await h.newCreator('Odd', { listed: true });
      const fees = await feesBalance(h);
      await sendOk(h, fan, { creatorId: creator.id, giftId: 'heart', quantity: 7 }, 201);
      assert.deepEqual(await h.balances(fan.id), { wallet: 3, held: 0, earnings: 0 });
      assert.equal((await h.balances(creator.id)).earnings, 6);
      assert.equal(await feesBalance(h), fees + 1);
      // 1 Diamond: the creator gets it all (ties round to the recipient).
      await sendOk(h, fan, { creatorId: creator.id, giftId: 'heart' }, 201);
      assert.equal((await h.balances(creator.id)).earnings, 7);
      assert.equal(await feesBalance(h), fees + 1);
    });

    it('holds a gift beyond the allowance and answers 202 with a confirmation: nothing posted', async () => {
      const fan = await h.fan({ allowance: 10, balance: 100 });
      const fees = await feesBalance(h);
      const transfers = await h.transferCount();
      const gift = Gift.parse(await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'star' }, 202));
      assert.equal(gift.status, 'confirmation_required');
      assert.equal(gift.transferId, null);
      const confirmation = gift.confirmation!;
      assert.equal(confirmation.status, 'pending');
      assert.equal(confirmation.amountDiamonds, 50);
      assert.equal(confirmation.kind, 'gift');
      assert.equal(confirmation.subjectId, gift.id);
      assert.equal(confirmation.description, '1 × Star for Ada');
      assert.equal(confirmation.url, `${h.server.url}/confirm/${confirmation.id}`);
      assert.deepEqual(await h.balances(fan.id), { wallet: 100, held: 50, earnings: 0 });
      assert.equal(await feesBalance(h), fees);
      assert.equal(await h.transferCount(), transfers + 1, 'only the hold');

      const polled = await h.call(`/confirmations/${confirmation.id}`, { fan });
      assert.equal(polled.status, 200);
      assert.deepEqual(Confirmation.parse(await polled.json()), confirmation);
      const read = Gift.parse(await (await h.call(`/gifts/${gift.id}`, { fan })).json());
      assert.equal(read.status, 'confirmation_required');

      // The fan cannot afford a second hold of 60 on top of it: 40 are left.
      const before = await snapshot(h, fan.id);
      await h.refused(await postGift(h, fan, { creatorId: h.creator.id, giftId: 'coffee', quantity: 6 }), 402, 'insufficient_funds');
      assert.deepEqual(await snapshot(h, fan.id), before);

      await h.server.writer.run(decideConfirmationOperation, { id: confirmation.id, userId: fan.id, approve: false });
    });

    it('long-polls a confirmation until the fan decides', async () => {
      const fan = await h.fan({ allowance: 0, balance: 10 });
      const gift = await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'coffee' }, 202);
      const id = gift.confirmation!.id;
      const started = Date.now();
      const waiting = h.call(`/confirmations/${id}?waitMs=10000`, { fan });
      setTimeout(() => {
        void h.server.writer.run(decideConfirmationOperation, { id, userId: fan.id, approve: true });
      }, 300);
      const res = await waiting;
      const body = Confirmation.parse(await res.json());
      assert.equal(body.status, 'approved');
      assert.ok(body.transferId);
      assert.ok(Date.now() - started < 5000, 'answered when decided, not at the deadline');
      const read = Gift.parse(await (await h.call(`/gifts/${gift.id}`, { fan })).json());
      assert.equal(read.status, 'succeeded');
      assert.equal(read.transferId, body.transferId);
      assert.deepEqual(await h.balances(fan.id), { wallet: 0, held: 0, earnings: 0 });

      const quick = await h.call(`/confirmations/${id}?waitMs=0`, { fan });
      assert.equal(quick.status, 200);
      await h.refused(await h.call(`/confirmations/${id}?waitMs=25001`, { fan }), 400, 'invalid_request');
      await h.refused(await h.call(`/confirmations/${id}?waitMs=soon`, { fan }), 400, 'invalid_request');
      await h.refused(await h.call(`/confirmations/${id}?wait=1`, { fan }), 400, 'invalid_request');
    });

    it('expires a held gift: the hold is released, the gift marked expired, nothing charged', async () => {
      const fan = await h.fan({ allowance: 0, balance: 20 });
      const transfersBefore = await h.transferCount();
      const gift = await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'coffee', quantity: 2 }, 202);
      assert.deepEqual(await h.balances(fan.id), { wallet: 20, held: 20, earnings: 0 });
      const expired = await expireConfirmations(h.server.writer, h.t.db, Date.now() + CONFIRMATION_TTL_MS + 1);
      assert.ok(expired >= 1);
      assert.deepEqual(await h.balances(fan.id), { wallet: 20, held: 0, earnings: 0 });
      const read = Gift.parse(await (await h.call(`/gifts/${gift.id}`, { fan })).json());
      assert.equal(read.status, 'expired');
      assert.equal(read.transferId, null);
      assert.equal(read.confirmation?.status, 'expired');
      assert.equal(await h.transferCount(), transfersBefore + 2, 'the hold and its void, nothing posted');
    });

    it('refuses a gift the wallet cannot pay with 402, nothing moved', async () => {
      const fan = await h.fan({ allowance: 1000, balance: 4 });
      const before = await snapshot(h, fan.id, h.creator.id);
      const error = await h.refused(await postGift(h, fan, { creatorId: h.creator.id, giftId: 'rose' }), 402, 'insufficient_funds');
      assert.ok(error.message.length > 0);
      assert.deepEqual(await snapshot(h, fan.id, h.creator.id), before);
      const broke = await h.fan({ allowance: 0, balance: 0 });
      await h.refused(await postGift(h, broke, { creatorId: h.creator.id, giftId: 'rose' }), 402, 'insufficient_funds');
      assert.deepEqual(await snapshot(h, fan.id, h.creator.id), before);
      // After a top-up the same request (a fresh key, as the failed one stored nothing) goes through.
      await h.credit(fan.id, 1);
      await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'rose' }, 201);
    });

    it('never exceeds the allowance: 20 concurrent gifts of 5 with an allowance of 50 → 10 sent, 10 held', async () => {
      const fan = await h.fan({ allowance: 50, balance: 1000 });
      const creator = await h.newCreator('Hot', { listed: true });
      const responses = await Promise.all(Array.from({ length: 20 }, () => postGift(h, fan, { creatorId: creator.id, giftId: 'rose' })));
      const statuses = responses.map((res) => res.status).sort();
      const bodies = await Promise.all(responses.map(async (res) => Gift.parse(await res.json())));
      assert.deepEqual(statuses, [...Array(10).fill(201), ...Array(10).fill(202)]);
      assert.equal(bodies.filter((gift) => gift.status === 'succeeded').length, 10);
      assert.deepEqual(await h.balances(fan.id), { wallet: 950, held: 50, earnings: 0 });
      assert.equal((await h.balances(creator.id)).earnings, 40);
      for (const gift of bodies.filter((g) => g.confirmation)) {
        await h.server.writer.run(decideConfirmationOperation, { id: gift.confirmation!.id, userId: fan.id, approve: false });
      }
      assert.deepEqual(await h.balances(fan.id), { wallet: 950, held: 0, earnings: 0 });
    });

    it('concurrent gifts from many fans to one creator all land, each exactly once', async () => {
      const creator = await h.newCreator('Popular', { listed: true });
      const fans = await Promise.all(Array.from({ length: 8 }, () => h.fan({ allowance: 1000, balance: 100 })));
      const responses = await Promise.all(
        fans.flatMap((fan) => Array.from({ length: 5 }, () => postGift(h, fan, { creatorId: creator.id, giftId: 'coffee' }))),
      );
      assert.deepEqual([...new Set(responses.map((res) => res.status))], [201]);
      for (const fan of fans) assert.equal((await h.balances(fan.id)).wallet, 50);
      assert.equal((await h.balances(creator.id)).earnings, 40 * 8);
    });

    it('gifts asked at once, to several creators and gift types and to none: each gets its own answer', async () => {
      // On PostgreSQL what each gift names is read for all of them in one statement (db/batched-read.ts).
      const fan = await h.fan({ allowance: 1000, balance: 1000 });
      const [ada, grace] = await Promise.all([h.newCreator('Ada B', { listed: true }), h.newCreator('Grace B', { listed: true })]);
      const asked = [
        { creatorId: ada.id, giftId: 'rose', expect: { status: 201, amount: 5, creator: ada.id } },
        { creatorId: grace.id, giftId: 'coffee', expect: { status: 201, amount: 10, creator: grace.id } },
        { creatorId: ada.id, giftId: 'coffee', expect: { status: 201, amount: 10, creator: ada.id } },
        { creatorId: fan.id, giftId: 'rose', expect: { status: 400, code: 'cannot_gift_self' } },
        { creatorId: 'usr_nobody', giftId: 'rose', expect: { status: 404, code: 'creator_not_found' } },
        { creatorId: grace.id, giftId: 'unicorn', expect: { status: 404, code: 'gift_not_found' } },
        { creatorId: grace.id, giftId: 'rose', expect: { status: 201, amount: 5, creator: grace.id } },
      ];
      const responses = await Promise.all(asked.map(({ creatorId, giftId }) => postGift(h, fan, { creatorId, giftId })));
      for (const [index, res] of responses.entries()) {
        const { expect } = asked[index]!;
        const body = (await res.json()) as { amountDiamonds?: number; creatorId?: string; error?: { code: string } };
        assert.equal(res.status, expect.status, JSON.stringify(body));
        if ('code' in expect) assert.equal(body.error?.code, expect.code);
        else assert.deepEqual([body.amountDiamonds, body.creatorId], [expect.amount, expect.creator]);
      }
      assert.equal((await h.balances(fan.id)).wallet, 1000 - 5 - 10 - 10 - 5);
    });

    it('replays the same Idempotency-Key: one gift, the first answer; a different body is refused', async () => {
      const fan = await h.fan({ allowance: 100, balance: 100 });
      const key = randomUUID();
      const body = { creatorId: h.creator.id, giftId: 'rose', quantity: 2 };
      const first = await postGift(h, fan, body, { idempotencyKey: key });
      assert.equal(first.status, 201);
      const firstBody = await first.json();
      const transfers = await h.transferCount();
      const second = await postGift(h, fan, body, { idempotencyKey: key });
      assert.equal(second.status, 201);
      assert.equal(second.headers.get('Idempotent-Replayed'), 'true');
      assert.deepEqual(await second.json(), firstBody);
      assert.equal(await h.transferCount(), transfers);
      assert.equal((await h.balances(fan.id)).wallet, 90);

      const before = await snapshot(h, fan.id);
      await h.refused(await postGift(h, fan, { ...body, quantity: 3 }, { idempotencyKey: key }), 422, 'idempotency_key_reused');
      assert.deepEqual(await snapshot(h, fan.id), before);

      // Ten retries at once with one key: still one gift.
      const key2 = randomUUID();
      const gifts = await giftCount(h);
      const racing = await Promise.all(Array.from({ length: 10 }, () => postGift(h, fan, body, { idempotencyKey: key2 })));
      const ids = new Set(await Promise.all(racing.map(async (res) => ((await res.json()) as Gift).id)));
      assert.equal(ids.size, 1);
      assert.equal(await giftCount(h), gifts + 1);
      assert.equal((await h.balances(fan.id)).wallet, 80);
      assert.equal(racing.filter((res) => res.headers.get('Idempotent-Replayed') === 'true').length, 9);

      // Beyond the allowance (the spend's general path, which claims the key first): one hold.
      const asking = await h.fan({ allowance: 0, balance: 100 });
      const key3 = randomUUID();
      const held = await Promise.all(Array.from({ length: 5 }, () => postGift(h, asking, body, { idempotencyKey: key3 })));
      assert.deepEqual(
        held.map((res) => res.status),
        [202, 202, 202, 202, 202],
      );
      const heldIds = new Set(await Promise.all(held.map(async (res) => ((await res.json()) as Gift).id)));
      assert.equal(heldIds.size, 1);
      assert.equal(held.filter((res) => res.headers.get('Idempotent-Replayed') === 'true').length, 4);
      assert.deepEqual(await h.balances(asking.id), { wallet: 100, held: 10, earnings: 0 });
    });

    it('refuses every bad input with a stable code, nothing moved', async () => {
      const fan = await h.fan({ allowance: 1000, balance: 1000 });
      const otherFan = await h.fan({ allowance: 1000, balance: 1000 });
      const base = { creatorId: h.creator.id, giftId: 'rose' };
      const before = await snapshot(h, fan.id, h.creator.id);
      const refused = async (body: unknown, status: number, code: string, param?: string) => {
        const error = await h.refused(await h.call('/gifts', { body, fan }), status, code);
        if (param !== undefined) assert.equal(error.param, param, JSON.stringify(body));
        assert.ok(error.message.length > 10, 'an actionable message');
      };
      for (const quantity of [0, -1, 1.5, '10', 2 ** 53 + 1, 1001, null, true]) {
        await refused({ ...base, quantity }, 400, 'invalid_quantity', 'quantity');
      }
      await refused({ ...base, message: 'x'.repeat(141) }, 400, 'invalid_message', 'message');
      await refused({ ...base, message: '😀'.repeat(141) }, 400, 'invalid_message', 'message');
      await refused({ ...base, message: 42 }, 400, 'invalid_message', 'message');
      // NUL and unpaired surrogates are refused by the JSON body reader before the route runs.
      await refused(`{"creatorId":"${h.creator.id}","giftId":"rose","message":"a\\u0000b"}`, 400, 'invalid_request', 'message');
      await refused(`{"creatorId":"${h.creator.id}","giftId":"rose","message":"a\\ud800b"}`, 400, 'invalid_request', 'message');
      await refused({ ...base, creatorId: 'usr_00000000000000000000000000' }, 404, 'creator_not_found', 'creatorId');
      await refused({ ...base, creatorId: 'nobody' }, 404, 'creator_not_found', 'creatorId');
      await refused({ ...base, creatorId: otherFan.id }, 404, 'creator_not_found', 'creatorId');
      await refused({ ...base, creatorId: 42 }, 400, 'invalid_request', 'creatorId');
      await refused({ giftId: 'rose' }, 400, 'invalid_request', 'creatorId');
      await refused({ ...base, creatorId: fan.id }, 400, 'cannot_gift_self', 'creatorId');
      await refused({ ...base, giftId: 'unicorn' }, 404, 'gift_not_found', 'giftId');
      await refused({ ...base, giftId: 'Rose<script>' }, 404, 'gift_not_found', 'giftId');
      await refused({ ...base, giftId: 5 }, 400, 'invalid_request', 'giftId');
      await refused({ ...base, amountDiamonds: 1 }, 400, 'invalid_request', 'amountDiamonds');
      await refused('[1]', 400, 'invalid_json');

      await addGiftType(h.t.db, { id: 'moon', name: 'Moon', priceDiamonds: 600_000_000, svg: SQUARE, animation: 'float' });
      await refused({ ...base, giftId: 'moon', quantity: 2 }, 400, 'amount_too_large', 'quantity');
      await setGiftTypeActive(h.t.db, 'moon', false);
      await refused({ ...base, giftId: 'moon' }, 404, 'gift_not_found', 'giftId');

      await h.refused(await h.call('/gifts', { body: base, fan, idempotencyKey: null }), 400, 'idempotency_key_required');
      await h.refused(await h.call('/gifts', { body: base }), 401, 'authentication_required');
      await h.refused(await h.call('/gifts', { body: base, fan: { ...fan, token: 'dat_forged' } }), 401, 'invalid_token');
      // A secret key can never spend a fan's Diamonds, even with the fan's token.
      await h.refused(await h.call('/gifts', { body: base, key: 'secret' }), 403, 'permission_denied');
      await h.refused(await h.call('/gifts', { body: base, key: 'secret', fan }), 403, 'permission_denied');
      assert.deepEqual(await snapshot(h, fan.id, h.creator.id), before);
    });

    it('keeps a message exactly as typed, as inert text', async () => {
      const fan = await h.fan({ allowance: 1000, balance: 1000 });
      const message = `<img src=x onerror=alert(1)> "quotes" & 'apostrophes'\nline two ${'😀'.repeat(60)}`;
      assert.ok([...message].length <= 140 && message.length > 140, 'within 140 code points, though longer in UTF-16 units');
      const gift = await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'heart', message }, 201);
      assert.equal(gift.message, message);
      const read = Gift.parse(await (await h.call(`/gifts/${gift.id}`, { fan })).json());
      assert.equal(read.message, message);
      const empty = await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'heart', message: '' }, 201);
      assert.equal(empty.message, null);
    });

    it('shows a gift and its confirmation only to the fan who sent it', async () => {
      const fan = await h.fan({ allowance: 0, balance: 100 });
      const other = await h.fan({ allowance: 0, balance: 100 });
      const gift = await sendOk(h, fan, { creatorId: h.creator.id, giftId: 'star' }, 202);
      const id = gift.confirmation!.id;
      await h.refused(await h.call(`/gifts/${gift.id}`, { fan: other }), 404, 'gift_not_found');
      await h.refused(await h.call(`/gifts/gift_00000000000000000000000000`, { fan }), 404, 'gift_not_found');
      await h.refused(await h.call(`/gifts/${gift.id}`), 401, 'authentication_required');
      await h.refused(await h.call(`/gifts/${gift.id}`, { key: 'secret' }), 403, 'permission_denied');
      await h.refused(await h.call(`/confirmations/${id}`, { fan: other }), 404, 'confirmation_not_found');
      await h.refused(await h.call(`/confirmations/cnf_00000000000000000000000000`, { fan }), 404, 'confirmation_not_found');
      await h.refused(await h.call(`/confirmations/${id}`, { key: 'secret' }), 403, 'permission_denied');
      // There is no API to decide: only the hosted page can.
      const before = await snapshot(h, fan.id);
      for (const path of [`/confirmations/${id}`, `/confirmations/${id}/approve`, `/confirmations/${id}/decision`]) {
        const res = await h.call(path, { body: { decision: 'approve' }, fan });
        assert.ok(res.status === 404 || res.status === 405, `${path}: ${res.status}`);
      }
      assert.deepEqual(await snapshot(h, fan.id), before);
      assert.equal(Confirmation.parse(await (await h.call(`/confirmations/${id}`, { fan })).json()).status, 'pending');
      await h.server.writer.run(decideConfirmationOperation, { id, userId: fan.id, approve: false });
    });
  });
}
