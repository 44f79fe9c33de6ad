import { Hono, type Context } from 'hono';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateSignInRequest,
  ExchangeSignInRequest,
  PollSignInRequest,
  RefreshTokens,
  RevokeToken,
  type Me,
  type SignInGrant,
  type SignInPoll,
  type SignInRequest,
} from '@diamonds/protocol';
import type { AppEnv } from '../context.js';
import type { Database } from '../db/types.js';
import { ApiError } from '../errors.js';
import { validate } from '../http/body.js';
import { findConnection, remainingAllowance } from '../identity/connections.js';
import { allowanceRecipients } from '../identity/site-creators.js';
import { verifyDpopProof } from '../identity/dpop.js';
import { createSignInRequest, exchangeSignInRequest, pollSignInRequest } from '../identity/signin.js';
import { findSite } from '../identity/sites.js';
import { authenticateAccessToken, refreshTokens, revokeToken, type TokenContext } from '../identity/tokens.js';
import { findUser } from '../identity/users.js';
import { pathId } from '../http/ids.js';
import { documentRoute } from './openapi.js';
import { z } from 'zod';
import {
  Me as MeSchema,
  SignInGrant as SignInGrantSchema,
  SignInPoll as SignInPollSchema,
  SignInRequest as SignInRequestSchema,
  TokenPair,
} from '@diamonds/protocol';

documentRoute({
  method: 'post',
  path: '/v1/signin-requests',
  tag: 'Sign-in',
  auth: 'publishable',
  summary: 'Open a popup sign-in request with a PKCE challenge; the fan approves it at `authorizeUrl`.',
  body: CreateSignInRequest,
  responses: { 201: { description: 'The request, with the consent page to open in a popup.', schema: SignInRequestSchema } },
  errors: ['invalid_request', 'origin_not_allowed', 'permission_denied', 'rate_limited'],
});
documentRoute({
  method: 'post',
  path: '/v1/signin-requests/{id}/poll',
  tag: 'Sign-in',
  auth: 'publishable',
  summary: 'Long-poll a sign-in request with the PKCE verifier: pending, approved (exchange it), denied or expired.',
  params: { id: 'The sign-in request (`sir_…`).' },
  body: PollSignInRequest,
  responses: { 200: { description: 'Where the request stands; never tokens.', schema: SignInPollSchema } },
  errors: ['signin_request_not_found', 'invalid_code_verifier', 'invalid_request'],
});
documentRoute({
  method: 'post',
  path: '/v1/signin-requests/{id}/exchange',
  tag: 'Sign-in',
  auth: 'publishable',
  summary:
    'Exchange an approved request for tokens, once: the PKCE verifier, the one-time code the popup posted to its opener, and a `DPoP` proof whose key the tokens are bound to.',
  params: { id: 'The sign-in request (`sir_…`).' },
  body: ExchangeSignInRequest,
  responses: { 200: { description: 'The fan and their DPoP-bound tokens.', schema: SignInGrantSchema } },
  errors: [
    'signin_request_not_found',
    'signin_request_used',
    'signin_request_expired',
    'invalid_code_verifier',
    'invalid_signin_code',
    'invalid_dpop_proof',
    'invalid_request',
  ],
});
documentRoute({
  method: 'post',
  path: '/v1/tokens/refresh',
  tag: 'Sign-in',
  auth: 'publishable',
  summary:
    'Trade a refresh token for a new pair, with a `DPoP` proof by the key it is bound to; the old one stops working, and reusing it revokes the family.',
  body: RefreshTokens,
  responses: { 200: { description: 'A fresh access and refresh token.', schema: TokenPair } },
  errors: ['invalid_token', 'invalid_dpop_proof', 'invalid_request'],
});
documentRoute({
  method: 'post',
  path: '/v1/tokens/revoke',
  tag: 'Sign-in',
  auth: 'publishable',
  summary: 'Revoke a token (sign-out): its whole family stops working.',
  body: RevokeToken,
  responses: { 200: { description: 'Revoked (also when it already was).', schema: z.object({ revoked: z.literal(true) }) } },
  errors: ['invalid_request'],
});
documentRoute({
  method: 'get',
  path: '/v1/me',
  tag: 'Sign-in',
  auth: 'fan',
  summary: 'The signed-in fan, the site, and the fan’s daily allowance for it with what is left today.',
  responses: { 200: { description: 'The fan.', schema: MeSchema } },
  errors: ['authentication_required', 'invalid_token', 'invalid_dpop_proof'],
});

/** How often a long poll looks again at a pending sign-in request. */
const LONG_POLL_STEP_MS = 250;

/**
 * The browser side of a call: the publishable key's site and the page's origin. Sign-in and
 * tokens are for pages, so a secret key, or a call without `Origin`, is refused here.
 */
function pageContext(c: Context<AppEnv>): TokenContext {
  const caller = c.get('caller');
  if (caller.keyKind !== 'publishable') {
    throw new ApiError('permission_denied', 'Sign-in and fan tokens are for pages: use the publishable key (pk_…).');
  }
  if (!caller.origin) {
    throw new ApiError(
      'origin_not_allowed',
      'Fan sign-in happens in a browser: the request needs an Origin header from one of the site’s origins.',
    );
  }
  return { siteId: caller.siteId, origin: caller.origin };
}

/** The platform's public origin per database (so per app), when `DIAMONDS_PUBLIC_URL` sets one. */
const publicOrigins = new WeakMap<Database, string>();

/**
 * The URL a DPoP proof for this request must name (`htu`): the platform's public origin (or,
 * without one configured, the origin the request came to) and the request's path.
 */
function proofTarget(c: Context<AppEnv>, db: Database): string {
  // The path as sent (percent-encoded), as the client's URL parser wrote it in `htu`.
  const url = new URL(c.req.url);
  return `${publicOrigins.get(db) ?? url.origin}${url.pathname}`;
}

/**
 * Checks the request's `DPoP` header (see identity/dpop.ts) and returns its key's thumbprint;
 * with `accessToken`, the proof must carry that token's hash.
 *
 * @throws {@link ApiError} `invalid_dpop_proof`
 */
function dpopOf(c: Context<AppEnv>, db: Database, accessToken?: string): string {
  return verifyDpopProof(c.req.header('DPoP'), { method: c.req.method, url: proofTarget(c, db), accessToken }).jkt;
}

/**
 * The fan behind the `Diamonds-Token` header, for this site and origin, proven by a DPoP proof
 * made with the key the token is bound to (so a token copied out of the page works nowhere
 * else). Every fan-authenticated route goes through here.
 *
 * @throws {@link ApiError} `authentication_required`, `invalid_token`, `invalid_dpop_proof`
 */
export async function fanOf(c: Context<AppEnv>, db: Database): Promise<{ userId: string; context: TokenContext }> {
  const context = pageContext(c);
  const token = c.req.header('Diamonds-Token');
  if (!token)
    throw new ApiError('authentication_required', 'Sign the fan in first and send their access token as the Diamonds-Token header.');
  const jkt = dpopOf(c, db, token);
  const grant = await authenticateAccessToken(db, token, { ...context, jkt });
  return { userId: grant.userId, context };
}

/**
 * `/v1` routes of the popup sign-in: open a request, poll it with the PKCE verifier, exchange it
 * with the popup's one-time code for DPoP-bound tokens, refresh and revoke tokens, and read the
 * signed-in fan.
 *
 * @param publicUrl - The platform's public origin (`DIAMONDS_PUBLIC_URL`), which DPoP proofs
 * name; without it, the origin each request came to.
 */
export function identityApi(db: Database, publicUrl?: string): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  if (publicUrl !== undefined) publicOrigins.set(db, new URL(publicUrl).origin);

  api.post('/signin-requests', async (c) => {
    const context = pageContext(c);
    const body = validate(CreateSignInRequest, c.get('json'));
    const site = await findSite(db, context.siteId);
    if (!site) throw new ApiError('invalid_api_key', 'This key’s site no longer exists.');
    const request = await createSignInRequest(db, { site, origin: context.origin, ...body });
    const url = new URL('/signin/authorize', c.req.url);
    url.searchParams.set('request', request.id);
    const answer: SignInRequest = {
      object: 'signin_request',
      id: request.id as SignInRequest['id'],
      status: 'pending',
      url: url.href,
      expiresAt: request.expiresAt,
    };
    return c.json(answer, 201);
  });

  api.post('/signin-requests/:id/poll', async (c) => {
    const context = pageContext(c);
    const requestId = pathId(c, 'sir');
    const body = validate(PollSignInRequest, c.get('json'));
    const deadline = Date.now() + (body.waitMs ?? 0);
    for (;;) {
      const poll = await pollSignInRequest(db, { requestId, codeVerifier: body.codeVerifier, ...context });
      if (poll.status !== 'pending' || Date.now() + LONG_POLL_STEP_MS > deadline || c.req.raw.signal.aborted) {
        c.header('Cache-Control', 'no-store');
        return c.json({ status: poll.status } satisfies SignInPoll);
      }
      await sleep(LONG_POLL_STEP_MS);
    }
  });

  api.post('/signin-requests/:id/exchange', async (c) => {
    const context = pageContext(c);
    const requestId = pathId(c, 'sir');
    const body = validate(ExchangeSignInRequest, c.get('json'));
    const jkt = dpopOf(c, db);
    const { userId, tokens } = await exchangeSignInRequest(db, { requestId, ...body, ...context, jkt });
    const user = await findUser(db, userId);
    if (!user) throw new ApiError('invalid_token', 'The fan’s account no longer exists.');
    c.header('Cache-Control', 'no-store');
    const answer: SignInGrant = { status: 'approved', fan: { id: user.id as `usr_${string}`, displayName: user.displayName }, tokens };
    return c.json(answer);
  });

  api.post('/tokens/refresh', async (c) => {
    const context = pageContext(c);
    const { refreshToken } = validate(RefreshTokens, c.get('json'));
    const jkt = dpopOf(c, db);
    c.header('Cache-Control', 'no-store');
    return c.json(await refreshTokens(db, refreshToken, { ...context, jkt }));
  });

  api.post('/tokens/revoke', async (c) => {
    const context = pageContext(c);
    const { token } = validate(RevokeToken, c.get('json'));
    await revokeToken(db, token, context);
    return c.json({ revoked: true });
  });

  api.get('/me', async (c) => {
    const { userId, context } = await fanOf(c, db);
    const [user, site, connection] = await Promise.all([
      findUser(db, userId),
      findSite(db, context.siteId),
      findConnection(db, userId, context.siteId),
    ]);
    if (!user || !site || !connection) throw new ApiError('invalid_token', 'The fan disconnected this site: sign in again.');
    const me: Me = {
      object: 'me',
      fan: { id: user.id as `usr_${string}`, displayName: user.displayName },
      site: { id: site.id as `site_${string}`, name: site.name },
      allowancePerDay: connection.allowancePerDay,
      remainingAllowance: await remainingAllowance(db, userId, context.siteId),
      allowanceRecipients: (await allowanceRecipients(db, context.siteId)) as `usr_${string}`[],
    };
    c.header('Cache-Control', 'no-store');
    return c.json(me);
  });

  return api;
}
