import { css } from 'lit';

/**
 * Styles of `<diamond-gift-button>`, after the theme. Settings resolve once on `:host` into `--_` locals.
 * On a phone (≤ 40rem) the picker is a sheet along the bottom of the screen, wherever the button sits.
 * The status keeps one line even when empty, the thank-you's art overflows that line rather than
 * growing it, and its text runs on past the button's edge rather than widening the element (an
 * inline-block, so a wider one would push what sits beside it), so nothing around the button moves
 * as the status comes and goes.
 */
export default css`
  :host {
    --_bg: var(--diamond-gift-button-background, var(--_accent));
    --_fg: var(--diamond-gift-button-color, var(--_on-accent));
    --_art: var(--diamond-gift-button-art-size, 2.5em);
    display: inline-block;
    position: relative;
  }
  [part~='button'] {
    background: var(--_bg);
    color: var(--_fg);
    display: inline-flex;
    align-items: center;
    gap: 0.5em;
  }
  img {
    inline-size: var(--_art);
    block-size: var(--_art);
  }
  [part~='icon'] {
    inline-size: 1.5em;
    block-size: 1.5em;
  }
  [part~='picker'] {
    position: absolute;
    inset-block-start: calc(100% + 0.25em);
    inset-inline-start: 0;
    z-index: 10;
    inline-size: min(22em, 90vw);
    padding: 0.75em;
    background: var(--_surface);
    border: 1px solid var(--_border);
    border-radius: var(--_radius);
    box-shadow: 0 0.5em 1.5em #0003;
  }
  @media (max-width: 40rem) {
    [part~='picker'] {
      position: fixed;
      inset: auto 0.5rem 0.5rem;
      inline-size: auto;
      max-block-size: calc(100dvh - 1rem);
      overflow: auto;
    }
  }
  fieldset {
    display: grid;
    grid-template-columns: repeat(auto-fill, minmax(6em, 1fr));
    gap: 0.25em;
    border: 0;
    margin: 0 0 0.5em;
    padding: 0;
  }
  legend,
  form > label {
    font-weight: 600;
    margin-block-end: 0.25em;
  }
  form > label {
    display: grid;
    gap: 0.25em;
    margin-block-end: 0.5em;
  }
  [part~='gift'] {
    display: grid;
    justify-items: center;
    text-align: center;
    padding: 0.25em;
    border: 1px solid transparent;
    border-radius: var(--_radius);
    cursor: pointer;
  }
  [part~='gift']:has(:checked) {
    border-color: var(--_accent);
  }
  [part~='gift'] input {
    margin: 0;
  }
  [part~='price'],
  [part~='split'] {
    color: var(--_muted);
    font-size: 0.875em;
  }
  input,
  textarea {
    font: inherit;
    color: inherit;
    background: var(--_surface);
    border: 1px solid var(--_border);
    border-radius: 0.25em;
    padding: 0.25em;
  }
  .actions {
    display: flex;
    gap: 0.5em;
  }
  p {
    margin: 0.25em 0 0;
  }
  [part~='status'] {
    display: flex;
    align-items: center;
    gap: 0.5em;
    color: var(--_success);
    min-block-size: 1lh;
    contain: inline-size;
    white-space: nowrap;
  }
  [part~='art'] {
    animation: 0.9s ease-out both float;
    margin-block: calc((1lh - var(--_art)) / 2);
  }
  .spin {
    animation-name: spin;
  }
  .burst,
  .pulse {
    animation-name: burst;
  }
  @keyframes float {
    from {
      transform: translateY(1.5em);
      opacity: 0;
    }
    60% {
      transform: translateY(-0.75em);
      opacity: 1;
    }
  }
  @keyframes spin {
    from {
      transform: rotate(-1turn) scale(0.3);
      opacity: 0;
    }
  }
  @keyframes burst {
    from {
      transform: scale(0.2);
      opacity: 0;
    }
    60% {
      transform: scale(1.4);
    }
  }
`;
