import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { BlockedAddressError, resolveTarget, systemResolver, type Resolver } from './ssrf.js';

/** How much of a response's body is kept. */
export const RESPONSE_EXCERPT_BYTES = 1024;

/** The signing material of one request. */
export interface SignedRequest {
  url: string;
  /** `webhook-id`: the event's id, the same on every attempt and replay. */
  messageId: string;
  body: string;
  /** Secrets that each add a `v1,` signature (the current one, and the previous one during a roll). */
  secrets: readonly string[];
  /** Extra headers (the delivery id and attempt). */
  headers?: Readonly<Record<string, string>>;
  /** When it is signed. @defaultValue now */
  timestamp?: Date;
}

/** How a request is sent. */
export interface SendOptions {
  /** A 2xx must come within this. */
  timeoutMs: number;
  /** Refuse loopback, private, link-local… addresses (see `ssrf.ts`). */
  production: boolean;
  resolver?: Resolver | undefined;
  /** Agents to reuse connections with. */
  agents?: { http: http.Agent; https: https.Agent } | undefined;
}

/** What one attempt got. */
export interface SendResult {
  /** True for a 2xx within the time. */
  ok: boolean;
  /** The HTTP status, when one came. */
  status: number | null;
  durationMs: number;
  /** The first 1 KB of the body, decoded as UTF-8. */
  response: string | null;
  /** Why it failed, when it did (`timeout after 15000 ms`, `redirect to … not followed`…). */
  error: string | null;
  /** True when refused before connecting: the address is not public (production). */
  blocked: boolean;
}

const signers = new Map<string, Webhook>();

/** A Standard Webhooks signer per secret (a few per endpoint, kept). */
function signer(secret: string): Webhook {
  let made = signers.get(secret);
  if (!made) {
    if (signers.size > 1000) signers.clear();
    made = new Webhook(secret);
    signers.set(secret, made);
  }
  return made;
}

/**
 * The Standard Webhooks headers of a request: `webhook-id`, `webhook-timestamp` (seconds) and
 * `webhook-signature`, one `v1,<base64>` per secret, space separated (as the specification
 * allows, for a secret roll). Signed by the `standardwebhooks` package.
 */
export function signatureHeaders(request: SignedRequest): Record<string, string> {
  const timestamp = request.timestamp ?? new Date();
  const signatures = request.secrets.map((secret) => signer(secret).sign(request.messageId, timestamp, request.body));
  return {
    'webhook-id': request.messageId,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}

/**
 * Posts a signed webhook once: no redirect followed (a 3xx is a failure), a 2xx within
 * `timeoutMs` is success, the first 1 KB of the answer kept. In production the host is
 * resolved first, every address checked, and the connection made to the address checked
 * (never resolved again by the HTTP client), so DNS cannot point it elsewhere in between.
 */
export async function sendWebhook(request: SignedRequest, options: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const url = new URL(request.url);
  let target;
  try {
    target = await resolveTarget(url.hostname, options.production, options.resolver ?? systemResolver);
  } catch (error) {
    const blocked = error instanceof BlockedAddressError;
    const message = blocked ? (error as Error).message : `could not resolve ${url.hostname}: ${(error as Error).message}`;
    return { ok: false, status: null, durationMs: elapsed(), response: null, error: message, blocked };
  }
  const lookup: LookupFunction = (_hostname, lookupOptions, callback) => {
    if ((lookupOptions as { all?: boolean }).all) {
      (callback as unknown as (error: null, addresses: Array<{ address: string; family: number }>) => void)(null, [target]);
    } else {
      callback(null, target.address, target.family);
    }
  };
  const secure = url.protocol === 'https:';
  const body = Buffer.from(request.body);
  const headers = {
    'content-type': 'application/json',
    'content-length': String(body.length),
    'user-agent': 'Diamonds-Webhooks/1.0',
    ...request.headers,
    ...signatureHeaders(request),
  };
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: Omit<SendResult, 'durationMs' | 'blocked'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...result, durationMs: elapsed(), blocked: false });
    };
    const requestOptions: https.RequestOptions = {
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      headers,
      lookup,
      agent: secure ? options.agents?.https : options.agents?.http,
      // The certificate is checked against the URL's host name, not the address connected to.
      ...(secure ? { servername: url.hostname.replace(/^\[|\]$/g, '') } : {}),
    };
    const req = (secure ? https : http).request(requestOptions, (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        const excerpt = new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES));
        const ok = status >= 200 && status < 300;
        let error: string | null = null;
        if (!ok) {
          error =
            status >= 300 && status < 400
              ? `redirect (${status}) to ${String(res.headers.location ?? 'nowhere').slice(0, 200)} not followed: give the final URL`
              : `answered ${status}`;
        }
        finish({ ok, status, response: excerpt, error });
      };
      res.on('data', (chunk: Buffer) => {
        if (size < RESPONSE_EXCERPT_BYTES) chunks.push(chunk);
        size += chunk.length;
        if (size >= RESPONSE_EXCERPT_BYTES) {
          done();
          res.destroy();
        }
      });
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
    });
    const timer = setTimeout(() => {
      finish({ ok: false, status: null, response: null, error: `no answer within ${options.timeoutMs} ms` });
      req.destroy();
    }, options.timeoutMs);
    req.on('error', (error) => finish({ ok: false, status: null, response: null, error: error.message.slice(0, 300) }));
    req.end(body);
  });
}
