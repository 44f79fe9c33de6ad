// The community context protocol (webcomponents-cg/community-protocols, proposals/context.md),
// the part our elements use: one provider element, consumers that subscribe. It replaces
// @lit/context (about 2.4 KB minified) and speaks the same events, so a page's own
// @lit/context consumer or provider of `diamondsContext` still meets ours.
import type { ReactiveController, ReactiveControllerHost } from 'lit';

/** A context key that carries the type of its value; the same shape as @lit/context's `Context`. */
export type Context<K, V> = K & { __context__: V };

/** What a provider calls with the value, and again on each change when subscribed. */
type Callback<V> = (value: V, unsubscribe?: () => void) => void;

/** An element that hosts Lit controllers. */
type Host = ReactiveControllerHost & HTMLElement;

/**
 * The protocol's two events, both bubbling out of shadow roots: `context-request`, by which a
 * consumer asks the closest provider of `context` above it for the value (the provider that
 * answers stops it), and `context-provider`, by which a provider that just connected has a
 * provider above it send its subscribers below it to ask again (the nearer one then answers).
 *
 * @internal
 */
export class ContextEvent<V> extends Event {
  constructor(
    type: 'context-request' | 'context-provider',
    readonly context: Context<unknown, V>,
    readonly contextTarget: Element,
    readonly callback?: Callback<V>,
    readonly subscribe?: boolean,
  ) {
    super(type, { bubbles: true, composed: true });
  }
}

/**
 * Subscribes `host` to the closest provider of `context` each time it connects; `callback`
 * gets the value now and on every change, until the host disconnects.
 *
 * @internal
 */
export class ContextConsumer<V> implements ReactiveController {
  #unsubscribe: (() => void) | undefined;

  constructor(
    private readonly host: Host,
    private readonly context: Context<unknown, V>,
    private readonly callback: (value: V) => void,
  ) {
    host.addController(this);
  }

  /** @internal */
  hostConnected(): void {
    const callback: Callback<V> = (value, unsubscribe) => {
      // A nearer provider took over: leave the one that answered before.
      if (this.#unsubscribe !== unsubscribe) this.#unsubscribe?.();
      this.#unsubscribe = unsubscribe;
      this.callback(value);
    };
    this.host.dispatchEvent(new ContextEvent('context-request', this.context, this.host, callback, true));
  }

  /** @internal */
  hostDisconnected(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }
}

/**
 * Answers the `context-request` events of `context` that reach `host` from below with its
 * value, and tells each subscriber when {@link ContextProvider.setValue} changes it.
 *
 * @internal
 */
export class ContextProvider<V> implements ReactiveController {
  #value: V | undefined;
  /** Each subscriber's callback, with the element that asked and the unsubscribe it was given. */
  readonly #subscribers = new Map<Callback<V>, { target: Element; unsubscribe: () => void }>();

  constructor(
    private readonly host: Host,
    private readonly context: Context<unknown, V>,
  ) {
    host.addEventListener('context-request', (event) => this.#onRequest(event as ContextEvent<V>));
    host.addEventListener('context-provider', (event) => this.#onProvider(event as ContextEvent<V>));
    host.addController(this);
  }

  /** Sets the value and hands it to every subscriber, when it changed. */
  setValue(value: V): void {
    if (Object.is(value, this.#value)) return;
    this.#value = value;
    for (const [callback, { unsubscribe }] of this.#subscribers) callback(value, unsubscribe);
  }

  /** @internal */
  hostConnected(): void {
    this.host.dispatchEvent(new ContextEvent('context-provider', this.context, this.host));
  }

  /** Whether `event` is about our context and comes from below the host (not from the host itself). */
  #forUs(event: ContextEvent<V>): boolean {
    return event.context === this.context && (event.contextTarget ?? event.composedPath()[0]) !== this.host;
  }

  #onRequest(event: ContextEvent<V>): void {
    const { callback } = event;
    if (!callback || !this.#forUs(event)) return;
    event.stopPropagation();
    if (!event.subscribe) return callback(this.#value as V);
    let subscriber = this.#subscribers.get(callback);
    if (!subscriber) {
      subscriber = { target: event.contextTarget, unsubscribe: () => this.#subscribers.delete(callback) };
      this.#subscribers.set(callback, subscriber);
    }
    callback(this.#value as V, subscriber.unsubscribe);
  }

  #onProvider(event: ContextEvent<V>): void {
    if (!this.#forUs(event)) return;
    event.stopPropagation();
    for (const [callback, { target }] of this.#subscribers) {
      target.dispatchEvent(new ContextEvent('context-request', this.context, target, callback, true));
    }
  }
}
