// `npm run bench:elements` (after `npm run build`): from the drop-in script's execution to an
// interactive gift button, in Chromium, on loopback (issue 18's goal: ≤ 50 ms), beside the same
// measure for a bare Lit element as the floor.
//
// The platform runs in a process of its own (this file, forked with `--platform`:
// @diamonds/server/testing's element fixture, the demo site, its creator and catalog on a
// throw-away SQLite file), so that its answers never wait behind Playwright's traffic in this
// one; the creator's page is served from another origin (127.0.0.1 on its own port), as a site
// would, and calls the platform cross-origin.
// Inside the page:
// - start: `performance.now()` on the script's first line (the page server prepends the mark to
//   packages/elements/dist/diamonds.js; the bundle imports nothing, so that line runs first);
// - defined: `customElements.whenDefined('diamond-gift-button')`;
// - ready: the button's `diamond-ready` event (rendered, catalog loaded so its price shows, wallet
//   state known: a first-time visitor, signed out);
// - API asked and answered, beside it: when the first of its API calls went out, and when the
//   last one it had by then (the catalog: the creators' names are asked after it) had its answer
//   in full, to tell the network's share from the elements'. The catalog is asked for as a CORS
//   "simple" request (the key in the query), so a first visit costs one round trip, not a
//   preflight and a GET.
// The floor: the same page with a Lit element that renders one button and says so from its first
// `updated()`, bundled (minified, Lit inside) like the drop-in script.
// Each run is a fresh browser context (no cache, no storage): a first visit. Bounded: RUNS runs
// after WARMUP unmeasured ones, each at most RUN_TIMEOUT_MS. The floor and the button take turns,
// visit by visit, so that both see the same load on a shared machine: compare them within a run
// (the ratio column), not across runs.
// Usage: node --conditions=source --import tsx packages/elements/bench/elements.bench.ts [runs]
import { fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { startElementFixture, type ElementFixtureInfo } from '@diamonds/server/testing';

const RUNS = Math.min(200, Math.max(1, Number(process.argv[2] ?? 30) || 30));
const WARMUP = 3;
const RUN_TIMEOUT_MS = 10_000;
const GOAL_MS = 50;
const CHROMIUM = '/usr/bin/chromium';
const root = fileURLToPath(new URL('../../../', import.meta.url));
const dropInFile = `${root}packages/elements/dist/diamonds.js`;

/** What the page's report of its times starts with, on the console. */
const REPORT = '__bench ';

/** Marks the script's first line: prepended to both scripts the page loads. */
const START_MARK = 'window.__start = performance.now();\n';

/** The bare Lit element of the floor: renders a button, then says so once. */
const FLOOR_SOURCE = `
import { LitElement, html } from 'lit';
class BareButton extends LitElement {
  render() {
    return html\`<button>Send Rose for 5 Diamonds</button>\`;
  }
  firstUpdated() {
    this.dispatchEvent(new Event('bare-ready', { bubbles: true, composed: true }));
  }
}
customElements.define('bare-button', BareButton);
`;

/**
 * The page: records when the element is defined and ready, then loads the script. Once ready it
 * logs the times, relative to the script's first line, on the console (`${REPORT}{…}`), where
 * the bench reads them: the bench never evaluates anything in the page, since Playwright's
 * injected script (tens of milliseconds of the page's main thread on a loaded machine) would
 * otherwise compete with the element it measures.
 */
function page(script: string, tag: string, attributes: string, readyEvent: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bench</title>
<script>
  const times = {};
  customElements.whenDefined('${tag}').then(() => (times.defined = performance.now()));
  document.addEventListener('${readyEvent}', () => {
    if (times.ready) return;
    times.ready = performance.now();
    // When the first API request went out, and when the last answer the element had by now
    // came in full (none for the floor).
    const api = performance.getEntriesByType('resource').filter((entry) => entry.initiatorType === 'fetch');
    times.asked = api.length ? Math.min(...api.map((entry) => entry.startTime)) : 0;
    times.answered = Math.max(0, ...api.map((entry) => entry.responseEnd));
    // Reported a task later, off the measured path (and once whenDefined's reaction surely ran).
    setTimeout(() => {
      const since = (t) => t && t - window.__start;
      console.log('${REPORT}' + JSON.stringify({ defined: since(times.defined), asked: since(times.asked), answered: since(times.answered), ready: since(times.ready) }));
    });
  });
</script>
<script type="module" src="${script}"></script>
</head><body><${tag} ${attributes}></${tag}></body></html>`;
}

/** Milliseconds from the script's first line: element defined, API asked and answered (0: none), element ready. */
interface Times {
  defined: number;
  asked: number;
  answered: number;
  ready: number;
}

/** The `p`th percentile (0 to 1) of sorted `values`, nearest rank. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(', ');

async function main(): Promise<void> {
  if (!existsSync(dropInFile)) throw new Error(`${dropInFile} is missing: run \`npm run build\` first.`);
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is missing at ${CHROMIUM} (apt-get install chromium).`);
  const loadBefore = load();
  const platform = fork(fileURLToPath(import.meta.url), ['--platform'], { execArgv: process.execArgv });
  const info = await new Promise<ElementFixtureInfo>((resolve, reject) => {
    platform.once('message', (message) => resolve(message as ElementFixtureInfo));
    platform.once('exit', (code) => reject(new Error(`the platform exited (${code}) before it started`)));
  });
  const { apiBase, publishableKey, creatorId } = info;
  const floor = await build({
    stdin: { contents: FLOOR_SOURCE, resolveDir: root, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  });
  const scripts: Record<string, string> = {
    '/diamonds.js': START_MARK + readFileSync(dropInFile, 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, ''),
    '/floor.js': START_MARK + floor.outputFiles[0]!.text,
  };
  const pages: Record<string, string> = {
    '/gift-button': page(
      '/diamonds.js',
      'diamond-gift-button',
      `publishable-key="${publishableKey}" api-base="${apiBase}" creator="${creatorId}" creator-name="Ada" gift="rose"`,
      'diamond-ready',
    ),
    '/floor': page('/floor.js', 'bare-button', '', 'bare-ready'),
  };
  const site: Server = createServer((request, response) => {
    const path = request.url ?? '/';
    if (path === '/favicon.ico') return void response.writeHead(204).end();
    const script = scripts[path];
    const html = pages[path];
    if (script === undefined && html === undefined) return void response.writeHead(404).end();
    response.writeHead(200, {
      'Content-Type': script === undefined ? 'text/html; charset=utf-8' : 'text/javascript; charset=utf-8',
      'Cache-Control': 'no-store',
    });
    response.end(script ?? html);
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  const siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  if (new URL(siteUrl).origin === new URL(apiBase).origin) throw new Error('the page and the platform must be two origins');

  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    /** One first visit of `path`: milliseconds from the script's first line to defined and to ready. */
    const visit = async (path: string): Promise<Times> => {
      const context = await browser!.newContext();
      try {
        const tab = await context.newPage();
        const problems: string[] = [];
        tab.on('pageerror', (error) => problems.push(error.message));
        tab.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
        const report = tab.waitForEvent('console', { predicate: (message) => message.text().startsWith(REPORT), timeout: RUN_TIMEOUT_MS });
        await tab.goto(`${siteUrl}${path}`, { waitUntil: 'commit' });
        const times = JSON.parse((await report).text().slice(REPORT.length)) as Times;
        if (problems.length > 0) throw new Error(`${path}: ${problems.join('; ')}`);
        return times;
      } finally {
        await context.close();
      }
    };

    const pagesByName = [
      ['bare Lit element (floor)', '/floor'],
      ['<diamond-gift-button>, drop-in', '/gift-button'],
    ] as const;
    const results: Array<[string, Times[]]> = pagesByName.map(([name]) => [name, []]);
    for (let i = 0; i < WARMUP; i++) for (const [, path] of pagesByName) await visit(path);
    for (let i = 0; i < RUNS; i++) {
      for (const [index, [, path]] of pagesByName.entries()) results[index]![1].push(await visit(path));
    }

    console.log(`Script execution to interactive element, Chromium on loopback, ${RUNS} first visits each (after ${WARMUP} warm-ups).`);
    console.log(`Platform ${apiBase} (its own process, SQLite), page ${siteUrl}; load average ${loadBefore} before, ${load()} after.\n`);
    const rows = [
      ['element', 'defined', 'API asked', 'API answered', 'ready median', 'ready p95', 'min', 'max', '÷ floor', `goal ≤ ${GOAL_MS} ms`],
    ];
    const median = (runs: Times[], key: keyof Times) =>
      percentile(
        runs.map((run) => run[key]).sort((a, b) => a - b),
        0.5,
      );
    const floorMedian = median(results[0]![1], 'ready');
    for (const [name, runs] of results) {
      const ready = runs.map((run) => run.ready).sort((a, b) => a - b);
      const p95 = percentile(ready, 0.95);
      const asked = median(runs, 'asked');
      const answered = median(runs, 'answered');
      rows.push([
        name,
        `${median(runs, 'defined').toFixed(1)} ms`,
        asked ? `${asked.toFixed(1)} ms` : '—',
        answered ? `${answered.toFixed(1)} ms` : '—',
        `${percentile(ready, 0.5).toFixed(1)} ms`,
        `${p95.toFixed(1)} ms`,
        `${ready[0]!.toFixed(1)} ms`,
        `${ready.at(-1)!.toFixed(1)} ms`,
        `${(percentile(ready, 0.5) / floorMedian).toFixed(1)}×`,
        name.includes('floor') ? '' : p95 <= GOAL_MS ? 'PASS (p95)' : percentile(ready, 0.5) <= GOAL_MS ? 'PASS (median)' : 'MISS',
      ]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
    for (const [index, row] of rows.entries()) {
      console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
      if (index === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    }
    console.log(
      '\n(medians but for p95, min and max; "API asked": its first API request went out; "API answered": the last API response it had when ready, in full; "÷ floor": ready medians.)',
    );
  } finally {
    await browser?.close();
    await new Promise((resolve) => site.close(resolve));
    platform.disconnect(); // the platform closes and exits
  }
}

/** The platform's process: starts the fixture, says where it is, and closes when the bench lets go. */
async function servePlatform(): Promise<void> {
  const fixture = await startElementFixture();
  process.send!(fixture.info);
  process.once('disconnect', () => void fixture.close().finally(() => process.exit()));
}

await (process.argv[2] === '--platform' ? servePlatform() : main());
