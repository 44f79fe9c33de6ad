import { createContext } from '@lit/context';
import { createDiamonds, type DiamondsClient } from '@diamonds/sdk';

/**
 * The context through which `<diamond-provider>` hands its SDK client to every element inside
 * it. The key is a global symbol, so two copies of the elements on one page still meet.
 */
export const diamondsContext = createContext<DiamondsClient | undefined>(Symbol.for('diamonds.client'));

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
const shared = new Map<string, DiamondsClient>();

/**
 * The client an element without a provider uses: made once per publishable key (and API base
 * and locale), then shared by every element with the same attributes, so that one sign-in
 * serves them all. Kept on `globalThis` under a global symbol for the same reason as the context.
 *
 * @internal
 */
export function sharedClient(publishableKey: string, apiBase: string | undefined, locale: string | undefined): DiamondsClient {
  const registry = ((globalThis as { [key: symbol]: unknown })[Symbol.for('diamonds.clients')] ??= shared) as Map<string, DiamondsClient>;
  const base = apiBaseOr(apiBase);
  const id = `${publishableKey} ${base ?? ''} ${locale ?? ''}`;
  let client = registry.get(id);
  if (!client) {
    client = createDiamonds({ publishableKey, apiBase: base, locale, storage: 'local' });
    registry.set(id, client);
  }
  return client;
}
