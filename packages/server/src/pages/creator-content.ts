import type { Hono } from 'hono';
import type { AppContext } from '../app.js';
import type { PagesEnv } from './forms.js';

/** Adds the creator's hosted content page to the hosted pages. */
export function creatorContentRoutes(pages: Hono<PagesEnv>, context: AppContext): void {
  void pages;
  void context;
}
