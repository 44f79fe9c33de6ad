import type { Hono } from 'hono';
import { html } from 'hono/html';
import type { PagesEnv } from './forms.js';
import type { Html } from './layout.js';

/** Where the account page's copy script is served (under `/account/`, so it gets the pages' headers). */
export const COPY_SCRIPT_PATH = '/account/copy.js';

/**
 * The copy buttons' script: a click on `button[data-copy]` copies the value (or text) of the
 * element whose id it names, and says so in the button's own status line for screen readers.
 *
 * @remarks Served from our origin under `script-src 'self'` (the account page allows no inline
 * script). The buttons are rendered `hidden` and shown here, so without script (or without a
 * clipboard) nobody sees a button that does nothing; the values stay selectable as text.
 */
export const COPY_SCRIPT = `"use strict";
(() => {
  if (!navigator.clipboard) return;
  for (const button of document.querySelectorAll('button[data-copy]')) {
    button.hidden = false;
    button.addEventListener('click', async () => {
      const target = document.getElementById(button.dataset.copy);
      const status = document.getElementById(button.dataset.copy + '-copied');
      if (!target) return;
      const value = 'value' in target ? target.value : target.textContent;
      try {
        await navigator.clipboard.writeText(value);
        if (status) status.textContent = 'Copied.';
      } catch {
        if (status) status.textContent = 'Could not copy: select the text and copy it by hand.';
      }
      setTimeout(() => { if (status) status.textContent = ''; }, 4000);
    });
  }
})();
`;

/**
 * A copy button for the element `targetId` (an input, a textarea or a `<code>`), with a polite
 * status line beside it. Rendered hidden; the copy script shows it.
 *
 * @param label - What the button says, naming what it copies ("Copy site id").
 */
export function copyButton(targetId: string, label: string): Html {
  return html`<button type="button" class="secondary copy-button" data-copy="${targetId}" hidden>${label}</button
    ><span class="muted copy-status" id="${targetId}-copied" role="status"></span>`;
}

/** Serves {@link COPY_SCRIPT} at {@link COPY_SCRIPT_PATH}. */
export function copyScriptRoute(pages: Hono<PagesEnv>): void {
  pages.get(COPY_SCRIPT_PATH, (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.body(COPY_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
  });
}
