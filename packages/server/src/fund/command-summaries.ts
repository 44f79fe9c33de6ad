// The `diamonds fund …` commands' one-line summaries, apart from the commands themselves: `diamonds --help` lists them
// without loading the code (and the platform) the commands run.

/** One-line summaries for the CLI's help, by command name. */
export const FUND_COMMAND_SUMMARIES = {
  'fund open':
    'Open a creator fund period with a pool from the platform: --period YYYY-MM (UTC month) | --from ISO --to ISO, --pool DIAMONDS.',
  'fund close':
    'Close an ended fund period: pay each creator their share of the pool by engagement score (again: prints the first result): --period … | --from … --to ….',
  'fund show': 'Show a fund period: each creator’s score components and share (estimated while open): --period … | --from … --to ….',
} as const;

/** A fund command's name. */
export type FundCommand = keyof typeof FUND_COMMAND_SUMMARIES;
