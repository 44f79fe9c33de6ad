import type { SpendKind, Transfer } from '@diamonds/protocol';
import type { SqlClient } from '../db/types.js';
import type { Ledger } from '../ledger/ledger.js';
import type { ConfirmationRecord } from './spends.js';

/**
 * What a money operation reaches besides its transaction: the ledger, and what each flow does
 * when one of its held spends is settled.
 */
export interface MoneyContext {
  readonly ledger: Ledger;
  /**
   * What the flow that owns `kind` does when one of its held spends is posted or voided.
   *
   * @throws Error when no feature registered a settlement for `kind` (a wiring mistake, found
   * by the first test that settles such a spend rather than silently doing nothing).
   */
  settlementOf(kind: SpendKind): SpendSettlement;
}

/**
 * One kind of write that moves Diamonds or changes the state of a spend, as the money writer
 * runs it: in a group-committed transaction (its own savepoint), on the writer thread for
 * SQLite, inline for PostgreSQL.
 *
 * @remarks Its input and output cross between threads (structured clone): plain data only, no
 * class instances or functions. It must have no effect outside `tx`; it may throw an
 * `ApiError`, and then nothing it wrote stays. Built with {@link moneyOperation} and made
 * runnable by listing it in a {@link MoneyFeature}.
 */
export interface MoneyOperation<Input, Output> {
  /** Unique across the platform: `feature.verb` (`gifts.send`, `orders.refund`…). */
  readonly name: string;
  run(tx: SqlClient, money: MoneyContext, input: Input): Promise<Output>;
  /**
   * Whether its work spends before it writes anything, so that on PostgreSQL the spend claims the
   * request's `Idempotency-Key` itself (one round trip less; see `idempotent`'s `claimInSpend`).
   */
  readonly claimsAnswerInSpend?: boolean;
}

/** Declares a {@link MoneyOperation}. */
export function moneyOperation<Input, Output>(
  name: string,
  run: (tx: SqlClient, money: MoneyContext, input: Input) => Promise<Output>,
  options: { claimsAnswerInSpend?: boolean } = {},
): MoneyOperation<Input, Output> {
  return { name, run, ...options };
}

/**
 * What a money flow does when one of its confirmed spends is settled: `posted` when the fan
 * approved (mark the gift sent, grant the entitlement, mark the order paid…), `voided` when
 * the fan declined or time ran out (return the stock…). Both run in the transaction that
 * settles it.
 */
export interface SpendSettlement {
  posted(tx: SqlClient, confirmation: ConfirmationRecord, transfer: Transfer): Promise<void>;
  voided(tx: SqlClient, confirmation: ConfirmationRecord): Promise<void>;
}

/**
 * A feature's part in the money path: the operations it runs through the money writer, and
 * what happens to its held spends when they are settled. Each feature exports one; the
 * platform lists them all in `features.ts`.
 */
export interface MoneyFeature {
  /** For messages: `gifts`, `orders`… */
  readonly name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of operations of any input and output
  readonly operations: readonly MoneyOperation<any, any>[];
  /** The spend kinds this feature owns, with what settling one of them does. */
  readonly settlements?: Partial<Record<SpendKind, SpendSettlement>>;
}

/**
 * Every money operation and settlement of the platform, assembled once when the app (or the
 * writer thread) is built: nothing registers itself at import time, and asking for what was
 * never registered fails loudly.
 */
export class MoneyRegistry {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see MoneyFeature.operations
  readonly #operations = new Map<string, MoneyOperation<any, any>>();
  readonly #settlements = new Map<SpendKind, SpendSettlement>();

  /** @throws Error when two features register the same operation name or spend kind. */
  constructor(features: readonly MoneyFeature[]) {
    for (const feature of features) {
      for (const operation of feature.operations) {
        if (this.#operations.has(operation.name)) {
          throw new Error(`Money operation ${operation.name} is registered twice (again by ${feature.name}).`);
        }
        this.#operations.set(operation.name, operation);
      }
      for (const [kind, settlement] of Object.entries(feature.settlements ?? {}) as [SpendKind, SpendSettlement][]) {
        if (this.#settlements.has(kind)) throw new Error(`Spend kind ${kind} is settled by two features (again by ${feature.name}).`);
        this.#settlements.set(kind, settlement);
      }
    }
  }

  /**
   * The registered operation called `name`.
   *
   * @throws Error when none is: its feature is missing from `features.ts`.
   */
  operation<Input, Output>(name: string): MoneyOperation<Input, Output> {
    const operation = this.#operations.get(name);
    if (!operation) throw new Error(`Money operation ${name} is not registered: add its feature to platformMoneyFeatures (features.ts).`);
    return operation as MoneyOperation<Input, Output>;
  }

  /** The names of every registered operation, for tests and the docs. */
  operationNames(): string[] {
    return [...this.#operations.keys()].sort();
  }

  /** The {@link MoneyContext} operations run with, on `ledger`. */
  contextFor(ledger: Ledger): MoneyContext {
    return {
      ledger,
      settlementOf: (kind) => {
        const settlement = this.#settlements.get(kind);
        if (!settlement) throw new Error(`No feature settles spends of kind ${kind}: add it to platformMoneyFeatures (features.ts).`);
        return settlement;
      },
    };
  }
}
