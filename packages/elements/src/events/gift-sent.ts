import type { Gift } from '@diamonds/sdk';

/**
 * `diamond-gift-sent`: the ledger accepted a gift. Bubbling and composed; `detail` is the gift
 * as the platform holds it (`id`, `giftId`, `quantity`, `amountDiamonds`, `transferId`…).
 *
 * @example
 * ```ts
 * document.addEventListener('diamond-gift-sent', ({ detail }) => {
 *   console.log(`${detail.quantity} × ${detail.giftName}: ${detail.amountDiamonds} Diamonds, ${detail.transferId}`);
 * });
 * ```
 */
export class DiamondGiftSentEvent extends Event {
  /** The event's type. */
  static readonly type = 'diamond-gift-sent';
  /** The sent gift, `status: 'succeeded'`. */
  readonly detail: Gift;

  /** Makes the event (bubbling, composed) with the sent gift. */
  constructor(detail: Gift) {
    super(DiamondGiftSentEvent.type, { bubbles: true, composed: true });
    this.detail = detail;
  }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'diamond-gift-sent': DiamondGiftSentEvent;
  }
}
