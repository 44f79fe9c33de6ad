import * as React from 'react';
import { createComponent } from '@lit/react';
import { DiamondCheckout as ElementClass } from '@diamonds/elements/checkout.js';
import '@diamonds/elements/checkout/define.js';
import { elementEvents } from './events.js';

/**
 * `<diamond-checkout>` as a React component: a checkout: the order, pay, the receipt.
 *
 * Props set the element's properties (`order="ord_…"`); `on…` props listen to its events. See
 * docs/elements/diamond-checkout.md for all of them.
 */
export const DiamondCheckout = /*#__PURE__*/ createComponent({
  react: React,
  tagName: 'diamond-checkout',
  elementClass: ElementClass,
  displayName: 'DiamondCheckout',
  events: elementEvents['diamond-checkout'],
});
