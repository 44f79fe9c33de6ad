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

/** Lit prints this once per page in development builds; it is noise in test output. */
function isLitDevModeNotice(args) {
  return typeof args[0] === 'string' && args[0].includes('Lit is in dev mode');
}

/** @type {import('@web/test-runner').TestRunnerConfig} */
export default {
  rootDir: fileURLToPath(new URL('.', import.meta.url)),
  files: ['packages/elements/src/**/*.test.ts'],
  nodeResolve: { exportConditions: ['source', 'browser', 'development'] },
  plugins: [
    esbuildPlugin({
      ts: true,
      target: 'auto',
      tsconfig: fileURLToPath(new URL('./packages/elements/tsconfig.json', import.meta.url)),
    }),
    nodeEnvPlugin('development'),
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
  testFramework: { config: { timeout: 5000 } },
};
