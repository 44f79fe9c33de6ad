// The responses only `DiamondsClient`'s own calls read, `health()` and `rates()` (see schema-parts.ts).
import { literal, object, oneOf, string, schema } from './check.js';
import { list, loose, nonNegativeInt } from './schema-parts.js';
import type { Health as ProtocolHealth, RateList as ProtocolRateList } from '@diamonds/protocol';

/** `GET /healthz`. @internal */
export const Health = schema<ProtocolHealth>(
  object({
    status: literal('ok'),
    database: oneOf(['sqlite', 'postgres']),
    schemaVersion: nonNegativeInt(),
    version: string(),
  }),
);

/** `GET /v1/rates`. @internal */
export const RateList = schema<ProtocolRateList>(list(object({ object: literal('rate'), currency: string() }, loose)));
