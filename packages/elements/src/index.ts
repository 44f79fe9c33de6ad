/**
 * Diamonds web components, built with Lit. Importing this module registers nothing: import
 * `@diamonds/elements/define-all.js` to register every element, or one element's
 * `define.js`, or register a class yourself with {@link defineElement}.
 *
 * @example
 * ```ts
 * import '@diamonds/elements/define-all.js';
 *
 * document.body.insertAdjacentHTML('beforeend', '<diamond-amount value="1234"></diamond-amount>');
 * ```
 *
 * @packageDocumentation
 */
export { DiamondAmount } from './amount/amount.js';
export { defineElement } from './define-element.js';
export { DiamondProvider } from './provider/provider.js';
export { DiamondGiftButton } from './gift-button/gift-button.js';
export { DiamondWallet } from './wallet/wallet.js';
export { DiamondPaywall } from './paywall/paywall.js';
export { DiamondCheckout } from './checkout/checkout.js';
export { DiamondLiveFeed } from './live-feed/live-feed.js';
export { DiamondGoal } from './goal/goal.js';
export { DiamondTopGifters } from './top-gifters/top-gifters.js';
export { DiamondDiscover } from './discover/discover.js';
export { DiamondLiveGiftEvent } from './live-feed/live-gift-event.js';
export { DiamondGoalReachedEvent } from './goal/goal-reached-event.js';
export { DiamondUnlockedEvent } from './events/unlocked.js';
export { DiamondPaidEvent } from './events/paid.js';
export { DiamondSignedInEvent } from './events/signed-in.js';
export type { DiamondSignedInDetail } from './events/signed-in.js';
export { DiamondSignedOutEvent } from './events/signed-out.js';
export type { DiamondSignedOutDetail } from './events/signed-out.js';
export { DiamondToppedUpEvent } from './events/topped-up.js';
export { DiamondBalanceChangedEvent } from './events/balance-changed.js';
export type { DiamondBalanceChangedDetail } from './events/balance-changed.js';
export { DiamondGiftRequestEvent } from './events/gift-request.js';
export type { DiamondGiftRequestDetail } from './events/gift-request.js';
export { DiamondGiftSentEvent } from './events/gift-sent.js';
export { DiamondErrorEvent } from './events/error.js';
export { DiamondReadyEvent } from './events/ready.js';
export type { DiamondErrorDetail } from './events/error.js';
export { diamondsContext } from './internal/client.js';
export { SHIPPED_LOCALES } from './i18n/i18n.js';
