import { css } from 'lit';

/**
 * Styles of `<diamond-paywall>`, after the theme. Settings resolve once on `:host` into `--_` locals.
 * The status keeps its line even when empty, so nothing around the paywall jumps when it speaks.
 */
export default css`
  :host {
    --_bg: var(--diamond-paywall-background, var(--_surface));
    --_frame: var(--diamond-paywall-border, 1px solid var(--_border));
    display: block;
  }
  [part~='base'] {
    background: var(--_bg);
    border: var(--_frame);
    border-radius: var(--_radius);
    padding: 1em;
  }
  p {
    margin: 0 0 0.5em;
  }
  [part~='title'] {
    font-weight: 700;
    font-size: 1.125em;
  }
  [part~='rule'] {
    font-weight: 600;
  }
  [part~='progress'] {
    display: block;
    inline-size: 100%;
    accent-color: var(--_accent);
    margin-block-end: 0.5em;
  }
  [part~='status'] {
    color: var(--_success);
    min-block-size: 1lh;
  }
  [part~='error']:empty {
    margin: 0;
  }
  [part~='body'] img {
    max-inline-size: 100%;
  }
  [part~='link'] {
    color: var(--_accent);
  }
  a {
    color: var(--_accent);
  }
`;
