import * as React from 'react';
import { createComponent } from '@lit/react';
import { DiamondGoal as ElementClass } from '@diamonds/elements/goal.js';
import '@diamonds/elements/goal/define.js';
import { elementEvents } from './events.js';

/**
 * `<diamond-goal>` as a React component: a progress bar toward the creator's live goal.
 *
 * Props set the element's properties (`creator="usr_…"`); `on…` props listen to its events. See
 * docs/elements/diamond-goal.md for all of them.
 */
export const DiamondGoal = /*#__PURE__*/ createComponent({
  react: React,
  tagName: 'diamond-goal',
  elementClass: ElementClass,
  displayName: 'DiamondGoal',
  events: elementEvents['diamond-goal'],
});
