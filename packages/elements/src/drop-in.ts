/**
 * The drop-in script's entry (bundled into `diamonds.js`): registers every element and every
 * shipped locale (German too, which bundler users import themselves), and makes the platform
 * the script came from the default `api-base`, so a creator pastes one script tag and elements
 * with only a `publishable-key`.
 *
 * @module
 */
import './define-all.js';
// Every shipped locale: a creator's `locale="de"` just works with the one script tag.
import './i18n/locales/de.js';
import { setDefaultApiBase } from './internal/client.js';

setDefaultApiBase(new URL(import.meta.url).origin);
