/**
 * Registers every Diamonds element. Import for its side effect:
 * `import '@diamonds/elements/define-all.js'`. The drop-in script (`dist/diamonds.js`) is this
 * module bundled with its dependencies.
 *
 * @module
 */
import './amount/define.js';
import './provider/define.js';
import './gift-button/define.js';
import './wallet/define.js';
import './paywall/define.js';
import './checkout/define.js';
