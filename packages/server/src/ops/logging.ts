import { inspect } from 'node:util';
import { pino, stdSerializers, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/*
 * The platform's structured logs: one JSON object per line (pino), so that an operator's log
 * shipper can index them. Nothing secret may reach them: fields whose name says they hold a
 * secret are replaced whole, and every string is scrubbed of the shapes secrets take, because
 * an error message or a stack can quote a header or a body we never meant to log.
 */

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';

/**
 * Field names whose values are never logged, whatever their shape: credentials, keys, card
 * fields, cookies and the headers that carry them. Matched case-insensitively on the name
 * without `-`/`_`, so `Set-Cookie`, `set_cookie` and `setCookie` are all caught.
 */
const SECRET_FIELD =
  /^(authorization|proxyauthorization|cookie|setcookie|dpop|password|newpassword|currentpassword|passcode|secret|clientsecret|webhooksecret|signingsecret|token|accesstoken|refreshtoken|idtoken|codeverifier|apikey|key|secretkey|publishablekey|privatekey|jwk|d|card|cardnumber|number|cvc|cvv|exp|expmonth|expyear|iban|accountnumber|otp|stripesignature|webhooksignature|signature|idempotencykey)$/;

/** Whether a run of digits passes the Luhn check, as card numbers do (timestamps mostly do not). */
function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * Shapes of secrets inside free text, each with what replaces it: our secret and session-like
 * tokens and Stripe's keys and webhook secrets, bearer/DPoP/basic credentials, JWTs, card
 * numbers (13–19 digits, optionally grouped, passing Luhn) and `name=value` pairs naming a secret.
 */
const SECRET_TEXT: ReadonlyArray<[RegExp, (match: string, ...groups: string[]) => string]> = [
  [/\b(?:sk|rk|whsec|pk|st|rt|at|ses|csrf|ovl)_[A-Za-z0-9_+/=-]{6,}/g, () => REDACTED],
  [/\b(?:Bearer|DPoP|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, () => REDACTED],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, () => REDACTED],
  [/\b\d(?:[ -]?\d){12,18}\b/g, (match) => (luhn(match.replace(/\D/g, '')) ? REDACTED : match)],
  [
    /\b(password|passwd|secret|token|api[_-]?key|authorization|cookie|dpop|cvc)(["']?\s*[:=]\s*["']?)[^\s"'&,;]+/gi,
    (_match, name = '', separator = '') => `${name}${separator}${REDACTED}`,
  ],
];

/** Replaces every secret-shaped piece of `text` with {@link REDACTED}. */
export function scrubText(text: string): string {
  let out = text;
  for (const [pattern, replace] of SECRET_TEXT) out = out.replace(pattern, replace);
  return out;
}

/** Whether a field of this name holds a secret (see {@link SECRET_FIELD}). */
function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name.toLowerCase().replace(/[-_]/g, ''));
}

/** A deep copy of `value` with secret fields replaced and every string scrubbed; bounded in depth. */
export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[deep]';
  if (value instanceof Error) return scrubValue(stdSerializers.err(value), depth + 1);
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, depth + 1));
  if (value instanceof Headers) return scrubValue(Object.fromEntries(value.entries()), depth + 1);
  const out: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(value)) {
    out[name] = isSecretField(name) ? REDACTED : scrubValue(item, depth + 1);
  }
  return out;
}

/** Options of {@link createLogger}. */
export interface LoggerSettings {
  /** The lowest level written. @defaultValue `DIAMONDS_LOG_LEVEL`, else `info` */
  level?: string;
  /** Where lines go. @defaultValue standard output */
  destination?: DestinationStream;
}

/**
 * A pino logger that writes one JSON line per entry and redacts secrets (see
 * {@link scrubValue}) from the fields and from the message.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: 'info' });
 * log.info({ requestId, route: '/v1/gifts', status: 200, durationMs: 3.2 }, 'request');
 * ```
 */
export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? (process.env.DIAMONDS_LOG_LEVEL?.trim() || 'info'),
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    messageKey: 'msg',
    serializers: { err: (error: Error) => scrubValue(stdSerializers.err(error)) },
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => scrubValue(object) as Record<string, unknown>,
    },
    hooks: {
      // The message itself (and any printf-style arguments) is scrubbed too.
      logMethod(args, method) {
        method.apply(this, args.map((arg) => (typeof arg === 'string' ? scrubText(arg) : arg)) as Parameters<typeof method>);
      },
    },
  };
  return settings.destination ? pino(options, settings.destination) : pino(options);
}

/**
 * Where code without its own logger writes: warnings and errors only, so that tests and
 * commands stay quiet; `diamonds start` passes an `info` logger of its own.
 */
export const quietLogger: Logger = createLogger({ level: process.env.DIAMONDS_LOG_LEVEL?.trim() || 'warn' });

/**
 * Sends `console.warn` and `console.error` through `logger` (as JSON lines at `warn` and
 * `error`, scrubbed like every entry), so that the messages of the platform's background work
 * (webhook delivery, payouts, the live fold…) reach the same log, in the same shape, without a
 * secret. `console.log` (the start banner) stays plain text. Returns the undo.
 */
export function logConsoleThrough(logger: Logger): () => void {
  const { warn, error } = console;
  const bridge =
    (level: 'warn' | 'error') =>
    (...args: unknown[]): void => {
      const err = args.find((arg): arg is Error => arg instanceof Error);
      const text = args
        .filter((arg) => arg !== err)
        .map((arg) => (typeof arg === 'string' ? arg : inspect(arg, { depth: 4, breakLength: Infinity })))
        .join(' ');
      if (err) logger[level]({ err }, text || err.message);
      else logger[level](text);
    };
  console.warn = bridge('warn');
  console.error = bridge('error');
  return () => {
    console.warn = warn;
    console.error = error;
  };
}
