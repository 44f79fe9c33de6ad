import { devWarn } from './internal/warn.js';

/**
 * Registers a custom element, unless its tag is taken already.
 *
 * @remarks
 * A page may load two copies of the Diamonds elements (a bundle and the drop-in script, or
 * two versions). The registry holds one class per tag, so the first copy wins: a later one
 * returns without throwing, and in development warns with the code `duplicate-element` when
 * the tag belongs to a different class. Outside a browser (no `customElements`) it does
 * nothing, so `define` modules are safe to import during server rendering and in Node.
 *
 * @param tag - The tag name, such as `diamond-amount`.
 * @param constructor - The element class.
 * @returns Whether this call defined the tag.
 * @example
 * ```ts
 * import { defineElement, DiamondAmount } from '@diamonds/elements';
 *
 * defineElement('diamond-amount', DiamondAmount);
 * ```
 */
export function defineElement(tag: string, constructor: CustomElementConstructor): boolean {
  const registry = (globalThis as { customElements?: CustomElementRegistry }).customElements;
  if (registry === undefined) return false;
  const existing = registry.get(tag);
  if (existing !== undefined) {
    if (existing !== constructor) {
      devWarn(
        'duplicate-element',
        `<${tag}> is already defined by another script, probably a second copy of @diamonds/elements; keeping the first.`,
      );
    }
    return false;
  }
  registry.define(tag, constructor);
  return true;
}
