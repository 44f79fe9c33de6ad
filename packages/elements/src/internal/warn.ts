// `process.env.NODE_ENV` is replaced by bundlers (rollup for the drop-in script, the test
// runner in development), so production builds drop the warnings entirely. Declared here
// rather than through @types/node: the elements run in browsers.
declare const process: { readonly env: { readonly NODE_ENV?: string } };

/**
 * Logs a development-only warning with a stable code and where to read about it.
 *
 * @remarks Silent in production builds and where `process` is not defined (an unbundled page).
 */
export function devWarn(code: string, message: string): void {
  try {
    if (process.env.NODE_ENV !== 'production') {
      console.warn(`[diamonds:${code}] ${message} See docs/warnings.md#${code}.`);
    }
  } catch {
    // `process` is not defined: an unbundled page, where nothing replaced NODE_ENV.
  }
}
