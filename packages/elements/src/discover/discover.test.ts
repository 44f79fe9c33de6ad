// Runs in Chromium through @web/test-runner, against the real platform its config starts. The
// full journey (a boosted post shown on the example shop, counted only once visible, a click
// leading to it) is test/discover.e2e.test.ts; here, the element's own states.
import { emulateMedia } from '@web/test-runner-commands';
import { DiamondDiscover } from './discover.js';
import type { DiamondErrorEvent } from '../events/error.js';
import './define.js';
import { assert, assertEqual, axeViolations, fixture, mountMarkup, until } from '../../test/support.js';

describe('<diamond-discover>', () => {
  it('lists what is boosted (or says there is nothing), under its heading; axe clean in light and dark', async function () {
    this.timeout(20_000);
    const info = await fixture();
    const container = mountMarkup(
      `<diamond-discover heading="From creators" publishable-key="${info.publishableKey}" api-base="${info.apiBase}"></diamond-discover>`,
    );
    const element = container.querySelector('diamond-discover');
    assert(element instanceof DiamondDiscover, 'upgraded');
    await element.updateComplete;
    await until(
      () => element.shadowRoot?.querySelector('[part~="list"]') ?? /Nothing to discover/.test(element.shadowRoot?.textContent ?? ''),
      'loaded',
    );
    assertEqual(element.shadowRoot!.querySelector('[part~="heading"]')?.textContent, 'From creators', 'the heading');
    const list = element.shadowRoot!.querySelector('[part~="list"]');
    const empty = element.shadowRoot!.querySelector('[part~="empty"]');
    assert(
      list !== null || empty?.textContent === 'Nothing to discover right now.',
      `a list, or the empty state: ${element.shadowRoot!.textContent ?? ''}`,
    );
    for (const link of element.shadowRoot!.querySelectorAll('a[part~="link"]')) {
      assert(/^https?:/.test((link as HTMLAnchorElement).href), 'links only to http(s) pages');
    }
    for (const scheme of ['light', 'dark'] as const) {
      await emulateMedia({ colorScheme: scheme });
      assertEqual(await axeViolations(element), '', `axe, ${scheme}`);
    }
    await emulateMedia({ colorScheme: 'light' });
    container.remove();
  });

  it('shows an alert and fires diamond-error when the platform refuses the key', async function () {
    this.timeout(20_000);
    const info = await fixture();
    const container = document.createElement('div');
    const errors: DiamondErrorEvent[] = [];
    container.addEventListener('diamond-error', (event) => errors.push(event));
    container.innerHTML = `<diamond-discover publishable-key="pk_test_nope" api-base="${info.apiBase}"></diamond-discover>`;
    document.body.append(container);
    const element = container.querySelector('diamond-discover')!;
    await until(() => element.shadowRoot?.querySelector('[part~="error"]'), 'the alert');
    assertEqual(errors.length, 1, 'one diamond-error');
    assertEqual(await axeViolations(element), '', 'axe');
    container.remove();
  });
});
