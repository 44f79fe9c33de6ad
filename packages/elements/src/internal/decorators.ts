// Lit's `@property()` and `@state()` as our elements use them: the legacy (experimentalDecorators)
// form only, which is what tsc emits here. lit/decorators.js also carries the standard-decorators
// form, which the elements never call (about 0.3 KB brotli of the drop-in script). Named as Lit
// names them, so the custom-elements manifest analyzer reads them the same way.
import type { PropertyDeclaration, ReactiveElement } from 'lit';

/**
 * Declares a reactive property (an attribute too, unless `attribute: false`), as Lit's
 * `@property()` does on a class field.
 *
 * @internal
 */
export const property =
  (options?: PropertyDeclaration) =>
  (proto: ReactiveElement, name: PropertyKey): void => {
    (proto.constructor as typeof ReactiveElement).createProperty(name, options);
  };

/**
 * Declares private reactive state (no attribute), as Lit's `@state()` does.
 *
 * @internal
 */
export const state = (options?: PropertyDeclaration): ReturnType<typeof property> =>
  property({ ...options, state: true, attribute: false });
