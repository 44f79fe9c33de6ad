/**
 * Registers `<diamond-gift-button>` (see {@link DiamondGiftButton}). Import for its side effect:
 * `import '@diamonds/elements/gift-button/define.js'`.
 *
 * @module
 */
import { defineElement } from '../define-element.js';
import { DiamondGiftButton } from './gift-button.js';

defineElement('diamond-gift-button', DiamondGiftButton);

declare global {
  interface HTMLElementTagNameMap {
    'diamond-gift-button': DiamondGiftButton;
  }
}
