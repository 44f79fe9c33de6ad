// The responses of `client.content` (see schema-parts.ts).
import { literal, nullable, object, oneOf, prefixed, string, schema, optional } from './check.js';
import { ConfirmationSchema, list, loose, nonNegativeInt, nullableString } from './schema-parts.js';
import type {
  Content as ProtocolContent,
  ContentBody as ProtocolContentBody,
  ContentList as ProtocolContentList,
  Entitlement as ProtocolEntitlement,
  Unlock as ProtocolUnlock,
} from '@diamonds/protocol';

const EntitlementSchema = object({ object: literal('entitlement'), status: string(), receipt: nullableString() }, loose);

/** `GET /v1/content/{id}/entitlement`. @internal */
export const Entitlement = schema<ProtocolEntitlement>(EntitlementSchema);

/** `POST /v1/content/{id}/unlock`: `succeeded` with its receipt, or `confirmation_required`. @internal */
export const Unlock = schema<ProtocolUnlock>(
  object(
    {
      object: literal('unlock'),
      status: oneOf(['succeeded', 'confirmation_required']),
      entitlement: EntitlementSchema,
      confirmation: optional(ConfirmationSchema),
    },
    loose,
  ),
);

const ContentSchema = object({ object: literal('content'), id: prefixed('ct'), priceDiamonds: nullable(nonNegativeInt()) }, loose);

/** `GET /v1/content/{id}`. @internal */
export const Content = schema<ProtocolContent>(ContentSchema);

/** `GET /v1/content`. @internal */
export const ContentList = schema<ProtocolContentList>(list(ContentSchema));

/** `GET /v1/content/{id}/body`. @internal */
export const ContentBody = schema<ProtocolContentBody>(
  object({ object: literal('content_body'), html: nullableString(), externalUrl: nullableString() }, loose),
);
