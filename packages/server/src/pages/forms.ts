import type { Context } from 'hono';
import { ApiError, isApiError } from '../errors.js';
import { DEFAULT_MAX_BODY_BYTES, formBody, type FormBodyVariables } from '../http/body.js';
import type { FormProblem } from './layout.js';

/** Hono's environment of the hosted pages. */
export interface PagesEnv {
  Variables: FormBodyVariables;
}

/** A form body, or the (field-level) problem that kept it from being read. */
export type FormResult = { ok: true; form: Record<string, string> } | { ok: false; error: ApiError };

/** The largest form accepted: 16 KiB. */
export const MAX_FORM_BYTES = DEFAULT_MAX_BODY_BYTES;

const readFormBody = formBody({ maxBytes: MAX_FORM_BYTES });

/**
 * Reads an urlencoded form of at most 16 KiB.
 *
 * @returns The fields, or an `invalid_request` error (a repeated field, a NUL) for the page
 * to show beside its form.
 * @throws {@link ApiError} `payload_too_large` (413) and `unsupported_media_type` (415),
 * rendered as error pages.
 */
export async function readForm(c: Context<PagesEnv>): Promise<FormResult> {
  // Also checked by formBody; refused here first so that no page depends on one check alone.
  const declared = c.req.header('Content-Length')?.trim();
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > MAX_FORM_BYTES) {
    throw new ApiError('payload_too_large', `The form is ${declared} bytes; the limit is ${MAX_FORM_BYTES} bytes (16 KiB).`);
  }
  try {
    await readFormBody(c, async () => {});
  } catch (error) {
    if (isApiError(error, 'invalid_request')) return { ok: false, error };
    throw error;
  }
  return { ok: true, form: c.get('form') };
}

/** A text field of the form, `''` when absent. */
export function text(form: Record<string, string>, name: string): string {
  return Object.hasOwn(form, name) ? (form[name] ?? '') : '';
}

/**
 * The form problem for an {@link ApiError}: its message, with the parameter name at its start
 * replaced by the field's label, and the field it is about.
 *
 * @param fields - Parameter (its first dotted segment) → `[input id, label]`.
 */
export function problemFor(error: ApiError, fields: Readonly<Record<string, readonly [string, string]>>): FormProblem {
  const param = error.param?.split('.')[0];
  const entry = param !== undefined && Object.hasOwn(fields, param) ? fields[param] : undefined;
  if (!entry) return { message: error.message };
  const [fieldId, label] = entry;
  // An array parameter (`origins.2`) is a line of a textarea here.
  const index = error.param?.split('.')[1];
  const named = index !== undefined && /^\d+$/.test(index) ? `${label}, line ${Number(index) + 1}` : label;
  const message =
    error.param !== undefined && error.message.startsWith(error.param) ? named + error.message.slice(error.param.length) : error.message;
  return { message: message.replace(/\.\.$/, '.'), fieldId };
}

/**
 * Where to go after signing in: `next` when it is a path on this site, else `/account`.
 *
 * @remarks Refuses `//host` and `/\host` (other hosts to a browser) and control characters
 * (a URL parser drops tabs and line breaks, which could turn `/\t/host` into `//host`).
 */
export function safeNext(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2000) return '/account';
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/account';
  if (/[\u0000-\u001f\u007f-\u009f\\]/.test(value)) return '/account';
  return value;
}
