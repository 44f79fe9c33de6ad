import type { BatchItemResult, Ledger, TransferRequest, TransferResult } from './ledger.js';

/** Options of {@link GroupCommit}. */
export interface GroupCommitOptions {
  /** Most transfers in one database transaction. @defaultValue 100 */
  maxBatch?: number;
}

interface Waiting {
  request: TransferRequest;
  resolve(result: TransferResult): void;
  reject(error: unknown): void;
}

/**
 * Groups transfers that arrive at the same time into one database transaction.
 *
 * @remarks
 * With `synchronous=FULL`, every SQLite commit waits for an fsync; a server that commits each
 * request alone is capped by the disk. Here, requests queue while a batch is being written and
 * go together in the next one (at most `maxBatch`), each still with its own result: a request
 * that fails fails alone. No timer is involved: a lone request is written at once, and
 * requests made in the same tick share its transaction.
 *
 * @example
 * ```ts
 * const commits = new GroupCommit(ledger);
 * const { transfer } = await commits.transfer(request); // same contract as ledger.transfer
 * ```
 */
export class GroupCommit {
  readonly #ledger: Ledger;
  readonly #maxBatch: number;
  #queue: Waiting[] = [];
  #flushing = false;
  /** How many database transactions this instance has run, for tests and metrics. */
  batches = 0;

  constructor(ledger: Ledger, options: GroupCommitOptions = {}) {
    this.#ledger = ledger;
    this.#maxBatch = options.maxBatch ?? 100;
  }

  /**
   * Moves Diamonds like {@link Ledger.transfer}, sharing a commit with concurrent callers.
   *
   * @throws the same errors as {@link Ledger.transfer}.
   */
  transfer(request: TransferRequest): Promise<TransferResult> {
    return new Promise<TransferResult>((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      if (!this.#flushing) {
        // Start after the current microtasks, so callers of the same tick share the first batch.
        this.#flushing = true;
        queueMicrotask(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        let results: BatchItemResult[];
        try {
          this.batches++;
          results = await this.#ledger.transferBatch(batch.map((w) => w.request));
        } catch (error) {
          for (const waiting of batch) waiting.reject(error);
          continue;
        }
        batch.forEach((waiting, i) => {
          const result = results[i];
          if (!result) waiting.reject(new Error('missing batch result'));
          else if (result.ok) waiting.resolve({ transfer: result.transfer, replayed: result.replayed });
          else waiting.reject(result.error);
        });
      }
    } finally {
      this.#flushing = false;
    }
  }
}
