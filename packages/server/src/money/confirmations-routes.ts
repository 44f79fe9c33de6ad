import { Hono } from 'hono';
import { setTimeout as sleep } from 'node:timers/promises';
import { Confirmation, ConfirmationWaitQuery, isId } from '@diamonds/protocol';
import { publicBaseUrl, type AppContext, type AppEnv } from '../context.js';
import type { SqlClient } from '../db/types.js';
import { ApiError } from '../errors.js';
import { exampleId, idParam, routesOn } from '../http/route.js';
import { findConfirmation, presentConfirmation, type ConfirmationRecord } from './spends.js';

/** How often a long poll looks again at a pending confirmation. */
const LONG_POLL_STEP_MS = 250;

/**
 * The fan's confirmation on this site.
 *
 * @remarks A confirmation made on another site reads as not found: a site's page learns
 * nothing about what the fan does elsewhere.
 * @throws {@link ApiError} `confirmation_not_found`
 */
async function ownConfirmation(db: SqlClient, id: string, userId: string, siteId: string): Promise<ConfirmationRecord> {
  const record = isId('cnf', id) ? await findConfirmation(db, id) : undefined;
  if (!record || record.userId !== userId || record.siteId !== siteId) {
    throw new ApiError('confirmation_not_found', `No confirmation ${JSON.stringify(id.slice(0, 60))} for this fan on this site.`, {
      param: 'id',
    });
  }
  return record;
}

/** `/v1` routes of confirmations of spends beyond the allowance. */
export function confirmationsApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const route = routesOn(api, context);

  route(
    {
      method: 'get',
      path: '/confirmations/{id}',
      operationId: 'getConfirmation',
      summary: 'Follow a confirmation',
      description:
        'Where a spend beyond the allowance stands: `pending` until the fan approves or declines it on the hosted page ' +
        '(its `url`), then `approved`, `declined` or `expired`. With `waitMs` the request waits (up to 25 s) and answers as ' +
        'soon as it is no longer pending. Only the fan it belongs to, on the site it was made on, can read it; nobody can ' +
        'decide it through the API.',
      tag: 'Confirmations',
      auth: 'fan',
      params: { id: idParam('cnf', 'The confirmation’s id, `cnf_…`.') },
      query: ConfirmationWaitQuery,
      responses: {
        200: {
          description: 'The confirmation.',
          schema: Confirmation,
          example: {
            object: 'confirmation',
            id: exampleId('cnf'),
            kind: 'gift',
            status: 'approved',
            amountDiamonds: 600,
            description: '3 × Crown for Ada',
            subjectId: exampleId('gift'),
            url: `https://diamonds.example/confirm/${exampleId('cnf')}`,
            transferId: exampleId('txn'),
            createdAt: 1767225600000,
            expiresAt: 1767226500000,
            decidedAt: 1767225640000,
          },
        },
      },
      errors: ['confirmation_not_found'],
    },
    async (c, { caller, params, query }) => {
      const { waitMs = 0 } = query;
      const deadline = Date.now() + waitMs;
      let record = await ownConfirmation(context.db, params.id, caller.userId, caller.siteId);
      while (record.status === 'pending' && Date.now() + LONG_POLL_STEP_MS <= deadline && !c.req.raw.signal.aborted) {
        await sleep(LONG_POLL_STEP_MS);
        record = await ownConfirmation(context.db, params.id, caller.userId, caller.siteId);
      }
      c.header('Cache-Control', 'no-store');
      return c.json(presentConfirmation(record, publicBaseUrl(c, context.settings)));
    },
  );

  return api;
}
