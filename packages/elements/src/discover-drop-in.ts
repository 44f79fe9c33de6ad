/**
 * The discover element's drop-in file (bundled into `diamonds-discover.js`): `<diamond-discover>`
 * on its own, self-contained like the live file, so the core `diamonds.js` carries nothing of
 * it. A site that shows boosted items adds
 * `<script type="module" src="https://<platform>/sdk/diamonds-discover.js"></script>`.
 *
 * @module
 */
import './discover/define.js';
import { setDefaultApiBase } from './internal/client.js';

setDefaultApiBase(new URL(import.meta.url).origin);
