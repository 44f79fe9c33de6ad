import * as React from 'react';
import { createComponent } from '@lit/react';
import { DiamondWallet as ElementClass } from '@diamonds/elements/wallet.js';
import '@diamonds/elements/wallet/define.js';
import { elementEvents } from './events.js';

/**
 * `<diamond-wallet>` as a React component: balance, top-up, history and sign-in for the fan.
 *
 * Props set the element's properties (`layout="full"`); `on…` props listen to its events. See
 * docs/elements/diamond-wallet.md for all of them.
 */
export const DiamondWallet = /*#__PURE__*/ createComponent({
  react: React,
  tagName: 'diamond-wallet',
  elementClass: ElementClass,
  displayName: 'DiamondWallet',
  events: elementEvents['diamond-wallet'],
});
