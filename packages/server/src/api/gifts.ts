import { Hono } from 'hono';
import type { AppContext, AppEnv } from '../app.js';

/** `/v1` routes of the gift catalog and gifts. */
export function giftsApi(context: AppContext): Hono<AppEnv> {
  void context;
  return new Hono<AppEnv>();
}
