import { Hono } from 'hono';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import {
  CreateSignInRequest,
  ExchangeSignInRequest,
  Me,
  PollSignInRequest,
  RefreshTokens,
  RevokeToken,
  SignInGrant,
  SignInPoll,
  SignInRequest,
  TokenPair,
} from '@diamonds/protocol';
import type { AppEnv } from '../context.js';
import type { Database } from '../db/types.js';
import { ApiError } from '../errors.js';
import { findConnection, remainingAllowance } from './connections.js';
import { allowanceRecipients } from './site-creators.js';
import { createSignInRequest, exchangeSignInRequest, pollSignInRequest } from './signin.js';
import { findSite } from './sites.js';
import { refreshTokens, revokeToken } from './tokens.js';
import { findUser } from './users.js';
import { dpopThumbprint, exampleId, idParam, routesOn, type RouteContext } from '../http/route.js';

/** How often a long poll looks again at a pending sign-in request. */
const LONG_POLL_STEP_MS = 250;

const REQUEST_ID = idParam('sir', 'The sign-in request, `sir_…`.');
const TAG = 'Sign-in';

/** A PKCE verifier and its S256 challenge, for the examples. */
const VERIFIER = 'dBjftJeZ4CVP-mJ92K9qLOjMtXpvG4Byxl5rUl1z4Xc';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

const EXAMPLE_TOKENS: TokenPair = {
  accessToken: 'dat_Jp3l0x8m2PZc4Qv7sW1yR9bT6nE5kH0a',
  expiresIn: 900,
  refreshToken: 'drt_Vb9q2Ws6Lk1Zt4Xy7Mn0Pc3Rf8Gh5Jd2',
};
const EXAMPLE_FAN = { id: exampleId('usr'), displayName: 'Ada' };

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
  const context: RouteContext = { db, settings: { publicUrl } };
  const route = routesOn(api, context);

  route(
    {
      method: 'post',
      path: '/signin-requests',
      operationId: 'createSignInRequest',
      tag: TAG,
      auth: 'publishable',
      summary: 'Open a popup sign-in request with a PKCE challenge; the fan approves it at its `url`, in a popup.',
      body: CreateSignInRequest,
      bodyExample: { codeChallenge: CHALLENGE, codeChallengeMethod: 'S256' },
      responses: {
        201: {
          description: 'The request, with the consent page (`url`) to open in a popup.',
          schema: SignInRequest,
          example: {
            object: 'signin_request',
            id: exampleId('sir'),
            status: 'pending',
            url: `https://diamonds.example/signin/authorize?request=${exampleId('sir')}`,
            expiresAt: 1767225600000,
          },
        },
      },
      errors: ['rate_limited'],
    },
    async (c, { caller, body }) => {
      const site = await findSite(db, caller.siteId);
      if (!site) throw new ApiError('invalid_api_key', 'This key’s site no longer exists.');
      const request = await createSignInRequest(db, { site, origin: caller.origin, ...body });
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
    },
  );

  route(
    {
      method: 'post',
      path: '/signin-requests/{id}/poll',
      operationId: 'pollSignInRequest',
      tag: TAG,
      auth: 'publishable',
      summary: 'Long-poll a sign-in request with the PKCE verifier: pending, approved (exchange it), denied or expired.',
      params: { id: REQUEST_ID },
      body: PollSignInRequest,
      bodyExample: { codeVerifier: VERIFIER, waitMs: 25000 },
      responses: { 200: { description: 'Where the request stands; never tokens.', schema: SignInPoll, example: { status: 'approved' } } },
      errors: ['signin_request_not_found', 'invalid_code_verifier'],
    },
    async (c, { caller, params, body }) => {
      const deadline = Date.now() + (body.waitMs ?? 0);
      for (;;) {
        const poll = await pollSignInRequest(db, { requestId: params.id, codeVerifier: body.codeVerifier, ...caller });
        if (poll.status !== 'pending' || Date.now() + LONG_POLL_STEP_MS > deadline || c.req.raw.signal.aborted) {
          c.header('Cache-Control', 'no-store');
          return c.json({ status: poll.status } satisfies SignInPoll);
        }
        await sleep(LONG_POLL_STEP_MS);
      }
    },
  );

  route(
    {
      method: 'post',
      path: '/signin-requests/{id}/exchange',
      operationId: 'exchangeSignInRequest',
      tag: TAG,
      auth: 'publishable',
      summary:
        'Exchange an approved request for tokens, once: the PKCE verifier, the one-time code the popup posted to its opener, and a `DPoP` proof whose key the tokens are bound to.',
      params: { id: REQUEST_ID },
      body: ExchangeSignInRequest,
      bodyExample: { codeVerifier: VERIFIER, code: 'c0d3_x7Jq2LmP9sVw4RtY' },
      responses: {
        200: {
          description: 'The fan and their DPoP-bound tokens.',
          schema: SignInGrant,
          example: { status: 'approved', fan: EXAMPLE_FAN, tokens: EXAMPLE_TOKENS },
        },
      },
      errors: [
        'signin_request_not_found',
        'signin_request_used',
        'signin_request_expired',
        'invalid_code_verifier',
        'invalid_signin_code',
        'invalid_dpop_proof',
      ],
    },
    async (c, { caller, params, body }) => {
      const jkt = await dpopThumbprint(c, context);
      const { userId, tokens } = await exchangeSignInRequest(db, { requestId: params.id, ...body, ...caller, jkt });
      const user = await findUser(db, userId);
      if (!user) throw new ApiError('invalid_token', 'The fan’s account no longer exists.');
      c.header('Cache-Control', 'no-store');
      const answer: SignInGrant = { status: 'approved', fan: { id: user.id as `usr_${string}`, displayName: user.displayName }, tokens };
      return c.json(answer);
    },
  );

  route(
    {
      method: 'post',
      path: '/tokens/refresh',
      operationId: 'refreshTokens',
      tag: TAG,
      auth: 'publishable',
      summary:
        'Trade a refresh token for a new pair, with a `DPoP` proof by the key it is bound to; the old one stops working, and reusing it revokes the family.',
      body: RefreshTokens,
      bodyExample: { refreshToken: EXAMPLE_TOKENS.refreshToken },
      responses: { 200: { description: 'A fresh access and refresh token.', schema: TokenPair, example: EXAMPLE_TOKENS } },
      errors: ['invalid_token', 'invalid_dpop_proof'],
    },
    async (c, { caller, body }) => {
      const jkt = await dpopThumbprint(c, context);
      c.header('Cache-Control', 'no-store');
      return c.json(await refreshTokens(db, body.refreshToken, { ...caller, jkt }));
    },
  );

  route(
    {
      method: 'post',
      path: '/tokens/revoke',
      operationId: 'revokeToken',
      tag: TAG,
      auth: 'publishable',
      summary: 'Revoke a token (sign-out): its whole family stops working.',
      body: RevokeToken,
      bodyExample: { token: EXAMPLE_TOKENS.refreshToken },
      responses: {
        200: {
          description: 'Revoked (also when it already was).',
          schema: z.object({ revoked: z.literal(true) }),
          example: { revoked: true },
        },
      },
    },
    async (c, { caller, body }) => {
      await revokeToken(db, body.token, caller);
      return c.json({ revoked: true });
    },
  );

  route(
    {
      method: 'get',
      path: '/me',
      operationId: 'getMe',
      tag: TAG,
      auth: 'fan',
      summary: 'The signed-in fan, the site, and the fan’s daily allowance for it with what is left today.',
      responses: {
        200: {
          description: 'The fan.',
          schema: Me,
          example: {
            object: 'me',
            fan: EXAMPLE_FAN,
            site: { id: exampleId('site'), name: 'Ada’s studio' },
            allowancePerDay: 500,
            remainingAllowance: 320,
            allowanceRecipients: [exampleId('usr', 1)],
          },
        },
      },
    },
    async (c, { caller }) => {
      const [user, site, connection] = await Promise.all([
        findUser(db, caller.userId),
        findSite(db, caller.siteId),
        findConnection(db, caller.userId, caller.siteId),
      ]);
      if (!user || !site || !connection) throw new ApiError('invalid_token', 'The fan disconnected this site: sign in again.');
      const me: Me = {
        object: 'me',
        fan: { id: user.id as `usr_${string}`, displayName: user.displayName },
        site: { id: site.id as `site_${string}`, name: site.name },
        allowancePerDay: connection.allowancePerDay,
        remainingAllowance: await remainingAllowance(db, caller.userId, caller.siteId),
        allowanceRecipients: (await allowanceRecipients(db, caller.siteId)) as `usr_${string}`[],
      };
      c.header('Cache-Control', 'no-store');
      return c.json(me);
    },
  );

  return api;
}
