import * as React from 'react';
import { createComponent } from '@lit/react';
import { DiamondGiftButton as ElementClass } from '@diamonds/elements/gift-button.js';
import '@diamonds/elements/gift-button/define.js';
import { elementEvents } from './events.js';

/**
 * `<diamond-gift-button>` as a React component: a gift button, one-click or with a picker of the catalog.
 *
 * Props set the element's properties (`creator="usr_…" gift="rose"`); `on…` props listen to its events. See
 * docs/elements/diamond-gift-button.md for all of them.
 */
export const DiamondGiftButton = /*#__PURE__*/ createComponent({
  react: React,
  tagName: 'diamond-gift-button',
  elementClass: ElementClass,
  displayName: 'DiamondGiftButton',
  events: elementEvents['diamond-gift-button'],
});
