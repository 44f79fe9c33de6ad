import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// The docs cannot drift from the code: the element pages are what scripts/element-docs.mjs makes
// of the custom-elements manifest (analysed from the sources by @custom-elements-manifest/analyzer),
// the class comments name every attribute, part and event the elements really have, guide code
// marked as a copy of an example is that example, and links resolve.

/** A custom element in the manifest (the part these checks use). */
interface ManifestElement {
  tag: string;
  modulePath: string;
  declaration: {
    name: string;
    attributes?: { name: string; fieldName?: string; description?: string; inheritedFrom?: { module?: string } }[];
    cssParts?: { name: string; description?: string }[];
    events?: { name: string; description?: string; type?: { text: string } }[];
  };
}

/** The manifest scripts' exports (plain .mjs scripts, so typed here). */
interface ManifestModule {
  generateManifest(root?: string): Promise<{
    modules: {
      path: string;
      declarations?: { kind: string; name: string; members?: { name: string; static?: boolean; default?: string }[] }[];
    }[];
  }>;
  customElementsOf(manifest: unknown): ManifestElement[];
}
interface ElementDocsModule {
  ROOT: string;
  OUT_DIR: string;
  sourceOf(modulePath: string): string;
  generateElementDocs(root?: string, manifest?: unknown): Promise<Map<string, string>>;
}

const manifests = (await import(new URL('../scripts/elements-manifest.mjs', import.meta.url).href)) as ManifestModule;
const generator = (await import(new URL('../scripts/element-docs.mjs', import.meta.url).href)) as ElementDocsModule;
const root = generator.ROOT;
const manifest = await manifests.generateManifest();
const elements = manifests.customElementsOf(manifest);
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const markdownIn = (dir: string): string[] =>
  existsSync(join(root, dir))
    ? readdirSync(join(root, dir))
        .filter((name) => name.endsWith('.md'))
        .map((name) => `${dir}/${name}`)
        .sort()
    : [];

describe('element pages', () => {
  it('docs/elements/*.md are exactly what the manifest generates', async () => {
    const pages = await generator.generateElementDocs(root, manifest);
    assert.ok(pages.size >= 7, `expected a page per element and an index, got ${[...pages.keys()].join(', ')}`);
    for (const [path, expected] of pages) {
      assert.ok(existsSync(join(root, path)), `${path} is missing: run \`npm run docs:elements\``);
      assert.ok(read(path) === expected, `${path} differs from the manifest (the class comments): run \`npm run docs:elements\``);
    }
    for (const path of markdownIn(generator.OUT_DIR)) {
      assert.ok(pages.has(path), `${path} belongs to no element any more: delete it, or run \`npm run docs:elements\``);
    }
  });

  it('covers every custom element the package defines, with its tag', () => {
    const tags = elements.map((element) => element.tag);
    const defined = [...read('packages/elements/src/define-all.ts').matchAll(/import '\.\/([\w-]+)\/define\.js'/g)].map(
      (m) => `diamond-${m[1]}`,
    );
    assert.ok(defined.length >= 6, `define-all.ts imports ${defined.length} define modules`);
    assert.deepEqual([...tags].sort(), [...defined].sort(), "the manifest's elements are those define-all.ts registers");
  });
});

describe('element class comments', () => {
  const eventTypes = new Map<string, string>(); // event class → its type, from the manifest (static `type`)
  for (const module of manifest.modules) {
    for (const declaration of module.declarations ?? []) {
      const type = declaration.members?.find((member) => member.static && member.name === 'type')?.default;
      if (declaration.kind === 'class' && type) eventTypes.set(declaration.name, type.replace(/^'|'$/g, ''));
    }
  }

  for (const element of elements) {
    describe(`<${element.tag}>`, () => {
      const path = generator.sourceOf(element.modulePath);
      const own = read(path);
      // What it renders and dispatches: its own module and the shared internal helpers it
      // imports (a controller may render a part or report an error for it), not its base class,
      // whose `reportError` only runs when called.
      const helpers = [...own.matchAll(/from '\.\.\/internal\/([\w-]+)\.js'/g)]
        .map((match) => match[1]!)
        .filter((name) => name !== 'diamond-element')
        .map((name) => read(`packages/elements/src/internal/${name}.ts`));
      const source = [own, ...helpers].join('\n');
      // The class's own comment: the last JSDoc block before `export class Name`.
      const classAt = own.indexOf(`export class ${element.declaration.name} `);
      const comment = own.slice(own.lastIndexOf('/**', classAt), classAt);

      it('documents each attribute it declares (@attr), and no other', () => {
        const declared = (element.declaration.attributes ?? []).filter((a) => a.fieldName).map((a) => a.name);
        const documented = [...comment.matchAll(/@attr(?:ibute)?\s+(\S+)/g)].map((m) => m[1]!);
        assert.ok(classAt > 0 && comment.length > 0, `${path}: no class comment for ${element.declaration.name}`);
        assert.ok(declared.length > 0, 'the manifest has no attribute backed by a reactive property');
        for (const attribute of declared) {
          const from = element.declaration.attributes?.find((a) => a.name === attribute)?.inheritedFrom?.module ?? element.modulePath;
          assert.ok(documented.includes(attribute), `${path}: the class comment has no "@attr ${attribute}" (declared in ${from})`);
        }
        for (const attribute of documented) {
          assert.ok(declared.includes(attribute), `${path}: "@attr ${attribute}" names no attribute the element declares`);
        }
        assert.equal(new Set(documented).size, documented.length, `${path}: an attribute is documented twice`);
      });

      it('documents each part it renders (@csspart), and no other', () => {
        const rendered = new Set([...source.matchAll(/\bpart="([^"$]+)"/g)].flatMap((match) => match[1]!.trim().split(/\s+/)));
        const documented = new Set((element.declaration.cssParts ?? []).map((p) => p.name));
        for (const part of rendered) assert.ok(documented.has(part), `${path}: the class comment has no "@csspart ${part}"`);
        for (const part of documented) assert.ok(rendered.has(part), `${path}: "@csspart ${part}" is rendered nowhere`);
      });

      it('documents each event it dispatches (@event), and no other, typed by its event class', () => {
        const dispatched = new Set(
          [...source.matchAll(/new (Diamond\w+Event)\(/g)].map((match) => {
            const type = eventTypes.get(match[1]!);
            assert.ok(type, `${match[1]} is not an event class of the manifest (packages/elements/src/events)`);
            return type;
          }),
        );
        if (/\.reportError\(/.test(source)) dispatched.add('diamond-error'); // the base class emits it
        for (const [, type] of source.matchAll(/\bthis\.emit\('([^']+)'/g)) dispatched.add(type!);
        const events = element.declaration.events ?? [];
        const documented = new Set(events.map((e) => e.name));
        for (const type of dispatched) assert.ok(documented.has(type), `${path}: the class comment has no "@event ${type}"`);
        for (const type of documented) assert.ok(dispatched.has(type), `${path}: "@event ${type}" is dispatched nowhere`);
        for (const event of events) {
          const eventClass = [...eventTypes].find(([, type]) => type === event.name)?.[0];
          assert.equal(event.type?.text, eventClass ?? 'CustomEvent', `${path}: the manifest types ${event.name} by its event class`);
          assert.ok(event.description, `${path}: "@event ${event.name}" has no description`);
        }
      });
    });
  }
});

describe('guides', () => {
  const guides = markdownIn('docs/guides');

  it('has a guide for each kind of user', () => {
    for (const guide of ['creator-static-site.md', 'shop-owner.md', 'developer.md']) {
      assert.ok(guides.includes(`docs/guides/${guide}`), `docs/guides/${guide} is missing`);
    }
  });

  it('code blocks marked as copies of example files are those files', () => {
    let copies = 0;
    for (const guide of guides) {
      const markdown = read(guide);
      // <!-- copy of examples/shop/server.mjs --> then a fenced block
      for (const match of markdown.matchAll(/<!-- copy of (\S+) -->\s*\n(`{3,})[^\n]*\n([\s\S]*?)\n\2\n/g)) {
        const [, file, , block] = match;
        const path = resolve(root, file!);
        assert.ok(existsSync(path), `${guide}: "copy of ${file}" names no file`);
        assert.ok(
          block === readFileSync(path, 'utf8').replace(/\n$/, ''),
          `${guide}: the block marked as a copy of ${file} differs from the file; paste the file into the guide again`,
        );
        copies += 1;
      }
    }
    assert.ok(copies >= 3, `expected the guides to carry copies of the example files, found ${copies}`);
  });

  it('relative links in the guides and element pages point to existing files', () => {
    const pages = [...guides, ...markdownIn('docs/elements')];
    let checked = 0;
    for (const page of pages) {
      // Links inside code are code, not links.
      const prose = read(page)
        .replace(/^(`{3,})[^\n]*\n[\s\S]*?\n\1$/gm, '')
        .replace(/`[^`\n]*`/g, '');
      for (const [, target] of prose.matchAll(/\]\(<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g)) {
        if (/^([a-z][a-z0-9+.-]*:|#)/i.test(target!)) continue;
        const path = resolve(dirname(join(root, page)), decodeURIComponent(target!.replace(/#.*$/, '')));
        assert.ok(existsSync(path), `${page}: the link to ${target} points to ${relative(root, path)}, which does not exist`);
        checked += 1;
      }
    }
    assert.ok(checked > 0, 'found no relative link to check');
  });
});
