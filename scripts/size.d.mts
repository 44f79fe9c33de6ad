// Types of scripts/size.mjs, for test/elements-size.test.ts.

/** One measured bundle: sizes in bytes, brotli quality 11. */
export interface SizeRow {
  name: string;
  minified: number;
  brotli: number;
  budget: number;
  pass: boolean;
  /** Minified bytes per package, largest first. */
  contributors: [name: string, bytes: number][];
}

/** The budgets of issue 6, brotli bytes: the whole drop-in script, and one element alone. */
export const BUDGETS: { readonly whole: number; readonly element: number; readonly liveElement: number; readonly discover: number };
/** The live elements (folder names), whose budget is `liveElement`. */
export const LIVE_ELEMENTS: readonly string[];

/** `12.3 KB`. */
export function kb(bytes: number): string;

/** Measures the drop-in script and each element alone from the built dist; throws when it is not built. */
export function measureSizes(): Promise<SizeRow[]>;
