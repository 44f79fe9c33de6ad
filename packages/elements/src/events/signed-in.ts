import type { Fan } from '@diamonds/sdk';

/** Who signed in, in `diamond-signed-in`. */
export interface DiamondSignedInDetail {
  /** The fan (`id`, `displayName`). */
  readonly fan: Fan;
}

/**
 * `diamond-signed-in`: a fan signed in (through the sign-in popup, or in another tab of the
 * site). Bubbling and composed. A sign-in restored from storage on page load does not fire it.
 *
 * @example
 * ```ts
 * document.addEventListener('diamond-signed-in', ({ detail }) => console.log(`Hi, ${detail.fan.displayName}`));
 * ```
 */
export class DiamondSignedInEvent extends Event {
  /** The event's type. */
  static readonly type = 'diamond-signed-in';
  /** The fan who signed in. */
  readonly detail: DiamondSignedInDetail;

  /** Makes the event (bubbling, composed) with its `detail`. */
  constructor(detail: DiamondSignedInDetail) {
    super(DiamondSignedInEvent.type, { bubbles: true, composed: true });
    this.detail = detail;
  }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'diamond-signed-in': DiamondSignedInEvent;
  }
}
