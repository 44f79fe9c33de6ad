/**
 * The drop-in script's entry (bundled into `diamonds.js`): registers every element and makes
 * the platform the script came from the default `api-base`, so a creator pastes one script tag
 * and elements with only a `publishable-key`.
 *
 * @module
 */
import './define-all.js';
import { setDefaultApiBase } from './internal/client.js';

setDefaultApiBase(new URL(import.meta.url).origin);
