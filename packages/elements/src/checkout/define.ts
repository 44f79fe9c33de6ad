/**
 * Registers `<diamond-checkout>` (see {@link DiamondCheckout}). Import for its side effect:
 * `import '@diamonds/elements/checkout/define.js'`.
 *
 * @module
 */
import { defineElement } from '../define-element.js';
import { DiamondCheckout } from './checkout.js';

defineElement('diamond-checkout', DiamondCheckout);

declare global {
  interface HTMLElementTagNameMap {
    'diamond-checkout': DiamondCheckout;
  }
}
