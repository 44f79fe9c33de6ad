import { css } from 'lit';

/** Styles of `<diamond-live-feed>`, after the theme. Settings resolve once on `:host` into `--_` locals. */
export default css`
  :host {
    --_art: var(--diamond-live-feed-art-size, 2.5em);
    --_gap: var(--diamond-live-feed-gap, 0.5em);
    --_combo: var(--diamond-live-feed-combo-color, var(--_accent));
    display: block;
  }
  [part~='list'] {
    list-style: none;
    margin: 0;
    padding: 0;
    display: grid;
    gap: var(--_gap);
  }
  [part~='gift'] {
    display: flex;
    align-items: center;
    gap: 0.75em;
    padding: 0.5em 0.75em;
    background: var(--_surface);
    border: 1px solid var(--_border);
    border-radius: var(--_radius);
    animation: diamond-live-in 0.3s ease-out;
  }
  [part~='art'] {
    inline-size: var(--_art);
    block-size: var(--_art);
    flex: none;
  }
  .text {
    display: grid;
    flex: 1;
    min-inline-size: 0;
  }
  [part~='fan'] {
    font-weight: 600;
  }
  [part~='name'],
  .hidden {
    color: var(--_muted);
  }
  [part~='message'] {
    overflow-wrap: anywhere;
  }
  .hidden {
    font-style: italic;
  }
  [part~='combo'] {
    font-size: 1.5em;
    font-weight: 700;
    font-variant-numeric: tabular-nums;
    color: var(--_combo);
    animation: diamond-live-pop 0.3s ease-out;
  }
  [part~='empty'],
  [part~='status'],
  [part~='error'] {
    color: var(--_muted);
    margin: 0 0 var(--_gap);
    padding: 0.5em 0.75em;
    background: var(--_surface);
    border-radius: var(--_radius);
  }
  [part~='error'] {
    color: var(--_danger);
  }
  .visually-hidden {
    position: absolute;
    inline-size: 1px;
    block-size: 1px;
    overflow: hidden;
    clip-path: inset(50%);
    white-space: nowrap;
  }
  @keyframes diamond-live-in {
    from {
      opacity: 0;
      transform: translateY(-0.5em);
    }
  }
  @keyframes diamond-live-pop {
    50% {
      transform: scale(1.3);
    }
  }
  @media (forced-colors: active) {
    [part~='gift'] {
      border-color: CanvasText;
    }
  }
`;
