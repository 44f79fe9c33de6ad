import { css } from 'lit';

/** Styles of `<diamond-amount>`. Settings resolve once on `:host` into `--_` locals. */
export default css`
  :host {
    --_icon-color: var(--diamond-amount-icon-color, var(--diamond-color-accent, #1a73e8));
    --_icon-size: var(--diamond-amount-icon-size, 1em);
    --_gap: var(--diamond-amount-gap, 0.25em);
    /* Unset token: the local is invalid, so font-family falls back to inheriting. */
    --_font-family: var(--diamond-font-family);
    display: inline;
  }

  @media (prefers-color-scheme: dark) {
    :host {
      --_icon-color: var(--diamond-amount-icon-color, var(--diamond-color-accent, #8ab4f8));
    }
  }

  :host([hidden]) {
    display: none;
  }

  [part~='base'] {
    font-family: var(--_font-family);
    font-variant-numeric: tabular-nums;
    white-space: nowrap;
  }

  [part~='icon'] {
    display: inline-block;
    inline-size: var(--_icon-size);
    block-size: var(--_icon-size);
    margin-inline-end: var(--_gap);
    vertical-align: -0.125em;
    color: var(--_icon-color);
  }

  .label {
    position: absolute;
    inline-size: 1px;
    block-size: 1px;
    overflow: hidden;
    clip-path: inset(50%);
    white-space: nowrap;
    user-select: none;
  }

  @media (forced-colors: active) {
    [part~='icon'] {
      color: CanvasText;
    }
  }
`;
