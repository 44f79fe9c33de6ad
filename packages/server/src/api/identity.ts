import { Hono, type Context } from 'hono';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateSignInRequest,
  PollSignInRequest,
  RefreshTokens,
  RevokeToken,
  type Me,
  type SignInPoll,
  type SignInRequest,
} from '@diamonds/protocol';
import type { AppEnv } from '../app.js';
import type { Database } from '../db/types.js';
import { ApiError } from '../errors.js';
import { validate } from '../http/body.js';
import { findConnection, remainingAllowance } from '../identity/connections.js';
import { createSignInRequest, pollSignInRequest } from '../identity/signin.js';
import { findSite } from '../identity/sites.js';
import { authenticateAccessToken, refreshTokens, revokeToken, type TokenContext } from '../identity/tokens.js';
import { findUser } from '../identity/users.js';
import { documentRoute } from './openapi.js';
import { z } from 'zod';
import { Me as MeSchema, SignInPoll as SignInPollSchema, SignInRequest as SignInRequestSchema, TokenPair } from '@diamonds/protocol';

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
  summary: 'Long-poll a sign-in request with the PKCE verifier; once approved, answers the tokens (once).',
  params: { id: 'The sign-in request (`sir_…`).' },
  body: PollSignInRequest,
  responses: { 200: { description: 'Pending, denied, expired, or approved with tokens.', schema: SignInPollSchema } },
  errors: ['signin_request_not_found', 'signin_request_used', 'invalid_code_verifier', 'invalid_request'],
});
documentRoute({
  method: 'post',
  path: '/v1/tokens/refresh',
  tag: 'Sign-in',
  auth: 'publishable',
  summary: 'Trade a refresh token for a new pair; the old one stops working, and reusing it revokes the family.',
  body: RefreshTokens,
  responses: { 200: { description: 'A fresh access and refresh token.', schema: TokenPair } },
  errors: ['invalid_token', 'invalid_request'],
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
  errors: ['authentication_required', 'invalid_token'],
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

/**
 * The fan behind the `Diamonds-Token` header, for this site and origin.
 *
 * @throws {@link ApiError} `authentication_required`, `invalid_token`
 */
export async function fanOf(c: Context<AppEnv>, db: Database): Promise<{ userId: string; context: TokenContext }> {
  const context = pageContext(c);
  const token = c.req.header('Diamonds-Token');
  if (!token)
    throw new ApiError('authentication_required', 'Sign the fan in first and send their access token as the Diamonds-Token header.');
  const grant = await authenticateAccessToken(db, token, context);
  return { userId: grant.userId, context };
}

/**
 * `/v1` routes of the popup sign-in: open a request, poll it with the PKCE verifier, refresh
 * and revoke tokens, and read the signed-in fan.
 */
export function identityApi(db: Database): Hono<AppEnv> {
  const api = new Hono<AppEnv>();

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
    const body = validate(PollSignInRequest, c.get('json'));
    const deadline = Date.now() + (body.waitMs ?? 0);
    for (;;) {
      const poll = await pollSignInRequest(db, { requestId: c.req.param('id'), codeVerifier: body.codeVerifier, ...context });
      if (poll.status !== 'pending' || Date.now() + LONG_POLL_STEP_MS > deadline || c.req.raw.signal.aborted) {
        c.header('Cache-Control', 'no-store');
        if (poll.status !== 'approved') return c.json({ status: poll.status } satisfies SignInPoll);
        const user = await findUser(db, poll.userId);
        if (!user) throw new ApiError('invalid_token', 'The fan’s account no longer exists.');
        const answer: SignInPoll = {
          status: 'approved',
          fan: { id: user.id as `usr_${string}`, displayName: user.displayName },
          tokens: poll.tokens,
        };
        return c.json(answer);
      }
      await sleep(LONG_POLL_STEP_MS);
    }
  });

  api.post('/tokens/refresh', async (c) => {
    const context = pageContext(c);
    const { refreshToken } = validate(RefreshTokens, c.get('json'));
    c.header('Cache-Control', 'no-store');
    return c.json(await refreshTokens(db, refreshToken, context));
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
    };
    c.header('Cache-Control', 'no-store');
    return c.json(me);
  });

  return api;
}
