import type { CheckoutOrder } from '@diamonds/sdk';

/**
 * `diamond-paid`: a fan paid an order. Bubbling and composed; `detail` is the order as the
 * platform holds it, `status: 'paid'`, with its `transferId` and signed `receipt` (a JWT your
 * backend verifies offline against the platform's JWKS before it ships anything).
 *
 * @example
 * ```ts
 * document.addEventListener('diamond-paid', async ({ detail }) => {
 *   await fetch('/my-backend/paid', { method: 'POST', body: JSON.stringify({ order: detail.id, receipt: detail.receipt }) });
 * });
 * ```
 */
export class DiamondPaidEvent extends Event {
  /** The event's type. */
  static readonly type = 'diamond-paid';
  /** The paid order (`id`, `lines`, `totalDiamonds`, `transferId`, `receipt`…). */
  readonly detail: CheckoutOrder;

  /** Makes the event (bubbling, composed) with the paid order. */
  constructor(detail: CheckoutOrder) {
    super(DiamondPaidEvent.type, { bubbles: true, composed: true });
    this.detail = detail;
  }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'diamond-paid': DiamondPaidEvent;
  }
}
