import type { PayOrderResult } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import { unlockContent } from '../content/unlocks.js';
import { sendGift, type GiftRequest } from '../gifts/gifts.js';
import type { Ledger } from '../ledger/ledger.js';
import { payOrder, presentCheckoutOrder } from '../orders/orders.js';
import { idempotent, type IdempotentResult, type StoredResponse } from './idempotency.js';
import { presentConfirmation } from './spends.js';

/**
 * A fan's spend, as data: what a route asks the writer to do in a group-committed transaction.
 *
 * @remarks
 * Spends are described rather than passed as closures so that they can run where the database
 * connection is, which for SQLite is a writer thread (see `money/writer.ts`). Everything here
 * was checked and resolved by the route (who the fan is, which site, the public base URL); the
 * command's handler reads and writes only the database.
 */
export type SpendCommand =
  | {
      kind: 'gifts.send';
      /** The paying fan and the site they are on. */
      userId: string;
      siteId: string;
      feeBasisPoints: number;
      /** The platform's public origin, for the confirmation's URL. */
      baseUrl: string;
      request: GiftRequest;
    }
  | {
      kind: 'content.unlock';
      fanId: string;
      siteId: string;
      contentId: string;
      feeBasisPoints: number;
      baseUrl: string;
    }
  | {
      kind: 'orders.pay';
      userId: string;
      siteId: string;
      orderId: string;
      feeBasisPoints: number;
      baseUrl: string;
    };

/** A {@link SpendCommand} under the caller's `Idempotency-Key`: run once, its answer replayed after. */
export interface IdempotentSpend {
  /** The idempotency scope (the fan on a site: `fanScope`). */
  scope: string;
  /** The request's `Idempotency-Key`. */
  key: string;
  /** The request's fingerprint (method, path, body): a reused key with another body is refused. */
  fingerprint: string;
  command: SpendCommand;
}

/** Runs one spend in `tx` and gives the answer to store and send. */
export async function runSpendCommand(tx: SqlClient, ledger: Ledger, command: SpendCommand): Promise<StoredResponse> {
  switch (command.kind) {
    case 'gifts.send': {
      const { status, gift } = await sendGift(
        tx,
        { ledger, userId: command.userId, siteId: command.siteId, feeBasisPoints: command.feeBasisPoints, baseUrl: command.baseUrl },
        command.request,
      );
      return { status, body: gift };
    }
    case 'content.unlock':
      return unlockContent(tx, { ledger, ...command });
    case 'orders.pay': {
      const { record, confirmation } = await payOrder(tx, ledger, {
        orderId: command.orderId,
        siteId: command.siteId,
        userId: command.userId,
        issuer: command.baseUrl,
        feeBasisPoints: command.feeBasisPoints,
      });
      const answer: PayOrderResult = {
        ...presentCheckoutOrder(record),
        confirmation: confirmation === null ? null : presentConfirmation(confirmation, command.baseUrl),
      };
      return { status: confirmation === null ? 200 : 202, body: answer };
    }
  }
}

/** Runs a spend under its idempotency key in `tx`: the first time for real, afterwards as a replay. */
export function runIdempotentSpend(tx: SqlClient, ledger: Ledger, spend: IdempotentSpend): Promise<IdempotentResult> {
  return idempotent(tx, { scope: spend.scope, key: spend.key, fingerprint: spend.fingerprint }, () =>
    runSpendCommand(tx, ledger, spend.command),
  );
}
