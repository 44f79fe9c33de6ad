// @diamonds/react covers the custom-elements manifest: a component for every element, and an
// `onDiamond…` prop for each event the manifest gives that element, no more, no fewer. (The
// components at work, in Chromium with React 19: test/react.test.tsx; importing them in Node
// would run the elements' Lit decorators through tsx, which compiles them differently.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { elementEvents } from './events.js';

interface ManifestScript {
  generateManifest(): Promise<unknown>;
  customElementsOf(manifest: unknown): { tag: string; declaration: { events?: { name: string }[] } }[];
}
const { generateManifest, customElementsOf } = (await import(
  new URL('../../../scripts/elements-manifest.mjs', import.meta.url).href
)) as ManifestScript;
const elements = customElementsOf(await generateManifest());

/** `diamond-gift-sent` → `DiamondGiftSent`. */
const pascal = (name: string): string => name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());

describe('@diamonds/react against the custom-elements manifest', () => {
  it('has a component for every element', () => {
    assert.ok(elements.length >= 6, `the manifest lists ${elements.length} elements`);
    const index = readFileSync(new URL('index.ts', import.meta.url), 'utf8');
    for (const { tag } of elements) {
      const file = tag.replace(/^diamond-/, '');
      assert.ok(index.includes(`export { ${pascal(tag)} } from './${file}.js';`), `index.ts exports no ${pascal(tag)} for <${tag}>`);
      const source = readFileSync(new URL(`${file}.ts`, import.meta.url), 'utf8');
      assert.match(source, new RegExp(`tagName: '${tag}',`), `${file}.ts wraps <${tag}>`);
      assert.match(source, new RegExp(`import '@diamonds/elements/${file}/define\\.js';`), `${file}.ts registers <${tag}>`);
      assert.match(source, new RegExp(`events: elementEvents\\['${tag}'\\],`), `${file}.ts maps the events of <${tag}>`);
    }
    assert.deepEqual(Object.keys(elementEvents).sort(), elements.map((e) => e.tag).sort(), 'event maps are for the manifest elements');
  });

  it("maps each element's events to on… props, named after them", () => {
    for (const { tag, declaration } of elements) {
      const mapped = (elementEvents as Record<string, Record<string, string>>)[tag] ?? {};
      const expected = Object.fromEntries((declaration.events ?? []).map((event) => [`on${pascal(event.name)}`, event.name]));
      assert.deepEqual(mapped, expected, `<${tag}>'s event props`);
    }
  });
});
