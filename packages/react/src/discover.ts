import * as React from 'react';
import { createComponent } from '@lit/react';
import { DiamondDiscover as ElementClass } from '@diamonds/elements/discover.js';
import '@diamonds/elements/discover/define.js';
import { elementEvents } from './events.js';

/**
 * `<diamond-discover>` as a React component: boosted posts and products from creators on the platform.
 *
 * Props set the element's properties (`limit={4}`); `on…` props listen to its events. See
 * docs/elements/diamond-discover.md for all of them.
 */
export const DiamondDiscover = /*#__PURE__*/ createComponent({
  react: React,
  tagName: 'diamond-discover',
  elementClass: ElementClass,
  displayName: 'DiamondDiscover',
  events: elementEvents['diamond-discover'],
});
