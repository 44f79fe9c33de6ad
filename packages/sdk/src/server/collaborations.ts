import { Collaboration, CollaborationList, Split, SplitView, type SplitItemKind } from '@diamonds/protocol';
import type { Requester, ServerCallOptions } from './resources.js';

/** Who to invite with {@link ServerCollaborations.invite}: a creator's id or the email they signed up with (one of the two). */
export interface InviteCollaboratorParams {
  creatorId?: string;
  email?: string;
}

/** One party of {@link ServerCollaborations.setSplit}: a creator (`usr_…`) and their share in basis points. */
export interface SplitShareParams {
  creatorId: string;
  shareBps: number;
}

/**
 * Collaborations, for the site's owner: invite other creators, answer their invitations, and
 * split the creator share of your content, products and live sessions with those who accepted.
 * See docs/guides/collaborations.md.
 *
 * @example
 * ```ts
 * await diamonds.collaborations.invite({ email: 'bo@example.com' });
 * // … once Bo accepted (on their account page, or their backend with `accept`):
 * await diamonds.collaborations.setSplit('content', 'ct_…', [
 *   { creatorId: me, shareBps: 6000 },
 *   { creatorId: bo, shareBps: 4000 },
 * ]);
 * ```
 */
export class ServerCollaborations {
  readonly #request: Requester;

  /** @internal */
  constructor(request: Requester) {
    this.#request = request;
  }

  /** Your collaborations: the invitations you made (`sent`) and received (`received`). */
  list(options: ServerCallOptions = {}): Promise<CollaborationList> {
    return this.#request('get', 'v1/collaborations', CollaborationList, { signal: options.signal });
  }

  /** Invites a creator; inviting again while invited or accepted answers the same. */
  invite(params: InviteCollaboratorParams, options: ServerCallOptions = {}): Promise<Collaboration> {
    return this.#request('post', 'v1/collaborations', Collaboration, { ...options, json: params });
  }

  /** Accepts the invitation of the creator `ownerId`. */
  accept(ownerId: string, options: ServerCallOptions = {}): Promise<Collaboration> {
    return this.#request('post', `v1/collaborations/${encodeURIComponent(ownerId)}/accept`, Collaboration, { ...options, json: {} });
  }

  /** Declines the invitation of the creator `ownerId`. */
  decline(ownerId: string, options: ServerCallOptions = {}): Promise<Collaboration> {
    return this.#request('post', `v1/collaborations/${encodeURIComponent(ownerId)}/decline`, Collaboration, { ...options, json: {} });
  }

  /** Stops collaborating with the creator `ownerId` (you were their collaborator). */
  leave(ownerId: string, options: ServerCallOptions = {}): Promise<Collaboration> {
    return this.#request('post', `v1/collaborations/${encodeURIComponent(ownerId)}/leave`, Collaboration, { ...options, json: {} });
  }

  /** Withdraws your invitation of `creatorId`, or removes them as your collaborator. */
  remove(creatorId: string, options: ServerCallOptions = {}): Promise<Collaboration> {
    return this.#request('delete', `v1/collaborations/${encodeURIComponent(creatorId)}`, Collaboration, { signal: options.signal });
  }

  /** An item's current split (`split: null` when you keep it all). */
  retrieveSplit(itemKind: SplitItemKind, itemId: string, options: ServerCallOptions = {}): Promise<SplitView> {
    return this.#request('get', splitPath(itemKind, itemId), SplitView, { signal: options.signal });
  }

  /**
   * Splits the creator share of later spends on an item you own: shares in basis points, each
   * above 0, nobody twice, you included, summing to 10,000; every other creator a collaborator
   * who accepted. Throws a `DiamondsApiError` with the code naming the problem otherwise
   * (`shares_must_total_10000`, `share_must_be_positive`, `duplicate_collaborator`,
   * `split_owner_missing`, `collaborator_not_accepted`).
   */
  setSplit(itemKind: SplitItemKind, itemId: string, shares: readonly SplitShareParams[], options: ServerCallOptions = {}): Promise<Split> {
    return this.#request('put', splitPath(itemKind, itemId), Split, { signal: options.signal, json: { shares } });
  }

  /** Ends an item's split: later spends are yours alone. */
  clearSplit(itemKind: SplitItemKind, itemId: string, options: ServerCallOptions = {}): Promise<SplitView> {
    return this.#request('delete', splitPath(itemKind, itemId), SplitView, { signal: options.signal });
  }
}

function splitPath(itemKind: SplitItemKind, itemId: string): string {
  return `v1/splits/${encodeURIComponent(itemKind)}/${encodeURIComponent(itemId)}`;
}
