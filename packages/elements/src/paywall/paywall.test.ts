// Runs in Chromium through @web/test-runner (mocha's describe/it are globals there), against the
// real platform its config starts. window.open is stubbed: no test opens a real popup.
import { emulateMedia, sendKeys, setViewport } from '@web/test-runner-commands';
import { createDiamonds } from '@diamonds/sdk';
import type { Content, UnlockedContent } from '@diamonds/sdk';
import { DiamondPaywall } from './paywall.js';
import type { DiamondUnlockedEvent } from '../events/unlocked.js';
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

/** The demo content by kind: priced (50, Markdown), supporters (threshold 100), link (120). */
let kinds: { priced: string; supporters: string; link: string } | undefined;

async function demoContent(): Promise<NonNullable<typeof kinds>> {
  if (!kinds) {
    const info = await fixture();
    const client = createDiamonds({ publishableKey: info.publishableKey, apiBase: info.apiBase, storage: 'memory' });
    const all: Content[] = await Promise.all(info.contentIds.map((id) => client.content.get(id)));
    const find = (test: (c: Content) => boolean): string => all.find(test)!.id;
    kinds = {
      priced: find((c) => c.priceDiamonds === 50),
      supporters: find((c) => c.thresholdDiamonds === 100),
      link: find((c) => c.format === 'external'),
    };
  }
  return kinds;
}

/**
 * A `<diamond-paywall>` for the content of `kind` in a provider with its own client (storage
 * 'local', so a fan written by `newFan` is signed in), once its content loaded.
 */
async function mount(
  kind: 'priced' | 'supporters' | 'link',
  options: { fan?: string; inner?: string; locale?: string } = {},
): Promise<MountedInProvider<DiamondPaywall>> {
  const { inner, ...rest } = options;
  return mountInProvider({
    markup: `<diamond-paywall content="${(await demoContent())[kind]}">${inner ?? ''}</diamond-paywall>`,
    tag: 'diamond-paywall',
    type: DiamondPaywall,
    ready: '[part~="rule"], [part~="body"], [part~="link"], slot[name="unlocked"]',
    ...rest,
  });
}

function nextUnlocked(element: HTMLElement): Promise<UnlockedContent> {
  return new Promise((resolve) =>
    element.addEventListener('diamond-unlocked', (event: DiamondUnlockedEvent) => resolve(event.detail), { once: true }),
  );
}

const confirmStep = 'You are signed in. Press Unlock to confirm the unlock in the Diamonds window.';

describe('<diamond-paywall>', () => {
  it('unlocks priced content within the allowance, shows the body and emits the receipt', async () => {
    const { element, client, shadow } = await mount('priced', { fan: 'balance=100&allowance=60' });
    assertEqual(text(shadow, 'teaser'), 'Storyboards, the gear list, and the three takes that did not make it.', 'server teaser');
    assertEqual(text(shadow, 'button'), 'Unlock for 50 Diamonds', 'the price on the button');
    assert(!shadow.querySelector('[part~="body"]'), 'no body before unlocking');
    const unlocked = nextUnlocked(element);
    part(shadow, 'button').click();
    await element.updateComplete;
    assertEqual(text(shadow, 'status'), 'Unlocking…', 'progress announced');
    const detail = await unlocked;
    assertEqual(opened.length, 0, 'no popup within the allowance');
    assert(detail.receipt.split('.').length === 3, 'a JWT receipt');
    assertEqual(detail.entitlement.amountDiamonds, 50, 'paid 50');
    assertEqual(element.receipt, detail.receipt, 'receipt property');
    await until(() => shadow.querySelector('[part~="body"] h2')?.textContent === 'Storyboards', 'the body HTML');
    assertEqual(text(shadow, 'status'), 'Unlocked. Enjoy!', 'success announced');
    assert(!shadow.querySelector('[part~="button"]'), 'no unlock button once unlocked');
    assertEqual((await client.wallet.refresh()).balanceDiamonds, 50, 'balance on the server');
  });

  it('shows a returning fan the content without paying again', async () => {
    const { element, client, shadow } = await mount('priced', { fan: 'balance=100&allowance=60' });
    const unlocked = nextUnlocked(element);
    part(shadow, 'button').click();
    await unlocked;
    // A new element (as after a reload), same fan.
    const again = document.createElement('diamond-paywall');
    again.content = element.content;
    element.parentElement!.append(again);
    let events = 0;
    again.addEventListener('diamond-unlocked', () => events++);
    await until(() => again.shadowRoot?.querySelector('[part~="body"] h2'), 'the body for the returning fan');
    assert(!again.shadowRoot!.querySelector('[part~="button"]'), 'no unlock button');
    assertEqual(events, 0, 'no new unlock');
    assertEqual((await client.wallet.refresh()).balanceDiamonds, 50, 'charged once');
  });

  it('asks for confirmation beyond the allowance and unlocks once approved', async () => {
    const { element, client, shadow } = await mount('priced', { fan: 'balance=100&allowance=10' });
    const unlocked = nextUnlocked(element);
    const idle = element.getBoundingClientRect().height;
    part(shadow, 'button').click();
    assertEqual(opened.length, 1, 'the popup opened in the click');
    const id = await confirmationInPopup();
    await until(() => text(shadow, 'status') === 'Confirm in the Diamonds window…', 'the confirming state');
    // The status has its line reserved: nothing around the element jumps when it appears.
    assertEqual(element.getBoundingClientRect().height, idle, 'height while confirming');
    await json(`/__diamonds/decide?id=${id}&approve=1`);
    assert((await unlocked).receipt, 'receipt');
    await until(() => shadow.querySelector('[part~="body"] h2'), 'the body');
    assertEqual((await client.wallet.refresh()).balanceDiamonds, 50, 'balance on the server');
  });

  it('says when the fan declined, and emits diamond-error', async () => {
    const { element, shadow } = await mount('priced', { fan: 'balance=100&allowance=10' });
    let error: unknown;
    element.addEventListener('diamond-error', (event) => (error = (event as CustomEvent<{ error: unknown }>).detail.error));
    part(shadow, 'button').click();
    await json(`/__diamonds/decide?id=${await confirmationInPopup()}&approve=0`);
    await until(() => text(shadow, 'error') === 'You declined. Nothing was charged.', 'the declined message');
    assertEqual(part(shadow, 'error').getAttribute('role'), 'alert', 'an alert');
    assertEqual((error as { code?: string }).code, 'confirmation_declined', 'diamond-error detail');
    assert(!(part(shadow, 'button') as HTMLButtonElement).disabled, 'can try again');
    assert(!shadow.querySelector('[part~="body"]'), 'still locked');
  });

  it('offers a top-up when the wallet holds too little', async () => {
    const { shadow } = await mount('priced', { fan: 'balance=10&allowance=100' });
    part(shadow, 'button').click();
    await until(() => text(shadow, 'error') === 'Not enough Diamonds. Top up to continue.', 'the insufficient message');
    assertEqual(opened.length, 0, 'no popup for a spend that cannot be paid');
    await until(() => shadow.querySelector('[part~="top-up"]'), 'the top-up button');
  });

  it('shows a fan below the support threshold the progress, and no unlock button', async () => {
    const { shadow } = await mount('supporters', { fan: 'balance=100&allowance=50' });
    assertEqual(text(shadow, 'rule'), 'For supporters who have sent 100 Diamonds in gifts', 'the threshold');
    assert(part(shadow, 'base').textContent?.includes('You have sent 0 Diamonds; 100 Diamonds to go.'), 'progress');
    const progress = part(shadow, 'progress') as HTMLProgressElement;
    assertEqual(progress.value, 0, 'progress value');
    assertEqual(progress.max, 100, 'progress max');
    assert(!shadow.querySelector('[part~="button"]'), 'no unlock button');
  });

  it('signs a signed-out fan in from the Unlock click', async () => {
    const { shadow } = await mount('supporters');
    assertEqual(text(shadow, 'button'), 'Sign in to unlock', 'signed-out label');
    part(shadow, 'button').click();
    assertEqual(opened.length, 1, 'the sign-in popup opened in the click');
    await until(() => text(shadow, 'status') === 'Continue in the Diamonds window to sign in and unlock…', 'the signing-in state');
    opened[0]!.closed = true;
    await until(() => text(shadow, 'error') === 'The Diamonds window was closed before you finished.', 'the popup-closed message');
  });

  it('signs a signed-out fan in and unlocks at once within the allowance', async () => {
    const { element, client, shadow } = await mount('priced');
    assertEqual(text(shadow, 'button'), 'Unlock for 50 Diamonds', 'the button');
    const unlocked = nextUnlocked(element);
    part(shadow, 'button').click();
    assertEqual(opened.length, 1, 'the sign-in popup opened in the click');
    await approveSignIn('balance=100&allowance=60');
    assertEqual((await unlocked).entitlement.amountDiamonds, 50, 'unlocked for the price');
    assertEqual(opened.length, 1, 'no other popup');
    await until(() => shadow.querySelector('[part~="body"] h2'), 'the body');
    assertEqual(text(shadow, 'status'), 'Unlocked. Enjoy!', 'success announced');
    assertEqual((await client.wallet.refresh()).balanceDiamonds, 50, 'charged once, on the server');
  });

  it('signs in, then beyond the allowance asks for one more key press that opens the confirmation', async () => {
    const { element, client, shadow } = await mount('priced');
    part(shadow, 'button').focus();
    await sendKeys({ press: 'Enter' });
    assertEqual(opened.length, 1, 'the sign-in popup opened by Enter');
    await approveSignIn('balance=100&allowance=10');
    await until(() => text(shadow, 'status') === confirmStep, 'the confirm step');
    assertEqual(opened.length, 1, 'no popup outside a click');
    assertEqual(text(shadow, 'button'), 'Unlock for 50 Diamonds', 'the Unlock button');
    assert(!(part(shadow, 'button') as HTMLButtonElement).disabled, 'the button enabled');
    assertEqual(shadow.activeElement, part(shadow, 'button'), 'focus on Unlock');
    const unlocked = nextUnlocked(element);
    await sendKeys({ press: 'Space' });
    assertEqual(opened.length, 2, 'the confirmation popup opened in the key press');
    const id = await confirmationInPopup(1);
    await until(() => text(shadow, 'status') === 'Confirm in the Diamonds window…', 'the confirming state');
    await json(`/__diamonds/decide?id=${id}&approve=1`);
    assert((await unlocked).receipt, 'unlocked once approved, with the receipt');
    await until(() => shadow.querySelector('[part~="body"] h2'), 'the body');
    assertEqual((await client.wallet.refresh()).balanceDiamonds, 50, 'balance on the server');
  });

  it('signs in and offers a top-up at once when the wallet holds too little, without a confirm step', async () => {
    const { shadow } = await mount('priced');
    part(shadow, 'button').click();
    await approveSignIn('balance=10&allowance=0');
    await until(() => text(shadow, 'error') === 'Not enough Diamonds. Top up to continue.', 'the insufficient message');
    assertEqual(opened.length, 1, 'only the sign-in popup');
    await until(() => shadow.querySelector('[part~="top-up"]'), 'the top-up button');
  });

  it('reveals slot="unlocked" instead of fetching the body, and keeps its own teaser', async () => {
    const { element, shadow } = await mount('priced', {
      fan: 'balance=100&allowance=60',
      inner: '<p slot="teaser">My teaser</p><article slot="unlocked">Site content</article>',
    });
    const teaser = part(shadow, 'teaser').querySelector('slot')!.assignedElements()[0];
    assertEqual(teaser?.textContent, 'My teaser', 'slotted teaser');
    assert(!shadow.querySelector('slot[name="unlocked"]'), 'hidden before unlocking');
    const bodies: string[] = [];
    const realFetch = window.fetch;
    window.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.includes('/body')) bodies.push(url);
      return realFetch(input, init);
    }) as typeof fetch;
    try {
      const unlocked = nextUnlocked(element);
      part(shadow, 'button').click();
      await unlocked;
      const slot = await until(() => shadow.querySelector<HTMLSlotElement>('slot[name="unlocked"]'), 'the unlocked slot');
      assertEqual(slot.assignedElements()[0]?.textContent, 'Site content', 'slotted content revealed');
      assert(!shadow.querySelector('[part~="body"]'), 'no body');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assertEqual(bodies.length, 0, 'the body was not fetched');
    } finally {
      window.fetch = realFetch;
    }
  });

  it('locks again when the fan signs out: the body, the receipt and the slotted content go, Unlock comes back', async () => {
    const { element, client, shadow } = await mount('priced', { fan: 'balance=100&allowance=60' });
    const unlocked = nextUnlocked(element);
    part(shadow, 'button').click();
    await unlocked;
    await until(() => shadow.querySelector('[part~="body"] h2'), 'the body');
    await client.signOut();
    await until(() => !shadow.querySelector('[part~="body"]'), 'the body to go without a reload');
    await until(() => shadow.querySelector('[part~="button"]'), 'the Unlock button');
    assertEqual(text(shadow, 'button'), 'Unlock for 50 Diamonds', 'the price again');
    assertEqual(text(shadow, 'status'), '', 'no "Unlocked" left');
    assertEqual(element.receipt, undefined, 'no receipt');

    localStorage.clear();
    const slotted = await mount('priced', { fan: 'balance=100&allowance=60', inner: '<article slot="unlocked">Site content</article>' });
    const opened = nextUnlocked(slotted.element);
    part(slotted.shadow, 'button').click();
    await opened;
    await until(() => slotted.shadow.querySelector('slot[name="unlocked"]'), 'the slotted content');
    await slotted.client.signOut();
    await until(() => !slotted.shadow.querySelector('slot[name="unlocked"]'), 'the slotted content hidden again');
  });

  it('links to external content once unlocked', async () => {
    const { element, shadow } = await mount('link', { fan: 'balance=200&allowance=200' });
    assertEqual(text(shadow, 'button'), 'Unlock for 120 Diamonds', 'price');
    part(shadow, 'button').click();
    await nextUnlocked(element);
    const link = (await until(() => shadow.querySelector<HTMLAnchorElement>('[part~="link"]'), 'the link')) as HTMLAnchorElement;
    assertEqual(link.textContent?.trim(), 'Open the content', 'link text');
    assertEqual(link.href, 'https://example.com/wallpapers.zip', 'link href');
    assertEqual(link.rel, 'noopener noreferrer', 'rel');
  });

  it('unlocks with the keyboard (Tab, then Enter)', async () => {
    const { element, shadow } = await mount('priced', { fan: 'balance=100&allowance=60' });
    const before = document.createElement('button');
    before.textContent = 'before';
    element.before(before);
    before.focus();
    await sendKeys({ press: 'Tab' });
    assertEqual(shadow.activeElement, part(shadow, 'button'), 'Tab reaches the Unlock button');
    const unlocked = nextUnlocked(element);
    await sendKeys({ press: 'Enter' });
    await unlocked;
    await until(() => shadow.querySelector('[part~="body"] h2'), 'the body');
  });

  it('unlocks with Space', async () => {
    const { element, shadow } = await mount('priced', { fan: 'balance=100&allowance=60' });
    part(shadow, 'button').focus();
    const unlocked = nextUnlocked(element);
    await sendKeys({ press: 'Space' });
    await unlocked;
  });

  for (const [scheme, phone] of [
    ['light', false],
    ['dark', false],
    ['light', true],
    ['dark', true],
  ] as const) {
    it(`passes axe-core in ${scheme}${phone ? ' on a 390×844 phone' : ''}: locked, confirm step, progress, error and unlocked`, async function () {
      this.timeout(10000);
      await emulateMedia({ colorScheme: scheme });
      if (phone) await setViewport(PHONE);
      const dark = (container: HTMLElement): void => {
        if (scheme === 'dark') container.style.cssText = 'background:#121018;color-scheme:dark;padding:1em';
      };
      const priced = await mount('priced', { fan: 'balance=10&allowance=60' });
      dark(priced.container);
      assertEqual(await axeViolations(priced.element), '', 'locked');
      part(priced.shadow, 'button').click();
      await until(() => priced.shadow.querySelector('[part~="top-up"]'), 'the top-up offer');
      assertEqual(await axeViolations(priced.element), '', 'insufficient');
      localStorage.clear();
      const confirming = await mount('priced');
      dark(confirming.container);
      part(confirming.shadow, 'button').click();
      await approveSignIn('balance=100&allowance=10', opened.length - 1);
      await until(() => text(confirming.shadow, 'status') === confirmStep, 'the confirm step');
      assertEqual(await axeViolations(confirming.element), '', 'confirm step');
      const supporters = await mount('supporters', { fan: 'balance=0&allowance=0' });
      dark(supporters.container);
      assertEqual(await axeViolations(supporters.element), '', 'progress');
      const open = await mount('priced', { fan: 'balance=100&allowance=60' });
      dark(open.container);
      part(open.shadow, 'button').click();
      await until(() => open.shadow.querySelector('[part~="body"] h2'), 'the body');
      assertEqual(await axeViolations(open.element), '', 'unlocked');
    });
  }

  it('speaks German with locale="de"', async () => {
    const { element, shadow } = await mount('priced', { fan: 'balance=100&allowance=60', locale: 'de' });
    assertEqual(text(shadow, 'button'), 'Für 50 Diamonds freischalten', 'label');
    part(shadow, 'button').click();
    await nextUnlocked(element);
    await until(() => text(shadow, 'status') === 'Freigeschaltet. Viel Spaß!', 'success');
    const supporters = await mount('supporters', { fan: 'balance=0', locale: 'de' });
    assert(part(supporters.shadow, 'base').textContent?.includes('Du hast 0 Diamonds gesendet; noch 100 Diamonds.'), 'progress in German');
  });
});

// The priced post: 50 Diamonds.
spendContract({
  name: '<diamond-paywall>',
  price: 50,
  mount: (fan) => mount('priced', { fan }),
  succeeded: 'diamond-unlocked',
  spendPath: /\/v1\/content\/ct_[\w-]+\/unlock$/,
  forgotten: (shadow) => !shadow.querySelector('[part~="body"]') && shadow.querySelector('[part~="button"]') !== null,
});
