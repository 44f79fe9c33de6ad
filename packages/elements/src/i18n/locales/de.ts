/**
 * German strings for every Diamonds element. Import it once, for its side effect, and elements
 * whose locale is German (`locale="de"`, `de-AT`, a `lang="de"` ancestor, a German browser)
 * speak German: `import '@diamonds/elements/locales/de.js'`. Without it they speak English.
 * The drop-in script (`diamonds.js`) includes it.
 *
 * @module
 */
import { de } from '../de.js';
import { registerLocale } from '../i18n.js';

registerLocale('de', de);
