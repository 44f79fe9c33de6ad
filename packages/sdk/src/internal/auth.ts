import type { Fan, Me, TokenPair as TokenPairType } from '@diamonds/protocol';
import { atom, onMount, type WritableAtom } from 'nanostores';
import { Revoked, TokenPair, type ResponseSchema } from './schemas.js';
import type { Allowance, Session } from '../stores.js';
import { listen, resolveStorage, safely, withTabLock, type StorageLike, type StorageOption } from './browser.js';
import { isDiamondsApiError, SignInRequiredError, type DiamondsApiError } from '../errors.js';
import type { Http, HttpMethod, RequestOptions } from './http.js';
import { prover, type Prover } from './dpop.js';

/** Refresh this long before the access token's end, so a call never races its expiry. */
export const REFRESH_MARGIN_MS = 60_000;

/** What the SDK keeps in storage when asked to: never the access token. */
interface StoredSession {
  v: 1;
  refreshToken: string;
  fan: Fan;
  site?: { id: string; name: string } | undefined;
}

/** Settings of {@link Auth}. */
export interface AuthOptions {
  http: Http;
  publishableKey: string;
  storage: StorageOption;
  clock: () => number;
}

/**
 * The fan's tokens and the session and allowance stores: sign-in results go in, authenticated
 * requests come out.
 *
 * @remarks
 * The access token lives only in memory. The refresh token too, unless the caller chose a
 * storage, where it is kept (with the fan's public name, to show the session after a reload)
 * under a key per publishable key. Storage is read on first use, never at creation.
 *
 * Refresh is single-flight: concurrent calls share one `POST /v1/tokens/refresh`, because a
 * refresh token works once and presenting it twice (but for the retry of a lost answer, within
 * seconds) revokes the whole sign-in. Across tabs the
 * same holds with a Web Lock, inside which the newest stored refresh token is re-read.
 *
 * Tokens are bound to this browser's DPoP key (see dpop.ts): every call that uses one, and the
 * refresh, carries a fresh proof. A kept refresh token is therefore useless without the key,
 * which a script can use while the page is open but can neither read nor take away.
 */
export class Auth {
  readonly session: WritableAtom<Session> = atom<Session>({ status: 'signed_out' });
  readonly allowance: WritableAtom<Allowance | null> = atom<Allowance | null>(null);
  /** Makes the DPoP proofs of this publishable key's tokens. */
  readonly proof: Prover;
  readonly #options: AuthOptions;
  readonly #storageKey: string;
  #storage: StorageLike | undefined;
  #loaded = false;
  #access: { token: string; expiresAtMs: number } | undefined;
  #refreshToken: string | undefined;
  #refreshing: Promise<string> | undefined;

  constructor(options: AuthOptions) {
    this.#options = options;
    this.#storageKey = `diamonds:session:${options.publishableKey}`;
    this.proof = prover(options.publishableKey);
    // Reading storage waits for the first subscriber or call: creating a client touches nothing.
    onMount(this.session, () => {
      this.load();
    });
  }

  /** Reads a kept session from storage (once) and starts following other tabs. */
  load(): void {
    if (this.#loaded) return;
    this.#loaded = true;
    this.#storage = resolveStorage(this.#options.storage);
    if (!this.#storage) return;
    this.#adopt(this.#stored());
    // Only localStorage (or the caller's own storage) is shared with other tabs; memory has none.
    if (this.#options.storage === 'session') return;
    listen<{ key: string | null; newValue: string | null; storageArea?: unknown }>('storage', (event) => {
      if (event.key !== this.#storageKey) return;
      if (event.storageArea && event.storageArea !== this.#storage) return;
      this.#adopt(parseStored(event.newValue), true);
    });
  }

  /** Takes a stored session (at load, or written by another tab) as this tab's own. */
  #adopt(stored: StoredSession | undefined, fromOtherTab = false): void {
    const current = this.session.get();
    if (!stored) {
      if (!fromOtherTab) return;
      // Another tab signed out (or its sign-in expired): the whole sign-in is gone.
      this.#access = this.#refreshToken = undefined;
      if (current.status === 'signed_in') this.#setSession({ status: 'signed_out' });
      return;
    }
    if (current.status === 'signed_in' && current.fan?.id === stored.fan.id) {
      // Another tab refreshed: its token is now the only one that works; our access token still does.
      this.#refreshToken = stored.refreshToken;
      if (stored.site && !current.site) this.session.set({ ...current, site: stored.site });
      return;
    }
    // A (new) fan signed in elsewhere, or this is a reload: no access token yet, one refresh away.
    this.#access = undefined;
    this.#refreshToken = stored.refreshToken;
    this.#setSession({ status: 'signed_in', fan: stored.fan, site: stored.site });
  }

  /** Whether a fan is signed in (tokens in hand, or a kept refresh token). */
  get signedIn(): boolean {
    this.load();
    return this.#refreshToken !== undefined || this.#access !== undefined;
  }

  /** Takes the tokens of an approved sign-in. */
  signedInAs(fan: Fan, tokens: TokenPairType): void {
    this.load();
    this.#take(tokens);
    this.#setSession({ status: 'signed_in', fan });
    this.#persist();
  }

  /** Records what `GET /v1/me` said. */
  updateFromMe(me: Pick<Me, 'fan' | 'site' | 'allowancePerDay' | 'remainingAllowance' | 'allowanceRecipients'>): void {
    this.session.set({ status: 'signed_in', fan: me.fan, site: me.site });
    this.setAllowance(me);
    this.#persist();
  }

  /** Records the allowance that `GET /v1/me` or `GET /v1/wallet` said. */
  setAllowance({
    allowancePerDay,
    remainingAllowance,
    allowanceRecipients,
  }: Pick<Me, 'allowancePerDay' | 'remainingAllowance' | 'allowanceRecipients'>): void {
    this.allowance.set({ perDay: allowancePerDay, remaining: remainingAllowance, recipients: allowanceRecipients });
  }

  /**
   * Sends an authenticated request: the `Diamonds-Token` header with a fresh access token and
   * its DPoP proof; on a 401 `invalid_token` refreshes once and tries again.
   *
   * @throws {@link SignInRequiredError} with no sign-in, or once it expired.
   */
  async request<T>(method: HttpMethod, path: string, schema: ResponseSchema<T>, options: RequestOptions = {}): Promise<T> {
    const send = (token: string) =>
      this.#options.http.request(method, path, schema, {
        ...options,
        headers: { ...options.headers, 'Diamonds-Token': token },
        dpop: (htm, htu) => this.proof(htm, htu, token),
      });
    const token = await this.#token();
    try {
      return await send(token);
    } catch (error) {
      if (!isDiamondsApiError(error) || error.code !== 'invalid_token') throw error;
      // The server refused a token we thought fine (revoked, or clocks disagree): refresh once,
      // unless another call already did, and try again with the new token.
      if (this.#access?.token === token) this.#access = undefined;
      return send(await this.#token());
    }
  }

  /**
   * GETs as the fan when one is signed in (content then says `entitled`…), else with the
   * publishable key alone.
   */
  read<T>(path: string, schema: ResponseSchema<T>, options?: RequestOptions): Promise<T> {
    return this.signedIn ? this.request('get', path, schema, options) : this.#options.http.request('get', path, schema, options);
  }

  /**
   * A working access token: the one in memory, or, near its end, a new pair for the refresh
   * token; concurrent callers share one exchange.
   */
  #token(): Promise<string> | string {
    this.load();
    const access = this.#access;
    if (access && access.expiresAtMs - REFRESH_MARGIN_MS > this.#options.clock()) return access.token;
    return (this.#refreshing ??= withTabLock(`${this.#storageKey}:refresh`, async () => {
      // Another tab may have rotated the token while we waited for the lock: use the newest one.
      const stored = this.#stored();
      let refreshToken = this.#refreshToken;
      if (refreshToken !== undefined && stored && stored.fan.id === this.session.get().fan?.id) refreshToken = stored.refreshToken;
      if (refreshToken === undefined) throw this.signInRequired();
      let tokens: TokenPairType;
      try {
        // Retried, like any call, when no answer came (or a 5xx): the platform takes the same
        // refresh token again from the same key for a few seconds after its exchange
        // (REFRESH_RETRY_GRACE_MS), so a lost answer no longer ends the sign-in.
        tokens = await this.#options.http.request('post', 'v1/tokens/refresh', TokenPair, {
          json: { refreshToken },
          dpop: this.proof,
        });
      } catch (error) {
        // invalid_token, or invalid_dpop_proof: the token is bound to a key this browser lost.
        if (isDiamondsApiError(error) && error.status === 401) {
          this.#forget({ status: 'expired', fan: this.session.get().fan });
          throw this.signInRequired(error);
        }
        throw error;
      }
      this.#take(tokens);
      this.#persist();
      return tokens.accessToken;
    }).finally(() => {
      this.#refreshing = undefined;
    }));
  }

  /** Signs out: revokes the sign-in on the server (best effort) and forgets it here, always. */
  async signOut(): Promise<void> {
    this.load();
    const token = this.#refreshToken ?? this.#access?.token;
    this.#forget({ status: 'signed_out' });
    if (token === undefined) return;
    try {
      await this.#options.http.request('post', 'v1/tokens/revoke', Revoked, { json: { token } });
    } catch {
      // Signed out here whatever the network says; the refresh token also ends on its own.
    }
  }

  /** The session in storage, if any. */
  #stored(): StoredSession | undefined {
    return parseStored(safely(() => this.#storage?.getItem(this.#storageKey)));
  }

  #take(tokens: TokenPairType): void {
    this.#access = { token: tokens.accessToken, expiresAtMs: this.#options.clock() + tokens.expiresIn * 1000 };
    this.#refreshToken = tokens.refreshToken;
  }

  #persist(): void {
    const { fan, site } = this.session.get();
    if (!this.#storage || !this.#refreshToken || !fan) return;
    const stored: StoredSession = { v: 1, refreshToken: this.#refreshToken, fan, site };
    safely(() => this.#storage?.setItem(this.#storageKey, JSON.stringify(stored)));
  }

  /** Ends the sign-in here and in storage: signed out, or `expired`. */
  #forget(session: Session): void {
    this.#access = this.#refreshToken = undefined;
    safely(() => this.#storage?.removeItem(this.#storageKey));
    this.#setSession(session);
  }

  /** Sets the session; the allowance is unknown until the platform says it again. */
  #setSession(session: Session): void {
    this.session.set(session);
    this.allowance.set(null);
  }

  /**
   * The error of a call that needs a signed-in fan when there is none, or the sign-in expired
   * (or, `cause`, the platform refused its refresh).
   */
  signInRequired(cause?: DiamondsApiError): SignInRequiredError {
    return new SignInRequiredError(
      `${this.session.get().status === 'expired' ? 'The sign-in ended' : 'No fan is signed in'}: call signIn() from a click.`,
      { code: 'signin_required', requestId: cause?.requestId, cause },
    );
  }
}

/** The session kept as `raw` (`null`: none), if it is one this SDK wrote. */
function parseStored(raw: string | null | undefined): StoredSession | undefined {
  try {
    // `null` parses to null too; `undefined` (no storage) throws.
    const value = JSON.parse(raw as string) as Partial<StoredSession> | null;
    if (value?.v !== 1 || typeof value.refreshToken !== 'string' || typeof value.fan?.id !== 'string') return undefined;
    return value as StoredSession;
  } catch {
    return undefined;
  }
}
