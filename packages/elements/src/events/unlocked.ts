import type { UnlockedContent } from '@diamonds/sdk';

/**
 * `diamond-unlocked`: a fan unlocked a piece of content (paid its price, or met its support
 * threshold). Bubbling and composed; `detail` is the unlock as the platform answered it: the
 * active `entitlement` and its signed `receipt` (a JWT your backend verifies offline against
 * the platform's JWKS).
 *
 * @example
 * ```ts
 * document.addEventListener('diamond-unlocked', ({ detail }) => {
 *   void fetch('/my-backend/unlocked', { method: 'POST', body: detail.receipt });
 * });
 * ```
 */
export class DiamondUnlockedEvent extends Event {
  /** The event's type. */
  static readonly type = 'diamond-unlocked';
  /** The unlock: `entitlement` (`contentId`, `amountDiamonds`, `transferId`…) and `receipt`. */
  readonly detail: UnlockedContent;

  /** Makes the event (bubbling, composed) with the unlock. */
  constructor(detail: UnlockedContent) {
    super(DiamondUnlockedEvent.type, { bubbles: true, composed: true });
    this.detail = detail;
  }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'diamond-unlocked': DiamondUnlockedEvent;
  }
}
