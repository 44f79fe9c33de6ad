import type { DiamondsError } from '@diamonds/sdk';

/** What went wrong, in `diamond-error`. */
export interface DiamondErrorDetail {
  /**
   * The error: a `DiamondsError` whose stable `code` you can switch on (`insufficient_funds`,
   * `confirmation_declined`, `popup_closed`, `origin_not_allowed`…) for everything the platform
   * or the fan decided; anything else thrown (a bug) arrives as it was thrown.
   */
  readonly error: DiamondsError | Error;
}

/**
 * `diamond-error`: something an element did failed, or the fan said no. Bubbling and composed.
 * The element has already shown the fan a message in its locale; listen to log it, or to react
 * (a fan who declined, say).
 *
 * @example
 * ```ts
 * import { isDiamondsError } from '@diamonds/sdk';
 *
 * document.addEventListener('diamond-error', ({ detail: { error } }) => {
 *   if (isDiamondsError(error) && error.code === 'confirmation_declined') return; // the fan's choice
 *   console.error(error);
 * });
 * ```
 */
export class DiamondErrorEvent extends Event {
  /** The event's type. */
  static readonly type = 'diamond-error';
  /** What went wrong. */
  readonly detail: DiamondErrorDetail;

  /** Makes the event (bubbling, composed) with what went wrong. */
  constructor(error: unknown) {
    super(DiamondErrorEvent.type, { bubbles: true, composed: true });
    this.detail = { error: error as Error };
  }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'diamond-error': DiamondErrorEvent;
  }
}
