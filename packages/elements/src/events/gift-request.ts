/**
 * What a `<diamond-gift-button>` is about to send, in `diamond-gift-request`.
 */
export interface DiamondGiftRequestDetail {
  /** The creator who would receive it (`usr_…`). */
  readonly creatorId: string;
  /** The catalog id of the gift (`rose`). */
  readonly giftId: string;
  /** How many. */
  readonly quantity: number;
  /** The fan's message, if any. */
  readonly message: string | undefined;
}

/**
 * `diamond-gift-request`: a fan asked to send a gift, before anything is sent. Bubbling,
 * composed and cancelable: `preventDefault()` stops the send.
 *
 * @example
 * ```ts
 * document.addEventListener('diamond-gift-request', (event) => {
 *   if (event.detail.quantity > 10) event.preventDefault();
 * });
 * ```
 */
export class DiamondGiftRequestEvent extends Event {
  /** The event's type. */
  static readonly type = 'diamond-gift-request';
  /** The gift about to be sent. */
  readonly detail: DiamondGiftRequestDetail;

  /** Makes the event (bubbling, composed, cancelable) with its `detail`. */
  constructor(detail: DiamondGiftRequestDetail) {
    super(DiamondGiftRequestEvent.type, { bubbles: true, composed: true, cancelable: true });
    this.detail = detail;
  }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'diamond-gift-request': DiamondGiftRequestEvent;
  }
}
