import type { SqlClient } from '../db/types.js';
import { dayOf, type EarningsSource } from './aggregates.js';

/** One day of the chart: net Diamonds per source. */
export interface DayEarnings {
  /** Days since the epoch (UTC). */
  day: number;
  gift: number;
  unlock: number;
  order: number;
}

/** Totals of one source, or of all. */
export interface SourceTotals {
  count: number;
  gross: number;
  fee: number;
  net: number;
}

/** A supporter as the dashboard lists them. */
export interface Supporter {
  fanId: string;
  displayName: string;
  count: number;
  gross: number;
  net: number;
  firstAt: number;
  lastAt: number;
}

/** A gift message. */
export interface GiftMessage {
  fanId: string;
  displayName: string;
  amount: number;
  message: string;
  createdAt: number;
}

/** Unlocks of one piece of content, or sales of one product. */
export interface ItemEarnings {
  itemId: string;
  name: string;
  count: number;
  gross: number;
  net: number;
}

/** Everything the dashboard shows, read from the aggregates (a few index reads, no scan of spends). */
export interface DashboardData {
  /** The chart's days, oldest first, one per day of the window (zeros included). */
  days: DayEarnings[];
  /** Per source and in all, over the window. */
  window: Record<EarningsSource | 'all', SourceTotals>;
  /** Per source and in all, since the first spend. */
  lifetime: Record<EarningsSource | 'all', SourceTotals>;
  supporterCount: number;
  topSupporters: Supporter[];
  messages: GiftMessage[];
  content: ItemEarnings[];
  products: ItemEarnings[];
}

function emptyTotals(): Record<EarningsSource | 'all', SourceTotals> {
  const zero = () => ({ count: 0, gross: 0, fee: 0, net: 0 });
  return { gift: zero(), unlock: zero(), order: zero(), all: zero() };
}

/**
 * Reads a creator's dashboard from the aggregates: the last `windowDays` days (today
 * included) for the chart, lifetime totals, the top supporters and latest gift messages, and
 * what each piece of content and product earned.
 */
export async function dashboardData(
  db: SqlClient,
  creatorId: string,
  options: { now: number; windowDays: number; top?: number },
): Promise<DashboardData> {
  const top = options.top ?? 10;
  const today = dayOf(options.now);
  const first = today - options.windowDays + 1;
  const daily = await db.query<{
    day: number | string;
    source: EarningsSource;
    count: number | string;
    gross: number | string;
    fee: number | string;
    net: number | string;
  }>(`SELECT day, source, count, gross, fee, net FROM earnings_daily WHERE creator_id = ? AND day >= ? AND day <= ? ORDER BY day`, [
    creatorId,
    first,
    today,
  ]);
  const lifetimeRows = await db.query<{
    source: EarningsSource;
    count: number | string;
    gross: number | string;
    fee: number | string;
    net: number | string;
  }>(
    `SELECT source, sum(count) AS count, sum(gross) AS gross, sum(fee) AS fee, sum(net) AS net FROM earnings_daily WHERE creator_id = ? GROUP BY source`,
    [creatorId],
  );
  const days: DayEarnings[] = Array.from({ length: options.windowDays }, (_, i) => ({ day: first + i, gift: 0, unlock: 0, order: 0 }));
  const window = emptyTotals();
  for (const row of daily) {
    const day = days[Number(row.day) - first];
    if (day) day[row.source] += Number(row.net);
    for (const key of [row.source, 'all'] as const) {
      window[key].count += Number(row.count);
      window[key].gross += Number(row.gross);
      window[key].fee += Number(row.fee);
      window[key].net += Number(row.net);
    }
  }
  const lifetime = emptyTotals();
  for (const row of lifetimeRows) {
    for (const key of [row.source, 'all'] as const) {
      lifetime[key].count += Number(row.count);
      lifetime[key].gross += Number(row.gross);
      lifetime[key].fee += Number(row.fee);
      lifetime[key].net += Number(row.net);
    }
  }
  const [countRow] = await db.query<{ n: number | string }>(
    'SELECT count(*) AS n FROM earnings_supporters WHERE creator_id = ? AND count > 0',
    [creatorId],
  );
  const supporters = await db.query<{
    fan_id: string;
    display_name: string | null;
    count: number | string;
    gross: number | string;
    net: number | string;
    first_at: number | string;
    last_at: number | string;
  }>(
    `SELECT s.fan_id, u.display_name, s.count, s.gross, s.net, s.first_at, s.last_at
     FROM earnings_supporters s LEFT JOIN users u ON u.id = s.fan_id
     WHERE s.creator_id = ? AND s.gross > 0 ORDER BY s.gross DESC, s.fan_id LIMIT ?`,
    [creatorId, top],
  );
  const messages = await db.query<{
    fan_id: string;
    display_name: string | null;
    amount: number | string;
    message: string;
    created_at: number | string;
  }>(
    `SELECT m.fan_id, u.display_name, m.amount, m.message, m.created_at
     FROM earnings_messages m LEFT JOIN users u ON u.id = m.fan_id
     WHERE m.creator_id = ? ORDER BY m.created_at DESC, m.event_id DESC LIMIT ?`,
    [creatorId, top],
  );
  const items = async (kind: 'content' | 'product') => {
    const names = kind === 'content' ? 'LEFT JOIN content n ON n.id = i.item_id' : 'LEFT JOIN products n ON n.id = i.item_id';
    const name = kind === 'content' ? 'n.title' : 'n.name';
    const rows = await db.query<{
      item_id: string;
      name: string | null;
      count: number | string;
      gross: number | string;
      net: number | string;
    }>(
      `SELECT i.item_id, ${name} AS name, i.count, i.gross, i.net FROM earnings_items i ${names}
       WHERE i.creator_id = ? AND i.kind = ? ORDER BY i.gross DESC, i.item_id LIMIT ?`,
      [creatorId, kind, 50],
    );
    return rows.map((row) => ({
      itemId: row.item_id,
      name: row.name ?? row.item_id,
      count: Number(row.count),
      gross: Number(row.gross),
      net: Number(row.net),
    }));
  };
  return {
    days,
    window,
    lifetime,
    supporterCount: Number(countRow?.n ?? 0),
    topSupporters: supporters.map((row) => ({
      fanId: row.fan_id,
      displayName: row.display_name ?? 'A fan',
      count: Number(row.count),
      gross: Number(row.gross),
      net: Number(row.net),
      firstAt: Number(row.first_at),
      lastAt: Number(row.last_at),
    })),
    messages: messages.map((row) => ({
      fanId: row.fan_id,
      displayName: row.display_name ?? 'A fan',
      amount: Number(row.amount),
      message: row.message,
      createdAt: Number(row.created_at),
    })),
    content: await items('content'),
    products: await items('product'),
  };
}
