import type { Fan } from '@diamonds/sdk';

/** Who signed out, in `diamond-signed-out`. */
export interface DiamondSignedOutDetail {
  /** The fan who was signed in, when known. */
  readonly fan: Fan | undefined;
  /** `signed_out` after a sign-out, `expired` when the sign-in ended by itself (revoked, timed out). */
  readonly reason: 'signed_out' | 'expired';
}

/**
 * `diamond-signed-out`: the fan is no longer signed in (they signed out here or in another tab,
 * or the sign-in expired). Bubbling and composed.
 *
 * @example
 * ```ts
 * document.addEventListener('diamond-signed-out', ({ detail }) => console.log(detail.reason));
 * ```
 */
export class DiamondSignedOutEvent extends Event {
  /** The event's type. */
  static readonly type = 'diamond-signed-out';
  /** Who signed out, and why. */
  readonly detail: DiamondSignedOutDetail;

  /** Makes the event (bubbling, composed) with its `detail`. */
  constructor(detail: DiamondSignedOutDetail) {
    super(DiamondSignedOutEvent.type, { bubbles: true, composed: true });
    this.detail = detail;
  }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'diamond-signed-out': DiamondSignedOutEvent;
  }
}
