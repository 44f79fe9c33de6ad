// Webhook verification with WebCrypto (crypto.subtle), as receipts: Node has it as a global, the
// SDK package builds without Node's types, and `subtle.verify` compares HMACs in constant time,
// so no hand-written comparison is needed. The scheme is Standard Webhooks
// (https://www.standardwebhooks.com): HMAC-SHA256 of `${id}.${timestamp}.${body}`, base64, as
// `v1,<signature>` in `webhook-signature`, several separated by spaces during a secret roll.
import { SiteEvent } from '@diamonds/protocol';
import { DiamondsUsageError } from './errors.js';
import { WebhookHeaderError, WebhookPayloadError, WebhookSignatureError, WebhookTimestampError } from './webhook-errors.js';

/** How far `webhook-timestamp` may be from the receiver's clock, either way, when not configured: 5 minutes. */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

/** The prefix of a webhook signing secret as the platform shows it: `whsec_` then base64. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** Signatures looked at in one header, at most: a roll makes two, anything far beyond is noise. */
const MAX_SIGNATURES = 10;

/** Bodies longer than this are refused unverified (real events are a few KB). */
const MAX_BODY_BYTES = 1024 * 1024;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The request headers {@link verifyWebhook} reads `webhook-id`, `webhook-timestamp` and
 * `webhook-signature` from, in any of the forms servers hand them over:
 *
 * - a `Headers` instance (`fetch`, Hono, Next.js route handlers, Deno, Workers);
 * - Node's `IncomingHttpHeaders` (`req.headers` in `node:http`, Express, Fastify), whose names
 *   are lower case and whose values may be arrays;
 * - a plain object with names in any case.
 */
export type WebhookHeaders =
  | {
      /** The value of header `name` (any case), or null: as `Headers.get`. */
      get(name: string): string | null;
    }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * The body as it came over the wire, byte for byte: a string, a `Buffer`, a `Uint8Array` or an
 * `ArrayBuffer`. Never a parsed object, nor `JSON.stringify` of one: the signature covers the
 * exact bytes, and parsing and printing again changes them.
 */
export type WebhookBody = string | Uint8Array | ArrayBuffer;

/**
 * A webhook event: the same typed event as `GET /v1/events/{id}` returns (a discriminated union
 * on `type`: `order.paid`, `order.refunded`, `gift.sent`…).
 */
export type WebhookEvent = SiteEvent;

/**
 * Options of {@link verifyWebhook}.
 *
 * @example
 * ```ts
 * await verifyWebhook(body, req.headers, secret, { toleranceSeconds: 60 });
 * ```
 */
export interface VerifyWebhookOptions {
  /**
   * How far the `webhook-timestamp` may be from now, either way, in seconds: older deliveries
   * (a replayed capture) and ones from the future are refused.
   *
   * @defaultValue {@link DEFAULT_WEBHOOK_TOLERANCE_SECONDS} (5 minutes)
   */
  toleranceSeconds?: number | undefined;
  /**
   * The current time in milliseconds since the epoch: for tests.
   *
   * @defaultValue `Date.now()`
   */
  nowMs?: number | undefined;
}

/** What {@link signWebhook} signs with besides the body and the secret. */
export interface SignWebhookOptions {
  /** The `webhook-id`: the platform sends the event's id (`evt_…`). */
  id: string;
  /**
   * When it was signed, in milliseconds since the epoch (sent in whole seconds).
   *
   * @defaultValue `Date.now()`
   */
  timestampMs?: number | undefined;
}

/** The three headers of a signed webhook delivery, as {@link signWebhook} returns them. */
export type SignedWebhookHeaders = {
  /** The message id: the event's id, the same on every retry and replay, to drop duplicates by. */
  'webhook-id': string;
  /** When the delivery was signed, in whole seconds since the epoch. */
  'webhook-timestamp': string;
  /** `v1,<base64 signature>`, several separated by spaces during a secret roll. */
  'webhook-signature': string;
};

/**
 * Checks that a webhook request came from Diamonds and returns its event, typed.
 *
 * @remarks
 * What is checked, in order: the three headers are there; the body is the raw bytes and not too
 * large; one of the `v1` signatures in `webhook-signature` is the HMAC-SHA256, under `secret`, of
 * `${webhook-id}.${webhook-timestamp}.${body}` (compared in constant time; during a secret roll
 * the platform sends two signatures and either may match); the timestamp is within
 * `toleranceSeconds` of now; the body is a Diamonds event.
 *
 * Deliveries come at least once: the same event may arrive again (a retry after your 5xx or a
 * timeout, a replay). Drop duplicates by `event.id` (also sent as `webhook-id`). Answer 2xx quickly
 * and do the work afterwards; anything else is retried.
 *
 * Uses WebCrypto (`globalThis.crypto.subtle`): Node 20 and later, Deno, Bun, Workers.
 *
 * @param rawBody - The request body exactly as received (see {@link WebhookBody}).
 * @param headers - The request headers (see {@link WebhookHeaders}).
 * @param secret - The endpoint's signing secret (`whsec_…`, shown once when you add the endpoint
 *   or roll its secret). While you switch secrets yourself, pass both: a signature by either is accepted.
 * @returns The event, parsed by the protocol's schema.
 * @throws {@link WebhookHeaderError} a header is missing (reason `missing_header`), repeated or
 *   `webhook-timestamp` is not a number (reason `malformed_header`).
 * @throws {@link WebhookSignatureError} no signature matches (reason `bad_signature`).
 * @throws {@link WebhookTimestampError} the timestamp is too old or in the future, beyond
 *   `toleranceSeconds` (reason `stale_timestamp` or `future_timestamp`).
 * @throws {@link WebhookPayloadError} signed, but not a Diamonds event this SDK knows; or a parsed
 *   object instead of the raw body, or a huge body (reason `malformed_payload`).
 * @throws {@link DiamondsUsageError} `invalid_option` for a secret that is not a signing secret.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { isWebhookVerificationError, verifyWebhook } from '@diamonds/sdk/server';
 *
 * app.post('/diamonds/webhooks', express.raw({ type: 'application/json' }), async (req, res) => {
 *   let event;
 *   try {
 *     event = await verifyWebhook(req.body, req.headers, process.env.DIAMONDS_WEBHOOK_SECRET!);
 *   } catch (error) {
 *     if (isWebhookVerificationError(error)) return res.status(400).send(error.reason);
 *     throw error;
 *   }
 *   if (await alreadyHandled(event.id)) return res.sendStatus(200);
 *   if (event.type === 'order.paid') await markPaid(event.data.orderId);
 *   if (event.type === 'order.refunded') await markRefunded(event.data.orderId);
 *   res.sendStatus(200);
 * });
 * ```
 */
export async function verifyWebhook(
  rawBody: WebhookBody,
  headers: WebhookHeaders,
  secret: string | readonly string[],
  options: VerifyWebhookOptions = {},
): Promise<WebhookEvent> {
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  if (!Number.isSafeInteger(toleranceSeconds) || toleranceSeconds < 0) {
    throw new DiamondsUsageError(`toleranceSeconds must be a whole number of seconds from 0, not ${String(toleranceSeconds)}.`, {
      code: 'invalid_option',
    });
  }
  const keys = await Promise.all((typeof secret === 'string' ? [secret] : [...secret]).map((one) => importSecret(one)));
  if (keys.length === 0) throw new DiamondsUsageError('Pass the endpoint signing secret (whsec_…).', { code: 'invalid_option' });

  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  const body = bodyBytes(rawBody);

  const seconds = /^[0-9]{1,12}$/.test(timestamp) ? Number(timestamp) : Number.NaN;
  if (Number.isNaN(seconds)) {
    throw new WebhookHeaderError(
      'malformed_header',
      `webhook-timestamp is a number of seconds since the epoch, not ${JSON.stringify(timestamp)}.`,
    );
  }
  if (body.length > MAX_BODY_BYTES) throw new WebhookPayloadError(`The body has ${body.length} bytes; a Diamonds event is far smaller.`);
  const signed = concat(new TextEncoder().encode(`${id}.${timestamp}.`), body);
  if (!(await anySignatureMatches(signatures, keys, signed))) {
    throw new WebhookSignatureError(
      'No signature in webhook-signature matches this body and secret: the request was not sent by Diamonds, the body was changed ' +
        '(pass the raw body, not a parsed one), or the secret is not this endpoint’s.',
    );
  }
  // After the signature, so that a stale timestamp means a genuine but old delivery (a captured
  // request replayed, or a clock off), not a forgery.
  const nowSeconds = Math.floor((options.nowMs ?? Date.now()) / 1000);
  if (nowSeconds - seconds > toleranceSeconds) {
    throw new WebhookTimestampError(
      'stale_timestamp',
      `The delivery was signed ${nowSeconds - seconds} s ago, more than the ${toleranceSeconds} s allowed: a replayed request, or a clock far off.`,
    );
  }
  if (seconds - nowSeconds > toleranceSeconds) {
    throw new WebhookTimestampError(
      'future_timestamp',
      `The delivery is dated ${seconds - nowSeconds} s ahead, more than the ${toleranceSeconds} s allowed: check this server's clock.`,
    );
  }
  return parseEvent(body);
}

/**
 * Signs a body the way the platform signs a webhook delivery, and returns the three headers: for
 * your tests (post a signed fake event to your own handler) and to see the scheme at work.
 *
 * @remarks The signature is Standard Webhooks `v1`: base64 HMAC-SHA256 of
 * `${id}.${timestampSeconds}.${body}` under the base64-decoded secret.
 *
 * @example
 * ```ts
 * const body = JSON.stringify(fakeOrderPaidEvent);
 * const headers = await signWebhook(body, 'whsec_' + btoa('a test secret of 32 bytes or so…'), { id: fakeOrderPaidEvent.id });
 * await fetch('http://localhost:8080/diamonds/webhooks', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
 * ```
 */
export async function signWebhook(rawBody: WebhookBody, secret: string, options: SignWebhookOptions): Promise<SignedWebhookHeaders> {
  const { id } = options;
  if (typeof id !== 'string' || id === '' || /[\s.]/.test(id)) {
    throw new DiamondsUsageError('The webhook id is a non-empty string without spaces or dots.', { code: 'invalid_option' });
  }
  const timestamp = String(Math.floor((options.timestampMs ?? Date.now()) / 1000));
  const key = await importSecret(secret, 'sign');
  const signed = concat(new TextEncoder().encode(`${id}.${timestamp}.`), bodyBytes(rawBody));
  const mac = new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', key, signed));
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${toBase64(mac)}` };
}

/** Decodes a `whsec_…` (or bare base64) secret into an HMAC key. */
async function importSecret(secret: string, usage: 'verify' | 'sign' = 'verify'): Promise<CryptoKey> {
  const encoded = typeof secret === 'string' ? secret.trim().replace(/^whsec_/, '') : '';
  const bytes = BASE64.test(encoded) ? fromBase64(encoded) : undefined;
  if (bytes === undefined || bytes.length < 16) {
    throw new DiamondsUsageError(
      'A webhook signing secret is "whsec_" followed by base64, as the account page or the API showed it when the endpoint was made.',
      { code: 'invalid_option' },
    );
  }
  return globalThis.crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
}

/** One header's value; a missing, empty or repeated one is refused. */
function header(headers: WebhookHeaders, name: string): string {
  let value: string | readonly string[] | null | undefined;
  if (headers !== null && typeof headers === 'object' && typeof (headers as { get?: unknown }).get === 'function') {
    value = (headers as { get(name: string): string | null }).get(name);
  } else if (headers !== null && typeof headers === 'object') {
    const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
    value = record[name];
    if (value === undefined) {
      for (const [key, entry] of Object.entries(record)) {
        if (key.toLowerCase() === name) value = entry;
      }
    }
  }
  if (Array.isArray(value)) {
    // Node keeps unknown headers sent twice as an array: signatures may add up, an id may not.
    if (name === 'webhook-signature') value = value.join(' ');
    else if (value.length === 1) value = value[0] as string;
    else throw new WebhookHeaderError('malformed_header', `${name} was sent ${value.length} times.`);
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw new WebhookHeaderError(
      'missing_header',
      `The request has no ${name} header: it is not a Diamonds webhook delivery, or a proxy dropped the header.`,
    );
  }
  return value.trim();
}

/** The body's bytes, refusing what cannot be the raw body. */
function bodyBytes(rawBody: WebhookBody): Uint8Array {
  if (typeof rawBody === 'string') return new TextEncoder().encode(rawBody);
  if (rawBody instanceof Uint8Array) return rawBody;
  if (rawBody instanceof ArrayBuffer) return new Uint8Array(rawBody);
  throw new WebhookPayloadError(
    `verifyWebhook needs the raw body (a string, Buffer or Uint8Array), not ${rawBody === null ? 'null' : typeof rawBody}: ` +
      'a body parser already turned it into an object. Read the raw body on this route (express.raw(), await request.text()).',
  );
}

/** Whether one of the `v1,` signatures in `header` is the HMAC of `signed` under one of `keys`. */
async function anySignatureMatches(header: string, keys: readonly CryptoKey[], signed: Uint8Array<ArrayBuffer>): Promise<boolean> {
  const candidates = header
    .split(/\s+/)
    // A header sent twice reaches Node joined by ", ": the comma is not part of the signature.
    .map((entry) => entry.replace(/,+$/, ''))
    .filter((entry) => entry.startsWith('v1,'))
    .slice(0, MAX_SIGNATURES)
    .map((entry) => entry.slice(3))
    .filter((encoded) => BASE64.test(encoded))
    .map(fromBase64)
    .filter((bytes): bytes is Uint8Array<ArrayBuffer> => bytes?.length === 32);
  let matched = false;
  for (const signature of candidates) {
    for (const key of keys) {
      // Every candidate is checked, so the time taken does not tell which one matched.
      if (await globalThis.crypto.subtle.verify('HMAC', key, signature, signed)) matched = true;
    }
  }
  return matched;
}

/** The event in a verified body. */
function parseEvent(body: Uint8Array): WebhookEvent {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (error) {
    throw new WebhookPayloadError('The signed body is not JSON.', { cause: error });
  }
  const parsed = SiteEvent.safeParse(json);
  if (!parsed.success) {
    const type = typeof json === 'object' && json !== null && 'type' in json ? String((json as { type: unknown }).type) : undefined;
    throw new WebhookPayloadError(
      `The signed body is not a Diamonds event this SDK version knows${type === undefined ? '' : ` (type ${JSON.stringify(type)})`}: update @diamonds/sdk.`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function fromBase64(encoded: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    const binary = atob(encoded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return undefined;
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
