/**
 * `diamond-ready`: a `<diamond-gift-button>` is interactive: defined, rendered, its catalog loaded
 * (the price shows, and the click knows whether a confirmation popup is needed) and the fan's
 * wallet state known (signed out, or signed in with the balance read). Fired once per client,
 * bubbling and composed; a page can reveal the button, or measure its start-up, on it.
 *
 * @example
 * ```ts
 * document.addEventListener('diamond-ready', () => performance.mark('gift-button-ready'));
 * ```
 */
export class DiamondReadyEvent extends Event {
  /** The event's type. */
  static readonly type = 'diamond-ready';

  /** Makes the event (bubbling, composed). */
  constructor() {
    super(DiamondReadyEvent.type, { bubbles: true, composed: true });
  }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'diamond-ready': DiamondReadyEvent;
  }
}
