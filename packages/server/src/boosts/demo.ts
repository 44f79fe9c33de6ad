import type { Database } from '../db/types.js';
import { listCreatorContent } from '../content/content.js';
import { earningsHoldMs } from '../earnings/summary.js';
import type { DemoData } from '../identity/demo.js';
import { findSite } from '../identity/sites.js';
import type { Ledger } from '../ledger/ledger.js';
import type { MoneyWriter } from '../money/writer.js';
import { createBoostOperation, prepareBoost } from './boosts.js';

/** The demo creator's earnings made for the demo boost, and its budget. */
const DEMO_EARNINGS = 300;
const DEMO_BUDGET = 200;

/**
 * `npm start`'s demo boost: the demo creator's priced post, boosted for 30 days with 200 Diamonds
 * of 300 demo earnings (an `adjustment` that says so), a click leading to `url` (the example
 * creator site). Done once: nothing when the demo creator has boosted anything already.
 *
 * @returns A line for the console, or undefined when nothing was done.
 */
export async function seedDemoBoost(
  platform: { db: Database; ledger: Ledger; writer: Pick<MoneyWriter, 'run'> },
  demo: DemoData,
  url: string,
  now = Date.now(),
): Promise<string | undefined> {
  const { db, ledger, writer } = platform;
  const existing = await db.query('SELECT id FROM boosts WHERE creator_id = ? LIMIT 1', [demo.creator.userId]);
  const post = (await listCreatorContent(db, demo.creator.userId)).find((c) => c.priceDiamonds !== null && c.archivedAt === null);
  const site = await findSite(db, demo.site.id);
  if (existing.length > 0 || !post || !site) return undefined;
  await db.transaction(async (tx) => {
    const issuance = await ledger.platformAccount('issuance', tx);
    await ledger.transferIn(tx, {
      idempotencyKey: `demo:boost-earnings:${demo.creator.userId}`,
      code: 'adjustment',
      postings: [
        { accountId: issuance.id, amountDiamonds: -DEMO_EARNINGS },
        { accountId: await ledger.accountId({ ownerId: demo.creator.userId, kind: 'earnings' }, tx), amountDiamonds: DEMO_EARNINGS },
      ],
      metadata: { description: 'Demo earnings for the demo boost', reason: 'demo data of npm start' },
    });
  });
  const input = await prepareBoost(
    db,
    site,
    demo.creator.userId,
    { itemId: post.id, budgetDiamonds: DEMO_BUDGET, endsAt: now + 30 * 86_400_000, url },
    now,
    earningsHoldMs(),
  );
  const { body } = await writer.run(createBoostOperation, input);
  return `  boost        ${body.id}  “${post.title}” (${DEMO_BUDGET} Diamonds, shown in the shop's <diamond-discover>)`;
}
