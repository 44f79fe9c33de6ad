import { LitElement } from 'lit';
import { property, state } from 'lit/decorators.js';
import { ContextConsumer } from '@lit/context';
import type { DiamondsClient, DiamondsClientCore, DiamondsError } from '@diamonds/sdk';
import { isDiamondsError } from '@diamonds/sdk';
import { diamondsContext, sharedClient } from './client.js';
import { translate } from '../i18n/i18n.js';
import type { EnglishStrings, StringKey } from '../i18n/en.js';

/**
 * What every Diamonds element shares: the client (from the closest `<diamond-provider>`, else
 * one shared per `publishable-key`), the locale, the theme, typed events and translated,
 * user-facing error messages.
 *
 * @internal
 */
export class DiamondElement extends LitElement {
  /**
   * The element's own English strings (see `i18n/en.ts`), the fallback of every locale; the
   * common ones come with every element.
   *
   * @internal
   */
  static strings: EnglishStrings = {};

  /** The site's publishable key (`pk_…`); only needed without a `<diamond-provider>`. */
  @property({ attribute: 'publishable-key' })
  publishableKey: string | undefined;

  /**
   * The platform's address; only needed without a provider.
   * @defaultValue the origin the drop-in script came from; else the SDK's default
   */
  @property({ attribute: 'api-base' })
  apiBase: string | undefined;

  /** The BCP 47 locale for text, numbers and money. @defaultValue the provider's, the closest `lang`, the browser's */
  @property()
  locale: string | undefined;

  /** `light` or `dark` forces a theme; by default the element follows `prefers-color-scheme`. */
  @property({ reflect: true })
  theme: 'light' | 'dark' | undefined;

  /** The provider's client, when there is a provider. */
  @state()
  protected providedClient: DiamondsClient | undefined;

  constructor() {
    super();
    new ContextConsumer(this, {
      context: diamondsContext,
      subscribe: true,
      callback: (client) => {
        this.providedClient = client;
        this.clientChanged();
      },
    });
  }

  /** The client this element uses: the provider's, else the shared one for its attributes. */
  get client(): DiamondsClientCore | undefined {
    if (this.providedClient) return this.providedClient;
    return this.publishableKey ? sharedClient(this.publishableKey, this.apiBase, this.locale) : undefined;
  }

  /** The locale in effect: the attribute, the provider's client's, the closest `lang`, the browser's. */
  get resolvedLocale(): string {
    return (
      this.locale || this.providedClient?.locale || this.closest('[lang]')?.getAttribute('lang') || globalThis.navigator?.language || 'en'
    );
  }

  /** A string of this element's locale (see `i18n/en.ts`); English when the locale's module is not loaded. */
  protected t(key: StringKey, params?: Record<string, string | number>): string {
    return translate(this.resolvedLocale, key, (this.constructor as typeof DiamondElement).strings, params);
  }

  /** Called when the client may have changed (provider found, key set): follow its stores here. */
  protected clientChanged(): void {}

  /** @internal */
  override willUpdate(changed: Map<PropertyKey, unknown>): void {
    if (changed.has('publishableKey') || changed.has('apiBase') || changed.has('locale')) this.clientChanged();
  }

  /**
   * Dispatches a `diamond-*` event (bubbling, composed) with `detail`.
   *
   * @returns false when a listener called `preventDefault()` on a cancelable event.
   */
  protected emit<T>(type: string, detail: T, cancelable = false): boolean {
    return this.dispatchEvent(new CustomEvent<T>(type, { detail, bubbles: true, composed: true, cancelable }));
  }

  /** Emits `diamond-error` with the error, and returns a message for the fan in this locale. */
  protected reportError(error: unknown): string {
    const diamondsError: DiamondsError | undefined = isDiamondsError(error) ? error : undefined;
    this.emit('diamond-error', { error });
    switch (diamondsError?.code) {
      case 'popup_blocked':
        return this.t('common.popupBlocked');
      case 'popup_closed':
        return this.t('common.popupClosed');
      case 'confirmation_declined':
        return this.t('common.declined');
      case 'confirmation_expired':
        return this.t('common.expired');
      case 'insufficient_funds':
        return this.t('common.insufficient');
      case 'network_error':
      case 'timeout':
        return this.t('common.networkError');
      default:
        return this.t('common.error', { message: diamondsError?.message ?? String(error) });
    }
  }
}
