// The responses of `client.orders` (see schema-parts.ts).
import { literal, nullable, object, prefixed, string, schema, optional, type ResponseSchema } from './check.js';
import { ConfirmationSchema, list, loose, nonNegativeInt, nullableString } from './schema-parts.js';
import type {
  CheckoutOrder as ProtocolCheckoutOrder,
  PayOrderResult as ProtocolPayOrderResult,
  ProductList as ProtocolProductList,
} from '@diamonds/protocol';

const CheckoutOrderSchema = object(
  {
    object: literal('order'),
    id: prefixed('ord'),
    status: string(),
    totalDiamonds: nonNegativeInt(),
    receipt: nullableString(),
    confirmation: optional(nullable(ConfirmationSchema)),
  },
  loose,
);

/** `GET /v1/orders/{id}`; also `POST /v1/orders/{id}/pay` (the order, with the `confirmation` when it needs one). @internal */
export const CheckoutOrder = schema<ProtocolCheckoutOrder & ProtocolPayOrderResult>(CheckoutOrderSchema);

/** `GET /v1/products`: a page of the shop's active products. @internal */
export const ProductList = schema<ProtocolProductList>(
  list(object({ object: literal('product'), id: prefixed('prod'), priceDiamonds: nonNegativeInt() }, loose)),
);

/** `POST /v1/orders/{id}/pay`: the order, with the `confirmation` when it needs one. @internal */
export const PayOrderResult: ResponseSchema<ProtocolPayOrderResult> = CheckoutOrder;
