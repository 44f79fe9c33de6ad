// A tiny validator set for the response bodies the browser entry reads, in place of zod/mini
// (which cost about 6.5 KB brotli of every bundle). A validator is a function that checks a
// value and reports each problem with the path of the field, for DiamondsSchemaError; `schema()`
// gives it zod's `safeParse`, so that `Http.request` takes these and the Node entry's full-zod
// schemas alike. Written for size: the SDK's own code has a budget of 8 KB brotli (size.test.ts).

/**
 * What {@link Http.request} needs of a schema: {@link schema} over these validators and zod
 * schemas both fit.
 *
 * @internal
 */
export interface ResponseSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: readonly SchemaIssue[] } };
}

/** One problem a schema found, with the path of the field. @internal */
export interface SchemaIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/**
 * A validator: checks `value` at `path`, pushes what is wrong to `issues` and returns the parsed
 * value (the value itself, but for objects, which are copied, and URLs, which are trimmed).
 *
 * @internal
 */
export interface Validator<T> {
  (value: unknown, path: readonly PropertyKey[], issues: SchemaIssue[]): T;
  /** Whether a missing field passes, for an {@link optional} validator. */
  optional?: boolean;
}

/** The fields of an {@link object} validator. @internal */
export type Shape = Record<string, Validator<unknown>>;

/** The type a validator parses to. @internal */
export type Infer<V> = V extends Validator<infer T> ? T : never;

/** A validator as a {@link ResponseSchema} of the type `T` (the protocol's, for one type everywhere). @internal */
export function schema<T>(validator: Validator<unknown>): ResponseSchema<T> {
  return {
    safeParse(value) {
      const issues: SchemaIssue[] = [];
      const data = validator(value, [], issues) as T;
      return issues[0] ? { success: false, error: { issues } } : { success: true, data };
    },
  };
}

/**
 * A validator of one condition on the value. It reports `expected <what>, got <the value>`, the
 * value as JSON cut at 40 characters (`-1`, `"site_01J…`, `null`) or `missing`.
 */
function test<T>(ok: (value: unknown) => unknown, what: string): Validator<T> {
  return (value, path, issues) => {
    if (!ok(value)) {
      issues.push({ path, message: `expected ${what}, got ${value === undefined ? 'missing' : JSON.stringify(value).slice(0, 40)}` });
    }
    return value as T;
  };
}

/** Whether `value` is a plain object (not null, not an array). @internal */
export const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && !!value && !Array.isArray(value);
const anObject = test(isObject, 'an object');
const anArray = test(Array.isArray, 'an array');

/** A string starting with `startsWith`, at least `min` long. @internal */
export function string(startsWith = '', min = 0): Validator<string> {
  return test(
    (value) => typeof value === 'string' && value.length >= min && value.startsWith(startsWith),
    startsWith ? `a string starting "${startsWith}"` : min ? `a string of ${min}+ characters` : 'a string',
  );
}

/** An id with its prefix: `prefixed('usr')` accepts `usr_` then letters and digits. @internal */
export function prefixed(prefix: string): Validator<string> {
  const pattern = new RegExp(`^${prefix}_[A-Za-z0-9]+$`);
  return test((value) => typeof value === 'string' && pattern.test(value), `an id like "${prefix}_…"`);
}

/** An absolute URL; the value is trimmed and loses its tabs and newlines, as zod's `url()` does. @internal */
export function url(): Validator<string> {
  const aUrl = test((value) => {
    try {
      return new URL((value as string).trim());
    } catch {
      return false;
    }
  }, 'a URL');
  return (value, path, issues) =>
    aUrl(value, path, issues) && typeof value === 'string' ? value.trim().replace(/[\t\n\r]/g, '') : (value as string);
}

/** A safe integer, at least `min` when given. @internal */
export function int(min?: number): Validator<number> {
  return test(
    (value) => Number.isSafeInteger(value) && (value as number) >= (min ?? (value as number)),
    min === undefined ? 'an integer' : `an integer ≥ ${min}`,
  );
}

/** Exactly `expected`. @internal */
export function literal<const T extends string | boolean>(expected: T): Validator<T> {
  return oneOf([expected]);
}

/** One of `values`. @internal */
export function oneOf<const T extends string | boolean>(values: readonly T[]): Validator<T> {
  return test(
    (value) => values.includes(value as T),
    (values.length > 1 ? 'one of ' : '') + values.map((value) => JSON.stringify(value)).join(', '),
  );
}

/** `null` or what `inner` accepts. @internal */
export function nullable<T>(inner: Validator<T>): Validator<T | null> {
  return (value, path, issues) => (value === null ? value : inner(value, path, issues));
}

/** A field that may be missing (or `undefined`), else what `inner` accepts. @internal */
export function optional<T>(inner: Validator<T>): Validator<T | undefined> {
  return Object.assign(
    (value: unknown, path: readonly PropertyKey[], issues: SchemaIssue[]) => (value === undefined ? value : inner(value, path, issues)),
    { optional: true },
  );
}

/** An array of what `item` accepts; each issue's path has the index. @internal */
export function array<T>(item: Validator<T>): Validator<T[]> {
  return (value, path, issues) =>
    Array.isArray(value) ? value.map((element, index) => item(element, [...path, index], issues)) : (anArray(value, path, issues) as T[]);
}

/**
 * An object with the fields of `shape`. Unknown fields are dropped, or kept untouched with
 * `loose` (as zod's `object` and `looseObject`).
 *
 * @internal
 */
export function object<S extends Shape>(shape: S, options: { loose?: boolean } = {}): Validator<{ [K in keyof S]: Infer<S[K]> }> {
  return (value, path, issues) => {
    if (!isObject(value)) return anObject(value, path, issues) as never;
    const out: Record<string, unknown> = options.loose ? { ...value } : {};
    for (const key in shape) {
      if (!shape[key]!.optional || key in value) out[key] = shape[key]!(value[key], [...path, key], issues);
    }
    return out as never;
  };
}
