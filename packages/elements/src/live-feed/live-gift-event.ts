import type { LiveAlert } from '@diamonds/sdk/live';

/**
 * `diamond-live-gift`: `<diamond-live-feed>` shows a new gift, or a combo grew. Bubbling and
 * composed; `detail` is the alert (the latest gift of the combo, `combo` its "×N", `key` the id
 * of the combo's first gift).
 *
 * @example
 * ```ts
 * document.addEventListener('diamond-live-gift', ({ detail }) => {
 *   if (detail.combo === 10) confetti();
 * });
 * ```
 */
export class DiamondLiveGiftEvent extends Event {
  /** The event's type. */
  static readonly type = 'diamond-live-gift';
  /** The alert shown. */
  readonly detail: LiveAlert;

  /** Makes the event (bubbling, composed) with the alert. */
  constructor(detail: LiveAlert) {
    super(DiamondLiveGiftEvent.type, { bubbles: true, composed: true });
    this.detail = detail;
  }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'diamond-live-gift': DiamondLiveGiftEvent;
  }
}
