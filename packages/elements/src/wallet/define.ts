/**
 * Registers `<diamond-wallet>` (see {@link DiamondWallet}). Import for its side effect:
 * `import '@diamonds/elements/wallet/define.js'`.
 *
 * @module
 */
import { defineElement } from '../define-element.js';
import { DiamondWallet } from './wallet.js';

defineElement('diamond-wallet', DiamondWallet);

declare global {
  interface HTMLElementTagNameMap {
    'diamond-wallet': DiamondWallet;
  }
}
