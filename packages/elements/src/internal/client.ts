import { ContentResource, DiamondsClientCore, GiftsResource, OrdersResource, type DiamondsClient } from '@diamonds/sdk';
import type { Context } from './context.js';

/**
 * The context through which `<diamond-provider>` hands its SDK client to every element inside
 * it, by the community context protocol (`context-request` events): a Lit element of yours gets
 * it with @lit/context's `@consume({ context: diamondsContext, subscribe: true })`. The key is a
 * global symbol, so two copies of the elements on one page still meet.
 */
export const diamondsContext = Symbol.for('diamonds.client') as Context<symbol, DiamondsClient | undefined>;

/** Where the platform is when nothing says: set by the drop-in script to the origin it came from. */
let defaultApiBase: string | undefined;

/**
 * Sets the platform address that elements and providers use when they have no `api-base`. The
 * drop-in script sets it to the origin it was loaded from, so a creator pastes only the key.
 *
 * @internal
 */
export function setDefaultApiBase(apiBase: string | undefined): void {
  defaultApiBase = apiBase;
}

/** The platform address for an `api-base` attribute that may be missing. @internal */
export function apiBaseOr(apiBase: string | undefined): string | undefined {
  return apiBase || defaultApiBase;
}

/** Clients made for elements used without a provider: one per key, API base and locale. */
const shared = new Map<string, DiamondsClientCore>();

/**
 * The client an element without a provider uses: made once per publishable key (and API base
 * and locale), then shared by every element with the same attributes, so that one sign-in
 * serves them all. Kept on `globalThis` under a global symbol for the same reason as the context.
 * A {@link DiamondsClientCore}: an element reaches the money resource it needs through
 * {@link giftsOf}, {@link contentOf} or {@link ordersOf}, so that it bundles only that one.
 *
 * @internal
 */
export function sharedClient(publishableKey: string, apiBase: string | undefined, locale: string | undefined): DiamondsClientCore {
  const registry = ((globalThis as { [key: symbol]: unknown })[Symbol.for('diamonds.clients')] ??= shared) as Map<
    string,
    DiamondsClientCore
  >;
  const base = apiBaseOr(apiBase);
  const id = `${publishableKey} ${base ?? ''} ${locale ?? ''}`;
  let client = registry.get(id);
  if (!client) {
    client = new DiamondsClientCore({ publishableKey, apiBase: base, locale, storage: 'local' });
    registry.set(id, client);
  }
  return client;
}

/** The money resources of a client, as {@link DiamondsClient} has them. */
type Resources = Pick<DiamondsClient, 'gifts' | 'content' | 'orders'>;

/** The resources made for clients that have none of their own (core clients). */
const made = new WeakMap<DiamondsClientCore, Partial<Resources>>();

/** `client[key]`: a full client's own, else one made once for a core client. */
function resourceOf<K extends keyof Resources>(
  client: DiamondsClientCore,
  key: K,
  Resource: new (money: DiamondsClientCore['money']) => Resources[K],
): Resources[K] {
  const own = (client as Partial<Resources>)[key];
  if (own) return own;
  const mine = made.get(client) ?? {};
  made.set(client, mine);
  return (mine[key] ??= new Resource(client.money));
}

/** The gifts of `client` (`client.gifts` of a full one). Each element imports only the resources it uses. @internal */
export function giftsOf(client: DiamondsClientCore): GiftsResource {
  return resourceOf(client, 'gifts', GiftsResource);
}

/** The content of `client` (`client.content` of a full one). @internal */
export function contentOf(client: DiamondsClientCore): ContentResource {
  return resourceOf(client, 'content', ContentResource);
}

/** The orders of `client` (`client.orders` of a full one). @internal */
export function ordersOf(client: DiamondsClientCore): OrdersResource {
  return resourceOf(client, 'orders', OrdersResource);
}
