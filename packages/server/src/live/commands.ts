import { parseArgs } from 'node:util';
import { isId } from '@diamonds/protocol';
import type { Database } from '../db/types.js';
import { platformMoney } from '../features.js';
import { GroupCommit } from '../ledger/group-commit.js';
import { Ledger } from '../ledger/ledger.js';
import { inlineMoneyWriter } from '../money/writer.js';
import { endLiveOperation, liveSessionSummaries, setGoalOperation, startLiveOperation } from './live.js';
import type { LiveCommand } from './command-summaries.js';
export type { LiveCommand } from './command-summaries.js';

/*
 * The live commands of the CLI (`diamonds live …`), for the operator or a creator's own
 * scripts: each takes the migrated database and the arguments after its name, prints, and
 * returns the exit code (0 done, 2 refused). They go through the money writer, so a running
 * platform's streams show the session's start and end.
 */

/** Where the commands write: the console, or a test's collector. */
export interface LiveCommandOutput {
  log(line: string): void;
  error(line: string): void;
}

/**
 * Runs `diamonds live start|end|goal|sessions` on `db`.
 *
 * @throws {@link ApiError} the operations' refusals (`invalid_request`, `invalid_amount`): the
 * CLI prints them and exits with 2.
 */
export async function liveCommand(db: Database, name: LiveCommand, args: string[], out: LiveCommandOutput = console): Promise<number> {
  // Each command accepts only its own options, the ones its summary (and so its --help) names.
  const accepted: Record<LiveCommand, readonly string[]> = {
    'live start': ['creator', 'title'],
    'live end': ['creator'],
    'live goal': ['creator', 'title', 'target', 'clear'],
    'live sessions': ['creator', 'limit'],
  };
  const all = {
    creator: { type: 'string' },
    title: { type: 'string' },
    target: { type: 'string' },
    clear: { type: 'boolean' },
    limit: { type: 'string' },
  } as const;
  const { values } = parseArgs({
    args,
    options: Object.fromEntries(Object.entries(all).filter(([option]) => accepted[name].includes(option))) as Partial<typeof all>,
    strict: true,
  }) as { values: { creator?: string; title?: string; target?: string; clear?: boolean; limit?: string } };
  const creatorId = values.creator ?? '';
  const [user] = isId('usr', creatorId)
    ? await db.query<{ is_creator: number | boolean }>('SELECT is_creator FROM users WHERE id = ?', [creatorId])
    : [];
  if (!user || Number(user.is_creator) !== 1) {
    out.error(`${name}: pass --creator with the id of a creator (usr_…).`);
    return 2;
  }
  const now = Date.now();
  if (name === 'live sessions') {
    const limit = values.limit === undefined ? 10 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      out.error('live sessions: --limit is a whole number from 1 to 100.');
      return 2;
    }
    const sessions = await liveSessionSummaries(db, creatorId, now, limit);
    out.log(
      sessions.length === 0
        ? 'No live sessions.'
        : sessions
            .map(
              (s) =>
                `${s.sessionId}  ${new Date(s.startedAt).toISOString()}  ${s.status}  “${s.title}”  ${s.diamonds} Diamonds, ${s.gifts} gifts, ${s.gifters} gifters, ${Math.round(s.durationMs / 60_000)} min`,
            )
            .join('\n'),
    );
    return 0;
  }
  const ledger = new Ledger(db);
  const writer = inlineMoneyWriter(platformMoney(), ledger, new GroupCommit(ledger));
  try {
    if (name === 'live start') {
      const session = await writer.run(startLiveOperation, { creatorId, title: values.title ?? '', now });
      out.log(`live start: ${session.sessionId} “${session.title}” is live since ${new Date(session.startedAt).toISOString()}.`);
    } else if (name === 'live end') {
      const ended = await writer.run(endLiveOperation, { creatorId, now });
      out.log(ended ? `live end: ${ended.sessionId} ended.` : 'live end: no session was live.');
    } else if (values.clear) {
      await writer.run(setGoalOperation, { creatorId, goal: null, now });
      out.log('live goal: removed.');
    } else {
      const target = values.target !== undefined && /^\d{1,10}$/.test(values.target) ? Number(values.target) : Number.NaN;
      await writer.run(setGoalOperation, { creatorId, goal: { title: values.title ?? '', targetDiamonds: target, endsAt: null }, now });
      out.log(`live goal: “${values.title ?? ''}”, ${target} Diamonds, counting from now.`);
    }
    return 0;
  } finally {
    await writer.close();
  }
}
