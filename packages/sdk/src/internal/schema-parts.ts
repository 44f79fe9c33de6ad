// The parts that several response schemas share: the money responses are loose objects that
// check the fields the SDK acts on (kinds, ids, statuses, amounts) and pass every other field
// through untouched, typed by the protocol. Each resource's schemas have a module of their own
// (gift-schemas.ts…), so that a bundle holds only the schemas of the resources it uses.
import { array, int, literal, nullable, object, oneOf, prefixed, string, type Validator } from './check.js';

/** A whole number, 0 or more. @internal */
export const nonNegativeInt = () => int(0);

/** The options of a loose object. @internal */
export const loose = { loose: true };

/** A string or `null`. @internal */
export const nullableString = () => nullable(string());

/** A page of `item`s, as every list endpoint answers. @internal */
export const list = (item: Validator<unknown>) =>
  object({ object: literal('list'), data: array(item), hasMore: oneOf([true, false]), nextCursor: nullableString() }, loose);

/** The confirmation a spend waits on, as every spend and `GET /v1/confirmations/{id}` answer it. @internal */
export const ConfirmationSchema = object(
  {
    object: literal('confirmation'),
    id: prefixed('cnf'),
    status: oneOf(['pending', 'approved', 'declined', 'expired']),
    amountDiamonds: nonNegativeInt(),
    description: string(),
    url: string(),
    expiresAt: int(),
  },
  loose,
);
