/**
 * Registers `<diamond-paywall>` (see {@link DiamondPaywall}). Import for its side effect:
 * `import '@diamonds/elements/paywall/define.js'`.
 *
 * @module
 */
import { defineElement } from '../define-element.js';
import { DiamondPaywall } from './paywall.js';

defineElement('diamond-paywall', DiamondPaywall);

declare global {
  interface HTMLElementTagNameMap {
    'diamond-paywall': DiamondPaywall;
  }
}
