// Builds the drop-in script: packages/elements/dist/diamonds.js, one ES module that registers
// every element, with all its dependencies inside. It bundles tsc's output, so it runs after
// `tsc -b` (`npm run build`).
import { nodeResolve } from '@rollup/plugin-node-resolve';
import replace from '@rollup/plugin-replace';
import terser from '@rollup/plugin-terser';

/** @type {import('rollup').RollupOptions} */
export default {
  input: 'packages/elements/dist/define-all.js',
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
