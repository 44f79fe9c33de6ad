// The response schemas the browser entry parses with, in zod/mini. The protocol package's
// schemas are full zod and would take the bundle far over its size budget (about 84 KB brotli
// against 20 KB), so the SDK mirrors the responses it reads here; the types still come from
// the protocol, and schemas.test.ts checks that both accept and refuse the same bodies.
import * as z from 'zod/mini';
import type { ErrorBody as ProtocolErrorBody, Health as ProtocolHealth, Me as ProtocolMe } from '@diamonds/protocol';
import type {
  SignInPoll as ProtocolSignInPoll,
  SignInRequest as ProtocolSignInRequest,
  TokenPair as ProtocolTokenPair,
} from '@diamonds/protocol';

/**
 * What {@link Http.request} needs of a schema: zod classic and zod/mini schemas both fit.
 *
 * @internal
 */
export interface ResponseSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: readonly SchemaIssue[] } };
}

/** One problem a schema found, with the path of the field. @internal */
export interface SchemaIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** Narrows a zod/mini schema to the protocol's type, so that callers see one type. */
function as<T>(schema: { safeParse(value: unknown): unknown }): ResponseSchema<T> {
  return schema as ResponseSchema<T>;
}

const nonNegativeInt = () => z.int().check(z.nonnegative());
const prefixed = (prefix: string) => z.string().check(z.regex(new RegExp(`^${prefix}_[A-Za-z0-9]+$`)));

/** `GET /healthz`. @internal */
export const Health = as<ProtocolHealth>(
  z.object({
    status: z.literal('ok'),
    database: z.enum(['sqlite', 'postgres']),
    schemaVersion: nonNegativeInt(),
    version: z.string(),
  }),
);

/** Every error response. `type` is a plain string so that a newer server's type still parses. @internal */
export const ErrorBody = as<ProtocolErrorBody>(
  z.object({
    error: z.object({
      type: z.string(),
      code: z.string().check(z.minLength(1)),
      message: z.string(),
      param: z.optional(z.string()),
      requestId: z.string(),
    }),
  }),
);

const Fan = z.object({ id: prefixed('usr'), displayName: z.string() });

const TokenPairSchema = z.object({
  accessToken: z.string().check(z.startsWith('dat_')),
  expiresIn: z.int().check(z.positive()),
  refreshToken: z.string().check(z.startsWith('drt_')),
});

/** `POST /v1/tokens/refresh`. @internal */
export const TokenPair = as<ProtocolTokenPair>(TokenPairSchema);

/** `POST /v1/signin-requests`. @internal */
export const SignInRequest = as<ProtocolSignInRequest>(
  z.object({
    object: z.literal('signin_request'),
    id: prefixed('sir'),
    status: z.literal('pending'),
    url: z.url(),
    expiresAt: z.int(),
  }),
);

/** `POST /v1/signin-requests/{id}/poll`. @internal */
export const SignInPoll = as<ProtocolSignInPoll>(
  z.discriminatedUnion('status', [
    z.object({ status: z.enum(['pending', 'denied', 'expired']) }),
    z.object({ status: z.literal('approved'), fan: Fan, tokens: TokenPairSchema }),
  ]),
);

/** `GET /v1/me`. @internal */
export const Me = as<ProtocolMe>(
  z.object({
    object: z.literal('me'),
    fan: Fan,
    site: z.object({ id: prefixed('site'), name: z.string() }),
    allowancePerDay: nonNegativeInt(),
    remainingAllowance: nonNegativeInt(),
  }),
);

/** `POST /v1/tokens/revoke`. @internal */
export const Revoked = as<{ revoked: true }>(z.object({ revoked: z.literal(true) }));
