import {
  MAX_GIFT_MESSAGE_LENGTH,
  MAX_GIFT_QUANTITY,
  MAX_TRANSFER_DIAMONDS,
  SendGift,
  isId,
  newId,
  type Gift,
  type GiftStatus,
} from '@diamonds/protocol';
import { BatchedRead, textArrayLiteral } from '../db/batched-read.js';
import type { SqlClient } from '../db/types.js';
import { ApiError } from '../errors.js';
import { validate } from '../http/body.js';
import type { Ledger } from '../ledger/ledger.js';
import { eventRow, insertRow, type RowInsert } from '../events/outbox.js';
import { findConfirmation, presentConfirmation, spend, type ConfirmationRecord } from '../money/spends.js';
import { splitCredits, type SplitRecord } from '../collabs/collabs.js';
import { moneyOperation, type MoneyFeature, type SpendSettlement } from '../money/operations.js';
import type { StoredResponse } from '../money/idempotency.js';

/** A gift request that passed the checks that need no database (see {@link checkSendGift}). */
export interface GiftRequest {
  creatorId: string;
  giftId: string;
  quantity: number;
  /** The message as typed; `null` when none (or empty). */
  message: string | null;
}

/** How a gift is stored. */
type StoredStatus = 'sent' | 'pending_confirmation' | 'declined' | 'expired';

const WIRE_STATUS: Record<StoredStatus, GiftStatus> = {
  sent: 'succeeded',
  pending_confirmation: 'confirmation_required',
  declined: 'declined',
  expired: 'expired',
};

const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Checks a gift's message: at most {@link MAX_GIFT_MESSAGE_LENGTH} code points, no NUL, no
 * unpaired surrogate. Anything else is kept exactly as typed (emoji, line breaks, markup
 * characters): it is stored and shown only as text, never as HTML.
 *
 * @throws {@link ApiError} `invalid_message`
 */
export function checkGiftMessage(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new ApiError('invalid_message', 'message must be a string of text.', { param: 'message' });
  if (value.includes('\0')) throw new ApiError('invalid_message', 'message may not contain NUL characters.', { param: 'message' });
  if (LONE_SURROGATE.test(value)) {
    throw new ApiError('invalid_message', 'message contains an unpaired surrogate: it is not valid Unicode text.', { param: 'message' });
  }
  const length = [...value].length;
  if (length > MAX_GIFT_MESSAGE_LENGTH) {
    throw new ApiError('invalid_message', `message may have at most ${MAX_GIFT_MESSAGE_LENGTH} characters; it has ${length}.`, {
      param: 'message',
    });
  }
  return value;
}

/**
 * Checks the body of `POST /v1/gifts`, field by field with the codes a client can switch on.
 *
 * @throws {@link ApiError} `invalid_quantity`, `invalid_message`, `gift_not_found` (a malformed
 * gift id), `creator_not_found` (a malformed creator id), `invalid_request` (anything else).
 */
export function checkSendGift(body: Record<string, unknown>): GiftRequest {
  const { quantity = 1 } = body;
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > MAX_GIFT_QUANTITY) {
    throw new ApiError(
      'invalid_quantity',
      `quantity must be a whole number from 1 to ${MAX_GIFT_QUANTITY} (a JSON number, not a string).`,
      {
        param: 'quantity',
      },
    );
  }
  const message = checkGiftMessage(body.message);
  if (typeof body.creatorId === 'string' && !isId('usr', body.creatorId)) {
    throw new ApiError('creator_not_found', 'creatorId must be the id of a creator (usr_…); this is not a user id.', {
      param: 'creatorId',
    });
  }
  if (typeof body.giftId === 'string' && !/^[a-z][a-z0-9-]{0,39}$/.test(body.giftId)) {
    throw new ApiError('gift_not_found', `No gift ${JSON.stringify(body.giftId.slice(0, 60))} in the catalog; see GET /v1/catalog/gifts.`, {
      param: 'giftId',
    });
  }
  const parsed = validate(SendGift, body);
  return { creatorId: parsed.creatorId, giftId: parsed.giftId, quantity, message };
}

interface GiftRow {
  id: string;
  user_id: string;
  creator_id: string;
  site_id: string;
  gift_type: string;
  gift_name: string;
  quantity: number;
  unit_price: number;
  amount: number;
  message: string | null;
  status: StoredStatus;
  transfer_id: string | null;
  confirmation_id: string | null;
  created_at: number;
}

function present(row: GiftRow, confirmation: ConfirmationRecord | undefined, baseUrl: string): Gift {
  return {
    object: 'gift',
    id: row.id as Gift['id'],
    status: WIRE_STATUS[row.status],
    giftId: row.gift_type,
    giftName: row.gift_name,
    quantity: Number(row.quantity),
    unitPriceDiamonds: Number(row.unit_price),
    amountDiamonds: Number(row.amount),
    fanId: row.user_id as Gift['fanId'],
    creatorId: row.creator_id as Gift['creatorId'],
    siteId: row.site_id as Gift['siteId'],
    message: row.message,
    transferId: row.transfer_id as Gift['transferId'],
    ...(confirmation ? { confirmation: presentConfirmation(confirmation, baseUrl) } : {}),
    createdAt: Number(row.created_at),
  };
}

interface CreatorAndGiftTypeRow {
  creator_id: string | null;
  display_name: string | null;
  gift_id: string | null;
  gift_name: string | null;
  price_diamonds: number | null;
  live_id: string | null;
  split_version: number | string | null;
  split_shares: string | null;
  split_created_at: number | string | null;
}

/**
 * The creator (a user with the creator role) and the active gift type a gift names, read in one
 * statement: each `undefined` when missing. Read in the gift's transaction, never cached, so a
 * price or a role changed a moment ago applies to the very next gift.
 */
async function findCreatorAndGiftType(tx: SqlClient, creatorId: string, giftId: string): Promise<GiftLookup> {
  return creatorAndGiftTypeOf(await creatorAndGiftTypeRow(tx, creatorId, giftId));
}

/** The row {@link findCreatorAndGiftType} reads. */
async function creatorAndGiftTypeRow(tx: SqlClient, creatorId: string, giftId: string): Promise<CreatorAndGiftTypeRow | undefined> {
  // One row whatever exists: each side is a LEFT JOIN onto a one-row table. The split of the
  // creator's live session, if they are live with one, comes in the same statement (collabs/).
  // The constants are written in the text: with `active = ?`, SQLite planned the statement
  // again at every run (the partial index gift_types_listed might apply, or not).
  const [row] = await tx.query<CreatorAndGiftTypeRow>(FIND_CREATOR_AND_GIFT_TYPE, [creatorId, giftId]);
  return row;
}

const CREATOR_AND_GIFT_TYPE_COLUMNS = `u.id AS creator_id, u.display_name, g.id AS gift_id, g.name AS gift_name, g.price_diamonds,
  l.id AS live_id, cs.version AS split_version, cs.shares AS split_shares, cs.created_at AS split_created_at`;
const LIVE_SPLIT_JOINS = `LEFT JOIN live_sessions l ON l.creator_id = u.id AND l.ended_at IS NULL
  LEFT JOIN collab_splits cs ON cs.item_kind = 'live' AND cs.item_id = l.id AND cs.ended_at IS NULL`;
/** {@link creatorAndGiftTypeRow}'s statement, one constant text: every gift runs it. */
const FIND_CREATOR_AND_GIFT_TYPE = `SELECT ${CREATOR_AND_GIFT_TYPE_COLUMNS}
     FROM (SELECT 1 AS one) AS x
     LEFT JOIN users u ON u.id = ? AND u.is_creator = 1
     LEFT JOIN gift_types g ON g.id = ? AND g.active = 1
     ${LIVE_SPLIT_JOINS}`;

/** What {@link findCreatorAndGiftType} makes of its row. */
function creatorAndGiftTypeOf(row: CreatorAndGiftTypeRow | undefined): GiftLookup {
  return {
    ...(row?.creator_id && row.live_id && row.split_shares !== null
      ? {
          liveSplit: {
            itemKind: 'live' as const,
            itemId: row.live_id,
            version: Number(row.split_version),
            ownerId: row.creator_id,
            shares: JSON.parse(row.split_shares) as SplitRecord['shares'],
            createdAt: Number(row.split_created_at),
          },
        }
      : {}),
    ...(row?.creator_id ? { creator: { id: row.creator_id, displayName: row.display_name ?? '' } } : {}),
    ...(row?.gift_id ? { giftType: { id: row.gift_id, name: row.gift_name ?? '', priceDiamonds: Number(row.price_diamonds) } } : {}),
  };
}

/** What {@link sendGift} needs beyond the request. */
export interface SendGiftContext {
  ledger: Ledger;
  /** The paying fan and the site they are on (the site's allowance applies). */
  userId: string;
  siteId: string;
  feeBasisPoints: number;
  /** The platform's public origin, for the confirmation's URL. */
  baseUrl: string;
  /** The origin of the page that asked: the confirmation page names it (see `SpendRequest.origin`). */
  origin?: string | undefined;
}

/** The creator, the gift type and the live split a gift names, as {@link lookUpGift} read them: each absent when missing. */
export interface GiftLookup {
  creator?: { id: string; displayName: string };
  giftType?: { id: string; name: string; priceDiamonds: number };
  liveSplit?: SplitRecord;
}

/**
 * Reads what a gift names (the creator, the active gift type, the split of the creator's live
 * session) on `db`: on PostgreSQL the gift route reads it before the gift's turn in a group
 * commit, so the batch's transaction, which takes its turn after every other, holds one
 * round trip less per gift. At READ COMMITTED that is what the transaction would read anyway:
 * every statement there sees what was committed when it started, and none of these rows is
 * locked by a gift.
 */
export async function lookUpGift(db: SqlClient, request: Pick<GiftRequest, 'creatorId' | 'giftId'>): Promise<GiftLookup> {
  let reader = giftLookups.get(db);
  if (!reader) giftLookups.set(db, (reader = new BatchedRead(db, readCreatorsAndGiftTypes)));
  return creatorAndGiftTypeOf(await reader.read(JSON.stringify([request.creatorId, request.giftId])));
}

/** The gifts of the moment's lookups, read together (see {@link BatchedRead}): one reader per database. */
const giftLookups = new WeakMap<SqlClient, BatchedRead<CreatorAndGiftTypeRow>>();

/** {@link findCreatorAndGiftType} for many `[creatorId, giftId]` pairs (as JSON) at once. */
async function readCreatorsAndGiftTypes(db: SqlClient, pairs: readonly string[]): Promise<Map<string, CreatorAndGiftTypeRow>> {
  const asked = pairs.map((pair) => JSON.parse(pair) as [string, string]);
  if (db.kind === 'sqlite') {
    // One at a time there (see BatchedRead): the statement the gift's own transaction runs.
    const [[creatorId, giftId]] = asked as [[string, string]];
    const row = await creatorAndGiftTypeRow(db, creatorId, giftId);
    return new Map(row ? [[pairs[0]!, row]] : []);
  }
  const rows = await db.query<CreatorAndGiftTypeRow & { asked_creator_id: string; asked_gift_id: string }>(
    `SELECT asked.creator_id AS asked_creator_id, asked.gift_id AS asked_gift_id, ${CREATOR_AND_GIFT_TYPE_COLUMNS}
     FROM unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[])) AS asked (creator_id, gift_id)
     LEFT JOIN users u ON u.id = asked.creator_id AND u.is_creator = 1
     LEFT JOIN gift_types g ON g.id = asked.gift_id AND g.active = 1
     ${LIVE_SPLIT_JOINS}`,
    [textArrayLiteral(asked.map(([creatorId]) => creatorId)), textArrayLiteral(asked.map(([, giftId]) => giftId))],
  );
  const found = new Map<string, CreatorAndGiftTypeRow>();
  for (const row of rows) {
    const pair = JSON.stringify([row.asked_creator_id, row.asked_gift_id]);
    // The first row, as the one-pair read takes (a creator is live in one session at most).
    if (!found.has(pair)) found.set(pair, row);
  }
  return found;
}

/**
 * Sends a gift: checks the creator and the catalog, spends the fan's Diamonds (at once within
 * the allowance, else held for confirmation) and records the gift, all in `tx`. `found` is
 * what {@link lookUpGift} read, when the caller read it already.
 *
 * @returns The HTTP status (201 sent, 202 waiting for confirmation) and the gift.
 * @throws {@link ApiError} `cannot_gift_self`, `creator_not_found`, `gift_not_found`,
 * `amount_too_large`, `insufficient_funds`.
 */
export async function sendGift(
  tx: SqlClient,
  context: SendGiftContext,
  request: GiftRequest,
  now = Date.now(),
  found?: GiftLookup,
): Promise<{ status: 201 | 202; gift: Gift }> {
  if (request.creatorId === context.userId) {
    throw new ApiError('cannot_gift_self', 'You cannot send a gift to yourself; pick another creator.', { param: 'creatorId' });
  }
  const { creator, giftType, liveSplit } = found ?? (await findCreatorAndGiftType(tx, request.creatorId, request.giftId));
  if (!creator) {
    throw new ApiError('creator_not_found', `No creator ${request.creatorId}: gifts go to users with the creator role.`, {
      param: 'creatorId',
    });
  }
  if (!giftType) {
    throw new ApiError('gift_not_found', `No gift "${request.giftId}" in the catalog; see GET /v1/catalog/gifts.`, { param: 'giftId' });
  }
  const amount = giftType.priceDiamonds * request.quantity;
  if (amount > MAX_TRANSFER_DIAMONDS) {
    throw new ApiError(
      'amount_too_large',
      `${request.quantity} × ${giftType.name} costs ${amount} Diamonds; one gift may cost at most ${MAX_TRANSFER_DIAMONDS}.`,
      { param: 'quantity' },
    );
  }
  const id = newId('gift', now);
  const description = `${request.quantity} × ${giftType.name} for ${creator.displayName}`;
  // A gift during a live session with a split pays each collaborator their part (collabs/).
  const { credits, split } = await splitCredits(tx, context.ledger, {
    ownerId: creator.id,
    amount,
    feeBasisPoints: context.feeBasisPoints,
    lines: [{ amountDiamonds: amount, split: liveSplit }],
  });
  // The row is written with the spend (same transaction, so both or neither), already with its
  // outcome: when the Diamonds move at once, by the spend itself with gift.sent (one round trip
  // on PostgreSQL); when they wait for the fan's confirmation, just after.
  const rowOf = (outcome: { transferId: string | null; confirmationId: string | null }): GiftRow => ({
    id,
    user_id: context.userId,
    creator_id: creator.id,
    site_id: context.siteId,
    gift_type: giftType.id,
    gift_name: giftType.name,
    quantity: request.quantity,
    unit_price: giftType.priceDiamonds,
    amount,
    message: request.message,
    status: outcome.transferId === null ? 'pending_confirmation' : 'sent',
    transfer_id: outcome.transferId,
    confirmation_id: outcome.confirmationId,
    created_at: now,
  });
  const outcome = await spend(
    tx,
    context.ledger,
    {
      kind: 'gift',
      subjectId: id,
      userId: context.userId,
      siteId: context.siteId,
      recipientId: creator.id,
      amount,
      credits,
      split,
      description,
      origin: context.origin,
      metadata: { giftType: giftType.id, quantity: request.quantity },
      reference: id,
      // The gift's id was made just above: no spend can carry it yet.
      fresh: true,
      answerWhenPosted: (transferId) => ({
        status: 201,
        body: present(rowOf({ transferId, confirmationId: null }), undefined, context.baseUrl),
      }),
      rowsWhenPosted: (transferId) => {
        const row = rowOf({ transferId, confirmationId: null });
        return [giftInsert(row, now), giftSentRow(tx, row, transferId, now)];
      },
    },
    now,
  );
  if (outcome.status === 'succeeded') {
    return { status: 201, gift: present(rowOf({ transferId: outcome.transfer.id, confirmationId: null }), undefined, context.baseUrl) };
  }
  const row = rowOf({ transferId: null, confirmationId: outcome.confirmation.id });
  await insertRow(tx, giftInsert(row, now));
  return { status: 202, gift: present(row, outcome.confirmation, context.baseUrl) };
}

/** A gift's row, to insert. */
/** The columns of a gift's row, one array for every insert (its statement text is made once, see insertRow). */
const GIFT_COLUMNS: readonly string[] = [
  'id',
  'user_id',
  'creator_id',
  'site_id',
  'gift_type',
  'gift_name',
  'quantity',
  'unit_price',
  'amount',
  'message',
  'status',
  'transfer_id',
  'confirmation_id',
  'created_at',
  'updated_at',
];

function giftInsert(row: GiftRow, now: number): RowInsert {
  return {
    table: 'gifts',
    columns: GIFT_COLUMNS,
    values: [
      row.id,
      row.user_id,
      row.creator_id,
      row.site_id,
      row.gift_type,
      row.gift_name,
      row.quantity,
      row.unit_price,
      row.amount,
      row.message,
      row.status,
      row.transfer_id,
      row.confirmation_id,
      now,
      now,
    ],
    written: () => {},
  };
}

/** The `gift.sent` event of a gift whose Diamonds moved, as a row to write (see {@link eventRow}). */
function giftSentRow(
  tx: SqlClient,
  row: Pick<GiftRow, 'id' | 'user_id' | 'creator_id' | 'site_id' | 'gift_type' | 'quantity' | 'amount' | 'message'>,
  transferId: string,
  now: number,
): RowInsert {
  return eventRow(
    tx,
    {
      type: 'gift.sent',
      siteId: row.site_id,
      creatorId: row.creator_id,
      fanId: row.user_id,
      data: {
        giftId: row.id as `gift_${string}`,
        giftTypeId: row.gift_type,
        quantity: Number(row.quantity),
        amountDiamonds: Number(row.amount),
        message: row.message,
        transferId: transferId as `txn_${string}`,
      },
    },
    now,
  );
}

/** Appends `gift.sent` for a gift whose Diamonds moved (in that transaction). */
function appendGiftSent(
  tx: SqlClient,
  row: Pick<GiftRow, 'id' | 'user_id' | 'creator_id' | 'site_id' | 'gift_type' | 'quantity' | 'amount' | 'message'>,
  transferId: string,
  now: number,
): Promise<void> {
  return insertRow(tx, giftSentRow(tx, row, transferId, now));
}

/**
 * A gift as its sender sees it, with its confirmation if it had one.
 *
 * @throws {@link ApiError} `gift_not_found` when there is none, or it is someone else's.
 */
export async function findGiftForFan(db: SqlClient, id: string, userId: string, baseUrl: string): Promise<Gift> {
  const [row] = isId('gift', id) ? await db.query<GiftRow>('SELECT * FROM gifts WHERE id = ? AND user_id = ?', [id, userId]) : [];
  if (!row) throw new ApiError('gift_not_found', `No gift ${JSON.stringify(id.slice(0, 60))} sent by this fan.`, { param: 'id' });
  const confirmation = row.confirmation_id === null ? undefined : await findConfirmation(db, row.confirmation_id);
  return present(row, confirmation, baseUrl);
}

/** The catalog id of the gift a confirmation pays for, for its art on the confirmation page. */
export async function giftTypeOfGift(db: SqlClient, giftId: string): Promise<string | undefined> {
  const [row] = await db.query<{ gift_type: string }>('SELECT gift_type FROM gifts WHERE id = ?', [giftId]);
  return row?.gift_type;
}

/** A gift beyond the allowance is finished or undone when its confirmation is settled. */
const giftSettlement: SpendSettlement = {
  async posted(tx, confirmation, transfer) {
    const now = confirmation.decidedAt ?? Date.now();
    const sent = await tx.run(
      `UPDATE gifts SET status = 'sent', transfer_id = ?, updated_at = ? WHERE id = ? AND status = 'pending_confirmation'`,
      [confirmation.transferId, now, confirmation.subjectId],
    );
    if (sent === 0) return;
    const [row] = await tx.query<GiftRow>('SELECT * FROM gifts WHERE id = ?', [confirmation.subjectId]);
    if (row) await appendGiftSent(tx, row, confirmation.transferId ?? transfer.id, now);
  },
  async voided(tx, confirmation) {
    const status = confirmation.status === 'declined' ? 'declined' : 'expired';
    await tx.run(`UPDATE gifts SET status = ?, updated_at = ? WHERE id = ? AND status = 'pending_confirmation'`, [
      status,
      confirmation.decidedAt ?? Date.now(),
      confirmation.subjectId,
    ]);
  },
};

/** What `POST /v1/gifts` asks the money writer: the fan, the site and the checked request. */
export interface SendGiftInput extends Omit<SendGiftContext, 'ledger'> {
  request: GiftRequest;
  /** What {@link lookUpGift} read before the gift's turn (PostgreSQL), if it did. */
  found?: GiftLookup | undefined;
}

/**
 * Sends a gift (`POST /v1/gifts`): 201 sent, or 202 waiting for the fan's confirmation. Its work
 * spends before it writes anything: on PostgreSQL the spend claims the Idempotency-Key.
 */
export const sendGiftOperation = moneyOperation(
  'gifts.send',
  async (tx, money, input: SendGiftInput): Promise<StoredResponse<Gift>> => {
    const { request, ...context } = input;
    const { found, ...rest } = context;
    const { status, gift } = await sendGift(tx, { ...rest, ledger: money.ledger }, request, Date.now(), found);
    return { status, body: gift };
  },
  { claimsAnswerInSpend: true },
);

/** Gifts' part in the money path: sending, and settling a gift that waited for confirmation. */
export const giftsMoney: MoneyFeature = {
  name: 'gifts',
  operations: [sendGiftOperation],
  settlements: { gift: giftSettlement },
};
