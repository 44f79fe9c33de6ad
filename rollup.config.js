// Builds the drop-in script: packages/elements/dist/diamonds.js, one ES module that registers
// every element, with all its dependencies inside. It bundles tsc's output, so it runs after
// `tsc -b` (`npm run build`).
import { nodeResolve } from '@rollup/plugin-node-resolve';
import replace from '@rollup/plugin-replace';
import terser from '@rollup/plugin-terser';
import MagicString from 'magic-string';

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

/**
 * Shortens the two long error messages of Lit's `css` tag (@lit/reactive-element's css-tag.js),
 * thrown only when a program passes `css` something it must not (a plain string, or builds a
 * CSSResult itself), which our elements never do: about 0.1 KB of brotli off each drop-in file,
 * the room the live file's loader takes in `diamonds.js` (issue 15). The errors still throw, with
 * the value that was wrong.
 */
function shortenLitMessages() {
  const messages = [
    [
      /"Value passed to 'css' function must be a 'css' function result: "\s*\+\s*(\w+)\s*\+\s*"\. Use 'unsafeCSS' to pass non-literal values, but take care to ensure page security\."/,
      '"css: not a css result: "+$1',
    ],
    [/"CSSResult is not constructable\. Use `unsafeCSS` or `css` instead\."/, '"CSSResult: use css"'],
  ];
  let found = 0;
  return {
    name: 'diamonds-shorten-lit-messages',
    transform(code, id) {
      if (!/[/\\]node_modules[/\\]@lit[/\\]reactive-element[/\\]css-tag\.js$/.test(id)) return null;
      for (const [message, short] of messages) {
        if (!message.test(code))
          throw new Error(`${id}: a message of Lit's css tag changed; update shortenLitMessages() in rollup.config.js`);
        code = code.replace(message, short);
      }
      found++;
      return { code, map: null };
    },
    buildEnd(error) {
      if (!error && !found) throw new Error("shortenLitMessages(): @lit/reactive-element's css-tag.js was not bundled");
    },
  };
}

/** CSS text with its comments gone and its whitespace collapsed where CSS ignores it. */
export const minifyCss = (text) =>
  text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\s+/g, ' ')
    .replace(/ ?([{};,>]) ?/g, '$1')
    .replace(/: /g, ':')
    .replace(/([:,( ])0\./g, '$1.')
    .replace(/(\[[\w-]+[~|^$*]?=)'([a-z][\w-]*)'\]/gi, '$1$2]')
    .replace(/;}/g, '}');

/** Block-level tags of our templates: whitespace beside them starts or ends a line, and renders nothing. */
const BLOCK = 'p|div|section|form|fieldset|legend|ul|ol|li|table|caption|thead|tbody|tfoot|tr|th|td';

/**
 * Template HTML without the line breaks and indentation of its source: none beside a block-level
 * tag or before a tag's `>`, one space for any other run (as HTML renders it).
 */
export const minifyHtml = (text) =>
  text
    .replace(new RegExp(`\\s*\\n\\s*(?=</?(?:${BLOCK})[\\s>])`, 'g'), '')
    .replace(new RegExp(`(</?(?:${BLOCK})(?:\\s[^<>]*)?>)\\s*\\n\\s*`, 'g'), '$1')
    .replace(/\s*\n\s*>/g, '>')
    .replace(/\s*\n\s*/g, ' ');

/**
 * Shrinks the static text of our Lit templates (`css`, `html` and `svg` tagged templates in
 * packages/elements/dist): the indentation and comments a reader needs and a browser ignores.
 * CSS loses comments, the spaces around `{ } ; , > :`, the 0 of `0.5em` and the quotes of
 * `[part~='base']`; HTML loses the line breaks beside block-level tags and before a tag's `>`,
 * and keeps one space for any other run of whitespace with a line break, which renders the same
 * (no element of ours has `<pre>` or `white-space: pre`). Expressions (`${…}`) are left as they
 * are. About 0.5 KB of brotli off the drop-in script.
 */
function minifyTemplates() {
  return {
    name: 'diamonds-minify-templates',
    transform(code, id) {
      if (!/[/\\]packages[/\\]elements[/\\]dist[/\\]/.test(id) || !/\b(css|html|svg) `/.test(code)) return null;
      const out = new MagicString(code);
      const visit = (node) => {
        if (!node || typeof node.type !== 'string') return;
        if (node.type === 'TaggedTemplateExpression' && node.tag.type === 'Identifier' && ['css', 'html', 'svg'].includes(node.tag.name)) {
          const minify = node.tag.name === 'css' ? minifyCss : minifyHtml;
          // Minified whole, the expressions marked by NUL, so that a tag split by an expression is still seen whole.
          const { quasis } = node.quasi;
          const texts = minify(quasis.map((quasi) => quasi.value.raw).join('\0')).split('\0');
          if (texts.length !== quasis.length) throw new Error(`minifyTemplates(): ${id}: a template lost an expression`);
          for (const [i, quasi] of quasis.entries()) {
            if (quasi.end > quasi.start) out.overwrite(quasi.start, quasi.end, texts[i]);
            else if (texts[i]) out.appendLeft(quasi.start, texts[i]);
          }
        }
        for (const value of Object.values(node)) {
          if (Array.isArray(value)) value.forEach(visit);
          else if (value && typeof value === 'object' && value !== node.loc) visit(value);
        }
      };
      visit(this.parse(code));
      return out.hasChanged() ? { code: out.toString(), map: out.generateMap({ hires: true }) } : null;
    },
  };
}

/** The id of the one `__decorate` helper the drop-in script keeps. */
const DECORATE = '\0diamonds-decorate';

/**
 * Gives the drop-in script one copy of tsc's `__decorate` helper instead of one per element
 * module (what `importHelpers` and tslib would do, without a runtime dependency): each module's
 * copy becomes an import of the first one, word for word.
 */
function shareDecorateHelper() {
  const helper = /^var __decorate = \(this && this\.__decorate\) \|\| (function \(decorators, target, key, desc\) \{[\s\S]*?\n\});\n/;
  let source;
  return {
    name: 'diamonds-share-decorate-helper',
    resolveId: (id) => (id === DECORATE ? id : null),
    load: (id) => (id === DECORATE ? `export const __decorate = ${source};\n` : null),
    transform(code, id) {
      if (!/[/\\]packages[/\\]elements[/\\]dist[/\\]/.test(id)) return null;
      const match = helper.exec(code);
      if (!match) return null;
      source ??= match[1];
      const out = new MagicString(code);
      out.overwrite(0, match[0].length, `import { __decorate } from '${DECORATE}';\n`);
      return { code: out.toString(), map: out.generateMap({ hires: true }) };
    },
  };
}

/**
 * One drop-in file: `input` (tsc's output) bundled with everything it imports into `file`.
 *
 * @returns {import('rollup').RollupOptions}
 */
const dropInFile = (input, file) => ({
  input,
  output: { file, format: 'es', sourcemap: true },
  plugins: [
    // Production: drops dev-only warnings (ours and nanostores').
    replace({ preventAssignment: true, values: { 'process.env.NODE_ENV': JSON.stringify('production') } }),
    // Browser builds of dependencies; no "source" or "development" condition: dist and prod Lit.
    nodeResolve({ browser: true }),
    shareLitPolicy(),
    shortenLitMessages(),
    shareDecorateHelper(),
    minifyTemplates(),
    // Five passes rather than three: 37 bytes less brotli on the core drop-in, whose budget is full.
    terser({ module: true, compress: { passes: 5 }, format: { comments: false } }),
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
});

/**
 * The drop-in script, in two files that share nothing at build time: `diamonds.js` (every
 * element but the live ones) and `diamonds-live.js` (the live elements, self-contained), which
 * the first imports from its own folder when a page first has a live tag (see drop-in.ts). Two
 * builds rather than one build with a shared chunk: a shared chunk makes `diamonds.js` export
 * what the live file takes from it, which costs the core's budget bytes on every page.
 *
 * @type {import('rollup').RollupOptions[]}
 */
export default [
  dropInFile('packages/elements/dist/drop-in.js', 'packages/elements/dist/diamonds.js'),
  dropInFile('packages/elements/dist/live-drop-in.js', 'packages/elements/dist/diamonds-live.js'),
  // <diamond-discover> (issue 16), self-contained like the live file; a site loads it by its own script tag.
  dropInFile('packages/elements/dist/discover-drop-in.js', 'packages/elements/dist/diamonds-discover.js'),
];
