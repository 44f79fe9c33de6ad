import { css } from 'lit';

/**
 * Styles of `<diamond-checkout>`, after the theme. Settings resolve once on `:host` into `--_` locals.
 * The status keeps its line even when empty, so nothing around the checkout jumps when it speaks.
 * The cells' padding is narrow, so that a four-column order fits a 390 px phone.
 */
export default css`
  :host {
    --_bg: var(--diamond-checkout-background, var(--_surface));
    --_frame: var(--diamond-checkout-border, 1px solid var(--_border));
    display: block;
  }
  [part~='base'] {
    background: var(--_bg);
    border: var(--_frame);
    border-radius: var(--_radius);
    padding: 1em;
  }
  table {
    inline-size: 100%;
    border-collapse: collapse;
    margin-block-end: 0.75em;
  }
  caption {
    text-align: start;
    font-weight: 700;
    font-size: 1.125em;
    margin-block-end: 0.5em;
  }
  th,
  td {
    text-align: end;
    padding: 0.25em;
    border-block-end: 1px solid var(--_border);
  }
  th:first-child {
    text-align: start;
    padding-inline-start: 0;
  }
  thead th {
    color: var(--_muted);
    font-weight: 600;
  }
  tbody th {
    font-weight: 400;
  }
  tfoot th,
  tfoot td {
    font-weight: 700;
    border: 0;
  }
  p {
    margin: 0.5em 0 0;
  }
  [part~='status'] {
    color: var(--_success);
    min-block-size: 1lh;
  }
  [part~='receipt'] {
    color: var(--_muted);
    font-size: 0.875em;
    overflow-wrap: anywhere;
  }
`;
