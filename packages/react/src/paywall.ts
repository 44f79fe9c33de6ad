import * as React from 'react';
import { createComponent } from '@lit/react';
import { DiamondPaywall as ElementClass } from '@diamonds/elements/paywall.js';
import '@diamonds/elements/paywall/define.js';
import { elementEvents } from './events.js';

/**
 * `<diamond-paywall>` as a React component: a paywall: teaser and price, unlock, then the content.
 *
 * Props set the element's properties (`content="ct_…"`); `on…` props listen to its events. See
 * docs/elements/diamond-paywall.md for all of them.
 */
export const DiamondPaywall = /*#__PURE__*/ createComponent({
  react: React,
  tagName: 'diamond-paywall',
  elementClass: ElementClass,
  displayName: 'DiamondPaywall',
  events: elementEvents['diamond-paywall'],
});
