import type { TransferCode, Wallet as WalletType, WalletAccount, WalletEntry } from '@diamonds/protocol';
import { Wallet, WalletHistory } from '../internal/schemas.js';
import { isDiamondsError } from '../errors.js';
import type { Auth } from '../internal/auth.js';
import { checkWhole, pages } from '../internal/http.js';
import { atom, onMount, type ReadableAtom, type WritableAtom } from 'nanostores';
import type { WalletState } from '../stores.js';

/** Options of {@link WalletActions.history}. */
export interface HistoryOptions {
  /** Only entries of this kind: `purchase` (top-ups), `gift`, `unlock`, `order`, `refund`… */
  kind?: TransferCode | undefined;
  /** Only entries of this account: the spendable `wallet`, or a creator's `earnings`. */
  account?: WalletAccount | undefined;
  /**
   * The most entries to yield in all; the iterator stops there.
   *
   * @defaultValue all of them
   */
  limit?: number | undefined;
  /**
   * How many entries each request fetches (1 to 100).
   *
   * @defaultValue 20
   */
  pageSize?: number | undefined;
  /** Cancels the next page's request. */
  signal?: AbortSignal | undefined;
}

/**
 * The fan's wallet: a nanostores atom of {@link WalletState} (read it with `.get()`, follow it
 * with `.subscribe()`) together with {@link WalletActions}.
 *
 * @example
 * ```ts
 * client.wallet.subscribe((wallet) => {
 *   if (wallet.status === 'ready') badge.textContent = `${wallet.balanceDiamonds} ♦`;
 * });
 * await client.wallet.refresh();
 * ```
 */
export type WalletStore = ReadableAtom<WalletState> & WalletActions;

/**
 * The calls of {@link WalletStore}: fill it, and read the history.
 *
 * @example
 * ```ts
 * await client.wallet.refresh();
 * for await (const entry of client.wallet.history()) console.log(entry.description);
 * ```
 */
export interface WalletActions {
  /**
   * Reads the fan's balances (`GET /v1/wallet`) into this store, and what is left of the
   * allowance into `client.allowance`.
   *
   * @remarks Every spend and top-up runs it when it ends, so you rarely need to.
   * @returns The wallet as the platform sent it.
   * @throws {@link SignInRequiredError} when no fan is signed in.
   * @example
   * ```ts
   * const { balanceDiamonds, heldDiamonds } = await client.wallet.refresh();
   * ```
   */
  refresh(options?: { signal?: AbortSignal | undefined }): Promise<WalletType>;
  /**
   * The fan's history, newest first, as an async iterator that fetches page after page
   * (following `nextCursor`) as you iterate; stop with `break` whenever you have enough.
   *
   * @remarks A spend waiting for confirmation is one entry whose `status` reads `pending`, then
   * `posted` or `voided`. Entries are stable across pages: none repeats, none is skipped.
   * @throws {@link SignInRequiredError} when no fan is signed in.
   * @throws RangeError when `limit` or `pageSize` is not a positive whole number.
   * @example
   * ```ts
   * for await (const entry of client.wallet.history({ kind: 'gift', limit: 50 })) {
   *   console.log(entry.direction, entry.amountDiamonds, entry.description);
   * }
   * ```
   */
  history(options?: HistoryOptions): AsyncGenerator<WalletEntry, void, undefined>;
}

/**
 * Makes the wallet store; `session` resets it when the fan signs out. `tabs` names the
 * BroadcastChannel on which tabs of the site tell each other that the wallet changed.
 * @internal
 */
export function createWalletStore(auth: Auth, tabs: string): WalletStore & WritableAtom<WalletState> & { announce(): void } {
  const store = atom<WalletState>({ status: 'idle' });
  let channel: BroadcastChannel | undefined;
  const open = () => {
    if (!channel && typeof BroadcastChannel === 'function') {
      channel = new BroadcastChannel(tabs);
      // Node keeps a process alive for an open channel; a browser has no unref.
      (channel as { unref?: () => void }).unref?.();
    }
    return channel;
  };
  // Only once someone follows the wallet (creating a client reads nothing): a signed-out
  // page must not keep showing the last fan's balance, and another tab's spend or top-up
  // refreshes this one's.
  onMount(store, () => {
    const stop = auth.session.listen(({ status }) => {
      if (status === 'signed_out' || status === 'expired') store.set({ status: 'idle' });
    });
    const onMessage = ({ data }: MessageEvent) => {
      const session = auth.session.get();
      if (session.status === 'signed_in' && data === session.fan?.id) refresh().catch(() => undefined);
    };
    open()?.addEventListener('message', onMessage);
    return () => {
      stop();
      channel?.removeEventListener('message', onMessage);
    };
  });

  async function refresh(options: { signal?: AbortSignal | undefined } = {}): Promise<WalletType> {
    const before = store.get();
    if (before.status !== 'ready') store.set({ status: 'loading' });
    try {
      const wallet = await auth.request('get', 'v1/wallet', Wallet, options);
      const { balanceDiamonds, heldDiamonds, earningsDiamonds } = wallet;
      store.set({ status: 'ready', balanceDiamonds, heldDiamonds, earningsDiamonds });
      auth.setAllowance(wallet);
      return wallet;
    } catch (error) {
      store.set(options.signal?.aborted ? before : { ...before, status: 'error', error: isDiamondsError(error) ? error : undefined });
      throw error;
    }
  }

  async function* history(options: HistoryOptions = {}): AsyncGenerator<WalletEntry, void, undefined> {
    const { kind, account, signal } = options;
    let left = checkWhole('wallet.history: limit', options.limit ?? Infinity, 1, true);
    const pageSize = checkWhole('wallet.history: pageSize', options.pageSize ?? 20, 1);
    const entries = pages((cursor) =>
      auth.request('get', 'v1/wallet/history', WalletHistory, {
        searchParams: { kind, account, cursor, limit: Math.min(pageSize, left) },
        signal,
      }),
    );
    for await (const entry of entries) {
      yield entry;
      if (--left <= 0) return;
    }
  }

  return Object.assign(store, { refresh, history, announce: () => open()?.postMessage(auth.session.get().fan?.id) });
}
