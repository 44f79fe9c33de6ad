import { css } from 'lit';

/** Styles of `<diamond-discover>`, after the theme: a grid of cards, one column on a phone. */
export default css`
  :host {
    --_min: var(--diamond-discover-card-min-width, 14em);
    --_gap: var(--diamond-discover-gap, 0.75em);
    display: block;
    /* The heading and the empty state sit on the page: its colour, as inline text would. The cards have the theme's. */
    color: inherit;
  }
  [part~='heading'] {
    font-size: 1.1em;
    margin: 0 0 0.5em;
  }
  [part~='list'] {
    list-style: none;
    margin: 0;
    padding: 0;
    display: grid;
    gap: var(--_gap);
    grid-template-columns: repeat(auto-fill, minmax(min(100%, var(--_min)), 1fr));
  }
  [part~='item'] {
    color: var(--_text);
    background: var(--_surface);
    border: 1px solid var(--_border);
    border-radius: var(--_radius);
    overflow: hidden;
  }
  [part~='link'] {
    display: grid;
    gap: 0.25em;
    padding: 0.75em;
    color: inherit;
    text-decoration: none;
    block-size: 100%;
    box-sizing: border-box;
  }
  [part~='link']:hover [part~='title'] {
    text-decoration: underline;
  }
  [part~='link']:focus-visible {
    outline: 2px solid var(--_focus);
    outline-offset: -2px;
  }
  [part~='art'] {
    inline-size: 100%;
    aspect-ratio: 16 / 9;
    object-fit: cover;
    border-radius: calc(var(--_radius) / 2);
  }
  [part~='label'] {
    font-size: 0.75em;
    color: var(--_muted);
    text-transform: uppercase;
    letter-spacing: 0.04em;
  }
  [part~='title'] {
    font-weight: 600;
    overflow-wrap: anywhere;
  }
  [part~='creator'],
  [part~='excerpt'] {
    color: var(--_muted);
    font-size: 0.9em;
    overflow-wrap: anywhere;
  }
  [part~='price'] {
    font-weight: 600;
    color: var(--_text);
  }
  [part~='empty'],
  [part~='error'] {
    margin: 0;
  }
`;
