import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { HOSTED_CSS_HREF } from './hosted.css.js';

/** Rendered, escaped HTML. Only `html` templates make it: every interpolation is escaped. */
export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** A whole hosted page: `<html lang="en">`, a title, the stylesheet and one `<main>`. */
export function page(title: string, body: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>${title} · Diamonds</title>
        <link rel="stylesheet" href="${HOSTED_CSS_HREF}" />
      </head>
      <body>
        <main>${body}</main>
      </body>
    </html>`;
}

/** What went wrong with a submitted form: the message, and the field it is about. */
export interface FormProblem {
  message: string;
  /** The `id` of the input the problem is about, when there is one. */
  fieldId?: string | undefined;
}

/** The form's error summary, placed before the form so it is read first. Empty without a problem. */
export function alertBox(problem: FormProblem | undefined, id = 'form-error'): Html | string {
  if (!problem) return '';
  return html`<div class="alert" role="alert" id="${id}"><p>${problem.message}</p></div>`;
}

/** One labelled input. */
export interface FieldOptions {
  id: string;
  name: string;
  label: string;
  type: 'email' | 'password' | 'text' | 'number';
  autocomplete: string;
  value?: string | number | undefined;
  required?: boolean;
  maxLength?: number;
  min?: number;
  max?: number;
  hint?: string;
  /** The form's problem: marks this input invalid when it is about this input. */
  problem?: FormProblem | undefined;
  /**
   * The page's first field: focused on arrival (`autofocus`), unless the form's problem is about
   * a field (that field is focused instead). Never for a decisive button (see pages/guard.ts).
   */
  autofocus?: boolean;
}

/** A label bound to its input; when invalid, `aria-invalid` and `aria-describedby` to the message. */
export function field(options: FieldOptions): Html {
  const { id, problem } = options;
  const invalid = problem?.fieldId === id;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [options.hint ? hintId : '', invalid ? errorId : ''].filter(Boolean).join(' ');
  const focus = invalid || (options.autofocus === true && problem?.fieldId === undefined);
  return html`<div class="field">
    <label for="${id}">${options.label}</label>
    ${options.hint ? html`<p class="muted" id="${hintId}">${options.hint}</p>` : ''}
    <input
      id="${id}"
      name="${options.name}"
      type="${options.type}"
      autocomplete="${options.autocomplete}"
      value="${options.value ?? ''}"
      ${options.required ? html` required` : ''}${
        options.maxLength === undefined ? '' : html` maxlength="${options.maxLength}"`
      }${options.min === undefined ? '' : html` min="${options.min}"`}${
        options.max === undefined ? '' : html` max="${options.max}"`
      }${invalid ? html` aria-invalid="true"` : ''}${describedBy ? html` aria-describedby="${describedBy}"` : ''}${focus ? html` autofocus` : ''}
    />
    ${invalid ? html`<p class="field-error" id="${errorId}">${problem.message}</p>` : ''}
  </div>`;
}

/** The hidden CSRF field every POST form carries. */
export function csrfField(token: string): Html {
  return html`<input type="hidden" name="csrf" value="${token}" />`;
}

/** A simple page for an error that is not about a form field (403, 404, 413, 500). */
export function errorPage(title: string, message: string): Html {
  return page(
    title,
    html`<h1>${title}</h1>
      <div class="alert" role="alert"><p>${message}</p></div>
      <p><a href="/account">Go to your account</a> · <a href="/signin">Sign in</a></p>`,
  );
}
