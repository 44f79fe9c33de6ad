import * as React from 'react';
import { createComponent } from '@lit/react';
import { DiamondProvider as ElementClass } from '@diamonds/elements/provider.js';
import '@diamonds/elements/provider/define.js';
import { elementEvents } from './events.js';

/**
 * `<diamond-provider>` as a React component: shares one Diamonds client with the Diamonds components inside.
 *
 * Props set the element's properties (`publishableKey="pk_…"`); `on…` props listen to its events. See
 * docs/elements/diamond-provider.md for all of them.
 */
export const DiamondProvider = /*#__PURE__*/ createComponent({
  react: React,
  tagName: 'diamond-provider',
  elementClass: ElementClass,
  displayName: 'DiamondProvider',
  events: elementEvents['diamond-provider'],
});
