import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// The docs cannot drift from the code: the element pages are what scripts/element-docs.mjs makes
// of the class comments, the class comments name every attribute, part and event the elements
// really have, guide code marked as a copy of an example is that example, and links resolve.

/** What scripts/element-docs.mjs reads about one element (the part these checks use). */
interface ElementDoc {
  tag: string;
  className: string;
  path: string;
  attrs: { name: string }[];
  parts: { name: string }[];
  events: { name: string }[];
  properties: { name: string; attribute: string | null; declaredIn: string }[];
}

/** The generator's exports (a plain .mjs script, so typed here). */
interface ElementDocsModule {
  ROOT: string;
  OUT_DIR: string;
  readElements(root?: string): ElementDoc[];
  generateElementDocs(root?: string): Promise<Map<string, string>>;
}

const generator = (await import(new URL('../scripts/element-docs.mjs', import.meta.url).href)) as ElementDocsModule;
const root = generator.ROOT;
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const markdownIn = (dir: string): string[] =>
  existsSync(join(root, dir))
    ? readdirSync(join(root, dir))
        .filter((name) => name.endsWith('.md'))
        .map((name) => `${dir}/${name}`)
        .sort()
    : [];

describe('element pages', () => {
  it('docs/elements/*.md are exactly what the class comments generate', async () => {
    const pages = await generator.generateElementDocs();
    assert.ok(pages.size >= 7, `expected a page per element and an index, got ${[...pages.keys()].join(', ')}`);
    for (const [path, expected] of pages) {
      assert.ok(existsSync(join(root, path)), `${path} is missing: run \`npm run docs:elements\``);
      assert.ok(read(path) === expected, `${path} differs from its class comment: run \`npm run docs:elements\``);
    }
    for (const path of markdownIn(generator.OUT_DIR)) {
      assert.ok(pages.has(path), `${path} belongs to no element any more: delete it, or run \`npm run docs:elements\``);
    }
  });

  it('covers every custom element the package defines', () => {
    const tags = generator.readElements().map((element) => element.tag);
    for (const tag of [
      'diamond-amount',
      'diamond-checkout',
      'diamond-gift-button',
      'diamond-paywall',
      'diamond-provider',
      'diamond-wallet',
    ]) {
      assert.ok(tags.includes(tag), `no page for <${tag}>`);
    }
  });
});

describe('element class comments', () => {
  const elements = generator.readElements();
  const eventTypes = new Map<string, string>(); // event class → its type, from src/events
  for (const name of readdirSync(join(root, 'packages/elements/src/events'))) {
    const source = read(`packages/elements/src/events/${name}`);
    const className = /export class (\w+) extends Event/.exec(source)?.[1];
    const type = /static readonly type = '([^']+)'/.exec(source)?.[1];
    if (className && type) eventTypes.set(className, type);
  }

  for (const element of elements) {
    describe(`<${element.tag}>`, () => {
      const source = read(element.path);

      it('documents each attribute it declares (@attr), and no other', () => {
        const declared = element.properties.map((p) => p.attribute).filter((a): a is string => typeof a === 'string');
        const documented = element.attrs.map((a) => a.name);
        assert.ok(declared.length > 0, 'found no reactive property with an attribute');
        for (const attribute of declared) {
          const from = element.properties.find((p) => p.attribute === attribute)?.declaredIn;
          assert.ok(documented.includes(attribute), `${element.path}: the class comment has no "@attr ${attribute}" (declared in ${from})`);
        }
        for (const attribute of documented) {
          assert.ok(declared.includes(attribute), `${element.path}: "@attr ${attribute}" names no attribute the element declares`);
        }
        assert.equal(new Set(documented).size, documented.length, `${element.path}: an attribute is documented twice`);
      });

      it('documents each part it renders (@csspart), and no other', () => {
        const rendered = new Set([...source.matchAll(/\bpart="([^"$]+)"/g)].flatMap((match) => match[1]!.trim().split(/\s+/)));
        const documented = new Set(element.parts.map((p) => p.name));
        for (const part of rendered) assert.ok(documented.has(part), `${element.path}: the class comment has no "@csspart ${part}"`);
        for (const part of documented) assert.ok(rendered.has(part), `${element.path}: "@csspart ${part}" is rendered nowhere`);
      });

      it('documents each event it dispatches (@event), and no other', () => {
        const dispatched = new Set(
          [...source.matchAll(/new (Diamond\w+Event)\(/g)].map((match) => {
            const type = eventTypes.get(match[1]!);
            assert.ok(type, `${match[1]} is not an event class in packages/elements/src/events`);
            return type;
          }),
        );
        if (/\bthis\.reportError\(/.test(source)) dispatched.add('diamond-error'); // the base class emits it
        for (const [, type] of source.matchAll(/\bthis\.emit\('([^']+)'/g)) dispatched.add(type!);
        const documented = new Set(element.events.map((e) => e.name));
        for (const type of dispatched) assert.ok(documented.has(type), `${element.path}: the class comment has no "@event ${type}"`);
        for (const type of documented) assert.ok(dispatched.has(type), `${element.path}: "@event ${type}" is dispatched nowhere`);
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
