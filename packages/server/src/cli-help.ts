/*
 * `--help` for every command of the CLI, in one place: `diamonds <command> --help` prints the
 * command's usage, its summary and its options, and `diamonds <group> [--help]` lists the group's
 * commands. A command declares its options (`options`), or they are read from its summary, which
 * names each as `--name VALUE`: so a new command answers `--help` without doing anything.
 */

/** What help needs to know of a command. */
export interface HelpfulCommand {
  /** Its words, such as `rates set`. */
  name: string;
  /** One line: what it does, naming its options as `--name VALUE`. */
  summary: string;
  /** What follows the options, such as `FILE` or `TOPUP_ID`. */
  usage?: string;
  /** Its options and what each does, by name without `--`; else read from the summary. */
  options?: Readonly<Record<string, string>>;
}

/** `--name VALUE` in a summary: the value is CAPITALS, `a|b|c` choices, or an example. */
const OPTION_IN_SUMMARY =
  /--([a-z][a-z0-9-]*)(?:[ =]((?:[A-Z][A-Z0-9_]*|[a-z0-9-]+)(?:\|[A-Za-z0-9_-]+)+|[A-Z][A-Z0-9_]*|[0-9][0-9,.]*|[a-z][a-z0-9-]*(?=\s|\)|\]|,|\.|$)))?/g;

/** Words a summary uses after `--name ` that are prose, not a value. */
const NOT_VALUES = new Set(['and', 'or', 'with', 'the', 'to', 'of', 'for', 'is', 'are', 'from']);

/** The options of `command`: declared, or read from its summary, in order, each once. */
export function commandOptions(command: HelpfulCommand): Array<{ flag: string; value: string | undefined; description: string }> {
  if (command.options) {
    return Object.entries(command.options).map(([flag, description]) => {
      const [first, ...rest] = description.split(' ');
      const value = first && /^[A-Z][A-Z0-9_|]*$/.test(first) ? first : undefined;
      return { flag, value, description: value ? rest.join(' ') : description };
    });
  }
  const seen = new Map<string, { flag: string; value: string | undefined; description: string }>();
  for (const match of command.summary.matchAll(OPTION_IN_SUMMARY)) {
    const flag = match[1]!;
    let value = match[2];
    if (value !== undefined && NOT_VALUES.has(value)) value = undefined;
    if (!seen.has(flag)) seen.set(flag, { flag, value, description: '' });
  }
  return [...seen.values()];
}

/** Whether `args` (after the command's words) ask for help. */
export function asksForHelp(args: readonly string[]): boolean {
  // After `--` everything is a value, even `--help`.
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

/** The help of one command: usage, summary, options. */
export function commandHelp(command: HelpfulCommand): string {
  const options = commandOptions(command);
  const synopsis = [`diamonds ${command.name}`, options.length > 0 ? '[options]' : '', command.usage ?? ''].filter(Boolean).join(' ');
  const rows = [
    ...options.map((o) => ({ left: `--${o.flag}${o.value ? ` ${o.value}` : ''}`, right: o.description })),
    { left: '-h, --help', right: 'Show this help.' },
  ];
  const width = Math.max(...rows.map((row) => row.left.length));
  return [
    `Usage: ${synopsis}`,
    '',
    command.summary,
    '',
    'Options:',
    ...rows.map((row) => `  ${row.left.padEnd(width)}  ${row.right}`.trimEnd()),
    '',
    'Settings come from the environment (DIAMONDS_DATA_DIR, DATABASE_URL…): see "diamonds --help".',
  ].join('\n');
}

/** The commands whose name starts with `words` (a group such as `rates`), or none. */
export function commandsUnder<C extends HelpfulCommand>(commands: readonly C[], words: readonly string[]): C[] {
  if (words.length === 0) return [];
  return commands.filter((command) => {
    const name = command.name.split(' ');
    return name.length > words.length && words.every((word, i) => name[i] === word);
  });
}

/** The help of a group of commands, such as `diamonds rates`. */
export function groupHelp(group: string, commands: readonly HelpfulCommand[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `Usage: diamonds ${group} <command> [options]`,
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Run "diamonds ${group} <command> --help" for a command's options.`,
  ].join('\n');
}
