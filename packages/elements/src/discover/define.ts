/**
 * Registers `<diamond-discover>` (see {@link DiamondDiscover}). Import for its side effect:
 * `import '@diamonds/elements/discover/define.js'`, or load `diamonds-discover.js` from the
 * platform (see `discover-drop-in.ts`).
 *
 * @module
 */
import { defineElement } from '../define-element.js';
import { DiamondDiscover } from './discover.js';

defineElement('diamond-discover', DiamondDiscover);

declare global {
  interface HTMLElementTagNameMap {
    'diamond-discover': DiamondDiscover;
  }
}
