// The `diamonds payouts …` commands' one-line summaries, apart from the commands themselves: `diamonds --help` lists them
// without loading the code (and the platform) the commands run.

/** One-line summaries for the CLI's help, by command name. */
export const PAYOUT_COMMAND_SUMMARIES = {
  'payouts list': 'List payouts, newest first: [--creator USR_ID] [--status in_transit|paid|failed|canceled] [--limit N].',
  'payouts retry': 'Submit again now a payout whose provider could not be reached: PO_ID.',
  'payouts cancel': 'Cancel a payout the provider has not accepted; its Diamonds go back to the creator: PO_ID [--reason TEXT].',
} as const;

/** A payout command's name. */
export type PayoutCommand = keyof typeof PAYOUT_COMMAND_SUMMARIES;
