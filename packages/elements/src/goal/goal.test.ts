// Runs in Chromium through @web/test-runner, against the real platform its config starts: the
// goal is set and gifts sent through the fixture (/__diamonds/live-goal, /__diamonds/live-gift).
import { emulateMedia } from '@web/test-runner-commands';
import { DiamondGoal } from './goal.js';
import type { DiamondGoalReachedEvent } from './goal-reached-event.js';
import './define.js';
import { assert, assertEqual, axeViolations, fixture, json, mountMarkup, until } from '../../test/support.js';

const bar = (element: DiamondGoal) => element.shadowRoot!.querySelector<HTMLElement>('[role="progressbar"]');

describe('<diamond-goal>', () => {
  it('fills a progressbar toward the goal as gifts arrive, then shows it reached (state, part, event); axe clean', async function () {
    this.timeout(20_000);
    const info = await fixture();
    const title = `Microphone ${Math.random().toString(36).slice(2, 7)}`;
    await json(`/__diamonds/live-goal?title=${encodeURIComponent(title)}&target=50`);
    const container = mountMarkup(
      `<diamond-goal publishable-key="${info.publishableKey}" api-base="${info.apiBase}" creator="${info.creatorId}"></diamond-goal>`,
    );
    const element = container.querySelector('diamond-goal');
    assert(element instanceof DiamondGoal, 'upgraded');
    const reached: DiamondGoalReachedEvent[] = [];
    element.addEventListener('diamond-goal-reached', (event) => reached.push(event));
    await until(() => element.shadowRoot?.querySelector('[part~="title"]')?.textContent === title, 'the goal');
    assertEqual(bar(element)?.getAttribute('aria-valuenow'), '0', 'from 0');
    assertEqual(bar(element)?.getAttribute('aria-valuemax'), '50', 'to the target');
    assertEqual(bar(element)?.getAttribute('aria-valuetext'), '0 of 50 Diamonds', 'as text');
    await json('/__diamonds/live-gift?name=Goal%20Fan&gift=rose&quantity=2');
    await until(() => bar(element)?.getAttribute('aria-valuenow') === '10', 'the bar advanced');
    const fill = element.shadowRoot!.querySelector<HTMLElement>('[part~="fill"]')!;
    assertEqual(fill.style.inlineSize, '20%', 'the fill, through CSSOM');
    assertEqual(element.shadowRoot!.querySelector('[part~="progress"]')?.textContent, '10 of 50 Diamonds', 'the progress');
    for (const scheme of ['light', 'dark'] as const) {
      await emulateMedia({ colorScheme: scheme });
      assertEqual(await axeViolations(element), '', `axe, ${scheme}`);
    }
    await emulateMedia({ colorScheme: 'light' });
    await json('/__diamonds/live-gift?name=Goal%20Fan&gift=rose&quantity=9');
    await until(() => element.shadowRoot!.querySelector('[part~="reached"]'), 'reached');
    assertEqual(bar(element)?.getAttribute('aria-valuenow'), '50', 'full, not beyond');
    assert(element.matches(':state(reached)'), ':state(reached)');
    assertEqual(reached.length, 1, 'diamond-goal-reached once');
    assertEqual(reached[0]?.detail.title, title, 'with the goal');
    assertEqual(await axeViolations(element), '', 'axe, reached');
    container.remove();
  });

  it('says when there is no goal, in German too', async function () {
    this.timeout(20_000);
    await import('../i18n/locales/de-live.js');
    const info = await fixture();
    const container = mountMarkup(
      `<diamond-goal locale="de" publishable-key="${info.publishableKey}" api-base="${info.apiBase}" creator="usr_01JD0000000000000000000000"></diamond-goal>`,
    );
    const element = container.querySelector('diamond-goal')!;
    await until(() => element.shadowRoot?.querySelector('[part~="error"]'), 'the error');
    assertEqual(
      element.shadowRoot!.querySelector('[part~="error"]')?.textContent,
      'Diese Creatorin oder dieser Creator wurde nicht gefunden.',
      'an unknown creator, in German',
    );
    assertEqual(element.shadowRoot!.querySelector('[part~="error"]')?.getAttribute('role'), 'alert', 'an alert');
    container.remove();
  });
});
