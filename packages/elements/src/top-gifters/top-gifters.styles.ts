import { css } from 'lit';

/** Styles of `<diamond-top-gifters>`, after the theme. Settings resolve once on `:host` into `--_` locals. */
export default css`
  :host {
    --_first: var(--diamond-top-gifters-first-color, var(--_accent));
    display: block;
  }
  [part~='base'] {
    display: block;
    padding: 0.75em 1em;
    background: var(--_surface);
    border: 1px solid var(--_border);
    border-radius: var(--_radius);
  }
  p {
    margin: 0.25em 0;
  }
  [part~='title'] {
    font-weight: 600;
  }
  [part~='list'] {
    margin: 0;
    padding-inline-start: 1.75em;
  }
  [part~='gifter'] {
    padding: 0.25em 0;
    border-block-end: 1px solid var(--_border);
  }
  [part~='gifter']:first-child::marker {
    color: var(--_first);
    font-weight: 700;
  }
  .row {
    display: flex;
    justify-content: space-between;
    gap: 1em;
  }
  [part~='fan'] {
    overflow-wrap: anywhere;
  }
  [part~='amount'] {
    font-variant-numeric: tabular-nums;
    white-space: nowrap;
  }
  [part~='empty'],
  [part~='status'] {
    color: var(--_muted);
  }
`;
