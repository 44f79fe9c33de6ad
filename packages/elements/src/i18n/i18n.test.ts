// Runs in Chromium through @web/test-runner (mocha's describe/it are globals there).
import { checkout, common, wallet } from './en.js';
import { SHIPPED_LOCALES, formatDiamonds, registerLocale, translate } from './i18n.js';
import { assertEqual } from '../../test/support.js';

describe('translate', () => {
  it('reads English for a language whose locale module is not loaded', () => {
    assertEqual(translate('fr-FR', 'wallet.title', wallet), wallet['wallet.title'], 'French, not shipped');
    // German ships, but only its module registers it; this file does not import it first.
    assertEqual(translate('de', 'checkout.title', checkout), checkout['checkout.title'], 'German, not loaded');
    assertEqual(translate('', 'common.loading', {}), common['common.loading'], 'no locale: the common English');
  });

  it('reads a loaded locale by its language, and fills in the parameters', async () => {
    await import('./locales/de.js');
    assertEqual(translate('de-AT', 'wallet.title', wallet), 'Deine Diamonds', 'de-AT reads de');
    assertEqual(translate('DE', 'common.diamonds', common, { count: '1.234' }), '1.234 Diamonds', 'parameters');
    assertEqual(translate('en-GB', 'wallet.title', wallet), wallet['wallet.title'], 'English stays English');
  });

  it('falls back to English, key by key, where a table lacks a string', () => {
    registerLocale('xx', { 'wallet.title': 'Xx wallet' });
    assertEqual(translate('xx', 'wallet.title', wallet), 'Xx wallet', 'the string it has');
    assertEqual(translate('xx', 'wallet.balance', wallet), wallet['wallet.balance'], 'the element’s English');
    assertEqual(translate('xx', 'common.loading', wallet), common['common.loading'], 'the common English');
  });

  it('lists English and German as shipped', () => {
    assertEqual(SHIPPED_LOCALES.join(), 'en,de', 'SHIPPED_LOCALES');
  });
});

describe('formatDiamonds', () => {
  it('writes a small count in English or German as Intl would, and leaves every other case to Intl', () => {
    const intl = (locale: string, n: number) => new Intl.NumberFormat(locale).format(n);
    for (const locale of ['en', 'en-US', 'en-GB', 'de', 'de-AT', 'de-CH']) {
      for (const n of [0, 5, 10, 999]) {
        assertEqual(formatDiamonds(locale, n), `${intl(locale, n)} Diamonds`, `${n} in ${locale}`);
      }
      assertEqual(formatDiamonds(locale, 1), '1 Diamond', `one, in ${locale}`);
    }
    assertEqual(formatDiamonds('en-US', 1234), '1,234 Diamonds', 'grouping from 1,000: Intl');
    assertEqual(formatDiamonds('de', 1234), '1.234 Diamonds', 'German grouping: Intl');
    assertEqual(formatDiamonds('en-u-nu-arab', 12), `${intl('en-u-nu-arab', 12)} Diamonds`, 'other digits asked for: Intl');
    assertEqual(formatDiamonds('ar-EG', 12), `${intl('ar-EG', 12)} Diamonds`, 'another language: Intl');
  });
});
