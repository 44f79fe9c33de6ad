import type { LiveGoal } from '@diamonds/sdk/live';

/**
 * `diamond-goal-reached`: the goal `<diamond-goal>` shows was just reached (while it was shown;
 * not for a goal already reached when it connected). Bubbling and composed; `detail` is the goal.
 *
 * @example
 * ```ts
 * document.addEventListener('diamond-goal-reached', ({ detail }) => celebrate(detail.title));
 * ```
 */
export class DiamondGoalReachedEvent extends Event {
  /** The event's type. */
  static readonly type = 'diamond-goal-reached';
  /** The goal, with its `reachedAt`. */
  readonly detail: LiveGoal;

  /** Makes the event (bubbling, composed) with the goal. */
  constructor(detail: LiveGoal) {
    super(DiamondGoalReachedEvent.type, { bubbles: true, composed: true });
    this.detail = detail;
  }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'diamond-goal-reached': DiamondGoalReachedEvent;
  }
}
