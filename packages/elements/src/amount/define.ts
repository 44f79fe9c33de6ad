/**
 * Registers `<diamond-amount>` (see {@link DiamondAmount}). Import for its side effect:
 * `import '@diamonds/elements/amount/define.js'`.
 *
 * @module
 */
import { defineElement } from '../define-element.js';
import { DiamondAmount } from './amount.js';

defineElement('diamond-amount', DiamondAmount);

declare global {
  interface HTMLElementTagNameMap {
    'diamond-amount': DiamondAmount;
  }
}
