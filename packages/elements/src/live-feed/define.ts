/**
 * Registers `<diamond-live-feed>` (see {@link DiamondLiveFeed}). Import for its side effect:
 * `import '@diamonds/elements/live-feed/define.js'`.
 *
 * @module
 */
import { defineElement } from '../define-element.js';
import { DiamondLiveFeed } from './live-feed.js';

defineElement('diamond-live-feed', DiamondLiveFeed);

declare global {
  interface HTMLElementTagNameMap {
    'diamond-live-feed': DiamondLiveFeed;
  }
}
