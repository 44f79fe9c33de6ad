import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ErrorBody, Me, SignInGrant, SignInPoll, SignInRequest, TokenPair } from '@diamonds/protocol';
import { startServer, type RunningServer } from '../server.js';
import { DATABASE_KINDS, createTestDatabase, skipUnlessPostgres, type TestDatabase } from '../testing/databases.js';
import { decideSignInRequest, pkceChallenge } from './signin.js';
import { createSite } from './sites.js';
import { createUser, type User } from './users.js';
import { disconnect } from './connections.js';
import { newDpopKey, type DpopTestKey } from '../testing/dpop.js';

const PAGE = 'http://127.0.0.1:5173';
const cost = { N: 2 ** 10, r: 8, p: 1 };
/** The DPoP key of the fan's browser, as the SDK holds it: the tests' calls sign with it. */
const browser = newDpopKey();

for (const kind of DATABASE_KINDS) {
  // Skips (loudly) only outside CI when PostgreSQL is unreachable; under CI=true it throws.
  const skip = await skipUnlessPostgres(kind);
  describe(`sign-in API over HTTP on ${kind}`, { skip }, () => {
    let t: TestDatabase;
    let server: RunningServer;
    let fan: User;
    let keys: { publishable: string; secret: string; otherPublishable: string };

    before(async () => {
      t = await createTestDatabase(kind);
      server = await startServer({ port: 0, host: '127.0.0.1', db: t.db });
      const creator = await createUser(
        t.db,
        { email: 'c@example.com', password: 'a long password', displayName: 'C', roles: ['creator'] },
        { cost },
      );
      fan = await createUser(t.db, { email: 'f@example.com', password: 'a long password', displayName: 'Fan F', roles: ['fan'] }, { cost });
      const site = await createSite(t.db, { ownerId: creator.id, name: 'Page', origins: [PAGE] });
      const other = await createSite(t.db, { ownerId: creator.id, name: 'Other', origins: [PAGE] });
      keys = { publishable: site.publishableKey, secret: site.secretKey, otherPublishable: other.publishableKey };
    });
    after(async () => {
      await server?.close();
      if (t) await t.drop();
    });

    function call(
      path: string,
      options: {
        key?: string;
        origin?: string | null;
        body?: unknown;
        token?: string;
        method?: string;
        raw?: string;
        type?: string;
        /** Whose DPoP proof goes with the call: the fan's browser by default, `null` none. */
        dpop?: DpopTestKey | null;
      } = {},
    ) {
      const headers: Record<string, string> = { Authorization: `Bearer ${options.key ?? keys.publishable}` };
      if (options.origin !== null) headers.Origin = options.origin ?? PAGE;
      if (options.token) headers['Diamonds-Token'] = options.token;
      const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
      if (body !== undefined) headers['Content-Type'] = options.type ?? 'application/json';
      const method = options.method ?? (body === undefined ? 'GET' : 'POST');
      const url = `${server.url}/v1${path}`;
      const dpop = options.dpop === undefined ? browser : options.dpop;
      if (dpop) headers.DPoP = dpop.proof(method, url, options.token);
      return fetch(url, { method, headers, body });
    }

    /** The code the consent page hands to the popup's opener, as the SDK receives it. */
    async function exchange(requestId: string, verifier: string, code: string, dpop: DpopTestKey | null = browser) {
      return call(`/signin-requests/${requestId}/exchange`, { body: { codeVerifier: verifier, code }, dpop });
    }

    async function errorCode(response: Response): Promise<string> {
      return ErrorBody.parse(await response.json()).error.code;
    }

    /** Asserts that `response` is the error `code` with `status`. */
    async function expect(response: Promise<Response>, status: number, code: string): Promise<void> {
      const r = await response;
      const body = await r.text();
      assert.equal(r.status, status, `${code}: ${body}`);
      assert.equal(ErrorBody.parse(JSON.parse(body)).error.code, code);
    }

    async function open(): Promise<{ request: SignInRequest; verifier: string }> {
      const verifier = randomBytes(32).toString('base64url');
      const response = await call('/signin-requests', { body: { codeChallenge: pkceChallenge(verifier), codeChallengeMethod: 'S256' } });
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('access-control-allow-origin'), PAGE);
      return { request: SignInRequest.parse(await response.json()), verifier };
    }

    async function signedIn(allowancePerDay = 0) {
      const { request, verifier } = await open();
      const { code } = await decideSignInRequest(t.db, { requestId: request.id, userId: fan.id, approve: true, allowancePerDay });
      const poll = SignInPoll.parse(await (await call(`/signin-requests/${request.id}/poll`, { body: { codeVerifier: verifier } })).json());
      assert.equal(poll.status, 'approved');
      const grant = SignInGrant.parse(await (await exchange(request.id, verifier, code!)).json());
      return { ...grant, request, verifier };
    }

    it('opens a request, long-polls it, and hands the approved fan’s tokens over once, for the code and a DPoP proof', async () => {
      const { request, verifier } = await open();
      assert.equal(new URL(request.url).pathname, '/signin/authorize');
      assert.equal(new URL(request.url).searchParams.get('request'), request.id);
      const started = Date.now();
      const pending = await call(`/signin-requests/${request.id}/poll`, { body: { codeVerifier: verifier, waitMs: 600 } });
      assert.deepEqual(await pending.json(), { status: 'pending' });
      assert.ok(Date.now() - started >= 400, 'a long poll waits');
      const decided = new Promise<string>((resolve) =>
        setTimeout(
          () =>
            void decideSignInRequest(t.db, { requestId: request.id, userId: fan.id, approve: true, allowancePerDay: 120 }).then(
              ({ code }) => resolve(code!),
            ),
          300,
        ),
      );
      const polled = await (await call(`/signin-requests/${request.id}/poll`, { body: { codeVerifier: verifier, waitMs: 5_000 } })).json();
      assert.deepEqual(polled, { status: 'approved' }, 'the poll hands out no tokens');
      const code = await decided;
      await expect(exchange(request.id, verifier, code, null), 401, 'invalid_dpop_proof');
      await expect(exchange(request.id, verifier, 'not-the-code'), 400, 'invalid_signin_code');
      const exchanged = await exchange(request.id, verifier, code);
      assert.equal(exchanged.headers.get('cache-control'), 'no-store');
      const approved = SignInGrant.parse(await exchanged.json());
      assert.deepEqual(approved.fan, { id: fan.id, displayName: 'Fan F' });
      const me = Me.parse(await (await call('/me', { token: approved.tokens.accessToken })).json());
      assert.equal(me.allowancePerDay, 120);
      assert.equal(me.remainingAllowance, 120);
      assert.equal(me.fan.id, fan.id);
      await expect(call('/me', { token: approved.tokens.accessToken, dpop: newDpopKey() }), 401, 'invalid_dpop_proof');
      await expect(call('/me', { token: approved.tokens.accessToken, dpop: null }), 401, 'invalid_dpop_proof');
      const after = await call(`/signin-requests/${request.id}/poll`, { body: { codeVerifier: verifier } });
      assert.equal(after.status, 200, 'a poll after the exchange reads approved, not an error in the page’s console');
      assert.deepEqual(await after.json(), { status: 'approved' });
      await expect(exchange(request.id, verifier, code), 409, 'signin_request_used');
    });

    it('refuses token misuse with a code and grants nothing', async () => {
      const { tokens, request, verifier } = await signedIn();
      const cases: Array<[string, Promise<Response>, number, string]> = [
        ['another origin', call('/me', { token: tokens.accessToken, origin: 'http://127.0.0.1:6000' }), 403, 'origin_not_allowed'],
        ['another site’s key', call('/me', { token: tokens.accessToken, key: keys.otherPublishable }), 401, 'invalid_token'],
        ['no origin at all', call('/me', { token: tokens.accessToken, origin: null }), 403, 'origin_not_allowed'],
        ['a secret key from a browser', call('/me', { token: tokens.accessToken, key: keys.secret }), 403, 'secret_key_in_browser'],
        ['the refresh token as an access token', call('/me', { token: tokens.refreshToken }), 401, 'invalid_token'],
        ['no token', call('/me'), 401, 'authentication_required'],
        [
          'a wrong verifier',
          call(`/signin-requests/${request.id}/poll`, {
            body: { codeVerifier: `${verifier.slice(0, -1)}${verifier.endsWith('A') ? 'B' : 'A'}` },
          }),
          400,
          'invalid_code_verifier',
        ],
        [
          'a look-alike origin',
          call('/signin-requests', { origin: 'http://127.0.0.1.evil.test:5173', body: {} }),
          403,
          'origin_not_allowed',
        ],
      ];
      for (const [name, response, status, code] of cases) {
        const r = await response;
        assert.equal(r.status, status, name);
        assert.equal(await errorCode(r), code, name);
        if (status === 403) assert.equal(r.headers.get('access-control-allow-origin'), null, `${name}: no CORS grant`);
      }
      assert.equal((await call('/me', { token: tokens.accessToken })).status, 200, 'the token still works where it belongs');
    });

    it('rotates refresh tokens, revokes the family on reuse, and signs out', async () => {
      const { tokens } = await signedIn();
      const refreshed = TokenPair.parse(await (await call('/tokens/refresh', { body: { refreshToken: tokens.refreshToken } })).json());
      assert.equal((await call('/me', { token: refreshed.accessToken })).status, 200);
      // Once the new refresh token has been used, the old one's answer was not lost (the grace for
      // a lost answer is over): reusing it is theft, and revokes the family.
      const again = TokenPair.parse(await (await call('/tokens/refresh', { body: { refreshToken: refreshed.refreshToken } })).json());
      const reuse = await call('/tokens/refresh', { body: { refreshToken: tokens.refreshToken } });
      assert.equal(reuse.status, 401);
      assert.equal(await errorCode(reuse), 'invalid_token');
      assert.equal((await call('/me', { token: again.accessToken })).status, 401, 'the whole family is revoked');

      const second = await signedIn();
      assert.deepEqual(await (await call('/tokens/revoke', { body: { token: second.tokens.accessToken } })).json(), { revoked: true });
      assert.equal((await call('/me', { token: second.tokens.accessToken })).status, 401);

      const third = await signedIn();
      await disconnect(
        t.db,
        fan.id,
        third.request.id ? (await Me.parseAsync(await (await call('/me', { token: third.tokens.accessToken })).json())).site.id : '',
      );
      assert.equal((await call('/me', { token: third.tokens.accessToken })).status, 401, 'disconnecting revokes at once');
    });

    it('answers bad input with 4xx and a code, never a 500', async () => {
      await expect(call('/signin-requests', { body: {} }), 400, 'invalid_request');
      await expect(
        call('/signin-requests', { body: { codeChallenge: 'x'.repeat(43), codeChallengeMethod: 'plain' } }),
        400,
        'invalid_request',
      );
      await expect(call('/signin-requests', { body: { codeChallenge: 42, codeChallengeMethod: 'S256' } }), 400, 'invalid_request');
      await expect(call('/signin-requests', { raw: '{"codeChallenge":' }), 400, 'invalid_json');
      await expect(
        call('/signin-requests', { raw: 'codeChallenge=x', type: 'application/x-www-form-urlencoded' }),
        415,
        'unsupported_media_type',
      );
      await expect(call('/signin-requests', { raw: JSON.stringify({ pad: 'x'.repeat(100_000) }) }), 413, 'payload_too_large');
      await expect(
        call('/signin-requests/sir_00000000000000000000000000/poll', { body: { codeVerifier: 'v'.repeat(43) } }),
        404,
        'signin_request_not_found',
      );
      await expect(call('/signin-requests/x/poll', { body: { codeVerifier: 'v'.repeat(43), waitMs: 60_000 } }), 400, 'invalid_id');
      await expect(call('/tokens/refresh', { body: { refreshToken: '' } }), 400, 'invalid_request');
      await expect(call('/tokens/refresh', { body: { refreshToken: 'drt_\u0000' } }), 400, 'invalid_request');
      await expect(call('/me', { token: 'x'.repeat(5_000) }), 401, 'invalid_token');
      await expect(call('/me', { token: 'dat_x', dpop: null }), 401, 'invalid_dpop_proof');
      const garbage = ['x', 'a.b', 'a.b.c', `${'a'.repeat(3000)}.b.c`, 'eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.AAAA'];
      for (const proof of garbage) {
        const r = await fetch(`${server.url}/v1/me`, {
          headers: { Authorization: `Bearer ${keys.publishable}`, Origin: PAGE, 'Diamonds-Token': 'dat_x', DPoP: proof },
        });
        assert.equal(r.status, 401, proof.slice(0, 20));
        assert.equal(await errorCode(r), 'invalid_dpop_proof');
      }
      await expect(
        call('/signin-requests/sir_00000000000000000000000000/exchange', { body: { codeVerifier: 'v'.repeat(43), code: 'c' } }),
        404,
        'signin_request_not_found',
      );
      await expect(
        call('/signin-requests/sir_00000000000000000000000000/exchange', { body: { codeVerifier: 'v'.repeat(43) } }),
        400,
        'invalid_request',
      );
      await expect(call('/signin-requests', { key: 'pk_test_unknownunknownunknown1', body: {} }), 401, 'invalid_api_key');
      await expect(call('/signin-requests', { key: keys.secret, origin: null, body: {} }), 403, 'permission_denied');
    });
  });
}
