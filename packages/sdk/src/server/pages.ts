import type { Page } from '@diamonds/protocol';

/**
 * Query of a list call: a page size and where to start.
 *
 * @example
 * ```ts
 * const first = await diamonds.orders.list({ limit: 50 });
 * const second = await diamonds.orders.list({ limit: 50, cursor: first.nextCursor ?? undefined });
 * ```
 */
export interface PageParams {
  /**
   * Items per page, 1 to 100.
   *
   * @defaultValue 20 (the server's default)
   */
  limit?: number | undefined;
  /** Where to start: the `nextCursor` of the previous page; the newest items when absent. */
  cursor?: string | undefined;
}

/**
 * Walks a list page by page, following `nextCursor` until `hasMore` is false.
 *
 * @remarks Each page is fetched only when the loop asks for it, so breaking out early fetches
 * nothing more. Cursors are stable under inserts: an item added meanwhile is neither repeated
 * nor makes another skip.
 *
 * @internal
 */
export async function* walkPages<Item, Params extends PageParams>(
  params: Params,
  fetchPage: (params: Params) => Promise<Page<Item>>,
): AsyncGenerator<Page<Item>, void, undefined> {
  let cursor = params.cursor;
  for (;;) {
    const page = await fetchPage({ ...params, cursor });
    yield page;
    if (!page.hasMore || page.nextCursor === null || page.nextCursor === cursor) return;
    cursor = page.nextCursor;
  }
}

/**
 * Walks a list item by item (see {@link walkPages}).
 *
 * @internal
 */
export async function* walkItems<Item, Params extends PageParams>(
  params: Params,
  fetchPage: (params: Params) => Promise<Page<Item>>,
): AsyncGenerator<Item, void, undefined> {
  for await (const page of walkPages(params, fetchPage)) yield* page.data;
}
