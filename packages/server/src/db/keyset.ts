import { isId, type IdPrefix, type Page } from '@diamonds/protocol';
import { ApiError } from '../errors.js';
import type { SqlValue } from './types.js';

/** One column of a list's sort key, and what a cursor may hold for it. */
export type KeyColumn =
  | { column: string; kind: 'int' }
  | { column: string; kind: 'id'; prefix: IdPrefix }
  | { column: string; kind: 'text'; pattern: RegExp }
  | { column: string; kind: 'enum'; values: readonly string[] };

/**
 * Keyset pagination, written once: a list sorted by a unique key (one or more columns, all
 * ascending or all descending) pages by "the rows after the last one seen", so a page never
 * skips or repeats a row while rows are added, and each page costs an index seek, whatever the
 * page number.
 *
 * @remarks The cursor a client gets back (`nextCursor`) is opaque: the list's name and the last
 * row's key, as base64url JSON. Decoding checks every part (an id's prefix and alphabet, a
 * whole number, a value of a known set), so a crafted, foreign or truncated cursor is a 400
 * `invalid_cursor`, never a query with a NUL or a 500.
 * @example
 * ```ts
 * const orders = new Keyset<[string]>('orders', [{ column: 'id', kind: 'id', prefix: 'ord' }], 'desc');
 * const after = orders.after(query.cursor);          // { sql: '(id < ?)', params: [...] } or undefined
 * const rows = await db.query(`SELECT … WHERE site_id = ?${after ? ` AND ${after.sql}` : ''} ORDER BY ${orders.orderBy} LIMIT ?`, …);
 * return orders.page(rows, query.limit, present, (row) => [row.id]);
 * ```
 */
export class Keyset<Key extends readonly (string | number)[]> {
  /** The ORDER BY clause that matches the key: `effective_at DESC` or `price_diamonds, id`. */
  readonly orderBy: string;

  /**
   * @param name - Tells this list's cursors from another's (a wallet cursor is refused by the orders list).
   * @param columns - The sort key, most significant first; together unique.
   * @param direction - `desc`: newest first (ids sort by creation time).
   */
  constructor(
    readonly name: string,
    readonly columns: readonly KeyColumn[],
    readonly direction: 'asc' | 'desc',
  ) {
    this.orderBy = columns.map((c) => (direction === 'desc' ? `${c.column} DESC` : c.column)).join(', ');
  }

  /** The cursor after a row with this key. */
  encode(key: Key): string {
    return Buffer.from(JSON.stringify([this.name, ...key])).toString('base64url');
  }

  /**
   * The key a cursor holds.
   *
   * @throws {@link ApiError} `invalid_cursor` (with `param`) for anything this list did not issue.
   */
  decode(cursor: string, param = 'cursor'): Key {
    let value: unknown;
    try {
      value = cursor.length <= 512 ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) : undefined;
    } catch {
      value = undefined;
    }
    if (Array.isArray(value) && value.length === this.columns.length + 1 && value[0] === this.name) {
      const key = value.slice(1);
      if (key.every((part, i) => accepts(this.columns[i]!, part))) return key as unknown as Key;
    }
    throw new ApiError('invalid_cursor', 'This cursor was not issued by this list: pass a nextCursor from a previous page, as it was.', {
      param,
    });
  }

  /**
   * The condition for "after the cursor's row" in this order, with its parameters; `undefined`
   * without a cursor. Written out rather than as a row-value comparison, which the planners of
   * both engines turn into an index range alike.
   *
   * @throws {@link ApiError} `invalid_cursor`
   */
  after(cursor: string | undefined, param = 'cursor'): { sql: string; params: SqlValue[] } | undefined {
    if (cursor === undefined) return undefined;
    const key = this.decode(cursor, param);
    const beyond = this.direction === 'desc' ? '<' : '>';
    const alternatives: string[] = [];
    const params: SqlValue[] = [];
    for (let i = 0; i < this.columns.length; i++) {
      const equal = this.columns.slice(0, i).map((c) => `${c.column} = ?`);
      alternatives.push([...equal, `${this.columns[i]!.column} ${beyond} ?`].join(' AND '));
      params.push(...key.slice(0, i + 1));
    }
    return { sql: `(${alternatives.map((a) => `(${a})`).join(' OR ')})`, params };
  }

  /**
   * A page from rows fetched with `LIMIT limit + 1`: the extra row only tells that another page
   * follows, and the cursor is the last kept row's key.
   */
  page<Row, Item>(rows: readonly Row[], limit: number, present: (row: Row) => Item, keyOf: (row: Row) => Key): Page<Item> {
    const kept = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    const last = kept.at(-1);
    return {
      object: 'list',
      data: kept.map(present),
      hasMore,
      nextCursor: hasMore && last !== undefined ? this.encode(keyOf(last)) : null,
    };
  }
}

function accepts(column: KeyColumn, part: unknown): boolean {
  switch (column.kind) {
    case 'int':
      return Number.isSafeInteger(part);
    case 'id':
      return typeof part === 'string' && isId(column.prefix, part);
    case 'text':
      return typeof part === 'string' && column.pattern.test(part);
    case 'enum':
      return typeof part === 'string' && column.values.includes(part);
  }
}
