import { LitElement } from 'lit';
import { property, state } from './decorators.js';
import type { DiamondsClient, DiamondsClientCore, DiamondsError } from '@diamonds/sdk';
import { isDiamondsError } from '@diamonds/sdk';
import { diamondsContext, sharedClient } from './client.js';
import { ContextConsumer } from './context.js';
import { translate } from '../i18n/i18n.js';
import { DiamondErrorEvent } from '../events/error.js';
import type { EnglishStrings, StringKey } from '../i18n/en.js';

/** Whether `origin_not_allowed` was logged on the console already. */
let warned = false;

/** The fan's message of each error code the elements explain in their own words. */
const MESSAGES = {
  __proto__: null,
  popup_blocked: 'common.popupBlocked',
  popup_closed: 'common.popupClosed',
  confirmation_declined: 'common.declined',
  confirmation_expired: 'common.expired',
  insufficient_funds: 'common.insufficient',
  network_error: 'common.networkError',
  timeout: 'common.networkError',
} as unknown as Record<string, StringKey | undefined>;

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
    new ContextConsumer(this, diamondsContext, (client) => {
      this.providedClient = client;
      this.clientChanged();
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

  /**
   * A string of this element's locale (see `i18n/en.ts`); English when the locale's module is not loaded.
   *
   * @internal
   */
  t(key: StringKey, params?: Record<string, string | number>): string {
    return translate(this.resolvedLocale, key, (this.constructor as typeof DiamondElement).strings, params);
  }

  /**
   * Focuses what `target` finds once rendered: with `always`, at once; otherwise only when the
   * flow took focus away (a disabled button drops it, a popup had it), never from something else
   * on the page. For the button that opened a popup, once the popup is over.
   *
   * @internal
   */
  async refocus(target: () => Element | null | undefined, always?: boolean): Promise<void> {
    await this.updateComplete;
    const active = document.activeElement;
    if (always || (!(this.renderRoot as ShadowRoot).activeElement && (!active || active === document.body))) {
      (target() as HTMLElement | null | undefined)?.focus();
    }
  }

  /** Called when the client may have changed (provider found, key set): follow its stores here. */
  protected clientChanged(): void {}

  /** @internal */
  override willUpdate(changed: Map<PropertyKey, unknown>): void {
    if (changed.has('publishableKey') || changed.has('apiBase') || changed.has('locale')) this.clientChanged();
  }

  /**
   * Emits a {@link DiamondErrorEvent} with the error, and returns a message for the fan in this locale.
   *
   * @internal
   */
  reportError(error: unknown): string {
    const diamondsError: DiamondsError | undefined = isDiamondsError(error) ? error : undefined;
    const code = diamondsError?.code ?? '';
    this.dispatchEvent(new DiamondErrorEvent(error));
    if (code === 'origin_not_allowed') {
      const origin = location.origin;
      // For the site's owner, once per page: what is wrong, and where to fix it.
      if (!warned)
        console.error(`[diamonds:origin_not_allowed] ${diamondsError!.message} Add ${origin} on ${this.client?.apiBase}/account.`);
      warned = true;
      return this.t('common.originNotAllowed', { origin });
    }
    return this.t(MESSAGES[code] ?? 'common.error', { message: diamondsError?.message ?? String(error) });
  }
}
