// The response schemas the browser entry parses with, in zod/mini. The protocol package's
// schemas are full zod and would take the bundle far over its size budget (about 84 KB brotli
// against 20 KB), so the SDK mirrors the responses it reads here; the types still come from
// the protocol, and schemas.test.ts checks that both accept and refuse the same bodies.
import * as z from 'zod/mini';
import type { ErrorBody as ProtocolErrorBody, Health as ProtocolHealth, Me as ProtocolMe } from '@diamonds/protocol';
import type {
  CheckoutOrder as ProtocolCheckoutOrder,
  Confirmation as ProtocolConfirmation,
  Content as ProtocolContent,
  ContentBody as ProtocolContentBody,
  ContentList as ProtocolContentList,
  ProductList as ProtocolProductList,
  Entitlement as ProtocolEntitlement,
  Gift as ProtocolGift,
  GiftTypeList as ProtocolGiftTypeList,
  PayOrderResult as ProtocolPayOrderResult,
  Quote as ProtocolQuote,
  RateList as ProtocolRateList,
  TopUp as ProtocolTopUp,
  TopUpPackList as ProtocolTopUpPackList,
  Unlock as ProtocolUnlock,
  Wallet as ProtocolWallet,
  WalletHistory as ProtocolWalletHistory,
} from '@diamonds/protocol';
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

// The money responses. Loose objects: each checks the fields the SDK acts on (kinds, ids,
// statuses, amounts) and passes every other field through untouched, typed by the protocol.

const int = () => z.int();
const nullableString = () => z.nullable(z.string());

/** A page of `item`s, as every list endpoint answers. */
const list = <Item extends z.ZodMiniType>(item: Item) =>
  z.looseObject({ object: z.literal('list'), data: z.array(item), hasMore: z.boolean(), nextCursor: nullableString() });

const ConfirmationSchema = z.looseObject({
  object: z.literal('confirmation'),
  id: prefixed('cnf'),
  status: z.enum(['pending', 'approved', 'declined', 'expired']),
  amountDiamonds: nonNegativeInt(),
  description: z.string(),
  url: z.string(),
  expiresAt: int(),
});

/** `GET /v1/confirmations/{id}`. @internal */
export const Confirmation = as<ProtocolConfirmation>(ConfirmationSchema);

/** `GET /v1/catalog/gifts`. @internal */
export const GiftTypeList = as<ProtocolGiftTypeList>(list(z.looseObject({ id: z.string(), priceDiamonds: nonNegativeInt() })));

/** `POST /v1/gifts`, `GET /v1/gifts/{id}`. @internal */
export const Gift = as<ProtocolGift>(
  z.looseObject({ object: z.literal('gift'), id: prefixed('gift'), status: z.string(), confirmation: z.optional(ConfirmationSchema) }),
);

const EntitlementSchema = z.looseObject({ object: z.literal('entitlement'), status: z.string(), receipt: nullableString() });

/** `GET /v1/content/{id}/entitlement`. @internal */
export const Entitlement = as<ProtocolEntitlement>(EntitlementSchema);

/** `POST /v1/content/{id}/unlock`: `succeeded` with its receipt, or `confirmation_required`. @internal */
export const Unlock = as<ProtocolUnlock>(
  z.looseObject({
    object: z.literal('unlock'),
    status: z.enum(['succeeded', 'confirmation_required']),
    entitlement: EntitlementSchema,
    confirmation: z.optional(ConfirmationSchema),
  }),
);

const ContentSchema = z.looseObject({ object: z.literal('content'), id: prefixed('ct'), priceDiamonds: z.nullable(nonNegativeInt()) });

/** `GET /v1/content/{id}`. @internal */
export const Content = as<ProtocolContent>(ContentSchema);

/** `GET /v1/content`. @internal */
export const ContentList = as<ProtocolContentList>(list(ContentSchema));

/** `GET /v1/content/{id}/body`. @internal */
export const ContentBody = as<ProtocolContentBody>(
  z.looseObject({ object: z.literal('content_body'), html: nullableString(), externalUrl: nullableString() }),
);

const CheckoutOrderSchema = z.looseObject({
  object: z.literal('order'),
  id: prefixed('ord'),
  status: z.string(),
  totalDiamonds: nonNegativeInt(),
  receipt: nullableString(),
  confirmation: z.optional(z.nullable(ConfirmationSchema)),
});

/** `GET /v1/orders/{id}`. @internal */
export const CheckoutOrder = as<ProtocolCheckoutOrder>(CheckoutOrderSchema);

/** `GET /v1/products`: a page of the shop's active products. */
export const ProductList = as<ProtocolProductList>(
  list(z.looseObject({ object: z.literal('product'), id: prefixed('prod'), priceDiamonds: nonNegativeInt() })),
);

/** `POST /v1/orders/{id}/pay`: the order, with the `confirmation` when it needs one. @internal */
export const PayOrderResult = as<ProtocolPayOrderResult>(CheckoutOrderSchema);

/** `GET /v1/wallet`. @internal */
export const Wallet = as<ProtocolWallet>(
  z.looseObject({
    object: z.literal('wallet'),
    balanceDiamonds: int(),
    heldDiamonds: int(),
    earningsDiamonds: int(),
    remainingAllowance: int(),
    allowancePerDay: int(),
  }),
);

/** `GET /v1/wallet/history`. @internal */
export const WalletHistory = as<ProtocolWalletHistory>(
  list(z.looseObject({ object: z.literal('wallet_entry'), id: z.string(), amountDiamonds: nonNegativeInt() })),
);

/** `GET /v1/rates`. @internal */
export const RateList = as<ProtocolRateList>(list(z.looseObject({ object: z.literal('rate'), currency: z.string() })));

/** `GET /v1/topup-packs`. @internal */
export const TopUpPackList = as<ProtocolTopUpPackList>(
  list(z.looseObject({ object: z.literal('topup_pack'), diamonds: nonNegativeInt() })),
);

/** `POST /v1/quotes`. @internal */
export const Quote = as<ProtocolQuote>(z.looseObject({ object: z.literal('quote'), id: prefixed('qt'), diamonds: nonNegativeInt() }));

/** `POST /v1/topups`, `GET /v1/topups/{id}`. @internal */
export const TopUp = as<ProtocolTopUp>(
  z.looseObject({
    object: z.literal('topup'),
    id: prefixed('tu'),
    status: z.enum(['requires_payment', 'requires_action', 'succeeded', 'failed']),
    paymentUrl: nullableString(),
    failureCode: nullableString(),
  }),
);
