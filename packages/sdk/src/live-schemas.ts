// The messages of a creator's live stream and the live snapshot, written with the tiny
// validators of internal/check.ts (zod stays out of browser bundles; see internal/schemas.ts).
// The types are the protocol's; live.test.ts checks that these and the protocol's zod schemas
// accept and refuse the same bodies. Loose objects: a newer server's extra fields pass through.
import type {
  LiveGift as ProtocolLiveGift,
  LiveGoal as ProtocolLiveGoal,
  LiveSessionState as ProtocolLiveSessionState,
  LiveSnapshot as ProtocolLiveSnapshot,
  LiveTopGifters as ProtocolLiveTopGifters,
} from '@diamonds/protocol';
import { array, int, literal, nullable, object, oneOf, prefixed, schema, string } from './internal/check.js';
import { loose, nonNegativeInt, nullableString } from './internal/schema-parts.js';

const positiveInt = () => int(1);

const gift = object(
  {
    giftId: prefixed('gift'),
    giftTypeId: string('', 1),
    giftName: string(),
    artUrl: string(),
    quantity: positiveInt(),
    amountDiamonds: positiveInt(),
    combo: positiveInt(),
    fanName: string(),
    message: nullableString(),
    messageHidden: oneOf([true, false]),
    sessionId: nullable(prefixed('ls')),
    createdAt: int(),
  },
  loose,
);

const goal = object(
  {
    title: string(),
    targetDiamonds: positiveInt(),
    progressDiamonds: nonNegativeInt(),
    reachedAt: nullable(int()),
    endsAt: nullable(int()),
  },
  loose,
);

const topGifters = object(
  {
    scope: oneOf(['session', 'today', 'all_time']),
    gifters: array(object({ fanName: string(), diamonds: nonNegativeInt() }, loose)),
  },
  loose,
);

const session = object(
  { sessionId: prefixed('ls'), status: oneOf(['live', 'ended']), title: string(), startedAt: int(), endedAt: nullable(int()) },
  loose,
);

/** `event: gift`. @internal */
export const LiveGiftSchema = schema<ProtocolLiveGift>(gift);
/** `event: goal`. @internal */
export const LiveGoalSchema = schema<ProtocolLiveGoal>(goal);
/** `event: top_gifters`. @internal */
export const LiveTopGiftersSchema = schema<ProtocolLiveTopGifters>(topGifters);
/** `event: session`. @internal */
export const LiveSessionSchema = schema<ProtocolLiveSessionState>(session);
/** `GET /v1/live/{creatorId}`. @internal */
export const LiveSnapshotSchema = schema<ProtocolLiveSnapshot>(
  object(
    {
      object: literal('live'),
      creatorId: prefixed('usr'),
      session: nullable(session),
      goal: nullable(goal),
      topGifters: array(topGifters),
      recentGifts: array(gift),
    },
    loose,
  ),
);
