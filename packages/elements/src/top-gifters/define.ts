/**
 * Registers `<diamond-top-gifters>` (see {@link DiamondTopGifters}). Import for its side effect:
 * `import '@diamonds/elements/top-gifters/define.js'`.
 *
 * @module
 */
import { defineElement } from '../define-element.js';
import { DiamondTopGifters } from './top-gifters.js';

defineElement('diamond-top-gifters', DiamondTopGifters);

declare global {
  interface HTMLElementTagNameMap {
    'diamond-top-gifters': DiamondTopGifters;
  }
}
