// The response schemas the browser entry parses with, written with the tiny validators of
// check.ts. The protocol package's schemas are full zod and would take the bundle far over its
// size budget (about 84 KB brotli against 20 KB), and even zod/mini cost about 6.5 KB brotli, so
// the SDK mirrors the responses it reads here (and, per resource, in gift-schemas.ts…); the types
// still come from the protocol, and schemas.test.ts checks that both accept and refuse the same
// bodies.
import { array, int, literal, object, oneOf, optional, prefixed, string, schema, url } from './check.js';
import { ConfirmationSchema, list, loose, nonNegativeInt, nullableString } from './schema-parts.js';
import type { ErrorBody as ProtocolErrorBody, Me as ProtocolMe } from '@diamonds/protocol';
import type {
  Confirmation as ProtocolConfirmation,
  Quote as ProtocolQuote,
  TopUp as ProtocolTopUp,
  TopUpPackList as ProtocolTopUpPackList,
  Wallet as ProtocolWallet,
  WalletHistory as ProtocolWalletHistory,
} from '@diamonds/protocol';
import type {
  SignInGrant as ProtocolSignInGrant,
  SignInPoll as ProtocolSignInPoll,
  SignInRequest as ProtocolSignInRequest,
  TokenPair as ProtocolTokenPair,
} from '@diamonds/protocol';

export type { ResponseSchema, SchemaIssue } from './check.js';
// Each resource's schemas live in a module of their own (a bundle holds only those it uses);
// here too, so that one import reaches them all (schemas.test.ts).
export { Gift, GiftTypeList } from './gift-schemas.js';
export { Content, ContentBody, ContentList, Entitlement, Unlock } from './content-schemas.js';
export { CheckoutOrder, PayOrderResult, ProductList } from './order-schemas.js';
export { Health, RateList } from './platform-schemas.js';

/** Every error response. `type` is a plain string so that a newer server's type still parses. @internal */
export const ErrorBody = schema<ProtocolErrorBody>(
  object({
    error: object({
      type: string(),
      code: string('', 1),
      message: string(),
      param: optional(string()),
      requestId: string(),
    }),
  }),
);

const Fan = object({ id: prefixed('usr'), displayName: string() });

/** The allowance fields, as `GET /v1/me` and `GET /v1/wallet` answer them. */
const allowance = {
  allowancePerDay: nonNegativeInt(),
  remainingAllowance: nonNegativeInt(),
  allowanceRecipients: array(prefixed('usr')),
};

const TokenPairSchema = object({
  accessToken: string('dat_'),
  expiresIn: int(1),
  refreshToken: string('drt_'),
});

/** `POST /v1/tokens/refresh`. @internal */
export const TokenPair = schema<ProtocolTokenPair>(TokenPairSchema);

/** `POST /v1/signin-requests`. @internal */
export const SignInRequest = schema<ProtocolSignInRequest>(
  object({
    object: literal('signin_request'),
    id: prefixed('sir'),
    status: literal('pending'),
    url: url(),
    expiresAt: int(),
  }),
);

/** `POST /v1/signin-requests/{id}/poll`. @internal */
export const SignInPoll = schema<ProtocolSignInPoll>(object({ status: oneOf(['pending', 'approved', 'denied', 'expired']) }));

/** `POST /v1/signin-requests/{id}/exchange`. @internal */
export const SignInGrant = schema<ProtocolSignInGrant>(object({ status: literal('approved'), fan: Fan, tokens: TokenPairSchema }));

/** `GET /v1/me`. @internal */
export const Me = schema<ProtocolMe>(
  object({
    object: literal('me'),
    fan: Fan,
    site: object({ id: prefixed('site'), name: string() }),
    ...allowance,
  }),
);

/** `POST /v1/tokens/revoke`. @internal */
export const Revoked = schema<{ revoked: true }>(object({ revoked: literal(true) }));

/** `GET /v1/confirmations/{id}`. @internal */
export const Confirmation = schema<ProtocolConfirmation>(ConfirmationSchema);

/** `GET /v1/wallet`. @internal */
export const Wallet = schema<ProtocolWallet>(
  object(
    {
      object: literal('wallet'),
      balanceDiamonds: nonNegativeInt(),
      heldDiamonds: nonNegativeInt(),
      earningsDiamonds: nonNegativeInt(),
      ...allowance,
    },
    loose,
  ),
);

/** `GET /v1/wallet/history`. @internal */
export const WalletHistory = schema<ProtocolWalletHistory>(
  list(object({ object: literal('wallet_entry'), id: string(), amountDiamonds: nonNegativeInt() }, loose)),
);

/** `GET /v1/topup-packs`. @internal */
export const TopUpPackList = schema<ProtocolTopUpPackList>(
  list(object({ object: literal('topup_pack'), diamonds: nonNegativeInt() }, loose)),
);

/** `POST /v1/quotes`. @internal */
export const Quote = schema<ProtocolQuote>(object({ object: literal('quote'), id: prefixed('qt'), diamonds: nonNegativeInt() }, loose));

/** `POST /v1/topups`, `GET /v1/topups/{id}`. @internal */
export const TopUp = schema<ProtocolTopUp>(
  object(
    {
      object: literal('topup'),
      id: prefixed('tu'),
      status: oneOf(['requires_payment', 'requires_action', 'succeeded', 'failed']),
      paymentUrl: nullableString(),
      failureCode: nullableString(),
    },
    loose,
  ),
);
