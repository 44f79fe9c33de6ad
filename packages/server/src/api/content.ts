import { Hono } from 'hono';
import type { AppContext, AppEnv } from '../app.js';

/** `/v1` routes of exclusive content and unlocks. */
export function contentApi(context: AppContext): Hono<AppEnv> {
  void context;
  return new Hono<AppEnv>();
}
