#!/usr/bin/env node
// Runs every test: Node suites (node:test, TypeScript through tsx, workspace packages resolved to
// their sources through the "source" export condition), then the browser suites in Chromium.
// Usage: node scripts/test.mjs [--node-only | --browser-only] [file filter…]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const nodeOnly = args.includes('--node-only');
const browserOnly = args.includes('--browser-only');
const filters = args.filter((a) => !a.startsWith('--'));

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

// Elements run in the browser; everything else in Node.
const nodeFiles = [...walk(join(root, 'packages')), ...walk(join(root, 'test'))]
  .filter((f) => !f.startsWith('packages/elements/') && !f.endsWith('.browser.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

// A file (and any one test) that runs longer than this fails, its process killed by the runner:
// a thread that deadlocks (Node 20's keygen once hung a file for 11 minutes, see
// packages/server/src/ec-keys.ts) then fails the run with "test timed out" rather than holding
// it until CI gives up. The slowest file takes about 4 minutes on a loaded 2-core machine.
const FILE_TIMEOUT_MS = 10 * 60 * 1000;

let failed = false;
if (!browserOnly) {
  if (nodeFiles.length === 0) {
    console.error('test: no Node test files found');
    process.exit(1);
  }
  const result = spawnSync(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=2',
      `--test-timeout=${FILE_TIMEOUT_MS}`,
      '--test-reporter=spec',
      ...nodeFiles,
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
  );
  if (result.status !== 0) failed = true;
}
if (!nodeOnly && filters.length === 0) {
  const result = spawnSync(process.execPath, [join(root, 'node_modules/@web/test-runner/dist/bin.js')], {
    cwd: root,
    stdio: 'inherit',
    env: process.env,
  });
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
