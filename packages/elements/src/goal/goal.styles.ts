import { css } from 'lit';

/** Styles of `<diamond-goal>`, after the theme. Settings resolve once on `:host` into `--_` locals. */
export default css`
  :host {
    --_height: var(--diamond-goal-bar-height, 0.75em);
    --_fill: var(--diamond-goal-fill, var(--_accent));
    --_reached: var(--diamond-goal-reached-fill, var(--_success));
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
  [part~='bar'] {
    block-size: var(--_height);
    border-radius: var(--_radius);
    background: var(--_border);
    overflow: hidden;
  }
  [part~='fill'] {
    block-size: 100%;
    inline-size: 0;
    background: var(--_fill);
    transition: inline-size 0.6s ease-out;
  }
  [part~='fill'].reached {
    background: var(--_reached);
  }
  [part~='progress'],
  [part~='empty'],
  [part~='status'] {
    color: var(--_muted);
    font-variant-numeric: tabular-nums;
  }
  [part~='reached'] {
    color: var(--_success);
    font-weight: 600;
  }
  @media (forced-colors: active) {
    [part~='bar'] {
      border: 1px solid CanvasText;
    }
    [part~='fill'] {
      background: Highlight;
    }
  }
`;
