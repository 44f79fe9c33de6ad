import type { TopUp } from '@diamonds/sdk';

/**
 * `diamond-topped-up`: a top-up succeeded and its Diamonds are in the fan's wallet. Bubbling
 * and composed; `detail` is the top-up as the platform holds it (`id`, `diamonds`, `price`,
 * `transferId`…, `status: 'succeeded'`).
 *
 * @example
 * ```ts
 * document.addEventListener('diamond-topped-up', ({ detail }) => console.log(`+${detail.diamonds}`, detail.price));
 * ```
 */
export class DiamondToppedUpEvent extends Event {
  /** The event's type. */
  static readonly type = 'diamond-topped-up';
  /** The succeeded top-up. */
  readonly detail: TopUp;

  /** Makes the event (bubbling, composed) with its `detail`. */
  constructor(detail: TopUp) {
    super(DiamondToppedUpEvent.type, { bubbles: true, composed: true });
    this.detail = detail;
  }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'diamond-topped-up': DiamondToppedUpEvent;
  }
}
