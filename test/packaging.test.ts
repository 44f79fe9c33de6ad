// The packages as a site gets them from the registry (issue 18): `npm pack` of each workspace
// package, the tarballs installed into a fresh project outside the workspace (their dependencies
// from the npm registry, its cache first), then what a site does with them:
// - publint and @arethetypeswrong/cli find nothing wrong with any tarball;
// - a page bundled by esbuild, and again by rollup, registers and upgrades every element in
//   Chromium, and a React 19 app bundled by esbuild renders @diamonds/react's components;
// - the elements' JSX types make React's, Preact's and Solid's JSX check the elements' props and
//   events (and refuse wrong ones), and @diamonds/react's props are typed;
// - importing any package in plain Node (server-side rendering) touches no DOM global.
// Works on the built dist (`npm test` builds first): a missing dist fails, never a silent skip.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { build as esbuild } from 'esbuild';
import { rollup } from 'rollup';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { chromiumMissing, launchChromium } from './browser.js';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const PACKAGES = ['protocol', 'sdk', 'elements', 'react', 'server'] as const;
const TAGS = [
  'diamond-amount',
  'diamond-checkout',
  'diamond-discover',
  'diamond-gift-button',
  'diamond-goal',
  'diamond-live-feed',
  'diamond-paywall',
  'diamond-provider',
  'diamond-top-gifters',
  'diamond-wallet',
];
/** Framework types the JSX check compiles against: the ones a site would have. */
const PREACT = '10.29.8';
const SOLID = '1.9.20';

/** The version of a package installed at the workspace's root (so npm's cache already has it). */
const installed = (name: string): string =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

// Skipped only outside CI when Debian's Chromium is missing (a loud warning; under CI=true a failure).
const noBrowser = chromiumMissing('the packaging test');

describe('installable packages: npm pack, installed in a fresh project', () => {
  let dir: string;
  /** Package → its tarball's path. */
  const tarballs = new Map<string, string>();

  before(async () => {
    for (const name of PACKAGES) {
      assert.ok(existsSync(join(ROOT, 'packages', name, 'dist')), `packages/${name}/dist is missing: run \`npm run build\` first`);
    }
    dir = mkdtempSync(join(tmpdir(), 'diamonds-packaging-'));
    mkdirSync(join(dir, 'packs'));
    const { stdout } = await run(
      'npm',
      ['pack', '--json', '--pack-destination', join(dir, 'packs'), ...PACKAGES.flatMap((name) => ['-w', `packages/${name}`])],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
    );
    for (const packed of JSON.parse(stdout) as { name: string; filename: string }[]) {
      tarballs.set(packed.name.replace('@diamonds/', ''), join(dir, 'packs', packed.filename));
    }
    const site = join(dir, 'site');
    mkdirSync(site);
    writeFileSync(join(site, 'package.json'), JSON.stringify({ name: 'a-site', private: true, type: 'module' }));
    // No install scripts: better-sqlite3 would compile from source (its prebuilt binary is a
    // download); loading @diamonds/server needs no native binding until a database opens.
    await run(
      'npm',
      [
        'install',
        '--ignore-scripts',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        ...PACKAGES.map((name) => tarballs.get(name)!),
        `react@${installed('react')}`,
        `react-dom@${installed('react-dom')}`,
        `@types/react@${installed('@types/react')}`,
        `preact@${PREACT}`,
        `solid-js@${SOLID}`,
      ],
      { cwd: site, maxBuffer: 64 * 1024 * 1024 },
    );
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const site = (...path: string[]): string => join(dir, 'site', ...path);

  it('packs every package, and installs ours, not a namesake from the registry', () => {
    assert.deepEqual([...tarballs.keys()].sort(), [...PACKAGES].sort());
    for (const name of PACKAGES) {
      const manifest = JSON.parse(readFileSync(site('node_modules/@diamonds', name, 'package.json'), 'utf8')) as { description: string };
      const ours = JSON.parse(readFileSync(join(ROOT, 'packages', name, 'package.json'), 'utf8')) as { description: string };
      assert.equal(manifest.description, ours.description, `node_modules/@diamonds/${name} is the packed workspace package`);
      assert.ok(!existsSync(site('node_modules/@diamonds', name, 'src')), `@diamonds/${name} ships no sources`);
      assert.ok(!existsSync(site('node_modules/@diamonds', name, 'dist/.tsbuildinfo')), `@diamonds/${name} ships no build cache`);
    }
  });

  for (const name of PACKAGES) {
    it(`@diamonds/${name}: publint finds nothing (strict, suggestions included)`, async () => {
      const tarball = readFileSync(tarballs.get(name)!);
      const { messages, pkg } = await publint({
        pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
        level: 'suggestion',
        strict: true,
      });
      assert.deepEqual(
        messages.map((message) => `${message.type}: ${formatMessage(message, pkg, { color: false })}`),
        [],
      );
    });

    it(`@diamonds/${name}: arethetypeswrong finds nothing for ESM consumers (node16 and bundlers)`, async () => {
      // "esm-only": the packages are ES modules only (`"type": "module"`, no `require` condition),
      // so CommonJS `require` and TypeScript's pre-exports node10 resolution are not theirs.
      const attw = join(ROOT, 'node_modules/@arethetypeswrong/cli/dist/index.js');
      const result = await run(process.execPath, [attw, tarballs.get(name)!, '--profile', 'esm-only', '--format', 'table-flipped'], {
        cwd: dir,
      }).catch((error: { stdout: string; stderr: string }) => ({ ...error, failed: true }));
      assert.ok(!('failed' in result), `attw reports problems:\n${result.stdout}${result.stderr}`);
    });
  }

  it('@diamonds/elements: ships its manifest ("customElements"), JSX types and VS Code\'s custom data', () => {
    const pkg = JSON.parse(readFileSync(site('node_modules/@diamonds/elements/package.json'), 'utf8')) as {
      customElements: string;
      exports: Record<string, unknown>;
    };
    const manifest = JSON.parse(readFileSync(site('node_modules/@diamonds/elements', pkg.customElements), 'utf8')) as {
      schemaVersion: string;
      modules: { path: string; declarations?: { tagName?: string; customElement?: boolean }[] }[];
    };
    const tags = manifest.modules
      .flatMap((module) => module.declarations ?? [])
      .filter((d) => d.customElement)
      .map((d) => d.tagName);
    assert.deepEqual(tags.sort(), TAGS);
    // Every path the manifest names (modules, re-exports, event classes, base classes) is shipped.
    const paths = new Set<string>();
    JSON.stringify(manifest, (key, value: unknown) => {
      if ((key === 'path' || key === 'module') && typeof value === 'string') paths.add(value);
      return value;
    });
    assert.ok(paths.size > 20, `the manifest names ${paths.size} modules`);
    for (const path of paths) {
      assert.ok(
        /^dist\/.+\.js$/.test(path) && existsSync(site('node_modules/@diamonds/elements', path)),
        `the manifest's ${path} is in the package`,
      );
    }
    for (const path of [
      './jsx',
      './jsx-react',
      './jsx-preact',
      './jsx-solid',
      './vscode.html-custom-data.json',
      './custom-elements.json',
    ]) {
      assert.ok(path in pkg.exports, `package.json exports ${path}`);
    }
    const html = JSON.parse(readFileSync(site('node_modules/@diamonds/elements/dist/vscode.html-custom-data.json'), 'utf8')) as {
      tags: { name: string; attributes: { name: string; values?: { name: string }[] }[] }[];
    };
    assert.deepEqual(html.tags.map((tag) => tag.name).sort(), TAGS);
    const theme = html.tags.find((tag) => tag.name === 'diamond-wallet')?.attributes.find((a) => a.name === 'theme');
    assert.deepEqual(
      theme?.values?.map((v) => v.name),
      ['light', 'dark'],
      'VS Code offers the values of `theme`',
    );
  });

  it('importing any package in plain Node (server-side rendering) touches no DOM global', async () => {
    // Tripwires on the browser's globals record who reads them. Dependencies may feature-detect
    // (Lit installs its own server shims, zod and pg look at `navigator`); our code must not.
    const probe = `
      const touched = [];
      for (const name of ${JSON.stringify(['window', 'document', 'localStorage', 'sessionStorage', 'location', 'navigator', 'customElements', 'HTMLElement', 'Element', 'ShadowRoot', 'CSSStyleSheet', 'matchMedia', 'requestAnimationFrame', 'self', 'history', 'trustedTypes', 'indexedDB', 'crypto'])}) {
        if (Object.getOwnPropertyDescriptor(globalThis, name)) continue;
        Object.defineProperty(globalThis, name, {
          configurable: true,
          get() { touched.push({ name, stack: new Error().stack }); return undefined; },
          set(value) { Object.defineProperty(globalThis, name, { value, writable: true, configurable: true }); },
        });
      }
      const entries = process.argv.slice(1);
      for (const entry of entries) await import(entry);
      const ours = touched.filter(({ stack }) => stack.split('\\n')[2]?.includes('/node_modules/@diamonds/'));
      console.log(JSON.stringify({ imported: entries.length, ours: ours.map(({ name, stack }) => name + ' ' + stack.split('\\n')[2].trim()) }));
    `;
    const elementExports = Object.keys(
      (JSON.parse(readFileSync(site('node_modules/@diamonds/elements/package.json'), 'utf8')) as { exports: Record<string, unknown> })
        .exports,
    ).filter((path) => path.endsWith('.js') || path === '.');
    const entries = [
      '@diamonds/protocol',
      '@diamonds/sdk',
      '@diamonds/sdk/server',
      ...elementExports.map((path) => `@diamonds/elements${path.slice(1)}`),
      '@diamonds/react',
      '@diamonds/server',
    ];
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe, ...entries], { cwd: site() });
    const result = JSON.parse(stdout) as { imported: number; ours: string[] };
    assert.equal(result.imported, entries.length);
    assert.ok(entries.length > 15, `imported ${entries.length} entries`);
    assert.deepEqual(result.ours, [], 'our modules read a DOM global while being imported');
  });

  it("types: React's, Preact's and Solid's JSX know the elements, and refuse wrong props", async () => {
    mkdirSync(site('types'));
    writeFileSync(
      site('types/tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          jsx: 'react-jsx',
          lib: ['ES2023', 'DOM', 'DOM.Iterable'],
          types: [],
        },
        include: ['*.tsx'],
      }),
    );
    writeFileSync(
      site('types/react.tsx'),
      `import type {} from '@diamonds/elements/jsx-react';
import { DiamondGiftButton, DiamondWallet } from '@diamonds/react';

export const elements = (
  <>
    <diamond-gift-button creator="usr_1" creator-name="Ada" quantity={3} theme="dark" ondiamond-gift-sent={(event) => event.detail.transferId} />
    <diamond-wallet layout="full" open className="wallet" ondiamond-balance-changed={(event) => event.detail.balanceDiamonds + 1} />
    <diamond-amount value={3} />
  </>
);
export const components = (
  <>
    <DiamondGiftButton creator="usr_1" quantity={2} onDiamondGiftSent={(event) => event.detail.transferId} onDiamondError={(event) => event.detail.error} />
    <DiamondWallet layout="compact" onDiamondSignedOut={(event) => event.detail.reason} />
  </>
);
// @ts-expect-error theme is light or dark
export const badTheme = <diamond-gift-button theme="blue" />;
// @ts-expect-error the listener gets the element's event class
export const badListener = <diamond-gift-button ondiamond-gift-sent={(event: { detail: number }) => event} />;
// @ts-expect-error quantity is a number
export const badQuantity = <DiamondGiftButton quantity="three" />;
// @ts-expect-error the sign-out reason is 'signed_out' or 'expired'
export const badDetail = <DiamondWallet onDiamondSignedOut={(event) => event.detail.reason === 'timeout'} />;
`,
    );
    for (const [file, source] of [
      ['preact', 'preact'],
      ['solid', 'solid-js'],
    ] as const) {
      const on = file === 'solid' ? 'on:diamond-gift-sent' : 'ondiamond-gift-sent';
      writeFileSync(
        site(`types/${file}.tsx`),
        `/** @jsxImportSource ${source} */
import type {} from '@diamonds/elements/jsx-${file}';

export const ok = <diamond-gift-button creator="usr_1" creator-name="Ada" quantity={3} ${on}={(event) => event.detail.transferId} />;
// @ts-expect-error theme is light or dark
export const badTheme = <diamond-gift-button theme="blue" />;
// @ts-expect-error no such element
export const unknown = <diamond-nothing />;
`,
      );
    }
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', site('types/tsconfig.json')], { cwd: site() }).catch(
      (error: { stdout: string }) => ({ stdout: error.stdout, failed: true }),
    );
    assert.ok(!('failed' in result), `tsc:\n${result.stdout}`);
  });

  // noBrowser (above): skipped only outside CI, loudly, when Chromium is missing.
  describe('in Chromium', { skip: noBrowser }, () => {
    let server: Server;
    let base: string;
    let browser: Browser;

    const PAGE = `import '@diamonds/elements/define-all.js';
import { DiamondAmount } from '@diamonds/elements';
window.DiamondAmount = DiamondAmount;
`;
    const REACT_APP = `import { createRoot } from 'react-dom/client';
import { flushSync } from 'react-dom';
import { DiamondAmount, DiamondGiftButton } from '@diamonds/react';
import { DiamondGiftRequestEvent } from '@diamonds/elements';

window.seen = [];
window.DiamondGiftRequestEvent = DiamondGiftRequestEvent;
const root = createRoot(document.getElementById('app'));
flushSync(() =>
  root.render(
    <>
      <DiamondAmount value={4321} locale="en-US" />
      <DiamondGiftButton creator="usr_react" creatorName="Ada" gift="rose" quantity={2} onDiamondGiftRequest={(event) => window.seen.push(event.detail)} />
    </>,
  ),
);
`;

    before(async () => {
      mkdirSync(site('src'));
      mkdirSync(site('public'));
      writeFileSync(site('src/page.js'), PAGE);
      writeFileSync(site('src/app.jsx'), REACT_APP);
      const production = { 'process.env.NODE_ENV': '"production"' };
      await esbuild({
        entryPoints: [site('src/page.js')],
        outfile: site('public/esbuild.js'),
        bundle: true,
        minify: true,
        format: 'esm',
        platform: 'browser',
        define: production,
        absWorkingDir: site(),
        logLevel: 'silent',
      });
      await esbuild({
        entryPoints: [site('src/app.jsx')],
        outfile: site('public/react.js'),
        bundle: true,
        minify: true,
        format: 'esm',
        platform: 'browser',
        jsx: 'automatic',
        define: production,
        absWorkingDir: site(),
        logLevel: 'silent',
      });
      const bundle = await rollup({
        input: site('src/page.js'),
        plugins: [
          // What @rollup/plugin-replace does for a site: dependencies read it to drop development code.
          { name: 'node-env', transform: (code) => code.replaceAll('process.env.NODE_ENV', production['process.env.NODE_ENV']) },
          nodeResolve({ browser: true }),
        ],
        onwarn(warning) {
          // tsc's `__decorate` helper reads a top-level `this` (undefined in a module, as it expects).
          if (warning.code !== 'THIS_IS_UNDEFINED' && warning.code !== 'CIRCULAR_DEPENDENCY' && warning.code !== 'INVALID_ANNOTATION') {
            throw new Error(`rollup: ${warning.message}`);
          }
        },
      });
      await bundle.write({ file: site('public/rollup.js'), format: 'es' });
      await bundle.close();
      for (const name of ['esbuild', 'rollup', 'react']) {
        const body =
          name === 'react'
            ? '<div id="app"></div>'
            : TAGS.map((tag) => (tag === 'diamond-amount' ? `<${tag} value="1234" locale="en-US"></${tag}>` : `<${tag}></${tag}>`)).join(
                '\n',
              );
        writeFileSync(
          site(`public/${name}.html`),
          `<!doctype html><html lang="en"><body>${body}<script type="module" src="${name}.js"></script></body></html>`,
        );
      }
      server = createServer((request, response) => {
        const file = site('public', new URL(request.url ?? '/', 'http://x').pathname.replace(/^\/+/, ''));
        if (!file.startsWith(site('public')) || !existsSync(file)) return void response.writeHead(404).end();
        response.writeHead(200, { 'content-type': extname(file) === '.js' ? 'text/javascript' : 'text/html' }).end(readFileSync(file));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      browser = await launchChromium();
    });

    after(async () => {
      await browser?.close();
      await new Promise((resolve) => server?.close(resolve));
    });

    /** Opens a page; fails on any uncaught error in it. */
    async function open(name: string): Promise<{ page: Page; errors: string[] }> {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${base}/${name}.html`);
      return { page, errors };
    }

    for (const bundler of ['esbuild', 'rollup']) {
      it(`a page bundled by ${bundler}: every element is defined, upgraded and rendered`, async () => {
        const { page, errors } = await open(bundler);
        await page.waitForFunction(() => customElements.get('diamond-wallet') !== undefined);
        const state = await page.evaluate(async (tags) => {
          const out: Record<string, { defined: boolean; upgraded: boolean; rendered: boolean }> = {};
          for (const tag of tags) {
            const element = document.querySelector(tag) as (HTMLElement & { updateComplete?: Promise<unknown> }) | null;
            await element?.updateComplete;
            out[tag] = {
              defined: customElements.get(tag) !== undefined,
              upgraded: element instanceof (customElements.get(tag) ?? class {}),
              rendered: element?.shadowRoot !== null && element?.shadowRoot !== undefined,
            };
          }
          const amount = document.querySelector('diamond-amount')?.shadowRoot?.querySelector('[part~="amount"]')?.textContent;
          return {
            out,
            amount,
            same: customElements.get('diamond-amount') === (window as unknown as { DiamondAmount: unknown }).DiamondAmount,
          };
        }, TAGS);
        for (const tag of TAGS) assert.deepEqual(state.out[tag], { defined: true, upgraded: true, rendered: true }, `<${tag}>`);
        assert.equal(state.amount, '1,234', '<diamond-amount> renders its value');
        assert.ok(state.same, 'the class exported by the package is the one registered');
        assert.deepEqual(errors, []);
        await page.close();
      });
    }

    it('a React 19 app bundled by esbuild: @diamonds/react renders, props reach the elements, events reach the props', async () => {
      const { page, errors } = await open('react');
      await page.waitForFunction(() => document.querySelector('diamond-gift-button')?.shadowRoot);
      const state = await page.evaluate(async () => {
        const amount = document.querySelector('diamond-amount') as HTMLElement & { value: number; updateComplete: Promise<unknown> };
        const button = document.querySelector('diamond-gift-button') as HTMLElement & { quantity: number; creatorName: string };
        await amount.updateComplete;
        // The element's own event class, as the element dispatches it when a fan asks for a gift.
        const Request = (window as unknown as { DiamondGiftRequestEvent: new (detail: object) => Event }).DiamondGiftRequestEvent;
        button.dispatchEvent(new Request({ creatorId: 'usr_react', giftId: 'rose', quantity: 2, message: undefined }));
        return {
          value: amount.value,
          text: amount.shadowRoot?.querySelector('[part~="amount"]')?.textContent,
          quantity: button.quantity,
          creatorName: button.creatorName,
          seen: (window as unknown as { seen: unknown[] }).seen,
        };
      });
      assert.equal(state.value, 4321, 'value prop → property');
      assert.equal(state.text, '4,321');
      assert.equal(state.quantity, 2, 'quantity prop → a number property');
      assert.equal(state.creatorName, 'Ada', 'creatorName prop → property');
      assert.deepEqual(
        state.seen,
        [{ creatorId: 'usr_react', giftId: 'rose', quantity: 2, message: undefined }],
        'onDiamondGiftRequest got the event',
      );
      assert.deepEqual(errors, []);
      await page.close();
    });
  });
});
