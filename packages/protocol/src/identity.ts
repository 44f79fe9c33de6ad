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

/** A fresh access and refresh token (returned once, on approval, and by refresh). */
export const TokenPair = z.object({
  /** `dat_…`: send as the `Diamonds-Token` header, with the publishable key. 15 minutes. */
  accessToken: z.string().startsWith('dat_'),
  /** Seconds the access token works. */
  expiresIn: z.int().positive(),
  /** `drt_…`: exchange once at `POST /v1/tokens/refresh`; a second use revokes the sign-in. */
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

/** Where a polled sign-in request stands. */
export const SignInPoll = z.discriminatedUnion('status', [
  z.object({ status: z.enum(['pending', 'denied', 'expired']) }),
  z.object({ status: z.literal('approved'), fan: Fan, tokens: TokenPair }),
]);

/** Where a polled sign-in request stands. */
export type SignInPoll = z.infer<typeof SignInPoll>;

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
});

/** `GET /v1/me`. */
export type Me = z.infer<typeof Me>;
