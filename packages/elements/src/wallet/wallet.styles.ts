import { css } from 'lit';

/**
 * Styles of `<diamond-wallet>`, after the theme. Settings resolve once on `:host` into `--_` locals.
 * On a phone (≤ 40rem) the compact panel is a sheet along the bottom of the screen, whole and
 * scrollable, wherever the pill sits.
 */
export default css`
  :host {
    --_bg: var(--diamond-wallet-background, var(--_surface));
    --_width: var(--diamond-wallet-panel-width, 20rem);
    display: inline-block;
    position: relative;
  }
  :host([layout='full']) {
    display: block;
  }
  p,
  ul {
    margin: 0;
  }
  ul {
    padding: 0;
    list-style: none;
    display: grid;
    gap: 0.5rem;
  }
  [part~='pill'] {
    display: inline-flex;
    align-items: center;
    gap: 0.4em;
    border-radius: 999px;
    background: var(--_bg);
    font-variant-numeric: tabular-nums;
  }
  svg {
    inline-size: 1em;
    block-size: 1em;
    color: var(--_accent);
  }
  [part~='panel'] {
    display: grid;
    gap: 0.75rem;
    padding: 1rem;
    background: var(--_bg);
    color: var(--_text);
    border: 1px solid var(--_border);
    border-radius: var(--_radius);
  }
  :host(:not([layout='full'])) [part~='panel'] {
    position: absolute;
    inset-block-start: calc(100% + 0.5rem);
    inset-inline-end: 0;
    z-index: 10;
    inline-size: var(--_width);
    max-inline-size: 90vw;
    box-shadow: 0 8px 24px rgb(0 0 0 / 0.2);
    animation: appear 0.15s ease-out;
  }
  @media (max-width: 40rem) {
    :host(:not([layout='full'])) [part~='panel'] {
      position: fixed;
      inset: auto 0.5rem 0.5rem;
      inline-size: auto;
      max-inline-size: none;
      max-block-size: calc(100dvh - 1rem);
      overflow: auto;
    }
  }
  [part~='panel'][hidden] {
    display: none;
  }
  @keyframes appear {
    from {
      opacity: 0;
      transform: translateY(-4px);
    }
  }
  [part~='name'] {
    font-weight: 600;
  }
  [part~='balance'] {
    display: flex;
    justify-content: space-between;
    align-items: baseline;
    font-size: 1.25em;
    font-variant-numeric: tabular-nums;
  }
  .label,
  .heading,
  [part~='held'],
  [part~='allowance'] {
    color: var(--_muted);
    font-size: 0.875rem;
  }
  .heading {
    font-weight: 600;
  }
  [part~='pack'] {
    inline-size: 100%;
  }
  [part~='entry'] {
    display: flex;
    justify-content: space-between;
    gap: 1rem;
    font-size: 0.875rem;
  }
  [part~='entry'].voided {
    text-decoration: line-through;
  }
  .amount {
    white-space: nowrap;
    font-variant-numeric: tabular-nums;
  }
  [part~='status'],
  [part~='error'] {
    font-size: 0.875rem;
  }
  [part~='status']:not(:empty),
  [part~='error']:not(:empty) {
    margin-block: 0.5rem;
  }
  @media (forced-colors: active) {
    svg {
      color: CanvasText;
    }
  }
`;
