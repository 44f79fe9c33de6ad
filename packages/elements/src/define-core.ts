/**
 * Registers every Diamonds element but the live ones (see `define-live.js`): what the drop-in
 * script's first file, `diamonds.js`, holds. `define-all.js` registers both sets.
 *
 * @module
 */
import './amount/define.js';
import './provider/define.js';
import './gift-button/define.js';
import './wallet/define.js';
import './paywall/define.js';
import './checkout/define.js';
