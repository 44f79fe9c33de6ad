import { Hono } from 'hono';
import type { AppContext, AppEnv } from '../app.js';

/** `/v1` routes of confirmations of spends beyond the allowance. */
export function confirmationsApi(context: AppContext): Hono<AppEnv> {
  void context;
  return new Hono<AppEnv>();
}
