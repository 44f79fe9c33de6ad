/**
 * German strings for the live elements (`<diamond-live-feed>`, `<diamond-goal>`,
 * `<diamond-top-gifters>`), with those of every other element (it imports `locales/de.js`):
 * `import '@diamonds/elements/locales/de-live.js'`. The drop-in script's live chunk includes it.
 *
 * @module
 */
import './de.js';
import { deLive } from '../de-live.js';
import { extendLocale } from '../i18n.js';

extendLocale('de', deLive);
