// axe-core on every element in the states its own tests do not already check in all four
// looks, in light and dark, on a desktop and on a 390×844 phone: signed out and signed in,
// busy (:state(busy), the sign-in popup open), done (:state(done)), not enough Diamonds, and
// the origin_not_allowed message. Runs in Chromium through @web/test-runner, against the real
// platform its config starts; window.open is stubbed.
import { emulateMedia, setViewport } from '@web/test-runner-commands';
import { createDiamonds, type CheckoutOrder, type DiamondsOptions } from '@diamonds/sdk';
import './define-all.js';
import {
  assert,
  assertEqual,
  attach,
  axeViolations,
  fixture,
  json,
  localClient,
  newFan,
  part,
  PHONE,
  stubOpen,
  text,
  until,
} from '../test/support.js';

/** An element mounted by {@link mount}. */
interface Mounted {
  element: HTMLElement;
  shadow: ShadowRoot;
}

/**
 * What the platform answers a page on an origin its site does not list: a 403
 * `origin_not_allowed` (with the CORS headers that let the page read it).
 */
const refused: typeof fetch = () =>
  Promise.resolve(
    new Response(
      JSON.stringify({
        error: {
          type: 'permission_error',
          code: 'origin_not_allowed',
          message: `The site does not allow ${location.origin}.`,
          requestId: 'req_a11y',
        },
      }),
      { status: 403, headers: { 'Content-Type': 'application/json' } },
    ),
  );

/** The alert an element shows for origin_not_allowed (English). */
const notSetUp = `Diamonds is not set up for ${location.origin}.`;

describe('accessibility of every element, in every state, light and dark, desktop and phone', () => {
  for (const [scheme, phone] of [
    ['light', false],
    ['dark', false],
    ['light', true],
    ['dark', true],
  ] as const) {
    const look = `${scheme}${phone ? ' on a 390×844 phone' : ' on a desktop'}`;
    describe(look, () => {
      /**
       * `markup` (one element) in a `<diamond-provider>` with its own client (storage 'local', a
       * new fan signed in when `fan` is given), on this look's page background, once `ready` holds.
       */
      async function mount(
        markup: string,
        ready: (mounted: Mounted) => unknown,
        options: { fan?: string; fetch?: DiamondsOptions['fetch'] } = {},
      ): Promise<Mounted> {
        // This look (support.ts puts the desktop and light back after each test).
        await emulateMedia({ colorScheme: scheme });
        if (phone) await setViewport(PHONE);
        localStorage.clear();
        stubOpen();
        const info = await fixture();
        if (options.fan) await newFan(options.fan);
        const container = document.createElement('div');
        // A dark page has light text, which <diamond-amount> inherits as inline text should.
        container.style.cssText = `padding:1em${scheme === 'dark' ? ';background:#121018;color:#f2f0fa;color-scheme:dark' : ''}`;
        const provider = document.createElement('diamond-provider');
        provider.client = localClient(info, { fetch: options.fetch });
        provider.innerHTML = markup;
        container.append(provider);
        attach(container);
        const element = provider.firstElementChild as HTMLElement & { updateComplete: Promise<boolean> };
        const shadow = await until(() => element.shadowRoot, `${element.localName} upgraded`);
        const mounted = { element, shadow };
        await until(() => ready(mounted), `${element.localName} ready`);
        await element.updateComplete;
        return mounted;
      }

      /** Runs axe-core on `mounted` and fails with its violations, named by `what`. */
      async function clean({ element }: Mounted, what: string): Promise<void> {
        assertEqual(await axeViolations(element), '', `${element.localName} ${what} (${look})`);
      }

      /** Clicks `name` and waits for the element's `:state(busy)`: the sign-in popup is open. */
      async function busy(mounted: Mounted, name = 'button'): Promise<void> {
        part(mounted.shadow, name).click();
        await until(() => mounted.element.matches(':state(busy)'), 'the busy state');
      }

      const alerted = ({ shadow }: Mounted) => shadow.querySelector('[role="alert"]')?.textContent?.includes(notSetUp);

      it(`<diamond-amount> and <diamond-provider>, ${look}`, async () => {
        const amount = await mount('<diamond-amount value="1234"></diamond-amount>', ({ shadow }) => shadow.textContent?.includes('1,234'));
        await clean(amount, 'with a value');
        const provider = amount.element.parentElement!;
        assertEqual(await axeViolations(provider), '', `diamond-provider (${look})`);
      });

      it(`<diamond-gift-button>: signed out, busy, signed in, done, not enough, origin not allowed; ${look}`, async function () {
        this.timeout(20000);
        const { creatorId } = await fixture();
        const markup = `<diamond-gift-button creator="${creatorId}" creator-name="Ada" gift="rose"></diamond-gift-button>`;
        const priced = ({ shadow }: Mounted) => shadow.querySelector('[part~="icon"]');

        const visitor = await mount(markup, priced);
        await clean(visitor, 'signed out');
        await busy(visitor);
        await clean(visitor, 'busy (signing in)');

        const fan = await mount(markup, priced, { fan: 'balance=100&allowance=50' });
        await clean(fan, 'signed in');
        part(fan.shadow, 'button').click();
        await until(() => fan.element.matches(':state(done)') && fan.shadow.querySelector('[part~="art"]'), 'the done state');
        assert(text(fan.shadow, 'status').includes('Rose sent'), 'the gift announced');
        await clean(fan, 'done');

        const poor = await mount(markup, priced, { fan: 'balance=0&allowance=50' });
        part(poor.shadow, 'button').click();
        await until(() => poor.shadow.querySelector('[part~="top-up"]'), 'the top-up offer');
        await clean(poor, 'not enough Diamonds');

        const elsewhere = await mount(markup, alerted, { fetch: refused });
        await clean(elsewhere, 'origin not allowed');
      });

      it(`<diamond-wallet>: signed out, signed in, busy, origin not allowed; ${look}`, async function () {
        this.timeout(20000);
        const markup = '<diamond-wallet layout="full" locale="en-US"></diamond-wallet>';
        const visitor = await mount(markup, ({ shadow }) => shadow.querySelector('[part~="sign-in"]'));
        await clean(visitor, 'signed out');

        const fan = await mount(markup, ({ shadow }) => shadow.querySelector('[part~="pack"]'), { fan: 'balance=100&allowance=50' });
        await clean(fan, 'signed in');
        part(fan.shadow, 'pack').click();
        await until(() => text(fan.shadow, 'status').startsWith('Finish paying'), 'the payment popup');
        assert((part(fan.shadow, 'pack') as HTMLButtonElement).disabled, 'busy: the packs wait');
        await clean(fan, 'busy (paying)');

        const elsewhere = await mount(markup, alerted, { fan: 'balance=100&allowance=50', fetch: refused });
        await clean(elsewhere, 'origin not allowed');
      });

      it(`<diamond-paywall> and <diamond-checkout>: busy, origin not allowed; ${look}`, async function () {
        this.timeout(20000);
        const info = await fixture();
        const reader = createDiamonds({ publishableKey: info.publishableKey, apiBase: info.apiBase, storage: 'memory' });
        const all = await Promise.all(info.contentIds.map((id) => reader.content.get(id)));
        const priced = all.find((content) => content.priceDiamonds !== null && content.format !== 'external');
        assert(priced, 'priced demo content');
        const paywall = `<diamond-paywall content="${priced.id}"></diamond-paywall>`;
        const locked = await mount(paywall, ({ shadow }) => shadow.querySelector('[part~="button"]'));
        await busy(locked);
        await clean(locked, 'busy (signing in)');
        await clean(await mount(paywall, alerted, { fetch: refused }), 'origin not allowed');

        const order = await json<CheckoutOrder>(`/__diamonds/order?product=${info.productIds[0]}`);
        const checkout = `<diamond-checkout order="${order.id}"></diamond-checkout>`;
        const open = await mount(checkout, ({ shadow }) => shadow.querySelector('[part~="lines"]'));
        await busy(open);
        await clean(open, 'busy (signing in)');
        await clean(await mount(checkout, alerted, { fetch: refused }), 'origin not allowed');
      });
    });
  }
});
