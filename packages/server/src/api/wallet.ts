import { Hono } from 'hono';
import { Wallet, WalletHistory, WalletHistoryQuery } from '@diamonds/protocol';
import type { AppContext, AppEnv } from '../context.js';
import { validate } from '../http/body.js';
import { walletHistory, walletSummary } from '../money/wallet.js';
import { fanOf } from './identity.js';
import { documentRoute } from './openapi.js';

documentRoute({
  method: 'get',
  path: '/v1/wallet',
  summary: 'Read the fan’s wallet',
  description:
    'The signed-in fan’s balances: what they can spend now, what is held for spends waiting for their confirmation, ' +
    'their earnings as a creator, and what this site may still spend today without asking.',
  tag: 'Wallet',
  auth: 'fan',
  responses: { 200: { description: 'The fan’s wallet.', schema: Wallet } },
  errors: ['authentication_required', 'invalid_token', 'permission_denied', 'origin_not_allowed'],
});

documentRoute({
  method: 'get',
  path: '/v1/wallet/history',
  summary: 'List the fan’s wallet history',
  description:
    'Newest first: top-ups, gifts, unlocks, orders, refunds and earnings, each in words a fan understands. A spend that waits for the fan’s confirmation is one entry that reads `pending`, then `posted` or `voided`. ' +
    'Page with `limit` and the previous page’s `nextCursor`; filter with `kind` (a transfer code) and `account`. ' +
    'Spends the fan made on other sites show their amount but not what they were for.',
  tag: 'Wallet',
  auth: 'fan',
  query: WalletHistoryQuery,
  responses: { 200: { description: 'A page of history entries.', schema: WalletHistory } },
  errors: ['invalid_request', 'invalid_cursor', 'authentication_required', 'invalid_token', 'permission_denied', 'origin_not_allowed'],
});

/** `/v1` routes of wallet balance and history, for the signed-in fan (publishable key and fan token). */
export function walletApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();

  api.get('/wallet', async (c) => {
    const { userId, context: fan } = await fanOf(c, context.db);
    c.header('Cache-Control', 'no-store');
    return c.json(await walletSummary(context.db, userId, fan.siteId));
  });

  api.get('/wallet/history', async (c) => {
    const { userId, context: fan } = await fanOf(c, context.db);
    const query = validate(WalletHistoryQuery, c.req.query());
    c.header('Cache-Control', 'no-store');
    return c.json(await walletHistory(context.db, userId, query, { siteId: fan.siteId }));
  });

  return api;
}
