#!/usr/bin/env node
// The size report of the web components (issue 6), minified and brotli-compressed (quality 11):
// - the drop-in script's core, packages/elements/dist/diamonds.js, as rollup built it, and its
//   live file, diamonds-live.js (the live elements, loaded when a page first has a live tag);
// - each element alone with its share of everything (Lit, the SDK, nanostores…),
//   bundled by esbuild from its built `define.js`, minified, for production, as a site's
//   bundler would;
// - for each, the packages that weigh most, from esbuild's metafile.
// Usage: node scripts/size.mjs [--check] [--json]  (after `npm run build`)
//   --check  exit 1 when a figure misses its budget (without it the report never fails)
//   --json   print the figures as JSON instead of tables
// test/elements-size.test.ts imports measureSizes() from here, so the test suite checks the
// same figures against the same budgets.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'packages/elements/dist');
const KB = 1024;

/** The budgets of issue 18 (issue 6 had 30 KB and 22 KB) and of issue 15's live elements, brotli bytes. */
export const BUDGETS = {
  whole: 25 * KB,
  element: 20 * KB,
  liveElement: 22 * KB,
  // <diamond-discover> (issue 16), in its own file diamonds-discover.js: the element alone and the file.
  discover: 20 * KB,
};

/** The live elements (issue 15): each alone has the `liveElement` budget; the drop-in loads them as diamonds-live.js. */
export const LIVE_ELEMENTS = ['live-feed', 'goal', 'top-gifters'];

const brotli = (bytes) => brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
/** `12.3 KB`. */
export const kb = (bytes) => `${(bytes / KB).toFixed(1)} KB`;

/** The package a bundled file belongs to: `lit-html`, `@lit/context`, `@diamonds/sdk`… */
function packageOf(path) {
  const parts = path.split(/[/\\]/);
  const nm = parts.lastIndexOf('node_modules');
  if (nm >= 0) return parts[nm + 1]?.startsWith('@') ? `${parts[nm + 1]}/${parts[nm + 2]}` : parts[nm + 1];
  const pk = parts.indexOf('packages');
  if (pk >= 0) return `@diamonds/${parts[pk + 1]}`;
  return path;
}

/** Bundles `entry` like a site's bundler (minified, production, browser conditions); its bytes and metafile. */
async function bundle(entry) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    outfile: 'out.js',
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'none',
    logLevel: 'silent',
  });
  const code = result.outputFiles.find((file) => file.path.endsWith('.js')).contents;
  return { code, metafile: result.metafile };
}

/** Minified bytes per package in a bundle, largest first. */
function contributors(metafile) {
  const output = Object.values(metafile.outputs).find((o) => o.entryPoint !== undefined) ?? Object.values(metafile.outputs)[0];
  const byPackage = new Map();
  for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
    const name = packageOf(relative(root, join(root, path)).split(sep).join('/'));
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
  }
  return [...byPackage].filter(([, bytes]) => bytes > 0).sort((a, b) => b[1] - a[1]);
}

/**
 * Measures the drop-in script and each element alone, from the built dist. Throws when dist is
 * not built. Each row: `{ name, minified, brotli, budget, pass, contributors }` (bytes).
 */
export async function measureSizes() {
  if (
    !['diamonds.js', 'drop-in.js', 'diamonds-live.js', 'live-drop-in.js', 'diamonds-discover.js', 'discover-drop-in.js'].every((file) =>
      existsSync(join(dist, file)),
    )
  ) {
    throw new Error('packages/elements/dist is not built; run `npm run build` first.');
  }
  const rows = [];
  // The drop-in's two files as served (rollup + terser); their contributors from esbuild's bundle of the same entry.
  for (const [file, entry, name, budget] of [
    ['diamonds.js', 'drop-in.js', 'drop-in diamonds.js (all elements)', BUDGETS.whole],
    // Loaded only by pages with a live tag; it has no budget of its own: each live element's holds (it is about one of them).
    ['diamonds-live.js', 'live-drop-in.js', 'drop-in diamonds-live.js (live elements)', BUDGETS.whole],
    // Loaded only by pages that show boosted items, by a script tag of their own.
    ['diamonds-discover.js', 'discover-drop-in.js', 'drop-in diamonds-discover.js (<diamond-discover>)', BUDGETS.discover],
  ]) {
    const code = readFileSync(join(dist, file))
      .toString('utf8')
      .replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '');
    const whole = await bundle(join(dist, entry));
    rows.push({
      name,
      minified: Buffer.byteLength(code),
      brotli: brotli(Buffer.from(code)),
      budget,
      contributors: contributors(whole.metafile),
    });
  }
  const elements = readdirSync(dist, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dist, entry.name, 'define.js')))
    .map((entry) => entry.name)
    .sort();
  for (const element of elements) {
    const { code, metafile } = await bundle(join(dist, element, 'define.js'));
    rows.push({
      name: `<diamond-${element}> alone`,
      minified: code.length,
      brotli: brotli(code),
      budget: LIVE_ELEMENTS.includes(element) ? BUDGETS.liveElement : element === 'discover' ? BUDGETS.discover : BUDGETS.element,
      contributors: contributors(metafile),
    });
  }
  for (const row of rows) row.pass = row.brotli <= row.budget;
  return rows;
}

/** Prints the report; with `--check`, exits 1 when a figure misses its budget. */
async function main(args) {
  let rows;
  try {
    rows = await measureSizes();
  } catch (error) {
    console.error(`size: ${error.message}`);
    process.exit(2);
  }
  if (args.has('--json')) {
    console.log(JSON.stringify(rows, null, 2));
  } else {
    const table = [
      ['bundle', 'minified', 'brotli', 'budget', ''],
      ...rows.map((r) => [r.name, kb(r.minified), kb(r.brotli), `≤ ${kb(r.budget)}`, r.pass ? 'PASS' : 'MISS']),
    ];
    const widths = table[0].map((_, i) => Math.max(...table.map((line) => line[i].length)));
    const line = (cells) =>
      cells
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
        .join('  ')
        .trimEnd();
    console.log('Web components, minified and brotli-compressed (quality 11); KB = 1,024 bytes.\n');
    console.log(line(table[0]));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const cells of table.slice(1)) console.log(line(cells));
    console.log("\nTop contributors (minified bytes in esbuild's bundle of the same entry; brotli ≈ its share of the total):");
    for (const row of rows) {
      const total = row.contributors.reduce((sum, [, bytes]) => sum + bytes, 0);
      const top = row.contributors
        .slice(0, 8)
        .map(([name, bytes]) => `${name} ${kb(bytes)} (${Math.round((bytes / total) * 100)}%, ≈${kb((bytes / total) * row.brotli)} br)`);
      console.log(`  ${row.name}: ${top.join(', ')}`);
    }
  }

  const missed = rows.filter((row) => !row.pass);
  if (missed.length > 0) {
    console.error(`\nsize: ${missed.length} over budget: ${missed.map((r) => `${r.name} ${kb(r.brotli)} > ${kb(r.budget)}`).join('; ')}`);
    if (args.has('--check')) process.exit(1);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(new Set(process.argv.slice(2)));
