import { html, nothing, type TemplateResult } from 'lit';
import type { LiveFeed, LiveGoal } from '@diamonds/sdk/live';
import { live as strings } from '../i18n/en.js';
import { formatDiamonds } from '../i18n/i18n.js';
import { LiveElement } from '../internal/live-element.js';
import { StoreController } from '../internal/store-controller.js';
import { themeStyles } from '../internal/theme.js';
import { DiamondGoalReachedEvent } from './goal-reached-event.js';
import styles from './goal.styles.js';

/**
 * A creator's goal during a live: its title and a progress bar toward the target, in Diamonds,
 * that fills as gifts arrive, and a "Goal reached!" state.
 *
 * @remarks
 * The bar is a `progressbar` with its value and text ("120 of 500 Diamonds"), so assistive
 * technology reads the progress; it moves smoothly, except under `prefers-reduced-motion`. The
 * goal comes over the creator's live stream, shared by every live element of the page for the
 * same creator (one connection). The goal is the one the creator set on their account page
 * (setting a new one starts again from 0); without one it says "No goal right now."
 *
 * @example
 * ```html
 * <diamond-goal publishable-key="pk_live_…" creator="usr_…"></diamond-goal>
 * ```
 *
 * @summary A progress bar toward a creator's live goal.
 * @attr creator - The creator whose goal to show (`usr_…`). Required.
 * @attr publishable-key - The site's publishable key (`pk_…`); not needed inside a `<diamond-provider>`.
 * @attr api-base - The platform's address. Defaults to the origin the drop-in script came from.
 * @attr locale - The BCP 47 locale of text and numbers. Defaults to the provider's, the closest `lang`, the browser's.
 * @attr theme - `light` or `dark` forces a theme; by default it follows `prefers-color-scheme`.
 * @cssstate reached - The goal is reached: `diamond-goal:state(reached)`.
 * @fires diamond-goal-reached - The goal was just reached ({@link DiamondGoalReachedEvent}).
 * @fires diamond-error - The platform refused the stream ({@link DiamondErrorEvent}).
 * @csspart base - The wrapper of everything.
 * @csspart title - The goal's title.
 * @csspart bar - The progress bar (its track).
 * @csspart fill - The filled part of the bar.
 * @csspart progress - "120 of 500 Diamonds".
 * @csspart reached - "Goal reached!".
 * @csspart empty - "No goal right now." (and the loading text).
 * @csspart status - "Reconnecting…".
 * @csspart error - The alert when the stream is refused.
 * @cssprop --diamond-goal-bar-height - The bar's height. Defaults to `0.75em`.
 * @cssprop --diamond-goal-fill - The fill's colour. Defaults to `--diamond-color-accent`.
 * @cssprop --diamond-goal-reached-fill - The fill's colour once reached. Defaults to `--diamond-color-success`.
 * @cssprop --diamond-color-accent - Theme accent.
 * @cssprop --diamond-color-border - Theme border, the bar's track.
 * @cssprop --diamond-radius - Theme corner radius.
 * @cssprop --diamond-font-family - Theme font.
 */
export class DiamondGoal extends LiveElement {
  /** The shadow styles: the theme, then `goal.styles.ts`. */
  static override styles = [themeStyles, styles];
  /** @internal */
  static override strings = strings;

  readonly #goal = new StoreController<LiveGoal | null | undefined>(this);
  readonly #internals = this.attachInternals?.();
  /** The goal as last rendered, to tell a goal reached now from one reached before. */
  #shown: LiveGoal | null | undefined;

  protected override follow(feed: LiveFeed | undefined): void {
    this.#goal.follow(feed?.goal);
  }

  /** @internal */
  protected override updated(): void {
    this.#paint();
    const goal = this.#goal.value;
    const reached = !!goal && goal.reachedAt !== null;
    try {
      if (reached) this.#internals?.states.add('reached');
      else this.#internals?.states.delete('reached');
    } catch {
      // A browser without custom states: the part still says it.
    }
    const before = this.#shown;
    this.#shown = goal;
    if (reached && before && before.reachedAt === null && before.title === goal.title) {
      this.dispatchEvent(new DiamondGoalReachedEvent(goal));
    }
  }

  /** @internal */
  protected override render(): TemplateResult {
    const goal = this.#goal.value;
    const locale = this.resolvedLocale;
    let body: TemplateResult;
    if (!goal) {
      body = html`<p part="empty">${goal === undefined && this.loading ? this.t('common.loading') : this.t('live.noGoal')}</p>`;
    } else {
      const target = goal.targetDiamonds;
      const value = Math.min(goal.progressDiamonds, target);
      const text = this.t('live.goalProgress', {
        progress: formatDiamonds(locale, goal.progressDiamonds).replace(/ .*/, ''),
        target: formatDiamonds(locale, target),
      });
      const reached = goal.reachedAt !== null;
      body = html`<p part="title" id="title">${goal.title}</p>
        <div
          part="bar"
          role="progressbar"
          aria-labelledby="title"
          aria-valuemin="0"
          aria-valuemax=${target}
          aria-valuenow=${value}
          aria-valuetext=${reached ? `${text}. ${this.t('live.goalReached')}` : text}
        >
          <div part="fill" class=${reached ? 'reached' : ''}></div>
        </div>
        <p part="progress">${text}</p>
        ${reached ? html`<p part="reached">${this.t('live.goalReached')}</p>` : nothing}`;
    }
    return html`<section part="base">${this.status()}${body}</section>`;
  }

  /**
   * Sets the fill's width through CSSOM, not a `style` attribute, which a strict
   * Content-Security-Policy (`style-src` without `'unsafe-inline'`) would refuse.
   */
  #paint(): void {
    const goal = this.#goal.value;
    const fill = this.renderRoot.querySelector<HTMLElement>('[part~="fill"]');
    if (fill && goal) fill.style.inlineSize = `${Math.min(100, (goal.progressDiamonds / goal.targetDiamonds) * 100)}%`;
  }
}
