// The custom-elements manifest of @diamonds/elements (dist/custom-elements.json), made by
// @custom-elements-manifest/analyzer from the sources and their JSDoc. `npm run build` runs it
// through scripts/elements-manifest.mjs, which also writes the JSX types and VS Code's custom
// data from the manifest; scripts/element-docs.mjs makes docs/elements/ from it. By hand, from
// this folder: `npx cem analyze --config custom-elements-manifest.config.mjs`.
//
// The analyzer knows Lit's decorators and the JSDoc tags (@summary, @attr, @slot, @csspart,
// @cssprop, @cssstate, @event); the plugin below adds what is ours:
// - tags come from `defineElement('diamond-…', Class)` calls (our guarded customElements.define);
// - @remarks and @example join the element's description, so editors show them too;
// - an attribute's description is the class comment's `@attr` (which says "Required.",
//   "Defaults to …"), else its property's comment;
// - an element's events are the ones its comment documents (@event), each typed by its event
//   class in src/events (found by `{@link …Event}` or by the class's static `type`), else
//   `CustomEvent`; the analyzer's guesses from `dispatchEvent(new X(…))` (named after variables)
//   are dropped;
// - an event class whose `detail` is an interface declared beside it gets `detailFields` (name,
//   type, description): the manifest schema has no interfaces, and readers of the docs want them;
//   a `detail` typed from another package says which (`references`);
// - private and protected members go: the manifest describes what a page or a framework uses;
// - `{@link X}` becomes `X` in code, since the consumers render Markdown;
// - paths point to the built JavaScript the package ships (dist/…/x.js), not to the sources.

import { posix } from 'node:path';

/** Documentation tags of a node, as `[name, text]` (TypeScript's parse of the JSDoc). */
function tagsOf(ts, node) {
  return ts.getJSDocTags(node).map((tag) => [tag.tagName.text, (ts.getTextOfJSDocComment(tag.comment) ?? '').trim()]);
}

/** `src/a/b.ts` or `/src/a/b.js` → `dist/a/b.js`. */
const distPath = (path) => path.replace(/^\/?src\/(.*)\.[jt]s$/, 'dist/$1.js');

/** `{@link X}` and `{@link X | label}` → `` `X` `` (or `` `label` ``). */
const unlink = (text) =>
  text.replace(/\{@link\s+([^}|\s]+)\s*(?:\|\s*([^}]+))?\}/g, (_, target, label) => `\`${(label ?? target).trim()}\``);

/** Every object in the manifest (depth first). */
function* objectsIn(value) {
  if (Array.isArray(value)) for (const item of value) yield* objectsIn(item);
  else if (value && typeof value === 'object') {
    yield value;
    for (const child of Object.values(value)) yield* objectsIn(child);
  }
}

/** The relative module a file imports `name` from, as a manifest path (`src/x/y.ts`), or undefined. */
function importedFrom(ts, sourceFile, name) {
  for (const statement of sourceFile.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const bindings = statement.importClause?.namedBindings;
    if (!bindings || !ts.isNamedImports(bindings) || !bindings.elements.some((element) => element.name.text === name)) continue;
    const specifier = statement.moduleSpecifier.text;
    if (!specifier.startsWith('.')) return undefined;
    const parts = sourceFile.fileName.split('/').slice(0, -1);
    for (const part of specifier.split('/')) {
      if (part === '..') parts.pop();
      else if (part !== '.') parts.push(part);
    }
    return parts.join('/').replace(/\.js$/, '.ts');
  }
  return undefined;
}

/** The analyzer plugin of the Diamonds elements (see the file's comment). */
export function diamondsPlugin() {
  /** Interfaces declared in src/events: name → fields. */
  const details = new Map();
  /** Event classes whose detail type comes from a package: class → type reference. */
  const packages = new Map();
  /** The `@attr` descriptions of each class declaration. */
  const attributeDocs = new Map();
  return {
    name: 'diamonds',
    initialize() {
      // The config module, and so this plugin, may serve several runs.
      details.clear();
      packages.clear();
      attributeDocs.clear();
    },
    analyzePhase({ ts, node, moduleDoc }) {
      // defineElement('diamond-x', DiamondX): a definition, as for customElements.define.
      if (
        ts.isCallExpression(node) &&
        ts.isIdentifier(node.expression) &&
        node.expression.text === 'defineElement' &&
        node.arguments.length === 2 &&
        ts.isStringLiteral(node.arguments[0]) &&
        ts.isIdentifier(node.arguments[1])
      ) {
        const className = node.arguments[1].text;
        const module = importedFrom(ts, node.getSourceFile(), className) ?? moduleDoc.path;
        moduleDoc.exports.push({
          kind: 'custom-element-definition',
          name: node.arguments[0].text,
          declaration: { name: className, module },
        });
      }
      // @remarks and @example after the description.
      if (ts.isClassDeclaration(node) && node.name) {
        const classDoc = moduleDoc.declarations.find((declaration) => declaration.name === node.name.text);
        const tags = tagsOf(ts, node);
        const extra = [
          ...tags.filter(([tag]) => tag === 'remarks').map(([, text]) => text),
          ...tags.filter(([tag]) => tag === 'example').map(([, text]) => `Example:\n\n${text}`),
        ];
        if (classDoc && extra.length > 0) classDoc.description = [classDoc.description ?? '', ...extra].filter(Boolean).join('\n\n');
        // The class comment's words for an attribute win over the property's comment.
        const attrs = new Map();
        for (const [tag, text] of tags) {
          const match = /^(\S+)\s*(?:-\s*)?([\s\S]*)$/.exec(text);
          if ((tag === 'attr' || tag === 'attribute') && match) attrs.set(match[1], match[2].trim());
        }
        if (classDoc && attrs.size > 0) attributeDocs.set(classDoc, attrs);
      }
      // An event class's detail type from another package (`Gift` from `@diamonds/sdk`).
      if (ts.isClassDeclaration(node) && node.name && /(^|\/)events\//.test(moduleDoc.path)) {
        const detail = node.members.find((member) => ts.isPropertyDeclaration(member) && member.name.getText() === 'detail');
        const typeName = detail?.type?.getText();
        const from = node
          .getSourceFile()
          .statements.find(
            (statement) =>
              ts.isImportDeclaration(statement) &&
              ts.isStringLiteral(statement.moduleSpecifier) &&
              !statement.moduleSpecifier.text.startsWith('.') &&
              new RegExp(`\\b${typeName}\\b`).test(statement.importClause?.getText() ?? ''),
          )?.moduleSpecifier.text;
        if (from) packages.set(node.name.text, { name: typeName, package: from });
      }
      // An event's detail interface.
      if (ts.isInterfaceDeclaration(node) && /(^|\/)events\//.test(moduleDoc.path)) {
        details.set(
          node.name.text,
          node.members.filter(ts.isPropertySignature).map((member) => ({
            name: member.name.getText(),
            type: { text: member.type?.getText() ?? 'unknown' },
            description: (ts.getTextOfJSDocComment(ts.getJSDocCommentsAndTags(member).filter(ts.isJSDoc).at(-1)?.comment) ?? '').trim(),
          })),
        );
      }
    },
    packageLinkPhase({ customElementsManifest }) {
      const classes = [];
      const moduleOf = new Map();
      for (const module of customElementsManifest.modules) {
        for (const declaration of module.declarations ?? []) {
          if (declaration.kind !== 'class') continue;
          classes.push(declaration);
          moduleOf.set(declaration, module.path);
        }
      }
      // Event classes: the static `type` names the event.
      const eventClasses = new Map();
      for (const cls of classes) {
        const type = cls.members?.find((member) => member.static && member.name === 'type')?.default;
        const detail = cls.members?.find((member) => member.name === 'detail');
        if (type && /^'diamond-[a-z-]+'$/.test(type)) {
          eventClasses.set(cls.name, { type: type.slice(1, -1), module: moduleOf.get(cls) });
          if (detail && details.has(detail.type?.text)) cls.detailFields = details.get(detail.type.text);
          if (detail?.type && packages.has(cls.name)) detail.type.references = [packages.get(cls.name)];
        }
      }
      for (const module of customElementsManifest.modules) {
        for (const definition of module.exports?.filter((e) => e.kind === 'custom-element-definition') ?? []) {
          const cls = classes.find((c) => c.name === definition.declaration.name);
          if (cls) Object.assign(cls, { tagName: definition.name, customElement: true });
        }
      }
      for (const [cls, attrs] of attributeDocs) {
        for (const attribute of cls.attributes ?? []) if (attrs.get(attribute.name)) attribute.description = attrs.get(attribute.name);
      }
      for (const cls of classes) {
        cls.members = cls.members?.filter((member) => !member.privacy && !member.name.startsWith('#'));
        if (!cls.customElement) continue;
        cls.events = (cls.events ?? [])
          .filter((event) => event.name && event.description !== undefined)
          .map((event) => {
            const linked = /\{@link\s+(\w+Event)\}/.exec(event.description)?.[1];
            const className = linked && eventClasses.has(linked) ? linked : [...eventClasses].find(([, e]) => e.type === event.name)?.[0];
            if (!className) return { ...event, type: { text: 'CustomEvent' } };
            return { ...event, type: { text: className, references: [{ name: className, module: eventClasses.get(className).module }] } };
          });
      }
      // Re-exports name their module relative to the re-exporting one (`./amount/amount.js`).
      for (const module of customElementsManifest.modules) {
        for (const declaration of (module.exports ?? []).map((e) => e.declaration)) {
          if (declaration?.module?.startsWith('.')) declaration.module = posix.join(posix.dirname(module.path), declaration.module);
        }
      }
      for (const object of objectsIn(customElementsManifest)) {
        for (const key of ['description', 'summary']) if (typeof object[key] === 'string') object[key] = unlink(object[key]);
        for (const key of ['path', 'module']) if (typeof object[key] === 'string') object[key] = distPath(object[key]);
      }
      // Modules that declare and export nothing (internal helpers, the drop-in's entry).
      customElementsManifest.modules = customElementsManifest.modules.filter(
        (module) => (module.declarations?.length ?? 0) + (module.exports?.length ?? 0) > 0,
      );
    },
  };
}

/** @type {import('@custom-elements-manifest/analyzer').Config} */
export default {
  globs: ['src/**/*.ts'],
  exclude: ['src/**/*.test.ts', 'src/**/*.styles.ts', 'src/drop-in.ts'],
  outdir: 'dist',
  litelement: true,
  packagejson: false,
  plugins: [diamondsPlugin()],
};
