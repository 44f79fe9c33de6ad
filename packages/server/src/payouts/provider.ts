import type { FiatMoney, PayoutProviderName } from '@diamonds/protocol';

/** How a test bank account of the test provider behaves, like the test cards of top-ups. */
export type TestPayoutBehaviour = 'pays' | 'fails' | 'needs_verification';

/** The test bank accounts a creator may choose, with what each does. */
export const TEST_PAYOUT_ACCOUNTS: Readonly<Record<TestPayoutBehaviour, string>> = {
  pays: 'Test account that is paid',
  fails: 'Test account whose bank returns the payout',
  needs_verification: 'Test account that needs verification first',
};

/** One payout as a provider is asked to send it. */
export interface PayoutSubmission {
  /** The platform's payout id: the provider's idempotency key is derived from it. */
  payoutId: string;
  creatorId: string;
  /** The creator's account at the provider (a Stripe `acct_…`); `null` for the test provider. */
  accountRef: string | null;
  /** The test bank account's behaviour; `null` for a real provider. */
  testBehaviour: TestPayoutBehaviour | null;
  diamonds: number;
  /** What the creator receives. */
  amount: FiatMoney;
}

/** Why a payout failed, for people and for code. */
export interface PayoutFailure {
  /** Stable, in snake case (`account_closed`, `provider_refused`…). */
  code: string;
  message: string;
}

/**
 * What a provider said to a submission.
 *
 * - `accepted`: the provider took it (its id in `providerRef`); the outcome comes later, from
 *   its event (`payout.paid` / `payout.failed` for Stripe) or, for the test provider, at once
 *   in `then`.
 * - `refused`: the provider will not send it (an account that cannot receive payouts): the
 *   payout fails and its Diamonds go back.
 */
export type SubmissionOutcome =
  | { kind: 'accepted'; providerRef: string; then?: { kind: 'paid' } | ({ kind: 'failed' } & PayoutFailure) }
  | ({ kind: 'refused' } & PayoutFailure);

/**
 * A way to send creators' money to their bank.
 *
 * @remarks `submit` is called after the payout committed, outside any database transaction
 * (a network call never holds the ledger's transaction open), and may be called again for
 * the same payout after a crash or a network error: it must be idempotent per `payoutId`
 * (Stripe's adapter sends idempotency keys derived from it). It throws only when the outcome
 * is unknown (the provider could not be reached); the payout is then submitted again later.
 */
export interface PayoutProvider {
  readonly name: PayoutProviderName;
  submit(payout: PayoutSubmission): Promise<SubmissionOutcome>;
}

/**
 * The built-in test provider: no money moves anywhere. An account that `pays` is accepted and
 * paid; one that `fails` is accepted, then returned by the "bank" (a failure after
 * submission, as real payouts fail); `needs_verification` never gets here (its method is not
 * ready until the creator completes the test verification).
 */
export const testPayoutProvider: PayoutProvider = {
  name: 'test',
  submit(payout) {
    const providerRef = `test_${payout.payoutId}`;
    if (payout.testBehaviour === 'fails') {
      return Promise.resolve({
        kind: 'accepted',
        providerRef,
        then: {
          kind: 'failed',
          code: 'account_closed',
          message: 'The bank returned the payout: the account is closed (test account that fails).',
        },
      });
    }
    return Promise.resolve({ kind: 'accepted', providerRef, then: { kind: 'paid' } });
  },
};
