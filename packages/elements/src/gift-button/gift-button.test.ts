// Runs in Chromium through @web/test-runner (mocha's describe/it are globals there), against the
// real platform its config starts. window.open is stubbed: no test opens a real popup.
import { emulateMedia, sendKeys, setViewport } from '@web/test-runner-commands';
import type { DiamondsClientCore, Gift } from '@diamonds/sdk';
import { DiamondGiftButton } from './gift-button.js';
import type { DiamondGiftSentEvent } from '../events/gift-sent.js';
import '../provider/define.js';
import './define.js';
// The German strings are opt-in for bundles (the drop-in script has them); the German tests need them.
import '../i18n/locales/de.js';
import {
  approveSignIn,
  assert,
  assertEqual,
  assertInViewport,
  axeViolations,
  confirmationInPopup,
  fixture,
  json,
  mountMarkup,
  newFan,
  opened,
  part,
  PHONE,
  stubOpen,
  text,
  textContrast,
  until,
} from '../../test/support.js';
import { spendContract } from '../../test/spend-contract.js';

interface Mounted {
  element: DiamondGiftButton;
  client: DiamondsClientCore;
  shadow: ShadowRoot;
  container: HTMLElement;
}

/**
 * A new fan (when `fan` is given: `balance=…&allowance=…`) signed in through storage, and a
 * `<diamond-gift-button>` with `attributes` inside a fresh provider, once its catalog (and the
 * fan's allowance) loaded.
 */
async function mount(attributes: string, fan?: string, locale = 'en', creator?: string): Promise<Mounted> {
  stubOpen();
  const info = await fixture();
  if (fan) await newFan(fan);
  const container = mountMarkup(
    `<diamond-provider publishable-key="${info.publishableKey}" api-base="${info.apiBase}" locale="${locale}"><diamond-gift-button creator="${creator ?? info.creatorId}" creator-name="${info.creatorName}" ${attributes}></diamond-gift-button></diamond-provider>`,
  );
  const element = container.querySelector('diamond-gift-button');
  assert(element instanceof DiamondGiftButton, 'upgraded to DiamondGiftButton');
  const client = await until(() => element.client, 'the provider’s client');
  await until(() => (element as unknown as { _catalog?: unknown })._catalog, 'the catalog');
  if (fan) await until(() => client.allowance.get() !== null && client.wallet.get().status === 'ready', 'the allowance');
  await element.updateComplete;
  const shadow = element.shadowRoot;
  assert(shadow, 'shadow root');
  return { element, client, shadow, container };
}

/** The next `diamond-gift-sent` from `element`. */
function nextSent(element: HTMLElement): Promise<Gift> {
  return new Promise((resolve) =>
    element.addEventListener('diamond-gift-sent', (event: DiamondGiftSentEvent) => resolve(event.detail), { once: true }),
  );
}

const confirmStep = 'You are signed in. Press Send to confirm the gift in the Diamonds window.';

/** A creator of the fixture's own with an accepted collaborator (Ada and Bo), live or not; see element-fixture.ts. */
interface SplitCreator {
  creatorId: string;
  collaboratorId: string;
  sessionId: string | null;
}

/** Sets the split of `creator`'s live session: Bo gets `bps`, Ada the rest. */
const setLiveSplit = (creator: SplitCreator, bps: number): Promise<unknown> =>
  json(
    `/__diamonds/live-split?creator=${creator.creatorId}&collaborator=${creator.collaboratorId}&session=${creator.sessionId}&bps=${bps}`,
  );

/**
 * Counts the platform's answers to the live split reads, by creator, once their body is read
 * (the SDK looks `fetch` up for each request). Restored by {@link splitReads}' `stop`.
 */
function splitReads(): { answered: (creatorId: string) => number; stop: () => void } {
  const realFetch = window.fetch;
  const counts = new Map<string, number>();
  window.fetch = async (input, init) => {
    const response = await realFetch(input, init);
    const creator = /\/v1\/live\/(usr_\w+)\/split/.exec(input instanceof Request ? input.url : String(input))?.[1];
    if (!creator) return response;
    const body = await response.text();
    counts.set(creator, (counts.get(creator) ?? 0) + 1);
    return new Response(body, response);
  };
  return { answered: (creatorId) => counts.get(creatorId) ?? 0, stop: () => (window.fetch = realFetch) };
}

/**
 * How many requests for `route` (a route pattern, as the platform's metrics name it) reached
 * the platform while four gift buttons for `creatorId` mounted in one provider, each until
 * `loaded(button)` is truthy: what the browser's sharing of answers saves a page.
 */
async function requestsOfFourButtons(
  info: { publishableKey: string; apiBase: string },
  creatorId: string,
  route: string,
  loaded: (button: Element) => unknown,
): Promise<number> {
  const counted = async () => (await json<{ count: number }>(`/__diamonds/requests?route=${encodeURIComponent(route)}`)).count;
  const before = await counted();
  const button = `<diamond-gift-button creator="${creatorId}" gift="rose"></diamond-gift-button>`;
  const container = mountMarkup(
    `<diamond-provider publishable-key="${info.publishableKey}" api-base="${info.apiBase}">${button.repeat(4)}</diamond-provider>`,
  );
  for (const each of container.querySelectorAll('diamond-gift-button')) await until(() => loaded(each), 'each button’s answer');
  return (await counted()) - before;
}

describe('<diamond-gift-button>', () => {
  it('sends a gift within the allowance in one click, announces it and plays the animation', async () => {
    const { element, client, shadow } = await mount('gift="rose" quantity="2"', 'balance=100&allowance=50&name=Ann');
    assertEqual(text(shadow, 'button'), 'Send Rose for 10 Diamonds', 'label with the price');
    assert(part(shadow, 'status').getAttribute('role') === 'status', 'a status live region');
    const sent = nextSent(element);
    part(shadow, 'button').click();
    await element.updateComplete;
    assert((part(shadow, 'button') as HTMLButtonElement).disabled, 'disabled while sending');
    assertEqual(text(shadow, 'status'), 'Sending…', 'sending announced');
    const gift = await sent;
    assertEqual(gift.giftId, 'rose', 'detail.giftId');
    assertEqual(gift.amountDiamonds, 10, 'detail.amountDiamonds');
    assert(gift.transferId?.startsWith('txn_'), 'detail.transferId');
    assertEqual(opened.length, 0, 'no popup within the allowance');
    await element.updateComplete;
    assertEqual(text(shadow, 'status'), 'Rose sent to Demo Creator. Thank you!', 'success announced');
    assert(part(shadow, 'art').getAnimations().length > 0, 'the art is animated');
    assertEqual((await client.wallet.refresh()).balanceDiamonds, 90, 'balance on the server');
  });

  it('asks for confirmation beyond the allowance and sends once approved', async () => {
    const { element, client, shadow } = await mount('gift="coffee" quantity="6"', 'balance=100&allowance=50');
    const sent = nextSent(element);
    part(shadow, 'button').click();
    assertEqual(opened.length, 1, 'the popup opened in the click');
    const id = await confirmationInPopup();
    await until(() => text(shadow, 'status') === 'Confirm in the Diamonds window…', 'the confirming state');
    await json(`/__diamonds/decide?id=${id}&approve=1`);
    assertEqual((await sent).amountDiamonds, 60, 'sent');
    assertEqual((await client.wallet.refresh()).balanceDiamonds, 40, 'balance on the server');
  });

  it('names the creator as the platform does (the confirmation popup too), not as creator-name says', async () => {
    const { element, client, shadow } = await mount('gift="coffee" quantity="6"', 'balance=100&allowance=50');
    element.creatorName = 'Ada';
    const sent = nextSent(element);
    part(shadow, 'button').click();
    const id = await confirmationInPopup();
    const pending = await until(() => client.confirmations.get()[0], 'the confirmation');
    assert(pending.description.endsWith('for Demo Creator'), `the confirmation's own words: ${pending.description}`);
    await json(`/__diamonds/decide?id=${id}&approve=1`);
    await sent;
    await until(() => text(shadow, 'status') !== 'Confirm in the Diamonds window…', 'the outcome');
    assertEqual(text(shadow, 'status'), 'Coffee sent to Demo Creator. Thank you!', 'the same name on the page');
  });

  it('gives focus back to the button that opened a popup once it is over: confirmation, sign-in, top-up', async function () {
    this.timeout(8000);
    const { element, shadow } = await mount('gift="coffee" quantity="6"', 'balance=100&allowance=50');
    part(shadow, 'button').focus();
    const sent = nextSent(element);
    await sendKeys({ press: 'Enter' });
    await json(`/__diamonds/decide?id=${await confirmationInPopup()}&approve=1`);
    await sent;
    await until(() => shadow.activeElement === part(shadow, 'button'), 'focus back on the button after the confirmation');

    localStorage.clear();
    const signedOut = await mount('gift="rose"');
    part(signedOut.shadow, 'button').focus();
    await sendKeys({ press: 'Enter' });
    await until(() => opened.at(-1)?.location.href.includes('request='), 'the sign-in popup');
    opened.at(-1)!.closed = true;
    await until(() => text(signedOut.shadow, 'error') !== '', 'the popup-closed message');
    await until(() => signedOut.shadow.activeElement === part(signedOut.shadow, 'button'), 'focus back after the sign-in popup');

    localStorage.clear();
    const poor = await mount('gift="rose"', 'balance=0&allowance=50');
    part(poor.shadow, 'button').click();
    await until(() => poor.shadow.querySelector('[part~="top-up"]')?.textContent?.includes('Top up 100 Diamonds'), 'the top-up offer');
    part(poor.shadow, 'top-up').focus();
    await sendKeys({ press: 'Enter' });
    await until(() => opened.at(-1)?.location.href.includes('/topup/'), 'the payment popup');
    opened.at(-1)!.closed = true;
    await until(() => text(poor.shadow, 'error') !== '', 'the popup-closed message', 6000);
    // The Top up button goes with the offer: focus goes to the element's own button.
    await until(() => poor.shadow.activeElement === part(poor.shadow, 'button'), 'focus on the gift button after the top-up popup');
  });

  it('shows a declined confirmation, and emits diamond-error', async () => {
    const { element, shadow } = await mount('gift="coffee" quantity="6"', 'balance=100&allowance=50');
    let error: unknown;
    element.addEventListener('diamond-error', (event) => (error = (event as CustomEvent<{ error: unknown }>).detail.error));
    part(shadow, 'button').click();
    await json(`/__diamonds/decide?id=${await confirmationInPopup()}&approve=0`);
    await until(() => text(shadow, 'error') === 'You declined. Nothing was charged.', 'the declined message');
    assertEqual((error as { code?: string }).code, 'confirmation_declined', 'diamond-error detail');
    assert(!(part(shadow, 'button') as HTMLButtonElement).disabled, 'enabled again');
  });

  it('shows an expired confirmation', async () => {
    const { shadow } = await mount('gift="coffee" quantity="6"', 'balance=100&allowance=50');
    part(shadow, 'button').click();
    await confirmationInPopup();
    await json('/__diamonds/expire');
    await until(() => text(shadow, 'error') === 'That took too long and expired. Nothing was charged.', 'the expired message');
  });

  it('says when the popup was blocked', async () => {
    const { shadow } = await mount('gift="coffee" quantity="6"', 'balance=100&allowance=50');
    stubOpen(true);
    part(shadow, 'button').click();
    await until(() => text(shadow, 'error').startsWith('Your browser blocked the Diamonds window.'), 'the blocked message');
  });

  it('offers the smallest covering top-up pack when the balance is too low, paid from the click', async function () {
    this.timeout(8000);
    const { shadow } = await mount('gift="rose"', 'balance=0&allowance=50');
    part(shadow, 'button').click();
    await until(() => text(shadow, 'error') === 'Not enough Diamonds. Top up to continue.', 'the insufficient message');
    assertEqual(opened.length, 0, 'no popup for a spend that cannot be paid');
    await until(() => text(shadow, 'top-up').startsWith('Top up 100 Diamonds for'), 'the 100-Diamond pack with its price');
    part(shadow, 'top-up').click();
    assertEqual(opened.length, 1, 'the payment popup opened in the click');
    await until(() => text(shadow, 'status') === 'Finish the top-up in the Diamonds window…', 'the top-up state');
    await until(() => opened[0]?.location.href !== 'about:blank', 'the payment page in the popup');
    opened[0]!.closed = true;
    await until(() => text(shadow, 'error') === 'The Diamonds window was closed before you finished.', 'the popup-closed message', 6000);
  });

  it('signs a signed-out fan in from the same click', async () => {
    const { shadow } = await mount('gift="rose"');
    part(shadow, 'button').click();
    assertEqual(opened.length, 1, 'window.open called in the click');
    await until(() => text(shadow, 'status') === 'Continue in the Diamonds window to sign in and send your gift…', 'the signing-in state');
    opened[0]!.closed = true;
    await until(() => text(shadow, 'error') === 'The Diamonds window was closed before you finished.', 'the popup-closed message');
  });

  it('signs a signed-out fan in and sends the gift at once within the allowance', async () => {
    const { element, client, shadow } = await mount('gift="rose" quantity="2"');
    const sent = nextSent(element);
    part(shadow, 'button').click();
    assertEqual(opened.length, 1, 'the sign-in popup opened in the click');
    await approveSignIn('balance=100&allowance=50');
    const gift = await sent;
    assertEqual(gift.amountDiamonds, 10, 'the same gift sent');
    assertEqual(opened.length, 1, 'no other popup');
    await until(() => text(shadow, 'status') === 'Rose sent to Demo Creator. Thank you!', 'success announced');
    assertEqual((await client.wallet.refresh()).balanceDiamonds, 90, 'charged once, on the server');
  });

  it('signs in, then beyond the allowance asks for one more key press that opens the confirmation', async () => {
    const { element, client, shadow } = await mount('gift="coffee" quantity="6"');
    part(shadow, 'button').focus();
    await sendKeys({ press: 'Enter' });
    assertEqual(opened.length, 1, 'the sign-in popup opened by Enter');
    await approveSignIn('balance=100&allowance=50');
    await until(() => text(shadow, 'status') === confirmStep, 'the confirm step');
    assertEqual(opened.length, 1, 'no popup outside a click');
    assertEqual(text(shadow, 'button'), 'Send Coffee for 60 Diamonds', 'the same gift on the button');
    assert(!(part(shadow, 'button') as HTMLButtonElement).disabled, 'the button enabled');
    assertEqual(shadow.activeElement, part(shadow, 'button'), 'focus on the button');
    const sent = nextSent(element);
    await sendKeys({ press: 'Space' });
    assertEqual(opened.length, 2, 'the confirmation popup opened in the key press');
    const id = await confirmationInPopup(1);
    await until(() => text(shadow, 'status') === 'Confirm in the Diamonds window…', 'the confirming state');
    await json(`/__diamonds/decide?id=${id}&approve=1`);
    assertEqual((await sent).amountDiamonds, 60, 'sent once approved');
    assertEqual((await client.wallet.refresh()).balanceDiamonds, 40, 'balance on the server');
  });

  it('signs in from the picker, then confirms with Enter on its Send button', async function () {
    this.timeout(8000);
    const { element, shadow } = await mount('quantity="6"');
    part(shadow, 'button').click();
    await element.updateComplete;
    (shadow.querySelector('input[value="coffee"]') as HTMLInputElement).click();
    part(shadow, 'send').click();
    assertEqual(opened.length, 1, 'the sign-in popup opened in the click');
    await approveSignIn('balance=100&allowance=50');
    await until(() => text(shadow, 'status') === confirmStep, 'the confirm step');
    assertEqual(shadow.activeElement, part(shadow, 'send'), 'focus on Send');
    const sent = nextSent(element);
    await sendKeys({ press: 'Enter' });
    assertEqual(opened.length, 2, 'the confirmation popup opened by Enter');
    const id = await confirmationInPopup(1);
    await json(`/__diamonds/decide?id=${id}&approve=1`);
    const gift = await sent;
    assertEqual(gift.giftId, 'coffee', 'the chosen gift');
    assertEqual(gift.quantity, 6, 'the chosen quantity');
  });

  it('signs in and offers a top-up at once when the wallet holds too little, without a confirm step', async () => {
    const { shadow } = await mount('gift="coffee" quantity="6"');
    part(shadow, 'button').click();
    await approveSignIn('balance=10&allowance=0');
    await until(() => text(shadow, 'error') === 'Not enough Diamonds. Top up to continue.', 'the insufficient message');
    assertEqual(opened.length, 1, 'only the sign-in popup');
    await until(() => shadow.querySelector('[part~="top-up"]'), 'the top-up button');
  });

  it('opens a picker with Enter, closes it with Escape, and sends the chosen gift, quantity and message', async function () {
    this.timeout(8000);
    const { element, shadow } = await mount('', 'balance=100&allowance=50');
    const trigger = part(shadow, 'button');
    assertEqual(trigger.getAttribute('aria-expanded'), 'false', 'closed at first');
    trigger.focus();
    await sendKeys({ press: 'Enter' });
    await element.updateComplete;
    const picker = part(shadow, 'picker');
    assertEqual(picker.getAttribute('role'), 'dialog', 'a dialog');
    assertEqual(trigger.getAttribute('aria-expanded'), 'true', 'expanded');
    const gifts = [...shadow.querySelectorAll('[part~="gift"]')];
    assert(gifts.length >= 8, `at least 8 gifts, got ${gifts.length}`);
    for (const gift of gifts) {
      assert(/\d Diamonds?$/.test(gift.querySelector('[part~="price"]')?.textContent ?? ''), 'each gift has a price');
      assertEqual(gift.querySelector('img')?.getAttribute('alt'), '', 'decorative art');
    }
    assertEqual((shadow.activeElement as HTMLInputElement | null)?.name, 'gift', 'focus on the first gift');
    await sendKeys({ press: 'Escape' });
    await element.updateComplete;
    assert(!shadow.querySelector('[part~="picker"]'), 'closed by Escape');
    assertEqual(shadow.activeElement, trigger, 'focus back on the button');

    await sendKeys({ press: 'Space' });
    await element.updateComplete;
    (shadow.querySelector('input[value="rose"]') as HTMLInputElement).click();
    (part(shadow, 'quantity') as HTMLInputElement).value = '2';
    (part(shadow, 'message') as HTMLTextAreaElement).value = 'Great stream!';
    assertEqual(part(shadow, 'message').getAttribute('maxlength'), '140', 'message maxlength');
    const sent = nextSent(element);
    part(shadow, 'send').click();
    const gift = await sent;
    assertEqual(gift.giftId, 'rose', 'chosen gift');
    assertEqual(gift.quantity, 2, 'quantity');
    assertEqual(gift.message, 'Great stream!', 'message');
    await element.updateComplete;
    assert(!shadow.querySelector('[part~="picker"]'), 'closed after sending');
    assertEqual(text(shadow, 'status'), 'Rose sent to Demo Creator. Thank you!', 'success announced');
  });

  it('closes the picker with Cancel', async () => {
    const { element, shadow } = await mount('');
    part(shadow, 'button').click();
    await element.updateComplete;
    part(shadow, 'cancel').click();
    await element.updateComplete;
    assert(!shadow.querySelector('[part~="picker"]'), 'closed');
    assertEqual(shadow.activeElement, part(shadow, 'button'), 'focus back on the button');
  });

  it('sends nothing when diamond-gift-request is prevented', async () => {
    const { element, client, shadow } = await mount('gift="rose"', 'balance=100&allowance=50');
    let request: unknown;
    element.addEventListener('diamond-gift-request', (event) => {
      request = event.detail;
      event.preventDefault();
    });
    let sent = false;
    element.addEventListener('diamond-gift-sent', () => (sent = true));
    part(shadow, 'button').click();
    assertEqual((request as { giftId?: string }).giftId, 'rose', 'request detail');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert(!sent, 'no gift-sent');
    assertEqual(text(shadow, 'status'), '', 'nothing announced');
    assertEqual((await client.wallet.refresh()).balanceDiamonds, 100, 'balance unchanged');
  });

  it('plays no animation under prefers-reduced-motion', async () => {
    await emulateMedia({ reducedMotion: 'reduce' });
    const { element, shadow } = await mount('gift="star"', 'balance=100&allowance=50');
    const sent = nextSent(element);
    part(shadow, 'button').click();
    await sent;
    await element.updateComplete;
    assertEqual(part(shadow, 'art').getAnimations().length, 0, 'no animation');
  });

  for (const scheme of ['light', 'dark'] as const) {
    it(`passes axe-core in ${scheme}, picker open, with an error and at the confirm step`, async function () {
      this.timeout(10000);
      await emulateMedia({ colorScheme: scheme });
      const { element, shadow, container } = await mount('', 'balance=0&allowance=50');
      // A dark page behind a dark element, as a site with a dark theme has.
      if (scheme === 'dark') container.style.cssText = 'background:#121018;color-scheme:dark;padding:1em';
      assertEqual(await axeViolations(element), '', 'idle');
      part(shadow, 'button').click();
      await element.updateComplete;
      assertEqual(await axeViolations(element), '', 'picker open');
      part(shadow, 'send').click();
      await until(() => shadow.querySelector('[part~="top-up"]'), 'the top-up offer');
      assertEqual(await axeViolations(element), '', 'insufficient');
      localStorage.clear();
      const confirming = await mount('gift="coffee" quantity="6"');
      if (scheme === 'dark') confirming.container.style.cssText = 'background:#121018;color-scheme:dark;padding:1em';
      part(confirming.shadow, 'button').click();
      await approveSignIn('balance=100&allowance=50', opened.length - 1);
      await until(() => text(confirming.shadow, 'status') === confirmStep, 'the confirm step');
      assertEqual(await axeViolations(confirming.element), '', 'confirm step');
    });
  }

  it('reads on a page’s own accent in light and dark: the primary buttons’ text at 4.5:1 or more', async () => {
    // Crimson is the creator-site example's accent; the yellow is a light accent a site might pick.
    for (const scheme of ['dark', 'light'] as const) {
      await emulateMedia({ colorScheme: scheme });
      for (const accent of ['#c2185b', '#ffd54f']) {
        const { element, shadow, container } = await mount('', 'balance=100&allowance=50');
        container.style.setProperty('--diamond-color-accent', accent);
        part(shadow, 'button').click();
        await element.updateComplete;
        for (const name of ['button', 'send']) {
          const ratio = textContrast(part(shadow, name));
          assert(ratio >= 4.5, `${name} on ${accent} in ${scheme}: contrast ${ratio.toFixed(2)}:1`);
        }
        container.remove();
      }
    }
  });

  it('keeps the picker on a 390×844 phone screen, and passes axe-core there in light and dark', async function () {
    this.timeout(10000);
    await setViewport(PHONE);
    for (const scheme of ['light', 'dark'] as const) {
      await emulateMedia({ colorScheme: scheme });
      const { element, shadow, container } = await mount('', 'balance=100&allowance=50');
      // The button at the end of a row, where a picker hanging from it runs off the screen.
      container.style.cssText = `display:flex;justify-content:flex-end;padding:8px${scheme === 'dark' ? ';background:#121018;color-scheme:dark' : ''}`;
      part(shadow, 'button').click();
      await element.updateComplete;
      await until(() => shadow.querySelector('[part~="gift"]'), 'the gifts');
      assertInViewport(part(shadow, 'picker'), `the picker (${scheme})`);
      assertInViewport(part(shadow, 'send'), `Send (${scheme})`);
      assertEqual(await axeViolations(element), '', `axe-core on a phone in ${scheme}`);
      container.remove();
    }
  });

  it('keeps its size while the status comes and goes, so nothing around it jumps, below or beside it', async () => {
    const { element, shadow } = await mount('gift="coffee" quantity="6"', 'balance=100&allowance=50');
    const idle = element.getBoundingClientRect();
    part(shadow, 'button').click();
    await until(() => text(shadow, 'status') === 'Confirm in the Diamonds window…', 'the confirming state');
    assertEqual(element.getBoundingClientRect().height, idle.height, 'height while confirming');
    assertEqual(element.getBoundingClientRect().width, idle.width, 'width while confirming');
    const quick = await mount('gift="rose"', 'balance=100&allowance=50');
    const before = quick.element.getBoundingClientRect();
    const sent = nextSent(quick.element);
    part(quick.shadow, 'button').click();
    await sent;
    await quick.element.updateComplete;
    assert(text(quick.shadow, 'status').startsWith('Rose sent'), 'the thank-you');
    assertEqual(quick.element.getBoundingClientRect().height, before.height, 'height with the thank-you and its art');
    assertEqual(quick.element.getBoundingClientRect().width, before.width, 'width with the thank-you and its art');
  });

  it('fires diamond-ready once it is interactive: rendered, priced, wallet state known; once per client', async () => {
    const ready: Array<{ target: EventTarget | null; label: string; session?: string; wallet?: string }> = [];
    const listener = (event: Event) => {
      const button = event.target as DiamondGiftButton;
      ready.push({
        target: event.target,
        label: text(button.shadowRoot!, 'button'),
        session: button.client?.session.get().status,
        wallet: button.client?.wallet.get().status,
      });
    };
    document.addEventListener('diamond-ready', listener);
    try {
      const visitor = await mount('gift="rose" quantity="2"');
      const first = await until(() => ready.find((entry) => entry.target === visitor.element), 'diamond-ready, signed out');
      assertEqual(first.label, 'Send Rose for 10 Diamonds', 'rendered with its price');
      assertEqual(first.session, 'signed_out', 'signed out, known');

      const fan = await mount('gift="rose"', 'balance=100&allowance=50');
      const second = await until(() => ready.find((entry) => entry.target === fan.element), 'diamond-ready, signed in');
      assertEqual(second.session, 'signed_in', 'signed in');
      assertEqual(second.wallet, 'ready', 'with the balance read');

      // Re-rendering (a new quantity) makes it no more ready than it was.
      visitor.element.quantity = 3;
      await visitor.element.updateComplete;
      await fan.client.wallet.refresh();
      await fan.element.updateComplete;
      assertEqual(ready.filter((entry) => entry.target === visitor.element || entry.target === fan.element).length, 2, 'once each');
    } finally {
      document.removeEventListener('diamond-ready', listener);
    }
  });

  it('shows the split of the creator’s live session before paying, asked again when the picker opens; none without', async function () {
    this.timeout(10000);
    const reads = splitReads();
    try {
      const live = await json<SplitCreator>('/__diamonds/split-creator?live=1');
      const { element, shadow } = await mount('', undefined, 'en', live.creatorId);
      await until(() => reads.answered(live.creatorId) === 1, 'the split read');
      // Live without a split: no line (the fixture's round trip below happens after the answer was shown).
      await setLiveSplit(live, 4000);
      await element.updateComplete;
      assert(!shadow.querySelector('[part~="split"]'), 'no line while the live session has no split');
      // Opening the picker asks again: the creator may have split their live since the page loaded
      // (two seconds after the first answer, which the browser may keep that long).
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      part(shadow, 'button').click();
      await until(() => shadow.querySelector('[part~="split"]'), 'the split line');
      assertEqual(text(shadow, 'split'), 'Shared: Ada 60% · Bo 40%', 'the paywall’s line');
      assert(
        part(shadow, 'split').compareDocumentPosition(part(shadow, 'send')) & Node.DOCUMENT_POSITION_FOLLOWING,
        'shown before the Send button',
      );
      assertEqual(await axeViolations(element), '', 'axe-core with the line and the picker');

      // A one-click button shows it under its price.
      const oneClick = await mount('gift="rose"', undefined, 'en', live.creatorId);
      await until(() => oneClick.shadow.querySelector('[part~="split"]'), 'the one-click button’s line');
      assertEqual(text(oneClick.shadow, 'split'), 'Shared: Ada 60% · Bo 40%', 'one-click line');
      assertEqual(part(oneClick.shadow, 'button').nextElementSibling, part(oneClick.shadow, 'split'), 'right under the priced button');

      // Another creator, not live: the line goes at once, and no answer brings one back.
      const offline = await json<SplitCreator>('/__diamonds/split-creator');
      oneClick.element.creator = offline.creatorId;
      await oneClick.element.updateComplete;
      assert(!oneClick.shadow.querySelector('[part~="split"]'), 'gone with the creator');
      await until(() => reads.answered(offline.creatorId) === 1, 'the offline creator’s split read');
      await fixture();
      await oneClick.element.updateComplete;
      assert(!oneClick.shadow.querySelector('[part~="split"]'), 'no line for a creator who is not live');
    } finally {
      reads.stop();
    }
  });

  it('asks the platform once for the site’s creators, however many gift buttons a page has', async function () {
    this.timeout(20000);
    const info = await fixture();
    stubOpen();
    // Past the 5 s the browser keeps an earlier test's answer: the four buttons' requests race.
    await new Promise((resolve) => setTimeout(resolve, 5_100));
    const requests = await requestsOfFourButtons(info, info.creatorId, '/v1/site/creators', (button) => {
      return (button as unknown as { _creators?: unknown })._creators;
    });
    assertEqual(requests, 1, 'requests that reached the platform for four buttons');
  });

  it('asks the platform once for a live creator’s split, however many gift buttons a page has', async function () {
    this.timeout(10000);
    const info = await fixture();
    const live = await json<SplitCreator>('/__diamonds/split-creator?live=1');
    await setLiveSplit(live, 4000);
    stubOpen();
    const requests = await requestsOfFourButtons(info, live.creatorId, '/v1/live/:creatorId/split', (button) => {
      return button.shadowRoot?.querySelector('[part~="split"]');
    });
    assertEqual(requests, 1, 'requests that reached the platform for four buttons');
  });

  it('writes the live split in the page’s language', async function () {
    this.timeout(10000);
    const info = await fixture();
    const live = await json<SplitCreator>('/__diamonds/split-creator?live=1');
    await setLiveSplit(live, 4000);
    stubOpen();
    const container = mountMarkup(
      `<diamond-provider publishable-key="${info.publishableKey}" api-base="${info.apiBase}" locale="de"><diamond-gift-button creator="${live.creatorId}" gift="rose"></diamond-gift-button></diamond-provider>`,
    );
    const shadow = await until(() => container.querySelector('diamond-gift-button')?.shadowRoot, 'the button');
    await until(() => shadow.querySelector('[part~="split"]'), 'the split line');
    assertEqual(text(shadow, 'split'), 'Geteilt: Ada 60% · Bo 40%', 'the line in German');
  });

  it('speaks German with locale="de"', async () => {
    const { element, shadow } = await mount('gift="rose"', 'balance=100&allowance=50', 'de');
    assertEqual(text(shadow, 'button'), 'Rose für 5 Diamonds senden', 'label');
    const sent = nextSent(element);
    part(shadow, 'button').click();
    await sent;
    await element.updateComplete;
    assertEqual(text(shadow, 'status'), 'Rose an Demo Creator gesendet. Danke!', 'success');
  });
});

// Coffee × 6: 60 Diamonds, a one-click gift to the site's owner.
spendContract({
  name: '<diamond-gift-button>',
  price: 60,
  mount: (fan) => mount('gift="coffee" quantity="6"', fan),
  succeeded: 'diamond-gift-sent',
  spendPath: /\/v1\/gifts$/,
  forgotten: (shadow) => !shadow.querySelector('[part~="art"]'),
});
