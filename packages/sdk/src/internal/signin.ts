import type { Fan, SignInPoll as SignInPollType, TokenPair } from '@diamonds/protocol';
import { PopupClosedError, SignInDeniedError, SignInExpiredError } from '../errors.js';
import type { PopupLike } from './browser.js';
import type { Http } from './http.js';
import { newPkcePair } from './pkce.js';
import { SignInPoll, SignInRequest } from './schemas.js';

/** How long one long poll waits on the server: also how soon a closed popup is noticed. */
export const DEFAULT_POLL_WAIT_MS = 2_000;

/** What {@link runSignIn} needs. */
export interface SignInFlow {
  http: Http;
  /** The popup, already open (from the click). */
  popup: PopupLike;
  signal?: AbortSignal | undefined;
  pollWaitMs: number;
}

/**
 * The part of `signIn()` after the popup is open: open a sign-in request with a PKCE challenge,
 * send the popup to its consent page, then long-poll the request with the verifier until the
 * fan answers, the request expires, or the popup closes.
 *
 * @remarks The outcome comes from the server only, never from the popup (which may be any page
 * by then): the popup is watched just to stop waiting when the fan closes it.
 */
export async function runSignIn({ http, popup, signal, pollWaitMs }: SignInFlow): Promise<{ fan: Fan; tokens: TokenPair }> {
  const { verifier, challenge } = await newPkcePair();
  const request = await http.request('post', 'v1/signin-requests', SignInRequest, {
    json: { codeChallenge: challenge, codeChallengeMethod: 'S256' },
    signal,
  });
  if (!popup.closed) popup.location.href = request.url;
  const poll = (waitMs: number): Promise<SignInPollType> =>
    http.request('post', `v1/signin-requests/${encodeURIComponent(request.id)}/poll`, SignInPoll, {
      json: { codeVerifier: verifier, waitMs },
      signal,
    });
  for (;;) {
    const closed = popup.closed;
    // Once closed, one last look (the fan may have answered just before closing), then stop.
    const result = await poll(closed ? 0 : pollWaitMs);
    if (result.status === 'approved') return { fan: result.fan, tokens: result.tokens };
    if (result.status === 'denied') throw new SignInDeniedError('The fan declined to connect this site.', { code: 'signin_denied' });
    if (result.status === 'expired') {
      throw new SignInExpiredError('The sign-in request expired before the fan answered; call signIn() again.', {
        code: 'signin_expired',
      });
    }
    if (closed) throw new PopupClosedError('The fan closed the sign-in window before answering.', { code: 'popup_closed' });
  }
}
