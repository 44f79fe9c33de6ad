#!/usr/bin/env node
// The `diamonds` command. Runs the built CLI; `npm start` and `npm run build` build it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error('diamonds: the server is not built yet. Run "npm run build" (or "npm start") from the repository root first.');
  process.exit(1);
}
const { main } = await import(cli.href);
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(`diamonds: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
