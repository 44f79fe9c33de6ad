/**
 * Registers the live elements: `<diamond-live-feed>`, `<diamond-goal>` and
 * `<diamond-top-gifters>`. Import for its side effect:
 * `import '@diamonds/elements/define-live.js'` (`define-all.js` imports it too). The drop-in
 * script loads them as a second file, `diamonds-live.js`, when the page first has one of their
 * tags.
 *
 * @module
 */
import './live-feed/define.js';
import './goal/define.js';
import './top-gifters/define.js';
