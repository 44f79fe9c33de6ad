import type { Fan, SignInPoll as SignInPollType, TokenPair } from '@diamonds/protocol';
import { PopupClosedError, SignInDeniedError, SignInExpiredError } from '../errors.js';
import type { PopupLike } from './browser.js';
import { path, type Http } from './http.js';
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
    http.request('post', `${path('v1/signin-requests', request.id)}/poll`, SignInPoll, {
      json: { codeVerifier: verifier, waitMs },
      signal,
    });
  const result = await untilAnswered(popup, poll, pollWaitMs, 'The fan closed the sign-in window before answering.', {
    denied: () => new SignInDeniedError('The fan declined to connect this site.', { code: 'signin_denied' }),
    expired: () =>
      new SignInExpiredError('The sign-in request expired before the fan answered; call signIn() again.', { code: 'signin_expired' }),
  });
  return { fan: result.fan, tokens: result.tokens };
}

/**
 * Long-polls what the fan answers in `popup` (a sign-in, a confirmation) until it is
 * `approved` (resolves with it), ends otherwise (rejects with what `outcomes` makes of its
 * status), or the popup closes: then one last look, since the fan may have answered just
 * before closing, and a {@link PopupClosedError} with `closedMessage`.
 */
export async function untilAnswered<T extends { status: string }>(
  popup: PopupLike,
  poll: (waitMs: number) => Promise<T>,
  pollWaitMs: number,
  closedMessage: string,
  outcomes: Record<string, () => Error>,
): Promise<Extract<T, { status: 'approved' }>> {
  for (;;) {
    const closed = popup.closed;
    const result = await poll(closed ? 0 : pollWaitMs);
    if (result.status === 'approved') return result as Extract<T, { status: 'approved' }>;
    if (Object.hasOwn(outcomes, result.status)) throw outcomes[result.status]!();
    if (closed) throw new PopupClosedError(closedMessage, { code: 'popup_closed' });
  }
}
