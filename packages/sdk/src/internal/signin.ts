import type { Fan, TokenPair } from '@diamonds/protocol';
import { path, type Http } from './http.js';
import { SignInGrant, SignInPoll, SignInRequest } from './schemas.js';
import type { Prover } from './dpop.js';
import { newPkcePair } from './pkce.js';
import { listen, type PopupLike } from './browser.js';
import { PopupClosedError, SignInDeniedError, SignInExpiredError } from '../errors.js';

/** How long one long poll waits on the server: also how soon a closed popup is noticed. */
export const DEFAULT_POLL_WAIT_MS = 2_000;

/** What {@link runSignIn} needs. */
export interface SignInFlow {
  http: Http;
  /** Makes the DPoP proof of the exchange: the tokens are bound to its key. */
  auth: { proof: Prover };
  /** The popup, already open (from the click). */
  popup: PopupLike;
  signal?: AbortSignal | undefined;
  pollWaitMs: number;
}

type Listener = (event: { source?: unknown; origin?: string; data?: unknown }) => void;

/**
 * The part of `signIn()` after the popup is open: open a sign-in request with a PKCE challenge,
 * send the popup to its consent page, long-poll the request with the verifier until the fan
 * answers, the request expires, or the popup closes; once the fan connects, exchange the request
 * for tokens with the verifier and the one-time code the popup posts to this window.
 *
 * @remarks The code is taken only from the popup this call opened (`event.source`) and from the
 * platform's origin (`event.origin`); the platform posts it only to the site's registered
 * origin. So a request opened anywhere else (a script with a forged `Origin`) never completes.
 * If the popup closes (or the browser cuts this page off from it, which reads as closed) before
 * the code arrives, the call ends with a {@link PopupClosedError} that says to sign in again.
 */
export async function runSignIn({ http, auth, popup, signal, pollWaitMs }: SignInFlow): Promise<{ fan: Fan; tokens: TokenPair }> {
  const { verifier, challenge } = await newPkcePair();
  const request = await http.request('post', 'v1/signin-requests', SignInRequest, {
    json: { codeChallenge: challenge, codeChallengeMethod: 'S256' },
    signal,
  });
  const base = path('v1/signin-requests', request.id);
  let code: string | undefined;
  let arrived!: () => void;
  const codeArrived = new Promise<void>((resolve) => (arrived = resolve));
  const onMessage: Listener = ({ source, origin, data }) => {
    const message = data as { type?: unknown; request?: unknown; code?: unknown } | null;
    if (
      source === popup &&
      origin === new URL(request.url).origin &&
      message?.type === 'diamonds:signin' &&
      message.request === request.id &&
      typeof message.code === 'string'
    ) {
      code = message.code;
      arrived();
    }
  };
  listen('message', onMessage);
  try {
    if (!popup.closed) popup.location.href = request.url;
    // `approved` counts only with the code in hand: the fan's approval alone means "wait for
    // it" (once the popup is closed, only an instant: then it is lost, and that is popup_closed).
    const poll = async (waitMs: number): Promise<{ status: string }> => {
      // Nothing (undefined) when the code won the race.
      const polled = await Promise.race([
        codeArrived,
        http.request('post', `${base}/poll`, SignInPoll, { json: { codeVerifier: verifier, waitMs }, signal }),
      ]);
      const approved = polled?.status === 'approved';
      if (approved && !code) await Promise.race([codeArrived, new Promise((resolve) => setTimeout(resolve, waitMs))]);
      return { status: code ? 'approved' : approved ? 'pending' : polled!.status };
    };
    await untilAnswered(popup, poll, pollWaitMs, 'The sign-in window closed (or was cut off) first: call signIn() again from a click.', {
      denied: () => new SignInDeniedError('The fan declined.', { code: 'signin_denied' }),
      expired: () => new SignInExpiredError('The sign-in expired unanswered: call signIn() again.', { code: 'signin_expired' }),
    });
    return await http.request('post', `${base}/exchange`, SignInGrant, {
      json: { codeVerifier: verifier, code },
      signal,
      retry: false,
      dpop: auth.proof,
    });
  } finally {
    listen('message', onMessage, true);
  }
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
