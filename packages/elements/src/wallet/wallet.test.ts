// Runs in Chromium through @web/test-runner, against the real platform its config starts.
import type { DiamondsClient } from '@diamonds/sdk';
import { emulateMedia, sendKeys, setViewport } from '@web/test-runner-commands';
import type AxeCore from 'axe-core';
import '../provider/define.js';
import { DiamondWallet } from './wallet.js';
import './define.js';
// The German strings are opt-in for bundles (the drop-in script has them); the German tests need them.
import '../i18n/locales/de.js';
import {
  assert,
  assertEqual,
  assertInViewport,
  attach,
  axeViolations,
  type FakePopup,
  fakePopup,
  fixture,
  json,
  localClient,
  newFan,
  PHONE,
  until,
} from '../../test/support.js';

/** Replaces `window.open` with one that returns the same fake popup every time (never a real window). */
function stubPopup(): { popup: FakePopup; opened: () => number } {
  let count = 0;
  const popup = fakePopup();
  window.open = (() => {
    count += 1;
    return popup;
  }) as unknown as typeof window.open;
  return { popup, opened: () => count };
}

interface MountOptions {
  /** Query of `/__diamonds/fan` for a signed-in fan; signed out without it. */
  fan?: string;
  attributes?: string;
  /** The SDK's fetch: only for what the real platform cannot be made to do (a dropped connection). */
  fetch?: typeof fetch;
}

/** A `<diamond-wallet>` in a provider with a fresh client (storage "local"), signed in when asked. */
async function mount(options: MountOptions = {}): Promise<{ wallet: DiamondWallet; client: DiamondsClient }> {
  const info = await fixture();
  if (options.fan) await newFan(options.fan);
  const client = localClient(info, { fetch: options.fetch });
  const provider = document.createElement('diamond-provider');
  provider.client = client;
  provider.innerHTML = `<diamond-wallet ${options.attributes ?? ''}></diamond-wallet>`;
  attach(provider);
  const wallet = provider.querySelector('diamond-wallet');
  assert(wallet instanceof DiamondWallet, 'upgraded to DiamondWallet');
  await wallet.updateComplete;
  return { wallet, client };
}

function part(wallet: DiamondWallet, name: string): HTMLElement | null {
  return wallet.shadowRoot!.querySelector<HTMLElement>(`[part~="${name}"]`);
}

function text(wallet: DiamondWallet, name: string): string {
  return part(wallet, name)?.textContent?.replace(/\s+/g, ' ').trim() ?? '';
}

function role(wallet: DiamondWallet, name: 'status' | 'alert'): string {
  return wallet.shadowRoot!.querySelector(`[role="${name}"]`)?.textContent?.trim() ?? '';
}

/**
 * What the fan does on the payment page in `popup`: pays the top-up it shows with the test card
 * (the platform credits it); the page's SDK then learns it from the platform, as it would.
 */
async function payTopUp(popup: FakePopup): Promise<void> {
  await until(() => /\/topup\/tu_\w+/.test(popup.location.href), 'the payment page');
  const id = /\/topup\/(tu_\w+)/.exec(popup.location.href)![1]!;
  const paid = await json<{ result: string }>(`/__diamonds/pay-topup?id=${id}`);
  assertEqual(paid.result, 'succeeded', 'the top-up paid');
}

const signedIn = (wallet: DiamondWallet) => () => text(wallet, 'balance').includes('100') && part(wallet, 'packs');

describe('<diamond-wallet>', () => {
  it('signed out: a sign-in button that opens the sign-in popup in the click', async () => {
    const { wallet, client } = await mount({ attributes: 'layout="full"' });
    const button = part(wallet, 'sign-in');
    assert(button, 'sign-in button');
    assertEqual(button.textContent?.trim(), 'Sign in with Diamonds', 'label');
    assert(!part(wallet, 'panel'), 'no panel while signed out');
    const { popup, opened } = stubPopup();
    button.focus();
    button.click();
    assertEqual(opened(), 1, 'window.open called synchronously in the click');
    assertEqual(client.session.get().status, 'signing_in', 'signing in');
    await wallet.updateComplete;
    assertEqual(role(wallet, 'status'), 'Continue in the Diamonds window to sign in…', 'announced');
    await until(() => popup.location.href.includes('/signin'), 'the popup to go to the sign-in page');
    popup.closed = true;
    await until(() => role(wallet, 'alert'), 'the alert');
    assertEqual(role(wallet, 'alert'), 'The Diamonds window was closed before you finished.', 'alert');
    assertEqual(client.session.get().status, 'signed_out', 'signed out again');
    await until(() => wallet.shadowRoot!.activeElement === part(wallet, 'sign-in'), 'focus back on the sign-in button');
  });

  it('follows a sign-in made in another tab, with diamond-signed-in', async () => {
    const { wallet } = await mount({ attributes: 'layout="full" locale="en-US"' });
    assert(part(wallet, 'sign-in'), 'signed out first');
    const events: string[] = [];
    wallet.addEventListener('diamond-signed-in', (event) => events.push(event.detail.fan.displayName));
    const fan = await newFan('balance=100&allowance=50&name=Bo');
    window.dispatchEvent(new StorageEvent('storage', { key: fan.storageKey, newValue: fan.storageValue, storageArea: localStorage }));
    await until(signedIn(wallet), 'the balance');
    assertEqual(events.join(), 'Bo', 'diamond-signed-in');
    assertEqual(text(wallet, 'name'), 'Bo', 'name');
  });

  it('signed in: name, balance, allowance, and the balance event', async () => {
    const changes: number[] = [];
    const listener = (event: Event) => changes.push((event as CustomEvent<{ balanceDiamonds: number }>).detail.balanceDiamonds);
    document.addEventListener('diamond-balance-changed', listener);
    try {
      const { wallet } = await mount({ fan: 'balance=100&allowance=50&name=Ann', attributes: 'layout="full" locale="en-US"' });
      assertEqual(role(wallet, 'status'), 'Loading…', 'loading, announced');
      assert(wallet.matches(':state(loading)'), 'the loading custom state');
      await until(signedIn(wallet), 'the balance');
      assert(!wallet.matches(':state(loading)'), 'loaded');
      assertEqual(text(wallet, 'name'), 'Ann', 'name');
      assertEqual(text(wallet, 'balance'), 'Balance 100 Diamonds', 'balance');
      assertEqual(text(wallet, 'allowance'), '50 of 50 left today on this site', 'allowance');
      assert(!part(wallet, 'held'), 'nothing held');
      assert(!part(wallet, 'pill'), 'no pill in the full layout');
      assert(!part(wallet, 'panel')!.hidden, 'panel inline');
      assertEqual(changes.join(), '100', 'diamond-balance-changed');
    } finally {
      document.removeEventListener('diamond-balance-changed', listener);
    }
  });

  it('says nothing of an allowance when the fan allowed none (every spend asks them), not "0 of 0 left"', async () => {
    const { wallet } = await mount({ fan: 'balance=100&allowance=0&name=Ann', attributes: 'layout="full" locale="en-US"' });
    await until(signedIn(wallet), 'the balance');
    assertEqual(text(wallet, 'balance'), 'Balance 100 Diamonds', 'balance');
    assert(!part(wallet, 'allowance'), 'no allowance line');
  });

  it('compact: the pill opens and closes the panel with Enter, Space and Escape', async () => {
    const { wallet } = await mount({ fan: 'balance=100&allowance=50', attributes: 'locale="en-US"' });
    await until(() => text(wallet, 'pill').includes('100'), 'the pill');
    const pill = part(wallet, 'pill')!;
    const panel = part(wallet, 'panel')!;
    assertEqual(pill.getAttribute('aria-expanded'), 'false', 'collapsed');
    assertEqual(pill.getAttribute('aria-controls'), panel.id, 'controls the panel');
    assert(pill.getAttribute('aria-label')?.includes('100 Diamonds'), 'name with the balance');
    assert(panel.hidden, 'panel hidden');
    pill.focus();
    await sendKeys({ press: 'Enter' });
    await wallet.updateComplete;
    assertEqual(pill.getAttribute('aria-expanded'), 'true', 'expanded by Enter');
    assert(!panel.hidden, 'panel shown');
    await until(() => part(wallet, 'history'), 'the history, fetched on open');
    await sendKeys({ press: 'Tab' });
    assert(wallet.shadowRoot!.activeElement?.getAttribute('part') === 'pack', 'Tab moves into the panel');
    await sendKeys({ press: 'Escape' });
    await wallet.updateComplete;
    assert(panel.hidden, 'closed by Escape');
    assertEqual(wallet.shadowRoot!.activeElement, pill, 'focus back on the pill');
    await sendKeys({ press: 'Space' });
    await wallet.updateComplete;
    assert(!panel.hidden && wallet.open, 'opened by Space');
    await sendKeys({ press: 'Space' });
    await wallet.updateComplete;
    assert(panel.hidden, 'closed by Space');
  });

  it('opens the panel without motion under prefers-reduced-motion', async () => {
    const { wallet } = await mount({ fan: 'balance=100&allowance=50', attributes: 'locale="en-US"' });
    await until(() => part(wallet, 'pill'), 'the pill');
    part(wallet, 'pill')!.click();
    await wallet.updateComplete;
    assertEqual(wallet.shadowRoot!.getAnimations().length, 1, 'the panel fades in by default');
    part(wallet, 'pill')!.click();
    await emulateMedia({ reducedMotion: 'reduce' });
    try {
      await wallet.updateComplete;
      part(wallet, 'pill')!.click();
      await wallet.updateComplete;
      assertEqual(wallet.shadowRoot!.getAnimations().length, 0, 'no animation');
    } finally {
      await emulateMedia({ reducedMotion: 'no-preference' });
    }
  });

  it('lists the packs with prices in USD for en-US, and EUR with German strings for de', async () => {
    const { wallet, client } = await mount({ fan: 'balance=100&allowance=50', attributes: 'layout="full" locale="en-US"' });
    await until(signedIn(wallet), 'the packs');
    const usd = await client.topUpPacks('USD');
    const labels = [...wallet.shadowRoot!.querySelectorAll('[part~="pack"]')].map((b) => b.textContent?.trim());
    const dollars = (minor: number) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(minor / 100);
    assertEqual(
      labels.join('|'),
      usd.map((p) => `Buy ${p.diamonds.toLocaleString('en-US')} Diamonds for ${dollars(p.price.amountMinor)}`).join('|'),
      'USD packs',
    );

    wallet.locale = 'de';
    await until(() => text(wallet, 'packs').includes('€'), 'EUR packs');
    const eur = await client.topUpPacks('EUR');
    const euros = (minor: number) => new Intl.NumberFormat('de', { style: 'currency', currency: 'EUR' }).format(minor / 100);
    const first = wallet.shadowRoot!.querySelector('[part~="pack"]')?.textContent?.trim();
    assertEqual(first, `${eur[0]!.diamonds.toLocaleString('de')} Diamonds für ${euros(eur[0]!.price.amountMinor)} kaufen`, 'EUR pack');
    assertEqual(text(wallet, 'balance'), 'Guthaben 100 Diamonds', 'German balance');
    assertEqual(text(wallet, 'allowance'), 'Heute noch 50 von 50 auf dieser Seite', 'German allowance');
    assertEqual(text(wallet, 'sign-out'), 'Abmelden', 'German sign-out');

    wallet.currency = 'GBP';
    await until(() => text(wallet, 'packs').includes('£'), 'the currency attribute wins');
  });

  it('says "declined" on a gift the fan declined, not only striking it through', async () => {
    const { wallet, client } = await mount({ fan: 'balance=100&allowance=50', attributes: 'layout="full" locale="en-US"' });
    await until(signedIn(wallet), 'the balance');
    const { popup } = stubPopup();
    const info = await fixture();
    // Beyond the allowance: the gift waits for a confirmation, which the fan declines.
    const gift = client.gifts.send({ creatorId: info.creatorId, giftId: 'coffee', quantity: 6 }).catch((error: unknown) => error);
    const id = await until(() => popup.location.href.match(/\/confirm\/(cnf_[\w-]+)/)?.[1], 'the confirmation');
    await json(`/__diamonds/decide?id=${id}&approve=0`);
    assertEqual(((await gift) as { code?: string }).code, 'confirmation_declined', 'declined');
    wallet.open = false;
    await wallet.updateComplete;
    wallet.open = true;
    const entry = await until(() => wallet.shadowRoot!.querySelector('[part~="entry"].voided'), 'the declined entry');
    const words = entry.textContent!.replace(/\s+/g, ' ');
    assert(/\(declined or expired\)/.test(words), `the word "declined" in: ${words}`);
  });

  it('opens the whole panel on a 390×844 phone screen, and passes axe-core there in light and dark', async function () {
    this.timeout(10000);
    await setViewport(PHONE);
    for (const scheme of ['light', 'dark'] as const) {
      await emulateMedia({ colorScheme: scheme });
      // The pill near the left of a phone's header, as the issue found it (panel at −178 px).
      const { wallet } = await mount({ fan: 'balance=100&allowance=50', attributes: 'locale="en-US"' });
      const provider = wallet.parentElement!;
      provider.style.cssText = `display:block;padding:8px 0 0 40px${scheme === 'dark' ? ';background:#121018;color-scheme:dark' : ''}`;
      await until(() => part(wallet, 'pill') && text(wallet, 'pill').includes('100'), 'the pill');
      part(wallet, 'pill')!.click();
      await until(() => part(wallet, 'history') && part(wallet, 'packs'), 'the history and packs');
      await Promise.all(wallet.shadowRoot!.getAnimations().map((animation) => animation.finished));
      assertInViewport(part(wallet, 'panel')!, `the panel (${scheme})`);
      for (const name of ['pack', 'sign-out']) {
        part(wallet, name)!.scrollIntoView({ block: 'nearest' });
        assertInViewport(part(wallet, name)!, `${name} (${scheme})`);
      }
      assertEqual(await axeViolations(wallet), '', `axe-core on a phone in ${scheme}`);
      provider.remove();
    }
  });

  it('shows the recent history with the credit', async () => {
    const { wallet } = await mount({ fan: 'balance=100&allowance=50', attributes: 'layout="full" locale="en-US"' });
    await until(() => part(wallet, 'entry'), 'the history');
    const entries = [...wallet.shadowRoot!.querySelectorAll('[part~="entry"]')];
    assertEqual(entries.length, 1, 'one entry');
    const entry = entries[0]!.textContent!.replace(/\s+/g, ' ');
    assert(entry.includes('Test credit of 100 Diamonds') && entry.includes('+100 Diamonds'), `credited entry, got ${entry}`);
  });

  it('a top-up: the payment popup opens in the click, progress is announced, a closed window is an alert', async () => {
    const { wallet } = await mount({ fan: 'balance=100&allowance=50', attributes: 'layout="full" locale="en-US"' });
    await until(signedIn(wallet), 'the packs');
    const { popup, opened } = stubPopup();
    part(wallet, 'pack')!.click();
    assertEqual(opened(), 1, 'popup opened in the click');
    await wallet.updateComplete;
    assertEqual(role(wallet, 'status'), 'Finish paying in the Diamonds window…', 'in progress, announced');
    assert((part(wallet, 'pack') as HTMLButtonElement).disabled, 'packs disabled meanwhile');
    await until(() => popup.location.href.includes('/topup/'), 'the payment page');
    popup.closed = true;
    await until(() => role(wallet, 'alert'), 'the alert');
    assertEqual(role(wallet, 'alert'), 'The Diamonds window was closed before you finished.', 'failure message');
    assert(!(part(wallet, 'pack') as HTMLButtonElement).disabled, 'packs enabled again');
  });

  it('gives focus back to the pack that opened the payment popup once it is over', async () => {
    const { wallet } = await mount({ fan: 'balance=100&allowance=50', attributes: 'layout="full" locale="en-US"' });
    await until(signedIn(wallet), 'the packs');
    const { popup } = stubPopup();
    const pack = part(wallet, 'pack')!;
    pack.focus();
    await sendKeys({ press: 'Enter' });
    await until(() => popup.location.href.includes('/topup/'), 'the payment page');
    popup.closed = true;
    await until(() => role(wallet, 'alert'), 'the alert');
    await until(() => wallet.shadowRoot!.activeElement === pack, 'focus back on the pack');
  });

  it('a success notice is announced, then leaves after noticeMs (a top-up, then a sign-out)', async () => {
    const { wallet } = await mount({ fan: 'balance=100&allowance=50', attributes: 'layout="full" locale="en-US"' });
    await until(signedIn(wallet), 'the packs');
    const defaultMs = DiamondWallet.noticeMs;
    assertEqual(defaultMs, 6000, 'the default stays long enough to read and announce');
    DiamondWallet.noticeMs = 300;
    try {
      const { popup } = stubPopup();
      part(wallet, 'pack')!.click();
      await payTopUp(popup);
      await until(() => role(wallet, 'status').includes('added'), 'the top-up notice');
      const shownAt = Date.now();
      assert(/^[\d,]+ Diamonds added to your wallet\.$/.test(role(wallet, 'status')), `the notice: ${role(wallet, 'status')}`);
      assertEqual(part(wallet, 'status')!.getAttribute('role'), 'status', 'in the live region');
      await until(() => role(wallet, 'status') === '', 'the notice to leave');
      assert(Date.now() - shownAt >= 200, 'not before its time');
      part(wallet, 'sign-out')!.click();
      await until(() => role(wallet, 'status') === 'You are signed out.', 'the signed-out notice');
      await until(() => role(wallet, 'status') === '', 'the signed-out notice to leave');
    } finally {
      DiamondWallet.noticeMs = defaultMs;
    }
  });

  it('a success notice leaves when the panel closes (Escape, or the pill)', async () => {
    const { wallet } = await mount({ fan: 'balance=100&allowance=50', attributes: 'open locale="en-US"' });
    await until(signedIn(wallet), 'the packs');
    const topUp = async () => {
      const { popup } = stubPopup();
      part(wallet, 'pack')!.click();
      await payTopUp(popup);
      await until(() => role(wallet, 'status').includes('added'), 'the top-up notice');
      await until(() => !(part(wallet, 'pack') as HTMLButtonElement).disabled, 'the packs, enabled once the history is read');
    };
    await topUp();
    part(wallet, 'pack')!.focus();
    await sendKeys({ press: 'Escape' });
    await wallet.updateComplete;
    assert(!wallet.open, 'closed by Escape');
    assertEqual(role(wallet, 'status'), '', 'the notice left with the panel');
    part(wallet, 'pill')!.click();
    await wallet.updateComplete;
    await topUp();
    part(wallet, 'pill')!.click();
    await wallet.updateComplete;
    assertEqual(role(wallet, 'status'), '', 'the notice left when the pill closed the panel');
  });

  it('signs out: back to the sign-in button, with diamond-signed-out and focus on it', async () => {
    const { wallet, client } = await mount({ fan: 'balance=100&allowance=50&name=Ann', attributes: 'layout="full" locale="en-US"' });
    await until(signedIn(wallet), 'signed in');
    const events: string[] = [];
    wallet.addEventListener('diamond-signed-out', (event) => events.push(event.detail.fan?.displayName ?? ''));
    part(wallet, 'sign-out')!.click();
    await until(() => part(wallet, 'sign-in') && role(wallet, 'status'), 'signed out');
    assertEqual(client.session.get().status, 'signed_out', 'session');
    assertEqual(events.join(), 'Ann', 'diamond-signed-out');
    assertEqual(role(wallet, 'status'), 'You are signed out.', 'announced');
    assertEqual(wallet.shadowRoot!.activeElement, part(wallet, 'sign-in'), 'focus on the sign-in button');
  });

  it('an API error shows an alert with a retry that recovers', async () => {
    let failing = true;
    const flaky: typeof fetch = (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (failing && url.includes('/v1/wallet') && !url.includes('history')) return Promise.reject(new TypeError('Failed to fetch'));
      return fetch(input, init);
    };
    const errors: unknown[] = [];
    const { wallet } = await mount({ fan: 'balance=100&allowance=50', attributes: 'layout="full" locale="en-US"', fetch: flaky });
    wallet.addEventListener('diamond-error', (event) => errors.push((event as CustomEvent).detail));
    await until(() => role(wallet, 'alert'), 'the alert');
    assertEqual(role(wallet, 'alert'), 'Cannot reach Diamonds. Check your connection and try again.', 'alert');
    const retry = part(wallet, 'retry');
    assert(retry, 'retry button');
    failing = false;
    retry.click();
    await until(signedIn(wallet), 'the balance after retry');
    await wallet.updateComplete;
    assertEqual(role(wallet, 'alert'), '', 'alert cleared');
    assert(!part(wallet, 'retry'), 'retry gone');
  });

  for (const theme of ['light', 'dark'] as const) {
    it(`passes axe in ${theme}, signed in (compact open and full) and signed out`, async () => {
      // axe-core is a UMD script: imported as a module it installs itself on window.
      const imported = (await import('axe-core')) as { default?: typeof AxeCore };
      const axe = imported.default ?? (window as unknown as { axe: typeof AxeCore }).axe;
      const check = async (element: DiamondWallet, what: string) => {
        await Promise.all(element.shadowRoot!.getAnimations().map((animation) => animation.finished)); // the panel fades in
        const result = await axe.run(element, {
          runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
        });
        const found = result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(' ')}`);
        assertEqual(found.join('\n'), '', `axe violations (${what}, ${theme})`);
      };
      const full = await mount({ fan: 'balance=100&allowance=50', attributes: `layout="full" theme="${theme}" locale="en-US"` });
      await until(() => signedIn(full.wallet)() && part(full.wallet, 'history'), 'full wallet');
      await check(full.wallet, 'full');
      const compact = await mount({ fan: 'balance=100&allowance=50', attributes: `open theme="${theme}" locale="en-US"` });
      await until(() => signedIn(compact.wallet)() && part(compact.wallet, 'history'), 'compact wallet');
      await check(compact.wallet, 'compact, open');
      localStorage.clear();
      const out = await mount({ attributes: `theme="${theme}"` });
      await check(out.wallet, 'signed out');
    });
  }
});
