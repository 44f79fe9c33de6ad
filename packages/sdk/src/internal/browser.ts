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

/** Whether this runtime has a `window.open` (Node has none). */
export function canOpenPopups(): boolean {
  return typeof (globalThis as { open?: unknown }).open === 'function';
}

/**
 * Opens a popup on `url`, centred over the page when the browser says where the page is;
 * `null` when blocked (or there is no `window.open`, as in Node).
 */
export function openPopup(url = 'about:blank', target = 'diamonds'): PopupLike | null {
  const view = globalThis as {
    screenX?: number;
    screenY?: number;
    outerWidth?: number;
    outerHeight?: number;
    open?: (url: string, target: string, features: string) => unknown;
  };
  const centre = (side: string, at: number | undefined, outer: number | undefined, size: number) =>
    typeof at === 'number' && typeof outer === 'number' ? `,${side}=${Math.max(0, Math.round(at + (outer - size) / 2))}` : '';
  const features = `popup,width=480,height=680${centre('left', view.screenX, view.outerWidth, 480)}${centre('top', view.screenY, view.outerHeight, 680)}`;
  return canOpenPopups() ? ((view.open!(url, target, features) as PopupLike | null) ?? null) : null;
}

/** Closes a popup we opened; one on another origin may refuse, and closes itself later. */
export function closePopup(popup: PopupLike | null): void {
  try {
    popup?.close();
  } catch {
    // Nothing to do: the hosted pages close themselves once the fan has answered.
  }
}

/** Listens to `storage` events (other tabs writing localStorage); returns nothing in Node. */
export function onStorageEvent(listener: (event: { key: string | null; newValue: string | null; storageArea?: unknown }) => void): void {
  (globalThis as unknown as { addEventListener?: (type: string, listener: (event: never) => void) => void }).addEventListener?.(
    'storage',
    listener,
  );
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
