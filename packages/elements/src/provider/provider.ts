import { css, html, LitElement, type PropertyValues, type TemplateResult } from 'lit';
import { property } from '../internal/decorators.js';
import { createDiamonds, type DiamondsClient } from '@diamonds/sdk';
import { apiBaseOr, diamondsContext } from '../internal/client.js';
import { ContextProvider } from '../internal/context.js';

/**
 * Makes one Diamonds client for a site and hands it to every Diamonds element inside it, so
 * they share one sign-in, one wallet and one set of confirmations.
 *
 * @remarks
 * Optional: an element outside any provider makes (and shares, per key) its own client from its
 * own `publishable-key` and `api-base`. Use a provider to set the key once, to share a client
 * you made yourself (`client` property), or to keep the fan signed in across reloads
 * (`storage="local"`, the default; `memory` keeps nothing).
 *
 * @example
 * ```html
 * <diamond-provider publishable-key="pk_test_…" api-base="https://diamonds.example" locale="de">
 *   <diamond-wallet></diamond-wallet>
 *   <diamond-gift-button creator="usr_…" gift="rose"></diamond-gift-button>
 * </diamond-provider>
 * ```
 *
 * @summary Shares one Diamonds client with the elements inside.
 * @attr publishable-key - The site's publishable key (`pk_…`), for every element inside.
 * @attr api-base - The platform's address. Defaults to the origin the drop-in script came from.
 * @attr locale - The BCP 47 locale of every element inside. Defaults to each element's own.
 * @attr storage - Where the fan's sign-in is kept: `local` (survives reloads, the default) or `memory`.
 * @slot - The page content holding Diamonds elements.
 */
export class DiamondProvider extends LitElement {
  /** No box of its own: the page's layout goes on as if the provider were not there. */
  static override styles = css`
    :host {
      display: contents;
    }
  `;

  /** The site's publishable key (`pk_…`). */
  @property({ attribute: 'publishable-key' })
  publishableKey: string | undefined;

  /**
   * The platform's address, such as `https://diamonds.example`.
   * @defaultValue the origin the drop-in script came from; else the SDK's default
   */
  @property({ attribute: 'api-base' })
  apiBase: string | undefined;

  /** The BCP 47 locale of every element inside. @defaultValue each element's own */
  @property()
  locale: string | undefined;

  /** Where the fan's sign-in is kept: `local` (survives reloads) or `memory`. @defaultValue 'local' */
  @property()
  storage: 'local' | 'memory' = 'local';

  /** A client made by your code, to share with the elements instead of one made from the attributes. */
  @property({ attribute: false })
  client: DiamondsClient | undefined;

  readonly #provider = new ContextProvider(this, diamondsContext);

  /** @internal */
  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('client') && this.client) {
      this.#provider.setValue(this.client);
      return;
    }
    if (!this.client && (changed.has('publishableKey') || changed.has('apiBase') || changed.has('locale') || changed.has('storage'))) {
      this.#provider.setValue(
        this.publishableKey
          ? createDiamonds({
              publishableKey: this.publishableKey,
              apiBase: apiBaseOr(this.apiBase),
              locale: this.locale,
              storage: this.storage,
            })
          : undefined,
      );
    }
  }

  /** @internal */
  protected override render(): TemplateResult {
    return html`<slot></slot>`;
  }
}
