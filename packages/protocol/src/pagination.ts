import { z } from 'zod';

/** The largest page a list endpoint returns. */
export const MAX_PAGE_LIMIT = 100;

/** The page size when a request names none. */
export const DEFAULT_PAGE_LIMIT = 20;

/**
 * Query parameters of every list endpoint: a page size and an opaque cursor.
 *
 * @remarks
 * Cursors are opaque strings taken from a previous page's `nextCursor`; they are stable under
 * inserts, unlike offsets, so a page never repeats or skips an item that was added meanwhile.
 */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
  cursor: z.string().min(1).max(200).optional(),
});

/** Query parameters of a list endpoint (see {@link PageQuery}). */
export type PageQuery = z.infer<typeof PageQuery>;

/**
 * A page of items: the schema of every list response, for an item schema.
 *
 * @example
 * ```ts
 * const TransferPage = pageSchema(Transfer);
 * const page = TransferPage.parse(await response.json());
 * if (page.hasMore) next(page.nextCursor);
 * ```
 */
export function pageSchema<Item extends z.ZodType>(item: Item) {
  return z.object({
    object: z.literal('list'),
    data: z.array(item),
    hasMore: z.boolean(),
    nextCursor: z.string().nullable(),
  });
}

/** A page of items of type `Item`. */
export interface Page<Item> {
  object: 'list';
  data: Item[];
  hasMore: boolean;
  nextCursor: string | null;
}
