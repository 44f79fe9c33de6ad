// Runs in Chromium through @web/test-runner (mocha's describe/it are globals there), against the
// real platform its config starts. window.open is stubbed: no test opens a real popup.
import { emulateMedia, sendKeys, setViewport } from '@web/test-runner-commands';
import type { CheckoutOrder } from '@diamonds/sdk';
import { DiamondCheckout } from './checkout.js';
import type { DiamondPaidEvent } from '../events/paid.js';
import '../provider/define.js';
import './define.js';
// The German strings are opt-in for bundles (the drop-in script has them); the German tests need them.
import '../i18n/locales/de.js';
import {
  approveSignIn,
  assert,
  assertEqual,
  axeViolations,
  confirmationInPopup,
  fixture,
  json,
  mountInProvider,
  type MountedInProvider,
  opened,
  part,
  PHONE,
  text,
  until,
} from '../../test/support.js';
import { spendContract } from '../../test/spend-contract.js';

/** The demo products by name: sticker (80), poster (400, 5 in stock), book (250). */
let products: { sticker: string; poster: string; book: string } | undefined;

async function demoProducts(): Promise<NonNullable<typeof products>> {
  if (!products) {
    const info = await fixture();
    const orders = await Promise.all(info.productIds.map((id) => json<CheckoutOrder>(`/__diamonds/order?product=${id}`)));
    const find = (name: string): string => orders.find((order) => order.lines[0]?.name === name)!.lines[0]!.productId!;
    products = { sticker: find('Sticker pack'), poster: find('Signed poster'), book: find('Digital art book') };
  }
  return products;
}

/** A new order of the shop (made with its secret key): `quantity` × the product. */
async function newOrder(product: 'sticker' | 'poster' | 'book', quantity = 1): Promise<string> {
  const ids = await demoProducts();
  return (await json<CheckoutOrder>(`/__diamonds/order?product=${ids[product]}&quantity=${quantity}`)).id;
}

/** A `<diamond-checkout>` of `order` in a provider with its own client (storage 'local'), once it shows the order. */
const mount = (order: string, options: { fan?: string; locale?: string } = {}): Promise<MountedInProvider<DiamondCheckout>> =>
  mountInProvider({
    markup: `<diamond-checkout order="${order}"></diamond-checkout>`,
    tag: 'diamond-checkout',
    type: DiamondCheckout,
    ready: '[part~="lines"], [part~="button"]',
    ...options,
  });

function nextPaid(element: HTMLElement): Promise<CheckoutOrder> {
  return new Promise((resolve) =>
    element.addEventListener('diamond-paid', (event: DiamondPaidEvent) => resolve(event.detail), { once: true }),
  );
}

const rows = (shadow: ShadowRoot): string[][] =>
  [...shadow.querySelectorAll('tbody tr')].map((row) => [...row.children].map((cell) => cell.textContent?.trim() ?? ''));

describe('<diamond-checkout>', () => {
  it('shows the lines and total as the server holds them, pays within the allowance and emits the receipt', async () => {
    const { element, client, shadow } = await mount(await newOrder('sticker', 2), { fan: 'balance=500&allowance=200' });
    assertEqual(JSON.stringify(rows(shadow)), JSON.stringify([['Sticker pack', '2', '80 Diamonds', '160 Diamonds']]), 'the lines');
    assertEqual(text(shadow, 'total'), '160 Diamonds', 'the total');
    assertEqual(text(shadow, 'button'), 'Pay 160 Diamonds', 'the Pay button');
    const paid = nextPaid(element);
    part(shadow, 'button').click();
    await element.updateComplete;
    assertEqual(text(shadow, 'status'), 'Paying…', 'progress announced');
    const order = await paid;
    assertEqual(opened.length, 0, 'no popup within the allowance');
    assertEqual(order.status, 'paid', 'detail.status');
    assert(order.receipt && order.receipt.split('.').length === 3, 'detail.receipt is a JWT');
    assert(order.transferId?.startsWith('txn_'), 'detail.transferId');
    assertEqual(element.receipt, order.receipt, 'receipt property');
    await element.updateComplete;
    assertEqual(text(shadow, 'status'), 'Paid. Thank you!', 'success announced');
    assert(/^Receipt rcpt_\w+$/.test(text(shadow, 'receipt')), `the receipt id: ${text(shadow, 'receipt')}`);
    assert(!shadow.querySelector('[part~="button"]'), 'no Pay button once paid');
    assertEqual((await client.wallet.refresh()).balanceDiamonds, 340, 'balance on the server');
  });

  it('shows an order already paid as paid, without paying again', async () => {
    const id = await newOrder('sticker');
    const first = await mount(id, { fan: 'balance=500&allowance=200' });
    const paid = nextPaid(first.element);
    part(first.shadow, 'button').click();
    const order = await paid;
    const again = document.createElement('diamond-checkout');
    again.order = id;
    first.element.parentElement!.append(again);
    await until(() => again.shadowRoot?.querySelector('[part~="receipt"]'), 'the paid state');
    assertEqual(again.receipt, order.receipt, 'the same receipt');
    assert(!again.shadowRoot!.querySelector('[part~="button"]'), 'no Pay button');
    assertEqual((await first.client.wallet.refresh()).balanceDiamonds, 420, 'charged once');
  });

  it('asks for confirmation beyond the allowance and pays once approved', async () => {
    const { element, client, shadow } = await mount(await newOrder('book'), { fan: 'balance=500&allowance=100' });
    const paid = nextPaid(element);
    const idle = element.getBoundingClientRect().height;
    part(shadow, 'button').click();
    assertEqual(opened.length, 1, 'the popup opened in the click');
    const id = await confirmationInPopup();
    await until(() => text(shadow, 'status') === 'Confirm in the Diamonds window…', 'the confirming state');
    // The status has its line reserved: nothing around the element jumps when it appears.
    assertEqual(element.getBoundingClientRect().height, idle, 'height while confirming');
    await json(`/__diamonds/decide?id=${id}&approve=1`);
    const order = await paid;
    assert(order.receipt, 'receipt');
    await until(() => text(shadow, 'status') === 'Paid. Thank you!', 'paid');
    assertEqual((await client.wallet.refresh()).balanceDiamonds, 250, 'balance on the server');
  });

  it('says when the fan declined, and lets them try again', async () => {
    const { element, shadow } = await mount(await newOrder('book'), { fan: 'balance=500&allowance=100' });
    let error: unknown;
    element.addEventListener('diamond-error', (event) => (error = (event as CustomEvent<{ error: unknown }>).detail.error));
    part(shadow, 'button').click();
    await json(`/__diamonds/decide?id=${await confirmationInPopup()}&approve=0`);
    await until(() => text(shadow, 'error') === 'You declined. Nothing was charged.', 'the declined message');
    assertEqual(part(shadow, 'error').getAttribute('role'), 'alert', 'an alert');
    assertEqual((error as { code?: string }).code, 'confirmation_declined', 'diamond-error detail');
    assert(!(part(shadow, 'button') as HTMLButtonElement).disabled, 'Pay enabled again');
  });

  it('offers a top-up when the wallet holds too little', async () => {
    const { shadow } = await mount(await newOrder('sticker'), { fan: 'balance=10&allowance=200' });
    part(shadow, 'button').click();
    await until(() => text(shadow, 'error') === 'Not enough Diamonds. Top up to continue.', 'the insufficient message');
    assertEqual(opened.length, 0, 'no popup for a spend that cannot be paid');
    await until(() => shadow.querySelector('[part~="top-up"]'), 'the top-up button');
  });

  it('says when the stock ran out', async () => {
    const { shadow } = await mount(await newOrder('poster', 6), { fan: 'balance=5000&allowance=5000' });
    part(shadow, 'button').click();
    await until(() => text(shadow, 'error') !== '', 'an error');
    assertEqual(text(shadow, 'error'), 'Sorry, something in this order is out of stock. Nothing was charged.', 'the out-of-stock message');
  });

  it('shows a signed-out fan the lines and total, and one button that opens the sign-in in the click', async () => {
    const { shadow } = await mount(await newOrder('sticker', 2));
    assertEqual(JSON.stringify(rows(shadow)), JSON.stringify([['Sticker pack', '2', '80 Diamonds', '160 Diamonds']]), 'the lines');
    assertEqual(text(shadow, 'total'), '160 Diamonds', 'the total');
    assertEqual(shadow.querySelectorAll('button').length, 1, 'one button');
    assertEqual(text(shadow, 'button'), 'Sign in and pay 160 Diamonds', 'the button');
    part(shadow, 'button').click();
    assertEqual(opened.length, 1, 'the sign-in popup opened in the click');
    await until(() => text(shadow, 'status') === 'Continue in the Diamonds window to sign in…', 'the signing-in state');
    opened[0]!.closed = true;
    await until(() => text(shadow, 'error') === 'The Diamonds window was closed before you finished.', 'the popup-closed message');
    assertEqual(text(shadow, 'button'), 'Sign in and pay 160 Diamonds', 'ready to try again');
  });

  it('signs in and pays in one click within the allowance', async () => {
    const { element, client, shadow } = await mount(await newOrder('sticker', 2));
    const paid = nextPaid(element);
    part(shadow, 'button').click();
    assertEqual(opened.length, 1, 'the sign-in popup opened in the click');
    await approveSignIn('balance=500&allowance=200');
    const order = await paid;
    assertEqual(opened.length, 1, 'no other popup');
    assertEqual(order.status, 'paid', 'paid');
    assert(order.receipt && order.receipt.split('.').length === 3, 'with the receipt');
    await until(() => text(shadow, 'status') === 'Paid. Thank you!', 'success announced');
    assertEqual((await client.wallet.refresh()).balanceDiamonds, 340, 'charged once, on the server');
  });

  it('signs in, then beyond the allowance asks for one more click that opens the confirmation', async () => {
    const { element, client, shadow } = await mount(await newOrder('book'));
    assertEqual(text(shadow, 'button'), 'Sign in and pay 250 Diamonds', 'the button');
    part(shadow, 'button').focus();
    await sendKeys({ press: 'Enter' });
    assertEqual(opened.length, 1, 'the sign-in popup opened by Enter');
    await approveSignIn('balance=500&allowance=100');
    const status = 'You are signed in. Press Pay to confirm the payment in the Diamonds window.';
    await until(() => text(shadow, 'status') === status, 'the confirm step');
    assertEqual(opened.length, 1, 'no popup outside a click');
    assertEqual(text(shadow, 'button'), 'Pay 250 Diamonds', 'the Pay button');
    assertEqual(shadow.activeElement, part(shadow, 'button'), 'focus on Pay');
    const paid = nextPaid(element);
    await sendKeys({ press: 'Space' });
    assertEqual(opened.length, 2, 'the confirmation popup opened in the key press');
    const id = await confirmationInPopup(1);
    await json(`/__diamonds/decide?id=${id}&approve=1`);
    assertEqual((await paid).status, 'paid', 'paid once approved');
    assertEqual((await client.wallet.refresh()).balanceDiamonds, 250, 'balance on the server');
  });

  it('asks a signed-out fan to sign in first when the order is no longer open', async () => {
    const id = await newOrder('sticker');
    const payer = await mount(id, { fan: 'balance=500&allowance=200' });
    const paid = nextPaid(payer.element);
    part(payer.shadow, 'button').click();
    await paid;
    localStorage.clear();
    let errors = 0;
    const { element, shadow } = await mount(id);
    element.addEventListener('diamond-error', () => (errors += 1));
    await until(() => text(shadow, 'button') === 'Sign in with Diamonds', 'the sign-in button');
    assert(!shadow.querySelector('[part~="lines"]'), 'no order before signing in');
    assertEqual(text(shadow, 'error'), '', 'no alert');
    assertEqual(errors, 0, 'no diamond-error');
    part(shadow, 'button').click();
    assertEqual(opened.length, 1, 'the sign-in popup opened in the click');
  });

  it('pays with the keyboard (Tab, then Space)', async () => {
    const { element, shadow } = await mount(await newOrder('sticker'), { fan: 'balance=500&allowance=200' });
    const before = document.createElement('button');
    before.textContent = 'before';
    element.before(before);
    before.focus();
    await sendKeys({ press: 'Tab' });
    assertEqual(shadow.activeElement, part(shadow, 'button'), 'Tab reaches the Pay button');
    const paid = nextPaid(element);
    await sendKeys({ press: 'Space' });
    await paid;
  });

  it('pays with Enter', async () => {
    const { element, shadow } = await mount(await newOrder('sticker'), { fan: 'balance=500&allowance=200' });
    part(shadow, 'button').focus();
    const paid = nextPaid(element);
    await sendKeys({ press: 'Enter' });
    await paid;
  });

  for (const [scheme, phone] of [
    ['light', false],
    ['dark', false],
    ['light', true],
    ['dark', true],
  ] as const) {
    it(`passes axe-core in ${scheme}${phone ? ' on a 390×844 phone' : ''}: signed out, open, error and paid`, async function () {
      this.timeout(10000);
      await emulateMedia({ colorScheme: scheme });
      if (phone) await setViewport(PHONE);
      const dark = (container: HTMLElement): void => {
        if (scheme === 'dark') container.style.cssText = 'background:#121018;color-scheme:dark;padding:1em';
      };
      const out = await mount(await newOrder('sticker'));
      dark(out.container);
      assertEqual(await axeViolations(out.element), '', 'signed out');
      const confirming = await mount(await newOrder('book'));
      dark(confirming.container);
      part(confirming.shadow, 'button').click();
      await approveSignIn('balance=500&allowance=100', opened.length - 1);
      await until(() => text(confirming.shadow, 'status').startsWith('You are signed in.'), 'the confirm step');
      assertEqual(await axeViolations(confirming.element), '', 'confirm step');
      localStorage.clear();
      const poor = await mount(await newOrder('sticker'), { fan: 'balance=10&allowance=200' });
      dark(poor.container);
      assertEqual(await axeViolations(poor.element), '', 'open');
      part(poor.shadow, 'button').click();
      await until(() => poor.shadow.querySelector('[part~="top-up"]'), 'the top-up offer');
      assertEqual(await axeViolations(poor.element), '', 'insufficient');
      localStorage.clear();
      const rich = await mount(await newOrder('sticker'), { fan: 'balance=500&allowance=200' });
      dark(rich.container);
      const paid = nextPaid(rich.element);
      part(rich.shadow, 'button').click();
      await paid;
      await until(() => rich.shadow.querySelector('[part~="receipt"]'), 'the receipt');
      assertEqual(await axeViolations(rich.element), '', 'paid');
    });
  }

  it('speaks German with locale="de"', async () => {
    const { element, shadow } = await mount(await newOrder('sticker', 2), { fan: 'balance=500&allowance=200', locale: 'de' });
    assertEqual(text(shadow, 'button'), '160 Diamonds bezahlen', 'Pay label');
    assert(shadow.querySelector('caption')?.textContent?.includes('Deine Bestellung'), 'caption');
    const paid = nextPaid(element);
    part(shadow, 'button').click();
    await paid;
    await until(() => text(shadow, 'status') === 'Bezahlt. Danke!', 'success');
    assert(text(shadow, 'receipt').startsWith('Beleg rcpt_'), 'receipt label');
    localStorage.clear();
    const out = await mount(await newOrder('sticker', 2), { locale: 'de' });
    assertEqual(text(out.shadow, 'button'), 'Anmelden und 160 Diamonds bezahlen', 'signed-out label');
  });
});

// A new order of one sticker pack: 80 Diamonds.
spendContract({
  name: '<diamond-checkout>',
  price: 80,
  mount: async (fan) => mount(await newOrder('sticker'), { fan }),
  succeeded: 'diamond-paid',
  spendPath: /\/v1\/orders\/ord_[\w-]+\/pay$/,
  forgotten: (shadow) => !shadow.querySelector('[part~="receipt"]') && !shadow.querySelector('[part~="lines"]'),
});
