// The React event props of each element: `onDiamondGiftSent` listens to `diamond-gift-sent`, typed
// by the element's event class. Kept beside the components (not exported from the package) so
// that src/components.test.ts can check them against the custom-elements manifest.
import type { EventName } from '@lit/react';
import type {
  DiamondBalanceChangedEvent,
  DiamondErrorEvent,
  DiamondGiftRequestEvent,
  DiamondGiftSentEvent,
  DiamondGoalReachedEvent,
  DiamondLiveGiftEvent,
  DiamondPaidEvent,
  DiamondReadyEvent,
  DiamondSignedInEvent,
  DiamondSignedOutEvent,
  DiamondToppedUpEvent,
  DiamondUnlockedEvent,
} from '@diamonds/elements';

const onError = { onDiamondError: 'diamond-error' as EventName<DiamondErrorEvent> };

/** Event props by tag. */
export const elementEvents = {
  'diamond-amount': {},
  'diamond-provider': {},
  'diamond-gift-button': {
    onDiamondGiftRequest: 'diamond-gift-request' as EventName<DiamondGiftRequestEvent>,
    onDiamondGiftSent: 'diamond-gift-sent' as EventName<DiamondGiftSentEvent>,
    ...onError,
    onDiamondReady: 'diamond-ready' as EventName<DiamondReadyEvent>,
  },
  'diamond-wallet': {
    onDiamondSignedIn: 'diamond-signed-in' as EventName<DiamondSignedInEvent>,
    onDiamondSignedOut: 'diamond-signed-out' as EventName<DiamondSignedOutEvent>,
    onDiamondToppedUp: 'diamond-topped-up' as EventName<DiamondToppedUpEvent>,
    onDiamondBalanceChanged: 'diamond-balance-changed' as EventName<DiamondBalanceChangedEvent>,
    ...onError,
  },
  'diamond-paywall': {
    onDiamondUnlocked: 'diamond-unlocked' as EventName<DiamondUnlockedEvent>,
    ...onError,
  },
  'diamond-checkout': {
    onDiamondPaid: 'diamond-paid' as EventName<DiamondPaidEvent>,
    ...onError,
  },
  'diamond-live-feed': {
    onDiamondLiveGift: 'diamond-live-gift' as EventName<DiamondLiveGiftEvent>,
    ...onError,
  },
  'diamond-goal': {
    onDiamondGoalReached: 'diamond-goal-reached' as EventName<DiamondGoalReachedEvent>,
    ...onError,
  },
  'diamond-top-gifters': {
    ...onError,
  },
  'diamond-discover': {
    ...onError,
  },
} as const;
