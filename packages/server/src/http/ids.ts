import type { Context } from 'hono';
import { ID_PREFIXES, isId, type IdPrefix, type PrefixedId } from '@diamonds/protocol';
import { ApiError } from '../errors.js';

/** What each prefix names, for messages a developer can act on ("not a content id"). */
const NAMES: Readonly<Record<IdPrefix, string>> = Object.fromEntries(
  Object.entries(ID_PREFIXES).map(([name, prefix]) => [
    prefix,
    ({ topUp: 'top-up', signInRequest: 'sign-in request' } as Record<string, string>)[name] ??
      name.replace(/[A-Z]/g, (letter) => ` ${letter.toLowerCase()}`),
  ]),
) as Record<IdPrefix, string>;

/** The longest piece of a refused value quoted back in a message. */
const QUOTE_MAX = 40;

/** A refused value as a message may quote it: printable ASCII only, cut short. */
function quote(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '�');
  return printable.length > QUOTE_MAX ? `${printable.slice(0, QUOTE_MAX)}…` : printable;
}

/** "a" or "an", by sound: "an order", "an event", but "a user" (every id name with a "u" sounds "you"). */
function articleFor(name: string): 'a' | 'an' {
  return /^[aeio]/.test(name) ? 'an' : 'a';
}

/**
 * Checks an id taken from a path or a query before it goes near a database.
 *
 * @remarks
 * Every id the platform issues is its prefix, `_`, and 26 Crockford base32 characters (see
 * `newId`). Anything else (another prefix, another alphabet, the wrong length, a NUL byte, a
 * lone surrogate, a megabyte of text) cannot name anything, so it is refused here with 400
 * `invalid_id` instead of being looked up: PostgreSQL refuses a NUL in text with an error, not
 * an empty result, and a long value costs an index walk for nothing. A well-formed id that
 * names nothing is the route's own 404 (`content_not_found`…).
 *
 * @param param - The parameter's name in the path or query, reported as the error's `param`.
 * @throws {@link ApiError} `invalid_id`
 * @example
 * ```ts
 * const id = parseId('ct', c.req.param('id')); // 'ct_01JD…' or a 400 invalid_id
 * ```
 */
export function parseId<P extends IdPrefix>(prefix: P, value: unknown, param = 'id'): PrefixedId<P> {
  if (isId(prefix, value)) return value;
  const shown = typeof value === 'string' ? `"${quote(value)}"` : 'nothing';
  throw new ApiError(
    'invalid_id',
    `Got ${shown} where ${articleFor(NAMES[prefix])} ${NAMES[prefix]} id belongs: ${NAMES[prefix]} ids are "${prefix}_" followed by 26 base32 characters.`,
    { param },
  );
}

/** The id in the path parameter `param` (`:id` by default), checked by {@link parseId}. */
export function pathId<P extends IdPrefix>(c: Context, prefix: P, param = 'id'): PrefixedId<P> {
  return parseId(prefix, c.req.param(param), param);
}

/** The optional id in the query parameter `param`, checked by {@link parseId} when present. */
export function queryId<P extends IdPrefix>(c: Context, prefix: P, param: string): PrefixedId<P> | undefined {
  const value = c.req.query(param);
  return value === undefined ? undefined : parseId(prefix, value, param);
}
