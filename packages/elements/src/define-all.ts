/**
 * Registers every Diamonds element. Import for its side effect:
 * `import '@diamonds/elements/define-all.js'`. The drop-in script is these modules bundled with
 * their dependencies, in two files: `dist/diamonds.js` (`define-core.js`: all but the live
 * elements) and, loaded when a page first has a live tag, `dist/diamonds-live.js`
 * (`define-live.js`).
 *
 * @module
 */
import './amount/define.js';
import './provider/define.js';
import './gift-button/define.js';
import './wallet/define.js';
import './paywall/define.js';
import './checkout/define.js';
import './live-feed/define.js';
import './goal/define.js';
import './top-gifters/define.js';
import './discover/define.js';
