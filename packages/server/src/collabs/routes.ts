import { Hono } from 'hono';
import { z } from 'zod';
import {
  Collaboration,
  CollaborationList,
  InviteCollaborator,
  LiveSplit,
  SetSplit,
  Split,
  SplitItemKind,
  SplitView,
  isId,
  type SplitItemKind as SplitItemKindType,
} from '@diamonds/protocol';
import type { AppContext, AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { exampleId, idParam, routesOn, type PathParam, type SecretCaller } from '../http/route.js';
import { findSite } from '../identity/sites.js';
import {
  answerCollaboration,
  clearSplit,
  currentSplit,
  endCollaboration,
  inviteCollaborator,
  itemSplitShares,
  itemVisibleTo,
  listCollaborations,
  presentSplit,
  setSplit,
  splitLine,
} from './collabs.js';

const TAG = 'Collaborations';

const EXAMPLE_COLLABORATION: Collaboration = {
  object: 'collaboration',
  owner: { id: exampleId('usr'), displayName: 'Ada' },
  collaborator: { id: exampleId('usr', 1), displayName: 'Bo' },
  status: 'invited',
  invitedAt: 1767225600000,
  decidedAt: null,
};

const EXAMPLE_SPLIT: Split = {
  object: 'split',
  itemKind: 'content',
  itemId: exampleId('ct'),
  ownerId: exampleId('usr'),
  version: 2,
  shares: [
    { creatorId: exampleId('usr'), displayName: 'Ada', shareBps: 6000 },
    { creatorId: exampleId('usr', 1), displayName: 'Bo', shareBps: 4000 },
  ],
  createdAt: 1767225600000,
};

const ITEM_KIND: PathParam<SplitItemKindType> = {
  description: 'What is split: `content`, `product` or `live` (a live session).',
  schema: SplitItemKind,
  parse(value, name) {
    const parsed = SplitItemKind.safeParse(value);
    // Another kind names no item that could be split: the route's 404, as for an unknown item.
    if (!parsed.success) {
      throw new ApiError('split_item_not_found', `${name} is content, product or live, not ${JSON.stringify(value ?? '').slice(0, 40)}.`, {
        param: name,
      });
    }
    return parsed.data;
  },
  errors: ['split_item_not_found'],
};

const ITEM_ID: PathParam<string> = {
  description: 'The item: a content id `ct_…`, a product id `prod_…` or a live session id `ls_…`.',
  schema: z
    .string()
    .regex(/^(ct|prod|ls)_[0-9A-HJKMNP-TV-Z]{26}$/)
    .meta({ examples: [exampleId('ct')] }),
  parse(value, name) {
    if (isId('ct', value) || isId('prod', value) || isId('ls', value)) return value;
    const shown = JSON.stringify(value ?? '').slice(0, 40);
    throw new ApiError('invalid_id', `${name} is a content id (ct_…), a product id (prod_…) or a live session id (ls_…), not ${shown}.`, {
      param: name,
    });
  },
  errors: ['invalid_id'],
};

const ITEM_PARAMS = { itemKind: ITEM_KIND, itemId: ITEM_ID };
const OWNER_PARAM = { ownerId: idParam('usr', 'The creator who invited you, `usr_…`.') };

/**
 * `/v1/collaborations` and `/v1/splits`: a creator's backend (secret key; the site's owner is the
 * creator) invites collaborators, answers invitations and sets the splits of its items; anyone
 * with a key reads an item's split, which the elements show a fan before paying, and the split
 * of a creator's live session now (`/v1/live/{creatorId}/split`, for the gift button).
 */
export function collabsApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const route = routesOn(api, context);

  /** The creator a secret-key call acts as: its site's owner. */
  async function creatorOf(caller: SecretCaller): Promise<string> {
    const site = await findSite(context.db, caller.siteId);
    if (!site) throw new ApiError('invalid_api_key', 'This key’s site no longer exists.');
    return site.ownerId;
  }

  route(
    {
      method: 'get',
      path: '/collaborations',
      operationId: 'listCollaborations',
      summary: 'List your collaborations',
      description: 'With the secret key: the invitations the site’s owner made (`sent`) and received (`received`), newest first.',
      tag: TAG,
      auth: 'secret',
      responses: {
        200: {
          description: 'The collaborations.',
          schema: CollaborationList,
          example: { object: 'list', sent: [EXAMPLE_COLLABORATION], received: [] },
        },
      },
    },
    async (c, { caller }) => {
      const userId = await creatorOf(caller);
      c.header('Cache-Control', 'no-store');
      return c.json({ object: 'list', ...(await listCollaborations(context.db, userId)) } satisfies CollaborationList);
    },
  );

  route(
    {
      method: 'post',
      path: '/collaborations',
      operationId: 'inviteCollaborator',
      summary: 'Invite a creator to collaborate',
      description:
        'With the secret key: the site’s owner invites a creator (by `creatorId` or `email`). Once they accept, the owner may ' +
        'name them in splits. Inviting again while invited or accepted answers the same.',
      tag: TAG,
      auth: 'secret',
      body: InviteCollaborator,
      bodyExample: { email: 'bo@example.com' },
      responses: { 200: { description: 'The invitation.', schema: Collaboration, example: EXAMPLE_COLLABORATION } },
      errors: ['creator_not_found', 'cannot_collaborate_with_self'],
    },
    async (c, { caller, body }) => {
      const ownerId = await creatorOf(caller);
      return c.json(await context.db.transaction((tx) => inviteCollaborator(tx, ownerId, body)));
    },
  );

  for (const [verb, accept] of [
    ['accept', true],
    ['decline', false],
  ] as const) {
    route(
      {
        method: 'post',
        path: `/collaborations/{ownerId}/${verb}`,
        operationId: `${verb}Collaboration`,
        summary: accept ? 'Accept an invitation to collaborate' : 'Decline an invitation to collaborate',
        description: `With the secret key: the site’s owner ${verb}s an invitation from the creator \`ownerId\`. Answering again the same way answers the same.`,
        tag: TAG,
        auth: 'secret',
        params: OWNER_PARAM,
        responses: {
          200: {
            description: 'The collaboration.',
            schema: Collaboration,
            example: { ...EXAMPLE_COLLABORATION, status: accept ? 'accepted' : 'declined', decidedAt: 1767229200000 },
          },
        },
        errors: ['collaboration_not_found'],
      },
      async (c, { caller, params }) => {
        const collaboratorId = await creatorOf(caller);
        return c.json(await context.db.transaction((tx) => answerCollaboration(tx, { ownerId: params.ownerId, collaboratorId, accept })));
      },
    );
  }

  route(
    {
      method: 'post',
      path: '/collaborations/{ownerId}/leave',
      operationId: 'leaveCollaboration',
      summary: 'Leave a collaboration',
      description:
        'With the secret key: the site’s owner stops collaborating with `ownerId`. Splits already set keep their parts until ' +
        'the owner changes them; no new split may name them.',
      tag: TAG,
      auth: 'secret',
      params: OWNER_PARAM,
      responses: {
        200: {
          description: 'The collaboration, now `left`.',
          schema: Collaboration,
          example: { ...EXAMPLE_COLLABORATION, status: 'left', decidedAt: 1767229200000 },
        },
      },
      errors: ['collaboration_not_found'],
    },
    async (c, { caller, params }) => {
      const collaboratorId = await creatorOf(caller);
      return c.json(
        await context.db.transaction((tx) => endCollaboration(tx, { ownerId: params.ownerId, collaboratorId, by: 'collaborator' })),
      );
    },
  );

  route(
    {
      method: 'delete',
      path: '/collaborations/{creatorId}',
      operationId: 'removeCollaborator',
      summary: 'Remove a collaborator',
      description:
        'With the secret key: the site’s owner withdraws an invitation or removes a collaborator. Removing again answers the same.',
      tag: TAG,
      auth: 'secret',
      params: { creatorId: idParam('usr', 'The collaborator, `usr_…`.') },
      responses: {
        200: {
          description: 'The collaboration, now `removed`.',
          schema: Collaboration,
          example: { ...EXAMPLE_COLLABORATION, status: 'removed', decidedAt: 1767229200000 },
        },
      },
      errors: ['collaboration_not_found'],
    },
    async (c, { caller, params }) => {
      const ownerId = await creatorOf(caller);
      return c.json(await context.db.transaction((tx) => endCollaboration(tx, { ownerId, collaboratorId: params.creatorId, by: 'owner' })));
    },
  );

  route(
    {
      method: 'get',
      path: '/splits/{itemKind}/{itemId}',
      operationId: 'getSplit',
      summary: 'An item’s split',
      description:
        'With either key: how the creator share of a spend on this content, product or live session is split, with the ' +
        'collaborators’ display names: what a fan sees before paying. `split` is null when the owner keeps it all.',
      tag: TAG,
      auth: 'any',
      params: ITEM_PARAMS,
      responses: {
        200: {
          description: 'The split, or none.',
          schema: SplitView,
          example: { object: 'split_view', itemKind: 'content', itemId: exampleId('ct'), split: EXAMPLE_SPLIT },
        },
      },
      errors: ['split_item_not_found'],
    },
    async (c, { caller, params }) => {
      // Content and products are read with a key of their own site (or of their owner's).
      if (!(await itemVisibleTo(context.db, params.itemKind, params.itemId, caller.siteId))) {
        throw new ApiError('split_item_not_found', `No ${params.itemKind} ${params.itemId}.`, { param: 'itemId' });
      }
      const split = await currentSplit(context.db, params.itemKind, params.itemId);
      const view: SplitView = {
        object: 'split_view',
        itemKind: params.itemKind,
        itemId: params.itemId,
        split: split ? await presentSplit(context.db, split) : null,
      };
      c.header('Cache-Control', 'no-store');
      return c.json(view);
    },
  );

  route(
    {
      method: 'get',
      path: '/live/{creatorId}/split',
      operationId: 'getLiveSplit',
      summary: 'The split of a creator’s live session now',
      description:
        'With either key: how each gift to the creator is split while their live session lasts, with the ' +
        'collaborators’ display names and as one short line (`splitLine`): what `<diamond-gift-button>` shows a fan ' +
        'before paying. `split` and `splitLine` are absent when the creator is not live or keeps it all.',
      tag: TAG,
      auth: 'any',
      params: { creatorId: idParam('usr', 'The creator’s id, `usr_…`.') },
      responses: {
        200: {
          description: 'The live session and its split, or none.',
          schema: LiveSplit,
          example: {
            object: 'live_split',
            creatorId: exampleId('usr'),
            sessionId: exampleId('ls'),
            split: EXAMPLE_SPLIT.shares,
            splitLine: 'Shared: Ada 60% · Bo 40%',
          },
        },
      },
      errors: ['creator_not_found'],
    },
    async (c, { params: { creatorId } }) => {
      // At most one session is live per creator (a unique index of live/).
      const [row] = await context.db.query<{ session_id: string | null }>(
        `SELECT l.id AS session_id FROM users u LEFT JOIN live_sessions l ON l.creator_id = u.id AND l.ended_at IS NULL
         WHERE u.id = ? AND u.is_creator = 1`,
        [creatorId],
      );
      if (!row) throw new ApiError('creator_not_found', `No creator ${creatorId}.`, { param: 'creatorId' });
      const sessionId = row.session_id as LiveSplit['sessionId'];
      const split = sessionId ? await itemSplitShares(context.db, 'live', sessionId) : undefined;
      // The gift buttons of a page ask at once: the browser holds back same-URL requests until
      // the first answer is in, then answers them from its cache while it is fresh. Two seconds,
      // not one: the browser ages an answer from its whole-second Date header, which can have
      // used up nearly all of a one-second lifetime by the time the held-back requests look. A
      // button asks again when its picker opens, by then for a fresh answer.
      c.header('Cache-Control', 'private, max-age=2');
      return c.json({
        object: 'live_split',
        creatorId,
        sessionId,
        ...(split ? { split, splitLine: splitLine(split) } : {}),
      } satisfies LiveSplit);
    },
  );

  route(
    {
      method: 'put',
      path: '/splits/{itemKind}/{itemId}',
      operationId: 'setSplit',
      summary: 'Set an item’s split',
      description:
        'With the secret key: the site’s owner splits the creator share of every later spend on an item they own among ' +
        'themselves and collaborators who accepted: shares in basis points, each above 0, nobody twice, the owner included, ' +
        'summing to 10,000. A new version; spends made before keep the parts they recorded. Nothing changes on a refusal.',
      tag: TAG,
      auth: 'secret',
      params: ITEM_PARAMS,
      body: SetSplit,
      bodyExample: {
        shares: [
          { creatorId: exampleId('usr'), shareBps: 6000 },
          { creatorId: exampleId('usr', 1), shareBps: 4000 },
        ],
      },
      responses: { 200: { description: 'The split now in force.', schema: Split, example: EXAMPLE_SPLIT } },
      errors: [
        'split_item_not_found',
        'shares_must_total_10000',
        'share_must_be_positive',
        'duplicate_collaborator',
        'split_owner_missing',
        'collaborator_not_accepted',
      ],
    },
    async (c, { caller, params, body }) => {
      const ownerId = await creatorOf(caller);
      const split = await context.db.transaction((tx) =>
        setSplit(tx, { ownerId, itemKind: params.itemKind, itemId: params.itemId, shares: body.shares }),
      );
      return c.json(await presentSplit(context.db, split));
    },
  );

  route(
    {
      method: 'delete',
      path: '/splits/{itemKind}/{itemId}',
      operationId: 'clearSplit',
      summary: 'End an item’s split',
      description: 'With the secret key: later spends on the item go to its owner alone. Ending none answers the same.',
      tag: TAG,
      auth: 'secret',
      params: ITEM_PARAMS,
      responses: {
        200: {
          description: 'The item, now without a split.',
          schema: SplitView,
          example: { object: 'split_view', itemKind: 'content', itemId: exampleId('ct'), split: null },
        },
      },
      errors: ['split_item_not_found'],
    },
    async (c, { caller, params }) => {
      const ownerId = await creatorOf(caller);
      await context.db.transaction((tx) => clearSplit(tx, { ownerId, itemKind: params.itemKind, itemId: params.itemId }));
      return c.json({ object: 'split_view', itemKind: params.itemKind, itemId: params.itemId, split: null } satisfies SplitView);
    },
  );

  return api;
}
