import { Hono } from 'hono';
import type { AppContext, AppEnv } from '../app.js';

/** `/v1` routes of wallet balance and history. */
export function walletApi(context: AppContext): Hono<AppEnv> {
  void context;
  return new Hono<AppEnv>();
}
