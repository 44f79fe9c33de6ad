// Builds the drop-in script: packages/elements/dist/diamonds.js, one ES module that registers
// every element, with all its dependencies inside. It bundles tsc's output, so it runs after
// `tsc -b` (`npm run build`).
import { nodeResolve } from '@rollup/plugin-node-resolve';
import replace from '@rollup/plugin-replace';
import terser from '@rollup/plugin-terser';

/** Where every copy of the drop-in script keeps Lit's Trusted Types policy (a global symbol). */
const SHARED_POLICY = 'Symbol.for("diamonds.lit-html-policy")';

/**
 * Lets two copies of the drop-in script share one Trusted Types policy. Lit creates its policy
 * `lit-html` when its module runs; under `require-trusted-types-for 'script'` a second policy of
 * the same name is refused (unless the page's CSP says `'allow-duplicates'`), and the second
 * copy of the script then dies with an uncaught error (found by test/csp.e2e.test.ts). Every copy
 * of ours now takes the policy the first one made. The policy is Lit's own pass-through
 * (`createHTML: (s) => s`), kept under a symbol that no string property access can reach.
 * A page that also runs its own Lit under Trusted Types still needs `'allow-duplicates'`.
 */
function shareLitPolicy() {
  const call = /(\w+)\.createPolicy\("lit-html",(\{createHTML:(\w+)=>\3\})\)/;
  let found = false;
  return {
    name: 'diamonds-share-lit-policy',
    transform(code, id) {
      if (!/[/\\]node_modules[/\\]lit-html[/\\]lit-html\.js$/.test(id)) return null;
      if (!call.test(code))
        throw new Error(`${id}: Lit's createPolicy("lit-html") call changed; update shareLitPolicy() in rollup.config.js`);
      found = true;
      // Same line, a few more characters: the existing source map stays right but for columns after it on that line.
      return { code: code.replace(call, `(globalThis[${SHARED_POLICY}]??=$1.createPolicy("lit-html",$2))`), map: null };
    },
    buildEnd(error) {
      if (!error && !found) throw new Error('shareLitPolicy(): lit-html/lit-html.js was not bundled; is the drop-in still built on Lit?');
    },
  };
}

/** @type {import('rollup').RollupOptions} */
export default {
  input: 'packages/elements/dist/drop-in.js',
  output: {
    file: 'packages/elements/dist/diamonds.js',
    format: 'es',
    sourcemap: true,
  },
  plugins: [
    // Production: drops dev-only warnings (ours and nanostores').
    replace({ preventAssignment: true, values: { 'process.env.NODE_ENV': JSON.stringify('production') } }),
    // Browser builds of dependencies; no "source" or "development" condition: dist and prod Lit.
    nodeResolve({ browser: true }),
    shareLitPolicy(),
    terser({ format: { comments: false } }),
  ],
  onwarn(warning) {
    // tsc's `__decorate` helper reads a top-level `this`; undefined in a module, as it expects.
    if (warning.code === 'THIS_IS_UNDEFINED') return;
    // zod's sources carry a comment rollup cannot place; it drops the comment, nothing else.
    if (warning.code === 'INVALID_ANNOTATION') return;
    // Cycles inside a dependency (zod's core) are theirs and harmless; ours would be a bug.
    if (warning.code === 'CIRCULAR_DEPENDENCY' && warning.ids?.every((id) => id.includes('/node_modules/'))) return;
    // Any other warning (an unresolved import, say) means a broken drop-in script: fail.
    throw new Error(`rollup: ${warning.message}`);
  },
};
