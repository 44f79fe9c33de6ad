/**
 * Registers `<diamond-provider>` (see {@link DiamondProvider}). Import for its side effect.
 *
 * @module
 */
import { defineElement } from '../define-element.js';
import { DiamondProvider } from './provider.js';

defineElement('diamond-provider', DiamondProvider);

declare global {
  interface HTMLElementTagNameMap {
    'diamond-provider': DiamondProvider;
  }
}
