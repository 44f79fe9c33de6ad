// The responses of `client.gifts` (see schema-parts.ts).
import { array, int, literal, object, prefixed, string, schema, optional } from './check.js';
import { ConfirmationSchema, list, loose, nonNegativeInt } from './schema-parts.js';
import type {
  Gift as ProtocolGift,
  GiftTypeList as ProtocolGiftTypeList,
  LiveSplit as ProtocolLiveSplit,
  SiteCreatorList as ProtocolSiteCreatorList,
} from '@diamonds/protocol';

/** `GET /v1/catalog/gifts`. @internal */
export const GiftTypeList = schema<ProtocolGiftTypeList>(list(object({ id: string(), priceDiamonds: nonNegativeInt() }, loose)));

/** `POST /v1/gifts`, `GET /v1/gifts/{id}`. @internal */
export const Gift = schema<ProtocolGift>(
  object({ object: literal('gift'), id: prefixed('gift'), status: string(), confirmation: optional(ConfirmationSchema) }, loose),
);

/** `GET /v1/site/creators`. @internal */
export const SiteCreatorList = schema<ProtocolSiteCreatorList>(list(object({ id: prefixed('usr'), displayName: string() }, loose)));

/** `GET /v1/live/{creatorId}/split`: only what a page shows, the parties and their shares. @internal */
export const LiveSplit = schema<ProtocolLiveSplit>(
  object({ split: optional(array(object({ displayName: string(), shareBps: int(1) }, loose))) }, loose),
);
