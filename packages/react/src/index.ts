/**
 * React components for the Diamonds web components, made with `@lit/react`: props set the
 * elements' properties, `onDiamond…` props listen to their events (typed by the event classes of
 * `@diamonds/elements`). Each component registers its element when its module is imported.
 *
 * @example
 * ```tsx
 * import { DiamondProvider, DiamondGiftButton, DiamondWallet } from '@diamonds/react';
 *
 * export function Tip() {
 *   return (
 *     <DiamondProvider publishableKey="pk_live_…">
 *       <DiamondWallet />
 *       <DiamondGiftButton creator="usr_…" gift="rose" onDiamondGiftSent={(event) => console.log(event.detail.transferId)} />
 *     </DiamondProvider>
 *   );
 * }
 * ```
 *
 * @packageDocumentation
 */
export { DiamondAmount } from './amount.js';
export { DiamondProvider } from './provider.js';
export { DiamondGiftButton } from './gift-button.js';
export { DiamondWallet } from './wallet.js';
export { DiamondPaywall } from './paywall.js';
export { DiamondCheckout } from './checkout.js';
export { DiamondLiveFeed } from './live-feed.js';
export { DiamondGoal } from './goal.js';
export { DiamondTopGifters } from './top-gifters.js';
export { DiamondDiscover } from './discover.js';
