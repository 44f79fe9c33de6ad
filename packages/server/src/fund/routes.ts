import { Hono } from 'hono';
import { FundOverview } from '@diamonds/protocol';
import type { AppContext, AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { findSite } from '../identity/sites.js';
import { exampleId, routesOn } from '../http/route.js';
import { creatorFundReports, FUND_RULES, type FundPeriodReport } from './fund.js';

/** The creator's view of one period: their own line only (another creator's is not theirs to see). */
function creatorReport(report: FundPeriodReport): FundOverview['periods'][number] {
  return { period: report.period, estimate: report.estimate, line: report.lines[0] ?? null, totalScore: report.totalScore };
}

/**
 * `GET /v1/fund`: the creator fund as the site owner's backend reads it: the published rules,
 * and per period their running estimate (open) or what they were paid (closed).
 */
export function fundApi(context: AppContext): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const route = routesOn(api, context);
  route(
    {
      method: 'get',
      path: '/fund',
      operationId: 'getFund',
      summary: 'The creator fund',
      description:
        'With the secret key: the creator fund for the site’s owner. The score’s published rules, then each period that has started, newest first: while it is open, the owner’s running estimate (the share the pool would give if it closed now); once closed, the breakdown that was paid. `line` is null for a period in which no spend to the owner counted. See docs/creator-fund.md.',
      tag: 'Creator fund',
      auth: 'secret',
      responses: {
        200: {
          description: 'The rules and the owner’s periods.',
          schema: FundOverview,
          example: {
            object: 'fund',
            creatorId: exampleId('usr'),
            rules: { ...FUND_RULES },
            periods: [
              {
                period: {
                  id: '2026-12',
                  startsAt: 1795996800000,
                  endsAt: 1798675200000,
                  poolDiamonds: 100000,
                  status: 'open',
                  totalScore: null,
                  returnedDiamonds: null,
                  closedAt: null,
                },
                estimate: true,
                line: {
                  creatorId: exampleId('usr'),
                  supporters: 12,
                  unlocks: 9,
                  gifts: 30,
                  rawPoints: 225,
                  score: 214,
                  qualified: true,
                  amountDiamonds: 8310,
                  transferId: null,
                },
                totalScore: 2575,
              },
            ],
          },
        },
      },
    },
    async (c, { caller: { siteId } }) => {
      const site = await findSite(context.db, siteId);
      if (!site) throw new ApiError('site_not_found', 'The key’s site is gone.');
      const reports = await creatorFundReports(context.db, site.ownerId, context.earnings.now());
      const overview: FundOverview = {
        object: 'fund',
        creatorId: site.ownerId,
        rules: { ...FUND_RULES },
        periods: reports.map(creatorReport),
      };
      c.header('Cache-Control', 'no-store');
      return c.json(overview);
    },
  );
  return api;
}
