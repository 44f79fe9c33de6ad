// The `diamonds live …` commands' one-line summaries, apart from the commands themselves: `diamonds --help` lists them
// without loading the code (and the platform) the commands run.

/** One-line summaries for the CLI's help, by command name. */
export const LIVE_COMMAND_SUMMARIES = {
  'live start': 'Start a creator’s live session: --creator USR_ID --title TEXT.',
  'live end': 'End a creator’s live session: --creator USR_ID.',
  'live goal': 'Set a creator’s goal: --creator USR_ID --title TEXT --target DIAMONDS, or --clear.',
  'live sessions': 'A creator’s last live sessions with what each brought: --creator USR_ID [--limit N].',
} as const;

/** A live command's name. */
export type LiveCommand = keyof typeof LIVE_COMMAND_SUMMARIES;
