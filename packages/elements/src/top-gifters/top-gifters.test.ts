// Runs in Chromium through @web/test-runner, against the real platform its config starts: gifts
// are sent through the fixture (/__diamonds/live-gift).
import { emulateMedia } from '@web/test-runner-commands';
import { DiamondTopGifters } from './top-gifters.js';
import type { DiamondErrorEvent } from '../events/error.js';
import './define.js';
import { assert, assertEqual, axeViolations, fixture, json, mountMarkup, until } from '../../test/support.js';

const names = (element: DiamondTopGifters) =>
  [...element.shadowRoot!.querySelectorAll('[part~="gifter"]')].map((li) => li.querySelector('[part~="fan"]')?.textContent);

describe('<diamond-top-gifters>', () => {
  it('ranks the top gifters of a period and updates as gifts arrive; the scope switches live; axe clean', async function () {
    this.timeout(20_000);
    const info = await fixture();
    const container = mountMarkup(
      `<diamond-top-gifters scope="all_time" publishable-key="${info.publishableKey}" api-base="${info.apiBase}" creator="${info.creatorId}"></diamond-top-gifters>`,
    );
    const element = container.querySelector('diamond-top-gifters');
    assert(element instanceof DiamondTopGifters, 'upgraded');
    await until(() => !element.shadowRoot?.textContent?.includes('Loading'), 'loaded');
    assertEqual(element.shadowRoot!.querySelector('[part~="title"]')?.textContent, 'Top gifters of all time', 'the heading');
    const whale = `Whale ${Math.random().toString(36).slice(2, 7)}`;
    // 5,000 Diamonds: more than any fan of the other suites gave the demo creator.
    await json(`/__diamonds/live-gift?name=${encodeURIComponent(whale)}&gift=rose&quantity=1000`);
    await until(() => names(element)[0] === whale, 'the whale first');
    assert(element.shadowRoot!.querySelector('[part~="amount"]')?.textContent?.startsWith('5,000'), 'with its Diamonds');
    element.scope = 'today';
    await element.updateComplete;
    assertEqual(element.shadowRoot!.querySelector('[part~="title"]')?.textContent, 'Top gifters today', 'today');
    assertEqual(names(element)[0], whale, 'first today too');
    for (const scheme of ['light', 'dark'] as const) {
      await emulateMedia({ colorScheme: scheme });
      assertEqual(await axeViolations(element), '', `axe, ${scheme}`);
    }
    await emulateMedia({ colorScheme: 'light' });
    container.remove();
  });

  it('shows an alert and fires diamond-error for an unknown creator', async function () {
    this.timeout(20_000);
    const info = await fixture();
    const container = document.createElement('div');
    const errors: DiamondErrorEvent[] = [];
    container.addEventListener('diamond-error', (event) => errors.push(event));
    container.innerHTML = `<diamond-top-gifters publishable-key="${info.publishableKey}" api-base="${info.apiBase}" creator="usr_01JD0000000000000000000000"></diamond-top-gifters>`;
    document.body.append(container);
    const element = container.querySelector('diamond-top-gifters')!;
    await until(() => element.shadowRoot?.querySelector('[part~="error"]'), 'the alert');
    assertEqual(element.shadowRoot!.querySelector('[part~="error"]')?.textContent, 'This creator cannot be found.', 'the message');
    assertEqual(errors.length, 1, 'one diamond-error');
    assertEqual((errors[0]?.detail.error as { code?: string } | undefined)?.code, 'creator_not_found', 'its code');
    assertEqual(await axeViolations(element), '', 'axe');
    container.remove();
  });
});
