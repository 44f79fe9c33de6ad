import * as React from 'react';
import { createComponent } from '@lit/react';
import { DiamondLiveFeed as ElementClass } from '@diamonds/elements/live-feed.js';
import '@diamonds/elements/live-feed/define.js';
import { elementEvents } from './events.js';

/**
 * `<diamond-live-feed>` as a React component: the latest gifts of a creator's live, as they arrive, with combo counts.
 *
 * Props set the element's properties (`creator="usr_…"`); `on…` props listen to its events. See
 * docs/elements/diamond-live-feed.md for all of them.
 */
export const DiamondLiveFeed = /*#__PURE__*/ createComponent({
  react: React,
  tagName: 'diamond-live-feed',
  elementClass: ElementClass,
  displayName: 'DiamondLiveFeed',
  events: elementEvents['diamond-live-feed'],
});
