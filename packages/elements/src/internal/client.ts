import { createContext } from '@lit/context';
import { createDiamonds, type DiamondsClient } from '@diamonds/sdk';

/**
 * The context through which `<diamond-provider>` hands its SDK client to every element inside
 * it. The key is a global symbol, so two copies of the elements on one page still meet.
 */
export const diamondsContext = createContext<DiamondsClient | undefined>(Symbol.for('diamonds.client'));

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
  const id = `${publishableKey} ${apiBase ?? ''} ${locale ?? ''}`;
  let client = registry.get(id);
  if (!client) {
    client = createDiamonds({ publishableKey, apiBase, locale, storage: 'local' });
    registry.set(id, client);
  }
  return client;
}
