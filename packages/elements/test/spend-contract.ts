// The contract every element that spends a fan's Diamonds keeps (the gift button, the paywall,
// the checkout: one spend controller, internal/spend-controller.ts), as one suite that each of
// their test files runs with its own element. Against the real platform of the test runner,
// with window.open stubbed as in every element test.
import { sendKeys } from '@web/test-runner-commands';
import type { DiamondsClientCore } from '@diamonds/sdk';
import { DiamondErrorEvent } from '../src/events/error.js';
import { approveSignIn, assert, assertEqual, confirmationInPopup, json, opened, part, text, until } from './support.js';

/** What the suite needs to know about one spending element. */
export interface SpendingElement {
  /** `<diamond-gift-button>`… */
  name: string;
  /** What its spend costs, in Diamonds: at most 100, so the smallest top-up pack covers it. */
  price: number;
  /**
   * A fresh element whose spend costs {@link SpendingElement.price}, in its own provider, for a
   * new signed-in fan (`fan` is the query of `/__diamonds/fan`) or signed out, once it shows
   * its button.
   */
  mount(
    fan?: string,
  ): Promise<{ element: HTMLElement & { updateComplete: Promise<boolean> }; client: DiamondsClientCore; shadow: ShadowRoot }>;
  /** The event it emits when the spend went through. */
  succeeded: 'diamond-gift-sent' | 'diamond-unlocked' | 'diamond-paid';
  /** The URL of the request that spends (`POST`), to read its `Idempotency-Key`. */
  spendPath: RegExp;
  /** Whether the element no longer shows the fan's spend (its result, its receipt…). */
  forgotten(shadow: ShadowRoot): boolean;
}

/** A fan with `balance` Diamonds who lets the site spend `allowance` a day. */
const fan = (balance: number, allowance: number) => `balance=${balance}&allowance=${allowance}`;

/** Resolves on the element's next success event. */
const next = (element: HTMLElement, type: string): Promise<Event> =>
  new Promise((resolve) => element.addEventListener(type, resolve, { once: true }));

/** The `Idempotency-Key` of every spend request sent while `run` runs; `drop` makes the first one's answer a lost one. */
async function spendKeys(path: RegExp, run: () => Promise<void>, drop = false): Promise<string[]> {
  const keys: string[] = [];
  const realFetch = window.fetch;
  window.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    // Read without making a Request of it: that would use up the body the platform must get.
    const given = input instanceof Request ? input : undefined;
    const method = init?.method ?? given?.method ?? 'GET';
    const spending = method.toUpperCase() === 'POST' && path.test(given?.url ?? String(input));
    if (spending) keys.push(new Headers(init?.headers ?? given?.headers).get('Idempotency-Key') ?? '');
    const response = await realFetch(input, init);
    // The platform did it; the answer is lost on the way (a dropped connection).
    if (spending && drop && keys.length === 1) throw new TypeError('Failed to fetch');
    return response;
  }) as typeof fetch;
  try {
    await run();
  } finally {
    window.fetch = realFetch;
  }
  return keys;
}

/** Runs the spend contract on `spending`. */
export function spendContract(spending: SpendingElement): void {
  const { price, succeeded } = spending;

  describe(`${spending.name}: the spend contract`, () => {
    it('spends within the allowance in one press, without a popup; busy, then done, as custom states', async () => {
      const { element, client, shadow } = await spending.mount(fan(price * 2, price));
      const done = next(element, succeeded);
      part(shadow, 'button').click();
      await element.updateComplete;
      assert(element.matches(':state(busy)') && element.matches(':state(spending)'), 'busy while spending');
      assert((part(shadow, 'button') as HTMLButtonElement).disabled, 'the button disabled meanwhile');
      await done;
      await until(() => element.matches(':state(done)'), 'the done state');
      assert(!element.matches(':state(busy)'), 'no longer busy');
      assertEqual(opened.length, 0, 'no popup within the allowance');
      assertEqual((await client.wallet.refresh()).balanceDiamonds, price, 'charged once, on the server');
    });

    it('opens the confirmation in the press beyond the allowance, and goes through once approved', async () => {
      const { element, client, shadow } = await spending.mount(fan(price * 2, 0));
      const done = next(element, succeeded);
      part(shadow, 'button').click();
      assertEqual(opened.length, 1, 'the popup opened in the press');
      const id = await confirmationInPopup();
      await until(() => text(shadow, 'status') === 'Confirm in the Diamonds window…', 'the confirming state');
      await json(`/__diamonds/decide?id=${id}&approve=1`);
      await done;
      assertEqual((await client.wallet.refresh()).balanceDiamonds, price, 'charged once, on the server');
    });

    it('says the fan declined with a DiamondErrorEvent and the alert; the error state; the button works again', async () => {
      const { element, shadow } = await spending.mount(fan(price * 2, 0));
      const errors: Event[] = [];
      element.addEventListener('diamond-error', (event) => errors.push(event));
      part(shadow, 'button').click();
      await json(`/__diamonds/decide?id=${await confirmationInPopup()}&approve=0`);
      await until(() => text(shadow, 'error') === 'You declined. Nothing was charged.', 'the declined message');
      assertEqual(errors.length, 1, 'one diamond-error');
      const [event] = errors;
      assert(event instanceof DiamondErrorEvent, 'a DiamondErrorEvent');
      assertEqual((event.detail.error as { code?: string }).code, 'confirmation_declined', 'detail.error.code');
      assert(event.bubbles && event.composed, 'bubbling and composed');
      assert(element.matches(':state(error)'), 'the error state');
      assert(!(part(shadow, 'button') as HTMLButtonElement).disabled, 'the button enabled');
    });

    it('signs a signed-out fan in from the press, then beyond the allowance asks for one more press (the confirm state, focus on the button)', async () => {
      const { element, client, shadow } = await spending.mount();
      part(shadow, 'button').click();
      assertEqual(opened.length, 1, 'the sign-in popup opened in the press');
      assert(element.matches(':state(signing-in)'), 'the signing-in state');
      await approveSignIn(fan(price * 2, 0));
      await until(() => element.matches(':state(confirm)'), 'the confirm state');
      assertEqual(opened.length, 1, 'no popup outside a press');
      assertEqual(shadow.activeElement, part(shadow, 'button'), 'focus on the button');
      const done = next(element, succeeded);
      await sendKeys({ press: 'Enter' });
      assertEqual(opened.length, 2, 'the confirmation opened in the key press');
      await json(`/__diamonds/decide?id=${await confirmationInPopup(1)}&approve=1`);
      await done;
      assertEqual((await client.wallet.refresh()).balanceDiamonds, price, 'charged once');
    });

    it('tops up the smallest covering pack when the wallet holds too little, then spends with the same Idempotency-Key', async function () {
      this.timeout(10000);
      const { element, client, shadow } = await spending.mount(fan(0, price * 10));
      const done = next(element, succeeded);
      const keys = await spendKeys(spending.spendPath, async () => {
        part(shadow, 'button').click();
        await until(() => element.matches(':state(insufficient)'), 'the insufficient state');
        await until(() => shadow.querySelector('[part~="top-up"]')?.textContent?.includes('Top up 100 Diamonds'), 'the 100-Diamond pack');
        part(shadow, 'top-up').click();
        assertEqual(opened.length, 1, 'the payment popup opened in the press');
        assert(element.matches(':state(topping-up)'), 'the topping-up state');
        const topUpId = await until(() => /\/topup\/(tu_\w+)/.exec(opened[0]!.location.href)?.[1], 'the payment page');
        await json(`/__diamonds/pay-topup?id=${topUpId}`);
        await done;
      });
      assertEqual(keys.length, 2, 'the refused spend and the one after the top-up');
      assert(keys[0] !== '' && keys[0] === keys[1], `one key for the intent: ${keys.join(', ')}`);
      assertEqual((await client.wallet.refresh()).balanceDiamonds, 100 - price, 'topped up 100, charged once');
    });

    it('retries a spend whose answer was lost with the same Idempotency-Key: the platform applies it once', async () => {
      const { element, client, shadow } = await spending.mount(fan(price * 3, price * 3));
      const keys = await spendKeys(
        spending.spendPath,
        async () => {
          const done = next(element, succeeded);
          part(shadow, 'button').click();
          // A client that retries by itself does it now; one that does not (maxRetries: 0) says so.
          const lost = () => text(shadow, 'error').startsWith('Cannot reach Diamonds');
          await until(() => lost() || element.matches(':state(done)'), 'the lost answer to be retried or shown');
          if (lost()) part(shadow, 'button').click(); // the fan tries again
          await done;
        },
        true,
      );
      assert(keys.length >= 2, `sent again: ${keys.length}`);
      assert(keys[0] !== '' && keys.every((key) => key === keys[0]), `the same key every time: ${keys.join(', ')}`);
      assertEqual((await client.wallet.refresh()).balanceDiamonds, price * 2, 'charged once');
    });

    it('gives focus back to its button once the confirmation popup is over', async () => {
      const { element, shadow } = await spending.mount(fan(price * 2, 0));
      part(shadow, 'button').focus();
      const errors = next(element, 'diamond-error');
      await sendKeys({ press: 'Enter' });
      await json(`/__diamonds/decide?id=${await confirmationInPopup()}&approve=0`);
      await errors;
      await until(() => shadow.activeElement === part(shadow, 'button'), 'focus on the button');
    });

    it('forgets the fan’s spend when the fan signs out', async () => {
      const { element, client, shadow } = await spending.mount(fan(price * 2, price));
      const done = next(element, succeeded);
      part(shadow, 'button').click();
      await done;
      await until(() => element.matches(':state(done)'), 'the done state');
      await client.signOut();
      await until(() => spending.forgotten(shadow), 'the element to forget the spend');
      assert(!element.matches(':state(done)'), 'no done state');
      assertEqual(text(shadow, 'status'), '', 'no success message');
    });
  });
}
