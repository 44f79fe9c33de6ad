/**
 * Boosted items for a page (`@diamonds/sdk/discover`): what `<diamond-discover>` shows, and the
 * reports of what the page's visitors saw and clicked. Any site may show them with its own
 * publishable key.
 *
 * @example
 * ```ts
 * const client = createDiamonds({ publishableKey: 'pk_live_…' });
 * const items = await discoverItems(client);
 * await reportBoostViews(client, items.map((item) => ({ boostId: item.boostId, kind: 'impression' })));
 * ```
 *
 * @packageDocumentation
 */
import type { BoostReportAccepted, DiscoverItem, DiscoverList } from '@diamonds/protocol';
import type { DiamondsClientCore } from './client.js';
import { array, int, literal, nullable, object, oneOf, prefixed, schema, string } from './internal/check.js';
import { loose } from './internal/schema-parts.js';

export type { DiscoverItem } from '@diamonds/protocol';

const item = object(
  {
    boostId: prefixed('bst'),
    itemKind: oneOf(['content', 'product']),
    itemId: string(),
    title: string(),
    excerpt: string(),
    imageUrl: nullable(string()),
    priceDiamonds: nullable(int(1)),
    creator: object({ id: string(), displayName: string() }, loose),
    url: string(),
  },
  loose,
);
const DiscoverListSchema = schema<DiscoverList>(object({ object: literal('list'), data: array(item) }, loose));
const AcceptedSchema = schema<BoostReportAccepted>(object({ object: literal('boost_report'), accepted: int(0) }, loose));

/** Where the first-party viewer id is kept in the page's `localStorage`. */
export const VIEWER_ID_KEY = 'diamonds.viewer';

let memoryViewerId: string | undefined;

/**
 * This browser's viewer id on this site: a random id kept in the site's own `localStorage`
 * (first-party; nothing about the visitor), or for the page's life when storage is unavailable.
 * The platform counts an impression once per viewer per item per day.
 */
export function boostViewerId(): string {
  try {
    const stored = globalThis.localStorage?.getItem(VIEWER_ID_KEY);
    if (stored && /^[A-Za-z0-9_-]{16,64}$/.test(stored)) return stored;
  } catch {
    // Storage refused (a sandboxed frame, privacy settings): an id for this page only.
  }
  if (memoryViewerId === undefined) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    memoryViewerId = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  try {
    globalThis.localStorage?.setItem(VIEWER_ID_KEY, memoryViewerId);
  } catch {
    // Kept in memory only.
  }
  return memoryViewerId;
}

/** The boosted items being shown now (`GET /v1/discover`), in a fresh random order. */
export async function discoverItems(client: DiamondsClientCore, options: { signal?: AbortSignal } = {}): Promise<DiscoverItem[]> {
  const list = await client.money.http.request('get', 'v1/discover', DiscoverListSchema, { keyInQuery: true, signal: options.signal });
  return list.data;
}

/** One thing a visitor did with a boosted item. */
export interface BoostViewReport {
  boostId: string;
  /** `impression`: ≥ 50% of it visible for ≥ 1 s; `click`: it was followed. */
  kind: 'impression' | 'click';
}

/**
 * Reports impressions and clicks (`POST /v1/boosts/impressions`), as this browser's viewer id.
 * Sent once (no retry): a lost report only means a view not counted.
 *
 * @returns How many were new (the platform drops what it already counted today).
 */
export async function reportBoostViews(client: DiamondsClientCore, items: readonly BoostViewReport[]): Promise<number> {
  const answer = await client.money.http.request('post', 'v1/boosts/impressions', AcceptedSchema, {
    json: { viewerId: boostViewerId(), items },
    retry: false,
  });
  return answer.accepted;
}
