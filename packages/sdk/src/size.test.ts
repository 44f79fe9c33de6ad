// The size budget of the browser entry (issues 5 and 18), minified and brotli-compressed: ≤ 9 KB
// for the SDK's own code, its small fetch wrapper (internal/http.ts) included, and ≤ 10 KB with
// nanostores bundled in. (Until issue 18 it was 8 KB of own code, and 20 KB with ky, which the
// wrapper replaced.) The browser entry parses responses with its own validators
// (internal/check.ts), not zod: zod must stay out of the bundle (only the Node entry, src/server,
// uses it). A regression fails here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import { build } from 'esbuild';

const ENTRY = fileURLToPath(new URL('./index.ts', import.meta.url));
const OWN_BUDGET_BYTES = 9 * 1024;
const FULL_BUDGET_BYTES = 10 * 1024;

/** The browser entry bundled as a site's bundler would, minified; its brotli size in bytes. */
async function brotliSize(external: string[]): Promise<{ minified: number; brotli: number; inputs: string[] }> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    metafile: true,
    conditions: ['source'],
    define: { 'process.env.NODE_ENV': '"production"' },
    external,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.contents;
  const brotli = brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  return { minified: code.length, brotli, inputs: Object.keys(result.metafile.inputs) };
}

describe('browser bundle size', () => {
  it(`is at most ${OWN_BUDGET_BYTES} bytes brotli without its dependencies`, async () => {
    const size = await brotliSize(['nanostores', '@diamonds/protocol']);
    console.log(`# sdk without dependencies: ${size.minified} B minified, ${size.brotli} B brotli`);
    assert.ok(size.brotli <= OWN_BUDGET_BYTES, `${size.brotli} B > ${OWN_BUDGET_BYTES} B`);
  });

  it(`is at most ${FULL_BUDGET_BYTES} bytes brotli with everything bundled`, async () => {
    const size = await brotliSize([]);
    console.log(`# sdk with nanostores: ${size.minified} B minified, ${size.brotli} B brotli`);
    assert.ok(size.brotli <= FULL_BUDGET_BYTES, `${size.brotli} B > ${FULL_BUDGET_BYTES} B`);
  });

  it('does not bundle zod', async () => {
    const { inputs } = await brotliSize([]);
    assert.deepEqual(
      inputs.filter((input) => input.includes('node_modules/zod/')),
      [],
    );
  });
});
