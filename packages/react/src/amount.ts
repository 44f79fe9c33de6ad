import * as React from 'react';
import { createComponent } from '@lit/react';
import { DiamondAmount as ElementClass } from '@diamonds/elements/amount.js';
import '@diamonds/elements/amount/define.js';
import { elementEvents } from './events.js';

/**
 * `<diamond-amount>` as a React component: a number of Diamonds with the diamond icon.
 *
 * Props set the element's properties (`value={1234}`); `on…` props listen to its events. See
 * docs/elements/diamond-amount.md for all of them.
 */
export const DiamondAmount = /*#__PURE__*/ createComponent({
  react: React,
  tagName: 'diamond-amount',
  elementClass: ElementClass,
  displayName: 'DiamondAmount',
  events: elementEvents['diamond-amount'],
});
