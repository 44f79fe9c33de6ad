// Attacks on the sign-in and on fans' tokens, written as the attacker: a script in Node that
// holds the site's publishable key, forges the page's Origin, and has stolen whatever a page
// could leak (an access token, a refresh token, a proof it saw go by). Each asserts that no
// tokens came out and nothing moved: the fan's balance, the ledger's transfer count, and a
// clean `ledger verify`. (Issue 11: "a sign-in can be opened from outside a browser"; "a token
// taken from the page works from curl with a forged Origin".)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pkceChallenge } from './signin.js';
import { createSession } from './sessions.js';
import { findUser } from './users.js';
import { DECISION_DELAY_MS } from '../pages/guard.js';
import { SESSION_COOKIE } from '../pages/session.js';
import { csrfOf, unescapeHtml } from '../pages/testing.js';
import { DATABASE_KINDS, skipUnlessPostgres } from '../testing/databases.js';
import { newDpopKey } from '../testing/dpop.js';
import { startMoneyHarness, type MoneyHarness, type TestFan } from '../testing/money.js';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`sign-in and token binding, attacked from Node, on ${kind}`, { skip }, () => {
    let h: MoneyHarness;

    before(async () => {
      h = await startMoneyHarness(kind);
    });
    after(async () => {
      await h?.verifyClean();
      await h?.close();
    });

    /** What an attack must leave as it was: the fan's wallet and the ledger. */
    async function snapshot(fan: TestFan): Promise<{ wallet: number; held: number; transfers: number }> {
      const { wallet, held } = await h.balances(fan.id);
      return { wallet, held, transfers: await h.transferCount() };
    }

    /**
     * The fan, signed in on the platform in their own browser, answers the consent page of
     * `url` with Connect: the real page, with their session cookie and its CSRF token.
     * @returns The page the platform answers (the "done" page).
     */
    async function approveAsFan(fan: TestFan, url: string): Promise<string> {
      const user = await findUser(h.t.db, fan.id);
      assert.ok(user);
      const { token } = await createSession(h.t.db, user);
      const cookie = `${SESSION_COOKIE}=${token}`;
      const consent = await fetch(url, { headers: { Cookie: cookie } });
      const page = await consent.text();
      assert.equal(consent.status, 200, page);
      const form = new URLSearchParams();
      // Every hidden field of the consent form goes back, as a browser would send it.
      for (const [, name, value] of page.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
        if (!form.has(name!)) form.set(name!, unescapeHtml(value!));
      }
      form.set('csrf', csrfOf(page));
      form.set('allowance', '0');
      form.set('decision', 'approve');
      // A person reads the page before connecting: the platform refuses a Connect sooner.
      await new Promise((resolve) => setTimeout(resolve, DECISION_DELAY_MS + 100));
      const done = await fetch(new URL('/signin/authorize', url), {
        method: 'POST',
        headers: { Cookie: cookie, Origin: new URL(url).origin, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      const body = await done.text();
      assert.equal(done.status, 200, body);
      return body;
    }

    it('a sign-in opened from Node with a forged Origin never yields tokens, even once the fan connects', async () => {
      const fan = await h.fan({ allowance: 0, balance: 300 });
      const before = await snapshot(fan);
      const attackerKey = newDpopKey();
      // The attacker opens a request with the site's key and a forged Origin (the harness
      // sends the site's origin), and keeps the PKCE verifier.
      const verifier = randomBytes(32).toString('base64url');
      const opened = await h.call('/signin-requests', { body: { codeChallenge: pkceChallenge(verifier), codeChallengeMethod: 'S256' } });
      assert.equal(opened.status, 201);
      const request = (await opened.json()) as { id: string; url: string };
      // The fan, lured by the link, signs in and connects on the platform's real page.
      await approveAsFan(fan, request.url);

      const tokensSeen: unknown[] = [];
      const poll = async () => {
        const url = `/signin-requests/${request.id}/poll`;
        const response = await h.call(url, {
          body: { codeVerifier: verifier },
          headers: { DPoP: attackerKey.proof('POST', `${h.server.url}/v1${url}`) },
        });
        const body = (await response.json()) as { status?: string; tokens?: unknown };
        if (body.tokens !== undefined) tokensSeen.push(body.tokens);
        return { status: response.status, body };
      };
      const polled = await poll();
      assert.equal(tokensSeen.length, 0, `the poll handed the attacker tokens: ${JSON.stringify(polled.body)}`);

      // Guessing the one-time code the popup would have handed its opener: refused every time,
      // and after a few wrong codes the request is dead even for the right one.
      for (const code of ['', 'x', randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')]) {
        const path = `/signin-requests/${request.id}/exchange`;
        const response = await h.call(path, {
          body: { codeVerifier: verifier, code },
          headers: { DPoP: attackerKey.proof('POST', `${h.server.url}/v1${path}`) },
        });
        const body = (await response.json()) as { tokens?: unknown; error?: { code: string } };
        assert.ok(
          response.status >= 400 && response.status < 500,
          `exchange with a guessed code: ${response.status} ${JSON.stringify(body)}`,
        );
        assert.equal(body.tokens, undefined);
      }
      await poll();
      assert.equal(tokensSeen.length, 0, 'no tokens, ever');
      assert.deepEqual(await snapshot(fan), before, 'nothing moved');
      const [issued] = await h.t.db.query<{ n: number }>('SELECT count(*) AS n FROM tokens WHERE user_id = ? AND created_at > ?', [
        fan.id,
        Date.now() - 60_000 + 1,
      ]);
      // The harness issued the fan's own pair when it made the fan; the attack issued none.
      assert.equal(Number(issued?.n ?? 0), 2, 'no tokens were issued to the attacker');
      await h.verifyClean();
    });

    it('a stolen access token is useless from Node without its DPoP key: no proof, another key, a replayed or misdirected proof', async () => {
      const fan = await h.fan({ allowance: 100, balance: 500 });
      const gift = { creatorId: h.creator.id, giftId: 'rose', quantity: 1 };
      // The fan's own call goes through (the allowance covers it): the setup is sound.
      assert.equal((await h.call('/gifts', { body: gift, fan })).status, 201);
      const before = await snapshot(fan);
      const stolen: TestFan = { ...fan, dpop: undefined };
      const giftsUrl = `${h.server.url}/v1/gifts`;
      const otherKey = newDpopKey();
      // A proof the attacker saw go by with the fan's own key (the SDK's last call, say).
      const seen = fan.dpop?.proof('POST', giftsUrl, fan.token);
      if (seen) assert.equal((await h.call('/gifts', { body: gift, fan, dpopProof: seen })).status, 201, 'its first use');
      const afterFanUse = await snapshot(fan);

      const attempts: Array<[string, string | null]> = [
        ['no proof at all', null],
        ['a proof from another key', otherKey.proof('POST', giftsUrl, fan.token)],
        [
          'a proof by another key that names the fan’s key in its header',
          otherKey.proof('POST', giftsUrl, fan.token, { jwk: fan.dpop?.jwk }),
        ],
        ['a replayed proof', seen ?? otherKey.proof('POST', giftsUrl, fan.token)],
        ['a proof for another method', fan.dpop?.proof('GET', giftsUrl, fan.token) ?? 'x.y.z'],
        ['a proof for another URL', fan.dpop?.proof('POST', `${h.server.url}/v1/me`, fan.token) ?? 'x.y.z'],
        ['a proof for another access token', fan.dpop?.proof('POST', giftsUrl, `dat_${randomBytes(32).toString('base64url')}`) ?? 'x.y.z'],
        ['a stale proof', fan.dpop?.proof('POST', giftsUrl, fan.token, { iat: Math.floor(Date.now() / 1000) - 3600 }) ?? 'x.y.z'],
        ['a proof without ath', fan.dpop?.proof('POST', giftsUrl, undefined) ?? 'x.y.z'],
      ];
      for (const [what, proof] of attempts) {
        const response = await h.call('/gifts', { body: gift, fan: stolen, dpopProof: proof });
        const body = (await response.json()) as { error?: { code: string } };
        assert.equal(response.status, 401, `${what}: ${response.status} ${JSON.stringify(body)}`);
        assert.ok(['invalid_dpop_proof', 'invalid_token'].includes(body.error?.code ?? ''), `${what}: ${JSON.stringify(body)}`);
        const me = await h.call('/me', { fan: stolen, dpopProof: proof });
        assert.equal(me.status, 401, `${what} on /v1/me`);
        assert.deepEqual(await snapshot(fan), afterFanUse, `${what}: nothing moved`);
      }
      assert.equal(afterFanUse.transfers, before.transfers + (seen ? 1 : 0));
      await h.verifyClean();
    });

    it('a stolen refresh token is useless from Node without its DPoP key, and the fan’s own refresh still works', async () => {
      const fan = await h.fan({ allowance: 100, balance: 200 });
      const before = await snapshot(fan);
      const refreshUrl = `${h.server.url}/v1/tokens/refresh`;
      const otherKey = newDpopKey();
      assert.ok(fan.refreshToken, 'the harness hands out the fan’s refresh token');
      for (const [what, proof] of [
        ['no proof', null],
        ['a proof from another key', otherKey.proof('POST', refreshUrl)],
        ['the fan’s key, for another URL', fan.dpop?.proof('POST', `${h.server.url}/v1/me`) ?? 'x.y.z'],
      ] as Array<[string, string | null]>) {
        const response = await h.call('/tokens/refresh', { body: { refreshToken: fan.refreshToken }, dpopProof: proof });
        const body = (await response.json()) as { accessToken?: string };
        assert.equal(response.status, 401, `${what}: ${response.status} ${JSON.stringify(body)}`);
        assert.equal(body.accessToken, undefined);
      }
      // Refused without being spent: the fan's SDK, with the key, still refreshes.
      const own = await h.call('/tokens/refresh', {
        body: { refreshToken: fan.refreshToken },
        dpopProof: fan.dpop!.proof('POST', refreshUrl),
      });
      assert.equal(own.status, 200);
      const pair = (await own.json()) as { accessToken: string };
      assert.equal((await h.call('/me', { fan: { ...fan, token: pair.accessToken } })).status, 200);
      assert.deepEqual(await snapshot(fan), before);
      await h.verifyClean();
    });
  });
}
