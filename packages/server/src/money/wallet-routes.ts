import { Hono } from 'hono';
import { Wallet, WalletHistory, WalletHistoryQuery } from '@diamonds/protocol';
import type { AppContext, AppEnv } from '../context.js';
import { exampleId, routesOn } from '../http/route.js';
import { walletHistory, walletSummary } from './wallet.js';

/** `/v1` routes of wallet balance and history, for the signed-in fan (publishable key and fan token). */
export function walletApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const route = routesOn(api, context);

  route(
    {
      method: 'get',
      path: '/wallet',
      operationId: 'getWallet',
      summary: 'Read the fan’s wallet',
      description:
        'The signed-in fan’s balances: what they can spend now, what is held for spends waiting for their confirmation, ' +
        'their earnings as a creator, and what this site may still spend today without asking.',
      tag: 'Wallet',
      auth: 'fan',
      responses: {
        200: {
          description: 'The fan’s wallet.',
          schema: Wallet,
          example: {
            object: 'wallet',
            balanceDiamonds: 1250,
            heldDiamonds: 100,
            earningsDiamonds: 0,
            remainingAllowance: 320,
            allowancePerDay: 500,
            allowanceRecipients: [exampleId('usr', 1)],
          },
        },
      },
    },
    async (c, { caller }) => {
      c.header('Cache-Control', 'no-store');
      return c.json(await walletSummary(context.db, caller.userId, caller.siteId));
    },
  );

  route(
    {
      method: 'get',
      path: '/wallet/history',
      operationId: 'listWalletHistory',
      summary: 'List the fan’s wallet history',
      description:
        'Newest first: top-ups, gifts, unlocks, orders, refunds and earnings, each in words a fan understands. A spend that waits for the fan’s confirmation is one entry that reads `pending`, then `posted` or `voided`. ' +
        'Page with `limit` and the previous page’s `nextCursor`; filter with `kind` (a transfer code) and `account`. ' +
        'Spends the fan made on other sites show their amount but not what they were for.',
      tag: 'Wallet',
      auth: 'fan',
      query: WalletHistoryQuery,
      responses: {
        200: {
          description: 'A page of history entries.',
          schema: WalletHistory,
          example: {
            object: 'list',
            data: [
              {
                object: 'wallet_entry',
                id: `${exampleId('txn')}:wallet`,
                transferId: exampleId('txn'),
                kind: 'gift',
                account: 'wallet',
                direction: 'out',
                amountDiamonds: 30,
                description: '3 × Rose for Ada',
                subjectId: exampleId('gift'),
                status: 'posted',
                createdAt: 1767225600000,
              },
            ],
            hasMore: true,
            nextCursor: 'dHhuXzAxSkQzUzlaSzRXOFEyVjdDNVhINlJUQjBNOndhbGxldA',
          },
        },
      },
      errors: ['invalid_cursor'],
    },
    async (c, { caller, query }) => {
      c.header('Cache-Control', 'no-store');
      return c.json(await walletHistory(context.db, caller.userId, query, { siteId: caller.siteId }));
    },
  );

  return api;
}
