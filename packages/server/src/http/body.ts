import type { Context, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import { IncomingMessage } from 'node:http';
import { ApiError } from '../errors.js';

/*
 * Request bodies: size first, then media type, then parsing, each failure a 4xx with a code.
 *
 * - A declared Content-Length over the limit gets 413 before a byte is read. A body without
 *   one (chunked) is read up to the limit and refused with 413 as soon as it passes it; the
 *   rest is left unread (cancelling the stream would make some adapters reset the connection
 *   before the 413 goes out; @hono/node-server drains or closes it after the response).
 * - JSON bodies must say Content-Type: application/json (charset, if given, utf-8), so a
 *   cross-site form post can never reach a JSON endpoint. An empty body, without Content-Type
 *   or with a JSON one, is `{}`, so a POST that needs no parameters may send none.
 * - The top level must be an object. NUL characters and unpaired surrogates are refused
 *   anywhere in the body (keys included): PostgreSQL cannot store the first, and no database
 *   stores the second faithfully, so left to handlers they would become 500s or silent
 *   changes. Other content rules (control characters, bidi overrides, lengths) belong to each
 *   field: `cleanText` in ../text.ts, and {@link validate}. Nesting is capped at
 *   {@link MAX_JSON_DEPTH}.
 * - Form bodies (hosted pages) follow the same size rules; a field given twice is refused,
 *   since "first wins" and "last wins" are both ways to smuggle a value past a check.
 * - Handlers read `c.get('json')` / `c.get('form')`, never `c.req.json()`: the stream is spent.
 * - Under @hono/node-server the bytes come straight from Node's request (`c.env.incoming`):
 *   touching `c.req.raw`'s body would make the adapter build a whole web `Request` (with its
 *   AbortSignal and stream) for every call, which was a third of the main thread's time per
 *   gift in `npm run bench:api`.
 */

/** The default body limit: 16 KiB, plenty for any request of the API. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024;

/** How deeply a JSON body may nest objects and arrays (the top-level object is depth 1). */
export const MAX_JSON_DEPTH = 32;

/** A parsed JSON body: always an object at the top. */
export type JsonObject = Record<string, unknown>;

/** The Hono variables {@link jsonBody} sets; merge them into the app's `Variables`. */
export interface JsonBodyVariables {
  json: JsonObject;
}

/** The Hono variables {@link formBody} sets; merge them into the app's `Variables`. */
export interface FormBodyVariables {
  form: Record<string, string>;
}

/** Options of {@link jsonBody} and {@link formBody}. */
export interface BodyOptions {
  /**
   * The largest body accepted, in bytes.
   *
   * @defaultValue {@link DEFAULT_MAX_BODY_BYTES}
   */
  maxBytes?: number;
}

/** Methods whose bodies are ignored (and never read). */
const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** With the u flag a pair is one code point, so this matches only an unpaired surrogate. */
const LONE_SURROGATE = /\p{Surrogate}/u;

const JSON_TYPE = 'application/json';
const FORM_TYPE = 'application/x-www-form-urlencoded';

/**
 * Reads and parses a JSON object body into `c.get('json')`.
 *
 * @remarks For GET, HEAD and OPTIONS the body is not read and `json` is `{}`. See the comment
 * atop this file for the rules.
 *
 * @throws {@link ApiError} `payload_too_large`, `unsupported_media_type`, `invalid_json`,
 * `invalid_request` (NUL or an unpaired surrogate, with `param`).
 * @example
 * ```ts
 * app.post('/v1/gifts', jsonBody(), (c) => {
 *   const params = validate(GiftCreateParams, c.get('json'));
 *   …
 * });
 * ```
 */
export function jsonBody(options: BodyOptions = {}): MiddlewareHandler<{ Variables: JsonBodyVariables }> {
  const maxBytes = checkMaxBytes(options.maxBytes);
  return async (c, next) => {
    if (BODYLESS_METHODS.has(c.req.method)) {
      c.set('json', {});
      return next();
    }
    checkDeclaredLength(c, maxBytes);
    checkContentEncoding(c);
    const type = mediaType(c.req.header('Content-Type'));
    if (type !== undefined) checkMediaType(type, JSON_TYPE, 'JSON');
    const text = decodeUtf8(await readBody(c, maxBytes), 'invalid_json');
    if (/^[ \t\r\n]*$/.test(text)) {
      // Nothing but JSON whitespace: a POST that needs no parameters.
      c.set('json', {});
      return next();
    }
    if (type === undefined) {
      throw new ApiError('unsupported_media_type', 'Send the body as JSON with the header Content-Type: application/json.');
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new ApiError('invalid_json', `The body is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ApiError('invalid_json', `The body must be a JSON object, such as {"amountDiamonds": 100}; it is ${describe(value)}.`);
    }
    checkJsonStrings(value, [], 1);
    c.set('json', value as JsonObject);
    return next();
  };
}

/**
 * Reads an `application/x-www-form-urlencoded` body (a hosted page's form) into
 * `c.get('form')`.
 *
 * @remarks Same size rules as {@link jsonBody}; an empty body is `{}`; a field given twice,
 * a field without a name and NUL characters are refused. For GET, HEAD and OPTIONS the body
 * is not read and `form` is `{}`.
 *
 * @throws {@link ApiError} `payload_too_large`, `unsupported_media_type`, `invalid_request`.
 */
export function formBody(options: BodyOptions = {}): MiddlewareHandler<{ Variables: FormBodyVariables }> {
  const maxBytes = checkMaxBytes(options.maxBytes);
  return async (c, next) => {
    if (BODYLESS_METHODS.has(c.req.method)) {
      c.set('form', {});
      return next();
    }
    checkDeclaredLength(c, maxBytes);
    checkContentEncoding(c);
    const type = mediaType(c.req.header('Content-Type'));
    if (type !== undefined) checkMediaType(type, FORM_TYPE, 'a form');
    const text = decodeUtf8(await readBody(c, maxBytes), 'invalid_request');
    if (text === '') {
      c.set('form', {});
      return next();
    }
    if (type === undefined) {
      throw new ApiError('unsupported_media_type', `Send the form with the header Content-Type: ${FORM_TYPE}.`);
    }
    const entries: [string, string][] = [];
    const seen = new Set<string>();
    for (const [name, value] of new URLSearchParams(text)) {
      if (name === '') throw new ApiError('invalid_request', 'A form field has no name.');
      if (seen.has(name)) throw new ApiError('invalid_request', `The form field "${name}" is given more than once.`, { param: name });
      seen.add(name);
      if (name.includes('\0')) throw new ApiError('invalid_request', 'A form field name contains a NUL character.');
      if (value.includes('\0'))
        throw new ApiError('invalid_request', `The form field "${name}" contains a NUL character.`, { param: name });
      entries.push([name, value]);
    }
    // fromEntries defines own properties, so a field named "__proto__" is just a field.
    c.set('form', Object.fromEntries(entries));
    return next();
  };
}

/**
 * Checks a value against a zod schema and returns the parsed result, or throws
 * `invalid_request` naming the first wrong field.
 *
 * @remarks The message says what to fix ("Missing required parameter: amountDiamonds.",
 * "Unknown parameter: amount.", "Invalid currency: expected a string, got a number.") and how
 * many other problems there are; `param` is the field's dotted path (`postings.1.amount`).
 * Values are never echoed.
 *
 * @throws {@link ApiError} `invalid_request`.
 */
export function validate<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const issue = issues[0]!;
  const more = issues.length - 1;
  const suffix = more === 0 ? '' : ` (${more} more problem${more === 1 ? '' : 's'} after this one.)`;
  const { message, param } = describeIssue(issue, value);
  throw new ApiError('invalid_request', message + suffix, param === undefined ? {} : { param });
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): { message: string; param: string | undefined } {
  const path = issue.path.map((segment) => String(segment));
  const param = path.length === 0 ? undefined : path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const names = issue.keys.map((key) => [...path, key].join('.'));
    return {
      message: `Unknown parameter${names.length === 1 ? '' : 's'}: ${names.join(', ')}. Check the spelling against the API reference.`,
      param: names[0],
    };
  }
  if (issue.code === 'invalid_type') {
    const actual = valueAt(input, issue.path);
    if (param === undefined) return { message: `The body must be ${article(issue.expected)}; it is ${describe(actual.value)}.`, param };
    if (!actual.found || actual.value === undefined) return { message: `Missing required parameter: ${param}.`, param };
    return { message: `Invalid ${param}: expected ${article(issue.expected)}, got ${describe(actual.value)}.`, param };
  }
  const text = issue.message.replace(/\.$/, '');
  const lowered = text.charAt(0).toLowerCase() + text.slice(1);
  return { message: param === undefined ? `Invalid request: ${lowered}.` : `Invalid ${param}: ${lowered}.`, param };
}

/** The value at a zod issue path in the raw input, and whether the path exists. */
function valueAt(input: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let current = input;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, segment)) return { found: false, value: undefined };
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return { found: true, value: current };
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** A JSON value's kind, for messages; never the value itself. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return article(typeof value);
}

/** Refuses NUL and unpaired surrogates anywhere in a parsed JSON value, and deep nesting. */
function checkJsonStrings(value: unknown, path: readonly string[], depth: number): void {
  if (typeof value === 'string') {
    const problem = stringProblem(value);
    if (problem === undefined) return;
    const param = path.length === 0 ? undefined : path.join('.');
    throw new ApiError('invalid_request', `Invalid ${param ?? 'body'}: it ${problem}.`, param === undefined ? {} : { param });
  }
  if (typeof value !== 'object' || value === null) return;
  if (depth > MAX_JSON_DEPTH)
    throw new ApiError('invalid_json', `The body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep.`);
  if (Array.isArray(value)) {
    value.forEach((item, index) => checkJsonStrings(item, [...path, String(index)], depth + 1));
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const problem = stringProblem(key);
    if (problem !== undefined) {
      const where = path.length === 0 ? 'the body' : path.join('.');
      throw new ApiError('invalid_request', `A parameter name in ${where} ${problem}.`, path.length === 0 ? {} : { param: path.join('.') });
    }
    checkJsonStrings(item, [...path, key], depth + 1);
  }
}

function stringProblem(value: string): string | undefined {
  if (value.includes('\0')) return 'contains a NUL character (\\u0000)';
  if (LONE_SURROGATE.test(value)) return 'contains an unpaired surrogate (it is not valid Unicode)';
  return undefined;
}

function checkMaxBytes(maxBytes: number | undefined): number {
  const value = maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`maxBytes must be a whole number of bytes, not ${value}.`);
  return value;
}

function tooLarge(maxBytes: number, size?: number): ApiError {
  const limit = `${maxBytes} bytes${maxBytes % 1024 === 0 && maxBytes > 0 ? ` (${maxBytes / 1024} KiB)` : ''}`;
  return new ApiError(
    'payload_too_large',
    size === undefined ? `The body is larger than the limit of ${limit}.` : `The body is ${size} bytes; the limit is ${limit}.`,
  );
}

/** Refuses a declared Content-Length over the limit, before anything is read. */
function checkDeclaredLength(c: Context, maxBytes: number): void {
  const declared = c.req.header('Content-Length');
  if (declared === undefined || !/^\d+$/.test(declared.trim())) return; // Node's parser refuses malformed ones.
  const size = Number(declared.trim());
  if (size > maxBytes) throw tooLarge(maxBytes, size);
}

function checkContentEncoding(c: Context): void {
  const encoding = c.req.header('Content-Encoding')?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    throw new ApiError(
      'unsupported_media_type',
      `Content-Encoding ${JSON.stringify(encoding)} is not accepted; send the body uncompressed.`,
    );
  }
}

interface MediaType {
  essence: string;
  charset: string | undefined;
}

/** The essence (`type/subtype`, lowercase) and charset of a Content-Type header. */
function mediaType(header: string | undefined): MediaType | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const [essence = '', ...parameters] = header.split(';');
  let charset: string | undefined;
  for (const parameter of parameters) {
    const match = /^\s*charset\s*=\s*"?([^";\s]*)"?\s*$/i.exec(parameter);
    if (match !== null) charset = match[1]!.toLowerCase();
  }
  return { essence: essence.trim().toLowerCase(), charset };
}

function checkMediaType(type: MediaType, expected: string, what: string): void {
  if (type.essence !== expected) {
    const shown = type.essence.length > 100 ? `${type.essence.slice(0, 100)}…` : type.essence;
    throw new ApiError('unsupported_media_type', `Send ${what} with Content-Type: ${expected}, not ${JSON.stringify(shown)}.`);
  }
  if (type.charset !== undefined && type.charset !== 'utf-8' && type.charset !== 'utf8') {
    throw new ApiError(
      'unsupported_media_type',
      `Send ${what} as UTF-8 (charset=utf-8), not ${JSON.stringify(type.charset.slice(0, 40))}.`,
    );
  }
}

/** Reads a body, never holding more than `maxBytes`; throws 413 as soon as it passes that. */
/**
 * The request's body bytes, refused past `maxBytes`: from Node's own request when the server
 * hands it over (`c.env.incoming` with @hono/node-server), which spares building a web
 * `Request` and its stream for every call, else from the web `Request`.
 */
function readBody(c: Context, maxBytes: number): Promise<Uint8Array> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming instanceof IncomingMessage && !incoming.readableDidRead
    ? readIncoming(incoming, maxBytes)
    : readLimited(c.req.raw, maxBytes);
}

function readIncoming(incoming: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanUp = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > maxBytes) {
        // Left unread on purpose: see the comment atop this file.
        cleanUp();
        incoming.pause();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanUp();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    };
    const onError = (error: Error) => {
      cleanUp();
      reject(new ApiError('invalid_request', 'The request body could not be read to its end.', { cause: error }));
    };
    const onAborted = () => onError(new Error('aborted'));
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('aborted', onAborted);
  });
}

async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      reader.releaseLock(); // Left unread on purpose: see the comment atop this file.
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array, code: 'invalid_json' | 'invalid_request'): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ApiError(code, 'The body is not valid UTF-8.');
  }
}
