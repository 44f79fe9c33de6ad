import { html, nothing, type TemplateResult } from 'lit';
import { live, type LiveConnection, type LiveFeed } from '@diamonds/sdk/live';
import { DiamondElement } from './diamond-element.js';
import { property } from './decorators.js';
import { StoreController } from './store-controller.js';

/**
 * What the live elements share: the `creator` attribute, the creator's {@link LiveFeed} (one
 * stream per creator per page, from the SDK) and its connection's loading, reconnecting and
 * error states.
 *
 * @internal
 */
export class LiveElement extends DiamondElement {
  /** The creator whose live this shows (`usr_…`). */
  @property()
  creator: string | undefined;

  /** The creator's live, once there is a client and a creator. */
  protected feed: LiveFeed | undefined;

  /** @internal */
  protected readonly connection = new StoreController<LiveConnection>(this);

  /** The error last reported by a `diamond-error` event, so that each is reported once. */
  #reported: unknown;
  #message = '';

  /** @internal */
  override willUpdate(changed: Map<PropertyKey, unknown>): void {
    super.willUpdate(changed);
    if (changed.has('creator')) this.clientChanged();
  }

  protected override clientChanged(): void {
    const client = this.client;
    let feed: LiveFeed | undefined;
    try {
      feed = client && this.creator ? live(client, this.creator) : undefined;
    } catch {
      // Not a creator id: nothing to show.
    }
    if (feed === this.feed) return;
    this.feed = feed;
    this.connection.follow(feed?.connection);
    this.follow(feed);
  }

  /** Follows the feed's stores this element shows (`undefined`: none). */
  protected follow(_feed: LiveFeed | undefined): void {}

  /**
   * The connection's state for the page: a polite "Reconnecting…", the platform's refusal as an
   * alert (reported once as a `diamond-error` event), or `nothing`.
   *
   * @internal
   */
  protected status(): TemplateResult | typeof nothing {
    const connection = this.connection.value;
    if (connection?.status === 'reconnecting') return html`<p part="status" role="status">${this.t('live.reconnecting')}</p>`;
    if (connection?.status !== 'error') return nothing;
    const { error } = connection;
    if (this.#reported !== error) {
      this.#reported = error;
      this.#message = this.reportError(error);
    }
    const message =
      error?.code === 'creator_not_found'
        ? this.t('live.creatorNotFound')
        : error?.code === 'rate_limited'
          ? this.t('live.busy')
          : this.#message;
    return html`<p part="error" role="alert">${message}</p>`;
  }

  /** Whether nothing is known yet (no stream answered): show the loading state. @internal */
  protected get loading(): boolean {
    const status = this.connection.value?.status;
    return status === undefined || status === 'idle' || status === 'connecting';
  }
}
