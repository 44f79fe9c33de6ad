/**
 * The drop-in script's entry (bundled into `diamonds.js`): registers every element and every
 * shipped locale (German too, which bundler users import themselves), and makes the platform
 * the script came from the default `api-base`, so a creator pastes one script tag and elements
 * with only a `publishable-key`. The live elements are a second file, `diamonds-live.js` next to
 * this one (see `live-drop-in.ts`), imported when the page first has one of their tags: the
 * live code stays out of every page that has no live.
 *
 * @module
 */
import './define-core.js';
// Every shipped locale: a creator's `locale="de"` just works with the one script tag.
import './i18n/locales/de.js';
import { setDefaultApiBase } from './internal/client.js';

setDefaultApiBase(new URL(import.meta.url).origin);

// Loads the live file once a live tag is in the document (already, or later). Shadow roots are
// not watched: a live tag inside another component's shadow root needs `define-live.js`.
const loadLive = (): void => {
  if (document.querySelector(':is(diamond-live-feed,diamond-goal,diamond-top-gifters)')) {
    watcher.disconnect();
    void import(`${new URL('diamonds-live.js', import.meta.url)}`);
  }
};
const watcher = new MutationObserver(loadLive);
watcher.observe(document, { childList: true, subtree: true });
loadLive();
