import type { PayoutProviderName } from '@diamonds/protocol';
import type { WakeSource } from '../events/bus.js';
import { earningsHoldMs } from '../earnings/summary.js';
import type { MoneyWriter } from '../money/writer.js';
import {
  automaticPayoutsOperation,
  claimSubmissionsOperation,
  payoutMinimumDiamonds,
  settlePayoutOperation,
  submissionOutcomeOperation,
  type PayoutRecord,
} from './payouts.js';
import { testPayoutProvider, type PayoutProvider } from './provider.js';

/** How often the processor looks for payouts to submit and automatic payouts due, by default. */
const TICK_MS = 5_000;

/** How long a claimed submission keeps other processes off its payout. */
const SUBMISSION_LEASE_MS = 60_000;

/** The most a failed submission waits before its next attempt: an hour. */
const MAX_RETRY_DELAY_MS = 60 * 60 * 1000;

/** Settings of {@link startPayouts}; every field has a default. */
export interface PayoutSettings {
  /** The providers by name; the test provider is always there. */
  providers?: Partial<Record<PayoutProviderName, PayoutProvider>> | undefined;
  /** How often to look for work; 0 never, not even after a payout is made (tests drive it with `runOnce`). @defaultValue 5000 */
  tickMs?: number | undefined;
  /** @defaultValue `Date.now` */
  now?: (() => number) | undefined;
  /** @defaultValue `earningsHoldMs()` */
  holdMs?: number | undefined;
  /** @defaultValue `payoutMinimumDiamonds()` */
  minimumDiamonds?: number | undefined;
}

/** The running payout processor (see {@link startPayouts}). */
export interface PayoutService {
  /** Submits what is due and makes the automatic payouts due, once, now. */
  runOnce(): Promise<void>;
  close(): Promise<void>;
}

/** The delay before submission attempt `attempt + 1`: 10 s doubling, at most an hour. */
export function retryDelayMs(attempt: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, 10_000 * 2 ** Math.max(0, attempt - 1));
}

/**
 * Starts the payout processor: after each `payout.created` (and on a timer) it submits the
 * payouts due to their provider, outside any transaction, and records what the provider said
 * through the money writer; the timer also makes the weekly automatic payouts.
 *
 * @remarks A submission whose outcome is unknown (the provider unreachable, a timeout) is
 * tried again with backoff; providers are idempotent per payout, so a repeat never pays twice.
 */
export function startPayouts(writer: MoneyWriter, wake: readonly WakeSource[], settings: PayoutSettings = {}): PayoutService {
  const now = settings.now ?? Date.now;
  const holdMs = settings.holdMs ?? earningsHoldMs();
  const minimumDiamonds = settings.minimumDiamonds ?? payoutMinimumDiamonds();
  const providers: Partial<Record<PayoutProviderName, PayoutProvider>> = { test: testPayoutProvider, ...settings.providers };
  let closed = false;

  async function submit(record: PayoutRecord): Promise<void> {
    const { payout } = record;
    const provider = providers[payout.provider];
    if (!provider) {
      // Configured away since the payout was made: keep it, and say so, until it comes back.
      const at = now();
      await writer.run(submissionOutcomeOperation, {
        payoutId: payout.id,
        now: at,
        kind: 'unreachable',
        error: `The ${payout.provider} payout provider is not configured on this platform.`,
        retryAt: at + retryDelayMs(record.submitAttempts),
      });
      return;
    }
    let outcome;
    try {
      outcome = await provider.submit({
        payoutId: payout.id,
        creatorId: record.creatorId,
        accountRef: record.accountRef,
        testBehaviour: record.testBehaviour,
        diamonds: payout.diamonds,
        amount: payout.amount,
      });
    } catch (error) {
      const at = now();
      await writer.run(submissionOutcomeOperation, {
        payoutId: payout.id,
        now: at,
        kind: 'unreachable',
        error: error instanceof Error ? error.message : String(error),
        retryAt: at + retryDelayMs(record.submitAttempts),
      });
      return;
    }
    if (outcome.kind === 'refused') {
      await writer.run(settlePayoutOperation, {
        payoutId: payout.id,
        now: now(),
        outcome: 'failed',
        code: outcome.code,
        message: outcome.message,
      });
      return;
    }
    await writer.run(submissionOutcomeOperation, { payoutId: payout.id, now: now(), kind: 'accepted', providerRef: outcome.providerRef });
    const then = outcome.then;
    if (then?.kind === 'paid') await writer.run(settlePayoutOperation, { payoutId: payout.id, now: now(), outcome: 'paid' });
    else if (then?.kind === 'failed') {
      await writer.run(settlePayoutOperation, {
        payoutId: payout.id,
        now: now(),
        outcome: 'failed',
        code: then.code,
        message: then.message,
      });
    }
  }

  async function work(): Promise<void> {
    await writer.run(automaticPayoutsOperation, { now: now(), holdMs, minimumDiamonds });
    for (;;) {
      const due = await writer.run(claimSubmissionsOperation, { now: now(), leaseMs: SUBMISSION_LEASE_MS, limit: 20 });
      for (const record of due) {
        try {
          await submit(record);
        } catch (error) {
          console.error(`[payouts] submitting ${record.payout.id} failed; it is tried again after its lease`, error);
        }
      }
      if (due.length < 20 || closed) return;
    }
  }

  let running: Promise<void> = Promise.resolve();
  let again = false;
  let active = false;
  const runOnce = (): Promise<void> => {
    if (active) {
      again = true;
      return running;
    }
    active = true;
    running = (async () => {
      try {
        do {
          again = false;
          await work();
        } while (again && !closed);
      } finally {
        active = false;
      }
    })();
    return running;
  };
  const kick = () => {
    if (!closed) runOnce().catch((error: unknown) => console.error('[payouts] the processor failed', error));
  };
  const tickMs = settings.tickMs ?? TICK_MS;
  const unsubscribe =
    tickMs > 0
      ? wake.map((source) =>
          source.subscribe((events) => {
            if (events.some((event) => event.type === 'payout.created')) kick();
          }),
        )
      : [];
  const timer = tickMs > 0 ? setInterval(kick, tickMs) : undefined;
  timer?.unref();
  // What was left to submit when the platform last stopped.
  if (tickMs > 0) kick();
  return {
    runOnce,
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      for (const stop of unsubscribe) stop();
      await running.catch(() => undefined);
    },
  };
}
