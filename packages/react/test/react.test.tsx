// @diamonds/react in Chromium with React 19. Runs under @web/test-runner, which bundles this file
// with esbuild first (React is CommonJS; see bundledTestsPlugin in web-test-runner.config.mjs):
// each component renders its element, its props reach the element's properties, and each of the
// element's events reaches its `onDiamond…` prop. (mocha's `describe`, `it` and `afterEach` are
// globals there, declared in packages/elements/test/support.ts.)
import { flushSync } from 'react-dom';
import { createRoot, type Root } from 'react-dom/client';
import type { ReactNode } from 'react';
import { createDiamonds } from '@diamonds/sdk';
import {
  DiamondBalanceChangedEvent,
  DiamondErrorEvent,
  DiamondGiftRequestEvent,
  DiamondGiftSentEvent,
  DiamondPaidEvent,
  DiamondSignedInEvent,
  DiamondSignedOutEvent,
  DiamondToppedUpEvent,
  DiamondUnlockedEvent,
  DiamondAmount as AmountElement,
  DiamondCheckout as CheckoutElement,
  DiamondGiftButton as GiftButtonElement,
  DiamondPaywall as PaywallElement,
  DiamondProvider as ProviderElement,
  DiamondWallet as WalletElement,
} from '@diamonds/elements';
import { DiamondAmount, DiamondCheckout, DiamondGiftButton, DiamondPaywall, DiamondProvider, DiamondWallet } from '@diamonds/react';

function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(what);
}

function assertEqual<T>(actual: T, expected: T, what: string): void {
  if (!Object.is(actual, expected)) throw new Error(`${what}: expected ${String(expected)}, got ${String(actual)}`);
}

let root: Root | undefined;
let container: HTMLElement | undefined;

/** Renders `node` (synchronously) into a fresh container; returns the container. */
function render(node: ReactNode): HTMLElement {
  if (!container) {
    container = document.createElement('div');
    document.body.append(container);
    root = createRoot(container);
  }
  flushSync(() => root!.render(node));
  return container;
}

afterEach(() => {
  flushSync(() => root?.unmount());
  container?.remove();
  root = undefined;
  container = undefined;
});

/** The one `tag` element in the container, upgraded to `cls`. */
function find<T extends HTMLElement>(within: HTMLElement, tag: string, cls: new () => T): T {
  const found = within.querySelector(tag);
  assert(found instanceof cls, `<${tag}> is rendered and upgraded to ${cls.name}`);
  return found;
}

/** Dispatches `event` on `element` and returns what the prop's handler received. */
function received(element: HTMLElement, event: Event, calls: Event[]): Event | undefined {
  const before = calls.length;
  element.dispatchEvent(event);
  assertEqual(calls.length, before + 1, `the handler of ${event.type} ran once`);
  return calls.at(-1);
}

describe('@diamonds/react', () => {
  it('<DiamondAmount>: the value prop reaches the element, and a new one re-renders it', async () => {
    const within = render(<DiamondAmount value={1234} locale="en-US" />);
    const element = find(within, 'diamond-amount', AmountElement);
    assertEqual(element.value, 1234, 'value property');
    await element.updateComplete;
    assertEqual(element.shadowRoot?.querySelector('[part~="amount"]')?.textContent, '1,234', 'rendered amount');
    render(<DiamondAmount value={5} locale="de-DE" />);
    assertEqual(element.value, 5, 'value property after a re-render');
    assertEqual(element.locale, 'de-DE', 'locale property after a re-render');
  });

  it('<DiamondProvider>: properties (the client object, the key) reach the element and its children', () => {
    const client = createDiamonds({ publishableKey: 'pk_test_react', apiBase: location.origin });
    const within = render(
      <DiamondProvider client={client} storage="memory">
        <DiamondAmount value={1} />
      </DiamondProvider>,
    );
    const provider = find(within, 'diamond-provider', ProviderElement);
    assertEqual(provider.client, client, 'client property (no attribute can carry an object)');
    assertEqual(provider.storage, 'memory', 'storage property');
    assert(provider.querySelector('diamond-amount'), 'children render inside the provider');
  });

  it('<DiamondGiftButton>: props and every event', () => {
    const calls: Event[] = [];
    const within = render(
      <DiamondGiftButton
        creator="usr_react"
        creatorName="Ada"
        gift="rose"
        quantity={3}
        currency="EUR"
        onDiamondGiftRequest={(event) => calls.push(event)}
        onDiamondGiftSent={(event) => calls.push(event)}
        onDiamondError={(event) => calls.push(event)}
      />,
    );
    const element = find(within, 'diamond-gift-button', GiftButtonElement);
    assertEqual(element.creator, 'usr_react', 'creator');
    assertEqual(element.creatorName, 'Ada', 'creatorName');
    assertEqual(element.gift, 'rose', 'gift');
    assertEqual(element.quantity, 3, 'quantity (a number, as a property)');
    assertEqual(element.currency, 'EUR', 'currency');
    const request = new DiamondGiftRequestEvent({ creatorId: 'usr_react', giftId: 'rose', quantity: 3, message: undefined });
    assertEqual(received(element, request, calls), request, 'onDiamondGiftRequest');
    const sent = new DiamondGiftSentEvent({ id: 'gft_1' } as never);
    assertEqual(received(element, sent, calls), sent, 'onDiamondGiftSent');
    const error = new DiamondErrorEvent(new Error('x'));
    assertEqual(received(element, error, calls), error, 'onDiamondError');
  });

  it('<DiamondWallet>: props and every event', () => {
    const calls: Event[] = [];
    const within = render(
      <DiamondWallet
        layout="full"
        currency="EUR"
        onDiamondSignedIn={(event) => calls.push(event)}
        onDiamondSignedOut={(event) => calls.push(event)}
        onDiamondToppedUp={(event) => calls.push(event)}
        onDiamondBalanceChanged={(event) => calls.push(event)}
        onDiamondError={(event) => calls.push(event)}
      />,
    );
    const element = find(within, 'diamond-wallet', WalletElement);
    assertEqual(element.layout, 'full', 'layout');
    assertEqual(element.currency, 'EUR', 'currency');
    for (const event of [
      new DiamondSignedInEvent({ fan: { id: 'usr_fan', displayName: 'Fan' } } as never),
      new DiamondSignedOutEvent({ fan: undefined, reason: 'expired' }),
      new DiamondToppedUpEvent({ id: 'top_1' } as never),
      new DiamondBalanceChangedEvent({ balanceDiamonds: 10, heldDiamonds: 0, previousDiamonds: undefined }),
      new DiamondErrorEvent(new Error('x')),
    ]) {
      assertEqual(received(element, event, calls), event, `the handler of ${event.type}`);
    }
  });

  it('<DiamondPaywall>: props and every event', () => {
    const calls: Event[] = [];
    const within = render(
      <DiamondPaywall content="ct_react" onDiamondUnlocked={(event) => calls.push(event)} onDiamondError={(event) => calls.push(event)} />,
    );
    const element = find(within, 'diamond-paywall', PaywallElement);
    assertEqual(element.content, 'ct_react', 'content');
    const unlocked = new DiamondUnlockedEvent({ entitlement: {} } as never);
    assertEqual(received(element, unlocked, calls), unlocked, 'onDiamondUnlocked');
    const error = new DiamondErrorEvent(new Error('x'));
    assertEqual(received(element, error, calls), error, 'onDiamondError');
  });

  it('<DiamondCheckout>: props and every event; a handler replaced on re-render is the one called', () => {
    const first: Event[] = [];
    const second: Event[] = [];
    const within = render(<DiamondCheckout order="ord_react" onDiamondPaid={(event) => first.push(event)} />);
    const element = find(within, 'diamond-checkout', CheckoutElement);
    assertEqual(element.order, 'ord_react', 'order');
    const paid = new DiamondPaidEvent({ id: 'ord_react', status: 'paid' } as never);
    assertEqual(received(element, paid, first), paid, 'onDiamondPaid');
    render(
      <DiamondCheckout order="ord_react2" onDiamondPaid={(event) => second.push(event)} onDiamondError={(event) => second.push(event)} />,
    );
    assertEqual(element.order, 'ord_react2', 'order after a re-render');
    const again = new DiamondPaidEvent({ id: 'ord_react2', status: 'paid' } as never);
    assertEqual(received(element, again, second), again, 'the new onDiamondPaid');
    assertEqual(first.length, 1, 'the old handler no longer listens');
  });
});
