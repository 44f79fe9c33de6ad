// Every browser global the SDK touches goes through here, looked up at the moment of use and
// guarded, so that importing or creating a client in Node (or during server-side rendering)
// never throws and never reads `window`, `document` or storage.

/** The part of the Web Storage API the SDK uses: `localStorage`, `sessionStorage` or your own. */
export interface StorageLike {
  /** The value under `key`, or `null`. */
  getItem(key: string): string | null;
  /** Stores `value` under `key`. */
  setItem(key: string, value: string): void;
  /** Forgets `key`. */
  removeItem(key: string): void;
}

/** The part of a popup window the SDK uses (a real `Window`, or a stand-in in tests). @internal */
export interface PopupLike {
  readonly closed: boolean;
  location: { href: string } | Location;
  close(): void;
  focus?(): void;
}

/** What `storage` in the options may be. */
export type StorageOption = 'memory' | 'local' | 'session' | StorageLike;

/**
 * The storage an option names, or `undefined` for memory only (or when the browser refuses
 * access: sandboxed frames and blocked third-party storage throw on the mere property read).
 */
export function resolveStorage(option: StorageOption): StorageLike | undefined {
  if (typeof option === 'object') return option;
  if (option === 'memory') return undefined;
  try {
    const storage = option === 'local' ? globalThis.localStorage : globalThis.sessionStorage;
    return storage ?? undefined;
  } catch {
    return undefined;
  }
}

/** Calls `storage` and swallows its errors: a full or disabled storage must not break sign-in. */
export function safely<T>(action: () => T): T | undefined {
  try {
    return action();
  } catch {
    return undefined;
  }
}

/**
 * Opens a popup on `url`, centred over the page: `null` when the browser blocked it,
 * `undefined` when there is no `window.open` (as in Node).
 */
export function openPopup(url = 'about:blank', target = 'diamonds'): PopupLike | null | undefined {
  const view = globalThis as unknown as Partial<Window>;
  // Browsers read each feature as a whole number (`12.5` is 12) and keep the window on screen.
  return view.open?.(
    url,
    target,
    `popup,width=480,height=680,left=${view.screenX! + (view.outerWidth! - 480) / 2},top=${view.screenY! + (view.outerHeight! - 680) / 2}`,
  );
}

/** Closes a popup we opened; one on another origin may refuse, and closes itself later. */
export function closePopup(popup: PopupLike | null | undefined): void {
  try {
    popup?.close();
  } catch {
    // Nothing to do: the hosted pages close themselves once the fan has answered.
  }
}

/**
 * Adds (or, with `remove`, removes) a listener of this window's `type` events: `storage` (other
 * tabs writing localStorage), `message`; does nothing in Node.
 */
export function listen<E>(type: 'storage' | 'message', listener: (event: E) => void, remove?: boolean): void {
  (globalThis as unknown as Record<string, ((type: string, listener: (event: E) => void) => void) | undefined>)[
    `${remove ? 'remove' : 'add'}EventListener`
  ]?.(type, listener);
}

/**
 * Runs `work` while holding a lock shared by every tab of this origin (Web Locks), so that two
 * tabs never present the same rotating refresh token; without Web Locks it just runs.
 */
export function withTabLock<T>(name: string, work: () => Promise<T>): Promise<T> {
  const locks = (globalThis as { navigator?: { locks?: { request?: (name: string, callback: () => Promise<T>) => Promise<T> } } }).navigator
    ?.locks;
  return locks?.request ? locks.request(name, work) : work();
}
