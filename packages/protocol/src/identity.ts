import { z } from 'zod';
import { idSchema } from './ids.js';

/** A sign-in request's id (`sir_…`). */
export const SignInRequestId = idSchema('sir');

/** The body of `POST /v1/signin-requests`: a PKCE challenge (S256 only). */
export const CreateSignInRequest = z.object({
  /** base64url(SHA-256(verifier)): 43 characters. The SDK keeps the verifier. */
  codeChallenge: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'codeChallenge is the base64url SHA-256 of the verifier: 43 characters.'),
  codeChallengeMethod: z.literal('S256'),
});

/** The body of `POST /v1/signin-requests`. */
export type CreateSignInRequest = z.infer<typeof CreateSignInRequest>;

/** A sign-in request as the API returns it when it is opened. */
export const SignInRequest = z.object({
  object: z.literal('signin_request'),
  id: SignInRequestId,
  status: z.literal('pending'),
  /** The hosted consent page to open in a popup, on the platform's origin. */
  url: z.string().url(),
  /** Milliseconds since the epoch. */
  expiresAt: z.int(),
});

/** A sign-in request as the API returns it when it is opened. */
export type SignInRequest = z.infer<typeof SignInRequest>;

/** The body of `POST /v1/signin-requests/{id}/poll`. */
export const PollSignInRequest = z.object({
  codeVerifier: z.string().min(43).max(128),
  /** Wait up to this long for an answer before replying `pending` (long poll). */
  waitMs: z.int().min(0).max(25_000).optional(),
});

/** The body of `POST /v1/signin-requests/{id}/poll`. */
export type PollSignInRequest = z.infer<typeof PollSignInRequest>;

/**
 * The body of `POST /v1/signin-requests/{id}/exchange`, sent with a `DPoP` proof: the PKCE
 * verifier and the one-time code that the platform's popup handed to the page that opened it,
 * with `postMessage` (a {@link SignInMessage}).
 */
export const ExchangeSignInRequest = z.object({
  codeVerifier: z.string().min(43).max(128),
  code: z.string().min(1).max(100),
});

/** The body of `POST /v1/signin-requests/{id}/exchange`. */
export type ExchangeSignInRequest = z.infer<typeof ExchangeSignInRequest>;

/**
 * What the consent popup posts to the window that opened it once the fan connects: sent with
 * `window.opener.postMessage(message, <the request's origin>)` from the platform's origin, so
 * only a window on the site's registered origin receives it. Accept it only from the popup you
 * opened (`event.source`) and from the platform's origin (`event.origin`).
 */
export const SignInMessage = z.object({
  type: z.literal('diamonds:signin'),
  request: SignInRequestId,
  code: z.string(),
});

/** What the consent popup posts to its opener. */
export type SignInMessage = z.infer<typeof SignInMessage>;

/**
 * A fresh access and refresh token (returned once, at the exchange, and by refresh), bound to
 * the DPoP key whose proof came with that request: every use needs a proof by the same key.
 */
export const TokenPair = z.object({
  /** `dat_…`: send as the `Diamonds-Token` header, with the publishable key and a `DPoP` proof (with `ath`). 15 minutes. */
  accessToken: z.string().startsWith('dat_'),
  /** Seconds the access token works. */
  expiresIn: z.int().positive(),
  /**
   * `drt_…`: exchange once at `POST /v1/tokens/refresh` (with a `DPoP` proof); a second use
   * revokes the sign-in. Unused for 7 days it ends, and the sign-in ends 30 days after it began.
   */
  refreshToken: z.string().startsWith('drt_'),
});

/** A fresh access and refresh token. */
export type TokenPair = z.infer<typeof TokenPair>;

/** The signed-in fan as a site sees them. */
export const Fan = z.object({
  id: idSchema('usr'),
  displayName: z.string(),
});

/** The signed-in fan as a site sees them. */
export type Fan = z.infer<typeof Fan>;

/**
 * Where a polled sign-in request stands. `approved`: the fan connected; the tokens come from the
 * exchange, with the code the popup hands to its opener.
 */
export const SignInPoll = z.object({ status: z.enum(['pending', 'approved', 'denied', 'expired']) });

/** Where a polled sign-in request stands. */
export type SignInPoll = z.infer<typeof SignInPoll>;

/** What `POST /v1/signin-requests/{id}/exchange` answers: the fan and their tokens, once. */
export const SignInGrant = z.object({ status: z.literal('approved'), fan: Fan, tokens: TokenPair });

/** What the exchange answers. */
export type SignInGrant = z.infer<typeof SignInGrant>;

/** The body of `POST /v1/tokens/refresh`. */
export const RefreshTokens = z.object({ refreshToken: z.string().min(1).max(200) });

/** The body of `POST /v1/tokens/refresh`. */
export type RefreshTokens = z.infer<typeof RefreshTokens>;

/** The body of `POST /v1/tokens/revoke` (sign-out): either token of the sign-in. */
export const RevokeToken = z.object({ token: z.string().min(1).max(200) });

/** The body of `POST /v1/tokens/revoke`. */
export type RevokeToken = z.infer<typeof RevokeToken>;

/** `GET /v1/me`: the fan behind an access token, and what they allowed this site. */
export const Me = z.object({
  object: z.literal('me'),
  fan: Fan,
  site: z.object({ id: idSchema('site'), name: z.string() }),
  /** Diamonds this site may spend per rolling 24 hours without asking the fan. */
  allowancePerDay: z.int().nonnegative(),
  /**
   * What is left of it now: a spend of at most this much goes straight through; a larger one
   * needs the fan's confirmation. Lets the SDK decide before a round trip.
   */
  remainingAllowance: z.int().nonnegative(),
  /**
   * The creators the allowance pays (`usr_…`): the site's owner first, then the creators who
   * accepted to be listed on the site. A spend to anyone else needs the fan's confirmation
   * whatever is left of the allowance; the SDK reads this to open the popup in the click.
   */
  allowanceRecipients: z.array(idSchema('usr')),
});

/** `GET /v1/me`. */
export type Me = z.infer<typeof Me>;
