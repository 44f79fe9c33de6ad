// Runs in Chromium through @web/test-runner (mocha's describe/it are globals there).
import { DiamondAmount } from './amount.js';
import { defineElement } from '../define-element.js';
import './define.js';
import { assert, assertEqual, mountMarkup } from '../../test/support.js';

/** Renders `markup` into the document and waits for the first `<diamond-amount>` in it. */
async function mount(markup: string): Promise<DiamondAmount> {
  const container = mountMarkup(markup);
  const element = container.querySelector('diamond-amount');
  assert(element instanceof DiamondAmount, 'a <diamond-amount> upgraded to DiamondAmount');
  await element.updateComplete;
  return element;
}

function part(element: DiamondAmount, name: string): Element {
  const found = element.shadowRoot?.querySelector(`[part~="${name}"]`);
  assert(found, `part "${name}" exists`);
  return found;
}

/** What assistive technology reads: the visually hidden label. */
function label(element: DiamondAmount): string {
  return element.shadowRoot?.querySelector('.label')?.textContent ?? '';
}

describe('<diamond-amount>', () => {
  it('is registered by define.js', () => {
    assertEqual(customElements.get('diamond-amount'), DiamondAmount, 'registered class');
    assert(document.createElement('diamond-amount') instanceof DiamondAmount, 'createElement upgrades');
  });

  it('formats the value for en-US', async () => {
    const element = await mount('<diamond-amount value="1234567" locale="en-US"></diamond-amount>');
    assertEqual(part(element, 'amount').textContent, '1,234,567', 'amount');
    assertEqual(element.value, 1234567, 'value property from the attribute');
  });

  it('formats the value for de-DE', async () => {
    const element = await mount('<diamond-amount value="1234" locale="de-DE"></diamond-amount>');
    assertEqual(part(element, 'amount').textContent, '1.234', 'amount');
    assertEqual(label(element), '1.234 Diamonds', 'label');
  });

  it('falls back to the closest lang, then the document', async () => {
    const nested = await mount('<div lang="de-DE"><p><diamond-amount value="9876"></diamond-amount></p></div>');
    assertEqual(part(nested, 'amount').textContent, '9.876', 'amount under lang="de-DE"');
    const root = document.documentElement;
    const before = root.getAttribute('lang');
    root.setAttribute('lang', 'en-IN');
    try {
      const indian = await mount('<diamond-amount value="1234567"></diamond-amount>');
      assertEqual(part(indian, 'amount').textContent, '12,34,567', 'amount under <html lang="en-IN">');
    } finally {
      if (before === null) root.removeAttribute('lang');
      else root.setAttribute('lang', before);
    }
  });

  it('uses the runtime locale for a lang that is not a language tag', async () => {
    const element = await mount('<diamond-amount value="1234" locale="not a locale!"></diamond-amount>');
    assertEqual(part(element, 'amount').textContent, new Intl.NumberFormat().format(1234), 'amount');
  });

  it('has base, icon and amount parts, with a decorative icon', async () => {
    const element = await mount('<diamond-amount value="5" locale="en-US"></diamond-amount>');
    const base = part(element, 'base');
    const icon = part(element, 'icon');
    const amount = part(element, 'amount');
    assert(base.contains(icon) && base.contains(amount), 'icon and amount sit inside base');
    assertEqual(icon.localName, 'svg', 'icon element');
    assertEqual(icon.getAttribute('aria-hidden'), 'true', 'icon aria-hidden');
    assertEqual(amount.getAttribute('aria-hidden'), 'true', 'amount aria-hidden (the label speaks for it)');
  });

  it('labels the amount for assistive technology, in the singular for one', async () => {
    const many = await mount('<diamond-amount value="1234" locale="en-US"></diamond-amount>');
    assertEqual(label(many), '1,234 Diamonds', 'label for 1234');
    const one = await mount('<diamond-amount value="1" locale="en-US"></diamond-amount>');
    assertEqual(label(one), '1 Diamond', 'label for 1');
    const hidden = one.shadowRoot?.querySelector('.label');
    assert(hidden, 'label element');
    assert(hidden.getBoundingClientRect().width <= 1, 'label is visually hidden');
  });

  it('updates when the value and locale properties change', async () => {
    const element = await mount('<diamond-amount value="10" locale="en-US"></diamond-amount>');
    element.value = 2500;
    await element.updateComplete;
    assertEqual(part(element, 'amount').textContent, '2,500', 'amount after value change');
    assertEqual(label(element), '2,500 Diamonds', 'label after value change');
    element.locale = 'de-DE';
    await element.updateComplete;
    assertEqual(part(element, 'amount').textContent, '2.500', 'amount after locale change');
    element.setAttribute('value', '7');
    await element.updateComplete;
    assertEqual(part(element, 'amount').textContent, '7', 'amount after attribute change');
  });

  it('rounds fractions away and shows nothing for a value that is not a number', async () => {
    const element = await mount('<diamond-amount value="12.6" locale="en-US"></diamond-amount>');
    assertEqual(part(element, 'amount').textContent, '13', 'rounded amount');
    element.setAttribute('value', 'lots');
    await element.updateComplete;
    assertEqual(part(element, 'amount').textContent, '', 'amount for NaN');
    assertEqual(label(element), '', 'label for NaN');
  });

  it('takes its icon colour from the theme token, and the component setting over it', async () => {
    const element = await mount('<div style="--diamond-color-accent: rgb(1, 2, 3)"><diamond-amount value="1"></diamond-amount></div>');
    const icon = part(element, 'icon');
    assertEqual(getComputedStyle(icon).color, 'rgb(1, 2, 3)', 'icon colour from --diamond-color-accent');
    element.style.setProperty('--diamond-amount-icon-color', 'rgb(4, 5, 6)');
    assertEqual(getComputedStyle(icon).color, 'rgb(4, 5, 6)', 'icon colour from --diamond-amount-icon-color');
    element.style.setProperty('--diamond-amount-icon-size', '40px');
    assertEqual(icon.getBoundingClientRect().width, 40, 'icon size from --diamond-amount-icon-size');
  });

  it('inherits the page font unless --diamond-font-family is set', async () => {
    const element = await mount('<div style="font-family: monospace"><diamond-amount value="1"></diamond-amount></div>');
    assertEqual(getComputedStyle(part(element, 'base')).fontFamily, 'monospace', 'inherited font');
    element.style.setProperty('--diamond-font-family', 'serif');
    assertEqual(getComputedStyle(part(element, 'base')).fontFamily, 'serif', 'themed font');
  });
});

describe('defineElement', () => {
  it('returns quietly when the same class is defined again', () => {
    assertEqual(defineElement('diamond-amount', DiamondAmount), false, 'second definition');
    assertEqual(customElements.get('diamond-amount'), DiamondAmount, 'registered class');
  });

  it('keeps the first class and warns when another copy defines the tag', () => {
    const warnings: unknown[][] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args);
    try {
      class OtherCopy extends HTMLElement {}
      assertEqual(defineElement('diamond-amount', OtherCopy), false, 'definition by another copy');
    } finally {
      console.warn = original;
    }
    assertEqual(customElements.get('diamond-amount'), DiamondAmount, 'registered class');
    assertEqual(warnings.length, 1, 'warnings');
    assert(String(warnings[0]?.[0]).includes('duplicate-element'), 'the warning carries its code');
  });

  it('defines a new tag', () => {
    class Fresh extends HTMLElement {}
    assertEqual(defineElement('diamond-test-fresh', Fresh), true, 'first definition');
    assertEqual(customElements.get('diamond-test-fresh'), Fresh, 'registered class');
  });
});
