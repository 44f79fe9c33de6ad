import { css } from 'lit';

/**
 * The theme tokens every element resolves on `:host`: light by default, dark under
 * `prefers-color-scheme: dark`, and either one forced with `theme="light"` / `theme="dark"`.
 * A page overrides any token with the `--diamond-*` custom properties. Text on the accent is the
 * page's `--diamond-color-on-accent`, else (when the page sets only an accent) black or white,
 * whichever reads on that accent (its CIE lightness against 49.44, where both reach 4.5:1),
 * else the theme's.
 *
 * @internal
 */
export const themeStyles = css`
  :host {
    --_accent: var(--diamond-color-accent, #5b3df5);
    --_auto-on: lch(from var(--diamond-color-accent) calc((49.44 - l) * 1000) 0 0);
    --_on-accent: var(--diamond-color-on-accent, var(--_auto-on, #fff));
    --_surface: var(--diamond-color-surface, #fff);
    --_text: var(--diamond-color-text, #1d1b26);
    --_muted: var(--diamond-color-muted, #5f5b6e);
    --_border: var(--diamond-color-border, #d5d2e0);
    --_danger: var(--diamond-color-danger, #b3261e);
    --_success: var(--diamond-color-success, #1e7a3c);
    --_radius: var(--diamond-radius, 0.75rem);
    --_font: var(--diamond-font-family, inherit);
    --_focus: var(--diamond-color-focus, #5b3df5);
    font-family: var(--_font);
    color: var(--_text);
  }
  @media (prefers-color-scheme: dark) {
    :host(:not([theme='light'])) {
      --_accent: var(--diamond-color-accent, #b6a6ff);
      --_on-accent: var(--diamond-color-on-accent, var(--_auto-on, #1d1b26));
      --_surface: var(--diamond-color-surface, #1f1d29);
      --_text: var(--diamond-color-text, #f2f0fa);
      --_muted: var(--diamond-color-muted, #bdb8d1);
      --_border: var(--diamond-color-border, #4a4660);
      --_danger: var(--diamond-color-danger, #ffb4ab);
      --_success: var(--diamond-color-success, #8fd7a4);
      --_focus: var(--diamond-color-focus, #b6a6ff);
    }
  }
  :host([theme='dark']) {
    --_accent: var(--diamond-color-accent, #b6a6ff);
    --_on-accent: var(--diamond-color-on-accent, var(--_auto-on, #1d1b26));
    --_surface: var(--diamond-color-surface, #1f1d29);
    --_text: var(--diamond-color-text, #f2f0fa);
    --_muted: var(--diamond-color-muted, #bdb8d1);
    --_border: var(--diamond-color-border, #4a4660);
    --_danger: var(--diamond-color-danger, #ffb4ab);
    --_success: var(--diamond-color-success, #8fd7a4);
    --_focus: var(--diamond-color-focus, #b6a6ff);
  }
  :host([hidden]) {
    display: none;
  }
  button {
    font: inherit;
    cursor: pointer;
    border-radius: var(--_radius);
    border: 1px solid var(--_border);
    background: var(--_surface);
    color: var(--_text);
    padding: 0.5em 1em;
    min-block-size: 2.75em;
  }
  button.primary {
    background: var(--_accent);
    color: var(--_on-accent);
    border-color: transparent;
  }
  button:disabled {
    cursor: not-allowed;
    opacity: 0.6;
  }
  :focus-visible {
    outline: 3px solid var(--_focus);
    outline-offset: 2px;
  }
  [role='alert'] {
    color: var(--_danger);
  }
  @media (prefers-reduced-motion: reduce) {
    * {
      animation: none !important;
      transition: none !important;
    }
  }
`;
