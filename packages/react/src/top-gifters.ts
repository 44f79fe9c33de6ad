import * as React from 'react';
import { createComponent } from '@lit/react';
import { DiamondTopGifters as ElementClass } from '@diamonds/elements/top-gifters.js';
import '@diamonds/elements/top-gifters/define.js';
import { elementEvents } from './events.js';

/**
 * `<diamond-top-gifters>` as a React component: the top gifters of a creator's live (session, today, all time).
 *
 * Props set the element's properties (`creator="usr_…"`); `on…` props listen to its events. See
 * docs/elements/diamond-top-gifters.md for all of them.
 */
export const DiamondTopGifters = /*#__PURE__*/ createComponent({
  react: React,
  tagName: 'diamond-top-gifters',
  elementClass: ElementClass,
  displayName: 'DiamondTopGifters',
  events: elementEvents['diamond-top-gifters'],
});
