import type { ReactiveController, ReactiveControllerHost } from 'lit';

/** What {@link StoreController} follows: a nanostores store (`subscribe` calls at once). */
export interface Subscribable<T> {
  get(): T;
  subscribe(listener: (value: T) => void): () => void;
}

/**
 * Follows a nanostores store while the host is connected, and re-renders the host on each
 * change: `render()` reads `.value` and never fetches.
 *
 * @internal
 */
export class StoreController<T> implements ReactiveController {
  #store: Subscribable<T> | undefined;
  #stop: (() => void) | undefined;
  readonly #host: ReactiveControllerHost;

  constructor(host: ReactiveControllerHost) {
    this.#host = host;
    host.addController(this);
  }

  /** The store's current value, or `undefined` before a store is set. */
  get value(): T | undefined {
    return this.#store?.get();
  }

  /** Follows `store` instead of the current one (the client changed). */
  follow(store: Subscribable<T> | undefined): void {
    if (store === this.#store) return;
    this.#stop?.();
    this.#stop = undefined;
    this.#store = store;
    if (store && this.#connected) this.#stop = store.subscribe(() => this.#host.requestUpdate());
    this.#host.requestUpdate();
  }

  #connected = false;

  hostConnected(): void {
    this.#connected = true;
    if (this.#store && !this.#stop) this.#stop = this.#store.subscribe(() => this.#host.requestUpdate());
  }

  hostDisconnected(): void {
    this.#connected = false;
    this.#stop?.();
    this.#stop = undefined;
  }
}
