// Runs in Chromium through @web/test-runner, against the real platform its config starts.
import { html, LitElement } from 'lit';
import { ContextConsumer, ContextProvider } from '@lit/context';
import { createDiamonds, type DiamondsClient } from '@diamonds/sdk';
import { DiamondElement } from '../internal/diamond-element.js';
import { diamondsContext } from '../internal/client.js';
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

/** A page's own Lit element that reads the Diamonds client with @lit/context, as the docs say it can. */
class PageConsumer extends LitElement {
  readonly consumer = new ContextConsumer(this, { context: diamondsContext, subscribe: true });
}
customElements.define('page-consumer', PageConsumer);

/** A page's own @lit/context provider of the Diamonds client. */
class PageProvider extends LitElement {
  readonly provider = new ContextProvider(this, { context: diamondsContext });
  override render() {
    return html`<slot></slot>`;
  }
}
customElements.define('page-provider', PageProvider);

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

  it('speaks the context protocol both ways: a @lit/context consumer reads it, a @lit/context provider feeds the elements', async () => {
    const { apiBase, publishableKey } = await fixture();
    const first: DiamondsClient = createDiamonds({ publishableKey, apiBase });
    const second: DiamondsClient = createDiamonds({ publishableKey, apiBase });
    const ours = mountMarkup('<diamond-provider><page-consumer></page-consumer></diamond-provider>');
    const provider = ours.querySelector('diamond-provider') as DiamondProvider;
    const consumer = ours.querySelector('page-consumer') as PageConsumer;
    provider.client = first;
    await provider.updateComplete;
    assert(consumer.consumer.value === first, 'a page’s @lit/context consumer gets our provider’s client');
    provider.client = second;
    await provider.updateComplete;
    assert(consumer.consumer.value === second, 'and follows it when it changes');

    const theirs = mountMarkup('<page-provider><client-probe></client-probe></page-provider>');
    const page = theirs.querySelector('page-provider') as PageProvider;
    page.provider.setValue(first);
    const probe = theirs.querySelector('client-probe') as ClientProbe;
    await probe.updateComplete;
    assert(probe.client === first, 'our element gets a page’s @lit/context provider’s client');
    page.provider.setValue(second);
    await probe.updateComplete;
    assert(probe.client === second, 'and follows it');
  });

  it('lets a nearer provider take over its elements, and an element follow when it moves', async () => {
    const { apiBase, publishableKey } = await fixture();
    const outer: DiamondsClient = createDiamonds({ publishableKey, apiBase });
    const inner: DiamondsClient = createDiamonds({ publishableKey, apiBase });
    const container = mountMarkup('<diamond-provider id="outer"><div id="slot"><client-probe></client-probe></div></diamond-provider>');
    const outerProvider = container.querySelector('#outer') as DiamondProvider;
    outerProvider.client = outer;
    await outerProvider.updateComplete;
    const probe = container.querySelector('client-probe') as ClientProbe;
    assert(probe.client === outer, 'the outer provider’s client');
    // A provider connected between them (later, as a framework would render it) takes the element over.
    const innerProvider = document.createElement('diamond-provider') as DiamondProvider;
    innerProvider.client = inner;
    const slot = container.querySelector('#slot')!;
    slot.append(innerProvider);
    await innerProvider.updateComplete;
    innerProvider.append(probe);
    await probe.updateComplete;
    assert(probe.client === inner, 'moved inside the inner provider: its client');
    outerProvider.client = createDiamonds({ publishableKey, apiBase });
    await outerProvider.updateComplete;
    assert(probe.client === inner, 'the outer provider no longer reaches it');
    slot.append(probe);
    await probe.updateComplete;
    assert(probe.client === outerProvider.client, 'moved back out: the outer provider’s (new) client');
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
