import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rejectsWith } from '../testing/assertions.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { disconnect, findConnection } from './connections.js';
import {
  createSignInRequest,
  decideSignInRequest,
  exchangeSignInRequest,
  getSignInRequest,
  MAX_SIGNIN_CODE_ATTEMPTS,
  pkceChallenge,
  pollSignInRequest,
  SIGNIN_REQUEST_TTL_MS,
} from './signin.js';
import { createSite, type Site } from './sites.js';
import {
  ACCESS_TOKEN_TTL_MS,
  authenticateAccessToken,
  REFRESH_RETRY_GRACE_MS,
  REFRESH_TOKEN_IDLE_MS,
  REFRESH_TOKEN_TTL_MS,
  refreshTokens,
  revokeToken,
  type TokenPair,
} from './tokens.js';
import { createUser, type User } from './users.js';

const cost = { N: 2 ** 10, r: 8, p: 1 };
const ORIGIN = 'https://ada.example';
/** The thumbprint of the DPoP key the fan's SDK holds (its proofs are checked in dpop.test.ts). */
const JKT = 'jkt-of-the-fans-browser';

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`popup sign-in on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let fan: User;
    let site: Site;
    let other: Site;
    const now = Date.UTC(2026, 10, 25, 12);

    before(async () => {
      t = await createTestDatabase(kind);
      const creator = await createUser(
        t.db,
        { email: 'ada@example.com', password: 'a long password', displayName: 'Ada', roles: ['creator'] },
        { cost },
      );
      fan = await createUser(t.db, { email: 'bo@example.com', password: 'a long password', displayName: 'Bo', roles: ['fan'] }, { cost });
      site = (await createSite(t.db, { ownerId: creator.id, name: 'Ada', origins: [ORIGIN, 'http://localhost:*'] })).site;
      other = (await createSite(t.db, { ownerId: creator.id, name: 'Other', origins: ['https://other.example'] })).site;
    });
    after(async () => {
      if (t) await t.drop();
    });

    /**
     * The SDK's part up to approval: a verifier, a request, the fan's consent, and the exchange
     * with the code the popup hands to its opener.
     */
    async function signIn(
      allowancePerDay = 0,
      at = now,
    ): Promise<{ requestId: string; verifier: string; code: string; tokens: TokenPair }> {
      const verifier = randomBytes(32).toString('base64url');
      const request = await createSignInRequest(
        t.db,
        { site, origin: ORIGIN, codeChallenge: pkceChallenge(verifier), codeChallengeMethod: 'S256' },
        at,
      );
      assert.deepEqual(
        await pollSignInRequest(t.db, { requestId: request.id, codeVerifier: verifier, siteId: site.id, origin: ORIGIN }, at),
        {
          status: 'pending',
        },
      );
      const { code } = await decideSignInRequest(t.db, { requestId: request.id, userId: fan.id, approve: true, allowancePerDay }, at);
      assert.ok(code);
      const poll = await pollSignInRequest(t.db, { requestId: request.id, codeVerifier: verifier, siteId: site.id, origin: ORIGIN }, at);
      assert.deepEqual(poll, { status: 'approved' }, 'the poll says approved, and hands out nothing');
      const { tokens } = await exchangeSignInRequest(
        t.db,
        { requestId: request.id, codeVerifier: verifier, code, siteId: site.id, origin: ORIGIN, jkt: JKT },
        at,
      );
      return { requestId: request.id, verifier, code, tokens };
    }

    it('turns an approved request into tokens bound to the site, origin and DPoP key, once', async () => {
      const { requestId, verifier, code, tokens } = await signIn(150);
      assert.match(tokens.accessToken, /^dat_[\w-]{43}$/);
      assert.match(tokens.refreshToken, /^drt_[\w-]{43}$/);
      assert.equal(tokens.expiresIn, 900);
      assert.equal((await findConnection(t.db, fan.id, site.id))?.allowancePerDay, 150, 'the consent and its allowance are stored');
      const grant = await authenticateAccessToken(t.db, tokens.accessToken, { siteId: site.id, origin: ORIGIN, jkt: JKT }, now);
      assert.equal(grant.userId, fan.id);
      await rejectsWith(
        authenticateAccessToken(t.db, tokens.accessToken, { siteId: site.id, origin: ORIGIN, jkt: 'another-key' }, now),
        'invalid_dpop_proof',
      );
      // A poll still in flight when the exchange completes reads "approved", never an error.
      assert.deepEqual(await pollSignInRequest(t.db, { requestId, codeVerifier: verifier, siteId: site.id, origin: ORIGIN }, now), {
        status: 'approved',
      });
      await rejectsWith(
        exchangeSignInRequest(t.db, { requestId, codeVerifier: verifier, code, siteId: site.id, origin: ORIGIN, jkt: JKT }, now),
        'signin_request_used',
      );
      await rejectsWith(decideSignInRequest(t.db, { requestId, userId: fan.id, approve: true }, now), 'signin_request_decided');
      const stored = await t.db.query<{ token_hash: string }>('SELECT token_hash FROM tokens');
      assert.ok(
        stored.every((r) => r.token_hash !== tokens.accessToken && r.token_hash !== tokens.refreshToken),
        'only hashes are stored',
      );
    });

    it('refuses access tokens from another origin, with another site, expired, or made up', async () => {
      const { tokens } = await signIn();
      const use = (token: string, siteId: string, origin: string, at = now) =>
        authenticateAccessToken(t.db, token, { siteId, origin, jkt: JKT }, at);
      await rejectsWith(use(tokens.accessToken, site.id, 'https://evil.example'), 'invalid_token');
      await rejectsWith(use(tokens.accessToken, site.id, 'http://localhost:3000'), 'invalid_token', undefined);
      await rejectsWith(use(tokens.accessToken, other.id, ORIGIN), 'invalid_token');
      await rejectsWith(use(tokens.accessToken, site.id, ORIGIN, now + ACCESS_TOKEN_TTL_MS), 'invalid_token');
      await rejectsWith(use(tokens.refreshToken, site.id, ORIGIN), 'invalid_token');
      await rejectsWith(use(`dat_${'A'.repeat(43)}`, site.id, ORIGIN), 'invalid_token');
      await rejectsWith(use('', site.id, ORIGIN), 'invalid_token');
    });

    it('rotates refresh tokens, and revokes the whole family when a rotated one is used again', async () => {
      const { tokens } = await signIn();
      const context = { siteId: site.id, origin: ORIGIN, jkt: JKT };
      const second = await refreshTokens(t.db, tokens.refreshToken, context, now + 1);
      assert.notEqual(second.accessToken, tokens.accessToken);
      await authenticateAccessToken(t.db, second.accessToken, context, now + 2);
      // Past the grace of a lost answer (see the next test), a reuse is a leak.
      const late = now + 1 + REFRESH_RETRY_GRACE_MS + 1;
      await rejectsWith(refreshTokens(t.db, tokens.refreshToken, context, late), 'invalid_token');
      await rejectsWith(authenticateAccessToken(t.db, second.accessToken, context, late + 1), 'invalid_token');
      await rejectsWith(refreshTokens(t.db, second.refreshToken, context, late + 2), 'invalid_token');
      await rejectsWith(authenticateAccessToken(t.db, tokens.accessToken, context, late + 3), 'invalid_token');
    });

    it('lets a refresh whose answer was lost be retried for a few seconds, and only by the same key', async () => {
      const { tokens } = await signIn();
      const context = { siteId: site.id, origin: ORIGIN, jkt: JKT };
      const lost = await refreshTokens(t.db, tokens.refreshToken, context, now + 1);
      // The answer never arrived; the SDK presents the same token again, 3 s later.
      await rejectsWith(refreshTokens(t.db, tokens.refreshToken, { ...context, jkt: 'stolen' }, now + 3_000), 'invalid_dpop_proof');
      const retried = await refreshTokens(t.db, tokens.refreshToken, context, now + 3_001);
      assert.notEqual(retried.refreshToken, lost.refreshToken);
      await authenticateAccessToken(t.db, retried.accessToken, context, now + 3_002);
      // The lost pair is revoked: one chain of the sign-in stays alive, not two.
      await rejectsWith(authenticateAccessToken(t.db, lost.accessToken, context, now + 3_003), 'invalid_token');
      await rejectsWith(refreshTokens(t.db, lost.refreshToken, context, now + 3_004), 'invalid_token');
      // The retried pair carries on rotating as usual.
      const third = await refreshTokens(t.db, retried.refreshToken, context, now + 3_005);
      await authenticateAccessToken(t.db, third.accessToken, context, now + 3_006);
      // Once the retried pair's refresh token was exchanged, the answer plainly arrived: a
      // replay of the first token, even within the grace, revokes the family.
      await rejectsWith(refreshTokens(t.db, tokens.refreshToken, context, now + 3_007), 'invalid_token');
      await rejectsWith(authenticateAccessToken(t.db, third.accessToken, context, now + 3_008), 'invalid_token');
    });

    it('revokes the family when a spent refresh token comes back after the grace', async () => {
      const { tokens } = await signIn();
      const context = { siteId: site.id, origin: ORIGIN, jkt: JKT };
      const second = await refreshTokens(t.db, tokens.refreshToken, context, now);
      await rejectsWith(refreshTokens(t.db, tokens.refreshToken, context, now + REFRESH_RETRY_GRACE_MS + 1), 'invalid_token');
      await rejectsWith(authenticateAccessToken(t.db, second.accessToken, context, now + REFRESH_RETRY_GRACE_MS + 2), 'invalid_token');
    });

    it('answers retries of one lost refresh made at the same moment with one live chain', async () => {
      const { tokens } = await signIn();
      const context = { siteId: site.id, origin: ORIGIN, jkt: JKT };
      await refreshTokens(t.db, tokens.refreshToken, context, now + 1);
      const retries = await Promise.allSettled([1, 2, 3].map((i) => refreshTokens(t.db, tokens.refreshToken, context, now + 10 + i)));
      const pairs = retries.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      assert.ok(pairs.length >= 1, JSON.stringify(retries));
      const alive = [];
      for (const pair of pairs) {
        try {
          await authenticateAccessToken(t.db, pair.accessToken, context, now + 20);
          alive.push(pair);
        } catch {
          // Revoked by a later retry.
        }
      }
      assert.equal(alive.length, 1, 'exactly one of the retried pairs is alive');
    });

    it('refuses a refresh from another origin, site or DPoP key without spending the token', async () => {
      const { tokens } = await signIn();
      await rejectsWith(
        refreshTokens(t.db, tokens.refreshToken, { siteId: site.id, origin: 'https://evil.example', jkt: JKT }, now),
        'invalid_token',
      );
      await rejectsWith(refreshTokens(t.db, tokens.refreshToken, { siteId: other.id, origin: ORIGIN, jkt: JKT }, now), 'invalid_token');
      await rejectsWith(
        refreshTokens(t.db, tokens.refreshToken, { siteId: site.id, origin: ORIGIN, jkt: 'stolen' }, now),
        'invalid_dpop_proof',
      );
      const pair = await refreshTokens(t.db, tokens.refreshToken, { siteId: site.id, origin: ORIGIN, jkt: JKT }, now);
      await authenticateAccessToken(t.db, pair.accessToken, { siteId: site.id, origin: ORIGIN, jkt: JKT }, now);
    });

    it('ends a sign-in 30 days after it began however often it rotates, and after 7 idle days', async () => {
      const start = now + 1_000_000;
      const context = { siteId: site.id, origin: ORIGIN, jkt: JKT };
      let { tokens } = await signIn(0, start);
      // Rotating every 6 days keeps the refresh token alive, up to the family's end and no further.
      let at = start;
      while (at + 6 * 86_400_000 < start + REFRESH_TOKEN_TTL_MS) {
        at += 6 * 86_400_000;
        tokens = await refreshTokens(t.db, tokens.refreshToken, context, at);
      }
      const end = start + REFRESH_TOKEN_TTL_MS;
      const [last] = await t.db.query<{ expires_at: number }>(
        "SELECT max(expires_at) AS expires_at FROM tokens WHERE kind = 'refresh' AND created_at = ?",
        [at],
      );
      assert.equal(Number(last?.expires_at), end, 'the last refresh token ends with the sign-in');
      await rejectsWith(refreshTokens(t.db, tokens.refreshToken, context, end), 'invalid_token');

      // Idle: a refresh token unused for 7 days is dead, though the sign-in is young.
      const idle = await signIn(0, start);
      await rejectsWith(refreshTokens(t.db, idle.tokens.refreshToken, context, start + REFRESH_TOKEN_IDLE_MS), 'invalid_token');
      // The access token never outlives the family either.
      assert.equal(idle.tokens.expiresIn, ACCESS_TOKEN_TTL_MS / 1000);
    });

    it('exchanges only with the code the popup handed over; a few wrong codes end the request', async () => {
      const verifier = randomBytes(32).toString('base64url');
      const request = await createSignInRequest(
        t.db,
        { site, origin: ORIGIN, codeChallenge: pkceChallenge(verifier), codeChallengeMethod: 'S256' },
        now,
      );
      const exchange = (code: unknown, changes: Record<string, unknown> = {}) =>
        exchangeSignInRequest(
          t.db,
          { requestId: request.id, codeVerifier: verifier, code, siteId: site.id, origin: ORIGIN, jkt: JKT, ...changes } as never,
          now,
        );
      await rejectsWith(exchange('anything'), 'invalid_request', undefined);
      const { code } = await decideSignInRequest(t.db, { requestId: request.id, userId: fan.id, approve: true }, now);
      assert.ok(code);
      await rejectsWith(exchange(code, { codeVerifier: randomBytes(32).toString('base64url') }), 'invalid_code_verifier');
      await rejectsWith(exchange(code, { origin: 'https://evil.example' }), 'origin_not_allowed');
      await rejectsWith(exchange(code, { siteId: other.id }), 'signin_request_not_found');
      for (let i = 1; i < MAX_SIGNIN_CODE_ATTEMPTS; i++) await rejectsWith(exchange(`${code.slice(1)}x`), 'invalid_signin_code', 'code');
      await rejectsWith(exchange(42), 'invalid_signin_code');
      // That was the last wrong code allowed: the request is dead, even for the right code.
      await rejectsWith(exchange(code), 'signin_request_expired');
      assert.deepEqual(
        await pollSignInRequest(t.db, { requestId: request.id, codeVerifier: verifier, siteId: site.id, origin: ORIGIN }, now),
        {
          status: 'expired',
        },
      );
      const [row] = await t.db.query<{ code_hash: string }>('SELECT code_hash FROM signin_requests WHERE id = ?', [request.id]);
      assert.notEqual(row?.code_hash, code, 'only the code’s hash is stored');
    });

    it('signs out by revoking the family, and a disconnect revokes every token at once', async () => {
      const context = { siteId: site.id, origin: ORIGIN, jkt: JKT };
      const first = await signIn();
      await revokeToken(t.db, first.tokens.accessToken, context, now);
      await rejectsWith(authenticateAccessToken(t.db, first.tokens.accessToken, context, now), 'invalid_token');
      await rejectsWith(refreshTokens(t.db, first.tokens.refreshToken, context, now), 'invalid_token');
      await revokeToken(t.db, 'nonsense', context, now);

      const second = await signIn();
      assert.equal(await disconnect(t.db, fan.id, site.id, now), true);
      await rejectsWith(authenticateAccessToken(t.db, second.tokens.accessToken, context, now), 'invalid_token');
      await rejectsWith(refreshTokens(t.db, second.tokens.refreshToken, context, now), 'invalid_token');
    });

    it('refuses a wrong verifier, another origin, another site and a denied or expired request', async () => {
      const verifier = randomBytes(32).toString('base64url');
      const make = () =>
        createSignInRequest(t.db, { site, origin: ORIGIN, codeChallenge: pkceChallenge(verifier), codeChallengeMethod: 'S256' }, now);
      const request = await make();
      const poll = (changes: Record<string, unknown>, at = now) =>
        pollSignInRequest(
          t.db,
          { requestId: request.id, codeVerifier: verifier, siteId: site.id, origin: ORIGIN, ...changes } as never,
          at,
        );
      await rejectsWith(poll({ codeVerifier: randomBytes(32).toString('base64url') }), 'invalid_code_verifier', 'codeVerifier');
      await rejectsWith(poll({ codeVerifier: 'short' }), 'invalid_code_verifier');
      await rejectsWith(poll({ codeVerifier: 42 }), 'invalid_code_verifier');
      await rejectsWith(poll({ origin: 'https://evil.example' }), 'origin_not_allowed');
      await rejectsWith(poll({ siteId: other.id }), 'signin_request_not_found');
      await rejectsWith(poll({ requestId: 'sir_nope' }), 'signin_request_not_found');
      await decideSignInRequest(t.db, { requestId: request.id, userId: fan.id, approve: false }, now);
      assert.deepEqual(await poll({}), { status: 'denied' });
      await rejectsWith(decideSignInRequest(t.db, { requestId: request.id, userId: fan.id, approve: true }, now), 'signin_request_decided');

      const late = await make();
      assert.equal((await getSignInRequest(t.db, late.id, now + SIGNIN_REQUEST_TTL_MS)).status, 'expired');
      await rejectsWith(
        decideSignInRequest(t.db, { requestId: late.id, userId: fan.id, approve: true }, now + SIGNIN_REQUEST_TTL_MS),
        'signin_request_expired',
      );
      assert.deepEqual(
        await pollSignInRequest(
          t.db,
          { requestId: late.id, codeVerifier: verifier, siteId: site.id, origin: ORIGIN },
          now + SIGNIN_REQUEST_TTL_MS,
        ),
        { status: 'expired' },
      );
    });

    it('opens requests only for the site’s own origins and an S256 challenge', async () => {
      const challenge = pkceChallenge(randomBytes(32).toString('base64url'));
      const open = (origin: string, codeChallenge: unknown = challenge, codeChallengeMethod: unknown = 'S256') =>
        createSignInRequest(t.db, { site, origin, codeChallenge, codeChallengeMethod }, now);
      await rejectsWith(open('https://ada.example.evil.test'), 'origin_not_allowed');
      await rejectsWith(open('null'), 'origin_not_allowed');
      await rejectsWith(open('http://ada.example'), 'origin_not_allowed');
      await rejectsWith(open(ORIGIN, challenge, 'plain'), 'invalid_request', 'codeChallengeMethod');
      await rejectsWith(open(ORIGIN, 'short'), 'invalid_request', 'codeChallenge');
      assert.equal((await open('http://localhost:5173')).status, 'pending', 'development origins match any port');
    });

    it('lets exactly one of many concurrent approvals and exchanges win', async () => {
      const verifier = randomBytes(32).toString('base64url');
      const request = await createSignInRequest(
        t.db,
        { site, origin: ORIGIN, codeChallenge: pkceChallenge(verifier), codeChallengeMethod: 'S256' },
        now,
      );
      const decisions = await Promise.allSettled(
        Array.from({ length: 8 }, () => decideSignInRequest(t.db, { requestId: request.id, userId: fan.id, approve: true }, now)),
      );
      const won = decisions.filter((d) => d.status === 'fulfilled');
      assert.equal(won.length, 1);
      const code = won[0]!.value.code;
      const exchanges = await Promise.allSettled(
        Array.from({ length: 8 }, () =>
          exchangeSignInRequest(
            t.db,
            { requestId: request.id, codeVerifier: verifier, code, siteId: site.id, origin: ORIGIN, jkt: JKT },
            now,
          ),
        ),
      );
      assert.equal(exchanges.filter((p) => p.status === 'fulfilled').length, 1);
      const [row] = await t.db.query<{ n: number }>('SELECT count(*) AS n FROM tokens WHERE created_at = ? AND kind = ?', [now, 'access']);
      assert.ok(Number(row?.n) >= 1);
    });
  });
}
