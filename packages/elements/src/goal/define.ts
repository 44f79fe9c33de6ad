/**
 * Registers `<diamond-goal>` (see {@link DiamondGoal}). Import for its side effect:
 * `import '@diamonds/elements/goal/define.js'`.
 *
 * @module
 */
import { defineElement } from '../define-element.js';
import { DiamondGoal } from './goal.js';

defineElement('diamond-goal', DiamondGoal);

declare global {
  interface HTMLElementTagNameMap {
    'diamond-goal': DiamondGoal;
  }
}
