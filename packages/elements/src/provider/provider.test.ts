// Runs in Chromium through @web/test-runner, against the real platform its config starts.
import { html, LitElement } from 'lit';
import type { DiamondsClient } from '@diamonds/sdk';
import { DiamondElement } from '../internal/diamond-element.js';
import { DiamondProvider } from './provider.js';
import './define.js';
import { assert, fixture, mountMarkup, newFan } from '../../test/support.js';

/** A bare element that only shows which client it got. */
class ClientProbe extends DiamondElement {
  override render() {
    return html`${this.client?.publishableKey ?? 'none'}`;
  }
}
customElements.define('client-probe', ClientProbe);

describe('<diamond-provider>', () => {
  it('hands one client to every element inside, made from its attributes', async () => {
    const { apiBase, publishableKey } = await fixture();
    const container = mountMarkup(
      `<diamond-provider publishable-key="${publishableKey}" api-base="${apiBase}" locale="de"><client-probe></client-probe><div><client-probe></client-probe></div></diamond-provider>`,
    );
    const provider = container.querySelector('diamond-provider');
    assert(provider instanceof DiamondProvider, 'upgraded');
    await provider.updateComplete;
    const probes = [...container.querySelectorAll('client-probe')] as ClientProbe[];
    await Promise.all(probes.map((probe) => probe.updateComplete));
    const [first, second] = probes.map((probe) => probe.client);
    assert(first && first === second, 'both elements got the same client');
    assert(first.publishableKey === publishableKey, 'made from the attributes');
    assert(probes[0]!.resolvedLocale === 'de', 'the provider’s locale reaches the element');
    assert(probes[0]!.shadowRoot?.textContent?.includes(publishableKey), 'rendered with it');
  });

  it('shares a client the page made itself', async () => {
    const { apiBase, publishableKey } = await fixture();
    const { createDiamonds } = await import('@diamonds/sdk');
    const own: DiamondsClient = createDiamonds({ publishableKey, apiBase });
    const container = mountMarkup('<diamond-provider><client-probe></client-probe></diamond-provider>');
    const provider = container.querySelector('diamond-provider') as DiamondProvider;
    provider.client = own;
    await provider.updateComplete;
    const probe = container.querySelector('client-probe') as ClientProbe;
    await probe.updateComplete;
    assert(probe.client === own, 'the page’s own client');
  });

  it('lets an element without a provider share one client per key', async () => {
    const { apiBase, publishableKey } = await fixture();
    const container = mountMarkup(
      `<client-probe publishable-key="${publishableKey}" api-base="${apiBase}"></client-probe><client-probe publishable-key="${publishableKey}" api-base="${apiBase}"></client-probe>`,
    );
    const probes = [...container.querySelectorAll('client-probe')] as ClientProbe[];
    assert(probes[0]!.client && probes[0]!.client === probes[1]!.client, 'one shared client');
    assert(mountMarkup('<client-probe></client-probe>').querySelector('client-probe') instanceof LitElement, 'renders without a key');
  });

  it('signs a fan in from what the fixture stored, against the real platform', async () => {
    const { apiBase, publishableKey } = await fixture();
    await newFan('balance=100&allowance=50');
    const container = mountMarkup(
      `<diamond-provider publishable-key="${publishableKey}" api-base="${apiBase}"><client-probe></client-probe></diamond-provider>`,
    );
    const probe = container.querySelector('client-probe') as ClientProbe;
    await (container.querySelector('diamond-provider') as DiamondProvider).updateComplete;
    const me = await probe.client!.me();
    assert(me.allowancePerDay === 50, `signed in with the allowance, got ${JSON.stringify(me)}`);
    const wallet = await probe.client!.wallet.refresh();
    assert(wallet.balanceDiamonds === 100, 'the fan holds 100 Diamonds');
  });
});
