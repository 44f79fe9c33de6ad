// The `diamonds gifts …` commands' one-line summaries, apart from the commands themselves: `diamonds --help` lists them
// without loading the code (and the platform) the commands run.

/** One-line summaries for the CLI's help. */
export const GIFT_COMMAND_SUMMARIES = {
  'gifts list': 'List the gift catalog (inactive gifts marked).',
  'gifts add': 'Add a gift: --id SLUG --name NAME --price DIAMONDS --svg FILE [--animation float|burst|spin|pulse|rise].',
  'gifts disable': 'Stop listing and selling a gift: --id SLUG (its art stays served for gifts already sent).',
  'gifts enable': 'List and sell a disabled gift again: --id SLUG.',
} as const;
