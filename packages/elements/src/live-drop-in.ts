/**
 * The drop-in script's live chunk (bundled into `diamonds-live.js`): the live elements, with
 * their German strings, on their own. `diamonds.js` imports it from its own folder when the page
 * first has a live tag, so pages without a live pay nothing for it. It is self-contained (its own
 * Lit and SDK, about as much as one live element alone): the elements of both files meet through
 * what is global by design (the shared clients, the provider's context, the live streams and Lit's
 * Trusted Types policy, each under a `Symbol.for` key).
 *
 * @module
 */
import './define-live.js';
import './i18n/locales/de-live.js';
import { setDefaultApiBase } from './internal/client.js';

setDefaultApiBase(new URL(import.meta.url).origin);
