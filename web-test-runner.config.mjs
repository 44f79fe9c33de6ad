// Browser tests of the elements, in Debian's Chromium through Playwright. Workspace packages
// resolve to their TypeScript sources (the "source" export condition) and esbuild compiles
// them, so no build is needed first. Run with `npx web-test-runner` (or `npm run test:browser`).
import { fileURLToPath } from 'node:url';
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { playwrightLauncher } from '@web/test-runner-playwright';

/** Replaces `process.env.NODE_ENV`, which nanostores and our dev warnings read, as bundlers do. */
function nodeEnvPlugin(value) {
  return {
    name: 'node-env',
    transform(context) {
      if (context.response.is('js') && context.body.includes('process.env.NODE_ENV')) {
        return { body: context.body.replaceAll('process.env.NODE_ENV', JSON.stringify(value)) };
      }
      return undefined;
    },
  };
}

/**
 * Starts a real platform (the demo site, content and products on a throw-away SQLite file) for
 * the elements to talk to, and serves the few test-only calls of its fixture under
 * `/__diamonds/` (see packages/server/src/testing/element-fixture.ts). Uses the server's build
 * (`npm run build` first; `npm test` does).
 */
function diamondsPlatformPlugin() {
  let fixture;
  return {
    name: 'diamonds-platform',
    async serverStart() {
      const { startElementFixture } = await import('./packages/server/dist/testing/element-fixture.js');
      fixture = await startElementFixture();
    },
    async serverStop() {
      await fixture?.close();
    },
    async serve(context) {
      if (!context.path.startsWith('/__diamonds/')) return undefined;
      const origin = `${context.protocol}://${context.host}`;
      const answer = await fixture.handle(context.path, new URLSearchParams(context.querystring), origin);
      return answer === undefined ? undefined : { body: JSON.stringify(answer), type: 'json' };
    },
  };
}

/**
 * Serves each `*.test.tsx` file (packages/react's) bundled by esbuild with everything it imports:
 * React ships CommonJS, which the dev server cannot serve file by file, and a site bundles it
 * anyway. Workspace packages resolve to their sources, as in the other tests.
 */
function bundledTestsPlugin() {
  return {
    name: 'diamonds-bundled-tests',
    async serve(context) {
      if (!context.path.endsWith('.test.tsx')) return undefined;
      const { build } = await import('esbuild');
      const result = await build({
        entryPoints: [fileURLToPath(new URL(`.${context.path}`, import.meta.url))],
        bundle: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        jsx: 'automatic',
        conditions: ['source', 'browser', 'development'],
        define: { 'process.env.NODE_ENV': '"development"' },
        sourcemap: 'inline',
        write: false,
        logLevel: 'silent',
      });
      return { body: result.outputFiles[0].text, type: 'js' };
    },
  };
}

/** Lit prints this once per page in development builds; it is noise in test output. */
function isLitDevModeNotice(args) {
  return typeof args[0] === 'string' && args[0].includes('Lit is in dev mode');
}

/** @type {import('@web/test-runner').TestRunnerConfig} */
export default {
  rootDir: fileURLToPath(new URL('.', import.meta.url)),
  files: ['packages/elements/src/**/*.test.ts', 'packages/react/test/**/*.test.tsx'],
  nodeResolve: { exportConditions: ['source', 'browser', 'development'] },
  plugins: [
    esbuildPlugin({
      ts: true,
      target: 'auto',
      tsconfig: fileURLToPath(new URL('./packages/elements/tsconfig.json', import.meta.url)),
    }),
    nodeEnvPlugin('development'),
    diamondsPlatformPlugin(),
    bundledTestsPlugin(),
  ],
  browsers: [
    playwrightLauncher({
      product: 'chromium',
      launchOptions: {
        executablePath: '/usr/bin/chromium',
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      },
    }),
  ],
  filterBrowserLogs: ({ args }) => !isLitDevModeNotice(args),
  // One test file at a time: the files share one platform and the page origin's localStorage,
  // where the SDK keeps a fan's sign-in.
  concurrency: 1,
  testFramework: { config: { timeout: 5000 } },
};
