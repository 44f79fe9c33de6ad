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

/** `window.open`, if this runtime has one. */
export function windowOpen(): ((url: string, target: string, features: string) => PopupLike | null) | undefined {
  const open = (globalThis as { open?: unknown }).open;
  return typeof open === 'function'
    ? (open.bind(globalThis) as (url: string, target: string, features: string) => PopupLike | null)
    : undefined;
}

/** Popup size and position: centred over the page when the browser says where the page is. */
export function popupFeatures(width = 480, height = 680): string {
  const view = globalThis as { screenX?: number; screenY?: number; outerWidth?: number; outerHeight?: number };
  const features = [`popup`, `width=${width}`, `height=${height}`];
  if (typeof view.screenX === 'number' && typeof view.outerWidth === 'number') {
    features.push(`left=${Math.max(0, Math.round(view.screenX + (view.outerWidth - width) / 2))}`);
  }
  if (typeof view.screenY === 'number' && typeof view.outerHeight === 'number') {
    features.push(`top=${Math.max(0, Math.round(view.screenY + (view.outerHeight - height) / 2))}`);
  }
  return features.join(',');
}

/** Listens to `storage` events (other tabs writing localStorage); returns nothing in Node. */
export function onStorageEvent(listener: (event: { key: string | null; newValue: string | null; storageArea?: unknown }) => void): void {
  const target = globalThis as unknown as { addEventListener?: (type: string, listener: (event: never) => void) => void };
  if (typeof target.addEventListener === 'function') target.addEventListener('storage', listener);
}

/**
 * Runs `work` while holding a lock shared by every tab of this origin (Web Locks), so that two
 * tabs never present the same rotating refresh token; without Web Locks it just runs.
 */
export function withTabLock<T>(name: string, work: () => Promise<T>): Promise<T> {
  const locks = (globalThis as { navigator?: { locks?: { request?: unknown } } }).navigator?.locks;
  if (!locks || typeof locks.request !== 'function') return work();
  return (locks.request as (name: string, callback: () => Promise<T>) => Promise<T>).call(locks, name, work);
}
