import { Hono } from 'hono';
import type { AppContext, AppEnv } from '../app.js';

/** `/v1` routes of products, orders and refunds. */
export function ordersApi(context: AppContext): Hono<AppEnv> {
  void context;
  return new Hono<AppEnv>();
}
