/** The new balance, in `diamond-balance-changed`. */
export interface DiamondBalanceChangedDetail {
  /** The spendable Diamonds now. */
  readonly balanceDiamonds: number;
  /** Diamonds held by spends waiting for the fan's confirmation. */
  readonly heldDiamonds: number;
  /** The balance before, or `undefined` when this is the first one known. */
  readonly previousDiamonds: number | undefined;
}

/**
 * `diamond-balance-changed`: the fan's balance became known or changed (a spend, a top-up, a
 * refresh, another tab). Bubbling and composed.
 *
 * @example
 * ```ts
 * document.addEventListener('diamond-balance-changed', ({ detail }) => (badge.textContent = String(detail.balanceDiamonds)));
 * ```
 */
export class DiamondBalanceChangedEvent extends Event {
  /** The event's type. */
  static readonly type = 'diamond-balance-changed';
  /** The balance now and before. */
  readonly detail: DiamondBalanceChangedDetail;

  /** Makes the event (bubbling, composed) with its `detail`. */
  constructor(detail: DiamondBalanceChangedDetail) {
    super(DiamondBalanceChangedEvent.type, { bubbles: true, composed: true });
    this.detail = detail;
  }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'diamond-balance-changed': DiamondBalanceChangedEvent;
  }
}
