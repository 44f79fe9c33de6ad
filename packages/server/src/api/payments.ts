import { Hono } from 'hono';
import type { AppContext, AppEnv } from '../app.js';

/** `/v1` routes of top-ups and payment providers. */
export function paymentsApi(context: AppContext): Hono<AppEnv> {
  void context;
  return new Hono<AppEnv>();
}
