import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from '../db/types.js';
import { seedDefaultRates } from '../money/rates.js';
import { createSite } from './sites.js';
import { markEmailVerified } from './email-verification.js';
import { createUser, findUserByEmail } from './users.js';

/** The demo accounts and site that `npm start` seeds for development. */
export interface DemoData {
  creator: { email: string; password: string; userId: string };
  fan: { email: string; password: string; userId: string };
  site: { id: string; name: string; origins: string[]; publishableKey: string; secretKey: string };
}

/** The demo creator's email; its presence means the demo was seeded. */
export const DEMO_CREATOR_EMAIL = 'creator@demo.diamonds.test';
/** The demo fan's email. */
export const DEMO_FAN_EMAIL = 'fan@demo.diamonds.test';
/** The demo site's origins: any local port, so examples and tests on any port may use it. */
export const DEMO_ORIGINS = ['http://localhost:*', 'http://127.0.0.1:*'];

/** Where the demo data is written: `demo.json` in the data folder. */
export function demoFile(dataDir: string): string {
  return join(dataDir, 'demo.json');
}

/**
 * Seeds the demo creator, fan and site unless they exist, and writes them to `demo.json`.
 *
 * @remarks For development only: the callers refuse when `NODE_ENV=production`. The password
 * is random per installation, written to `demo.json` (mode 0600) and printed; it is not a
 * default that could be guessed on a server someone forgot to lock down.
 * @returns The demo data and whether this call created it; `undefined` when the demo exists
 * but its `demo.json` was deleted (the password cannot be recovered).
 */
export async function seedDemo(db: Database, dataDir: string): Promise<{ demo: DemoData | undefined; created: boolean }> {
  await seedDefaultRates(db);
  const file = demoFile(dataDir);
  if (await findUserByEmail(db, DEMO_CREATOR_EMAIL)) {
    // Demo data seeded before addresses were verified (migration 19): the demo's are, so that
    // what needs a verified address (a payout) works in the demo as it always did.
    for (const email of [DEMO_CREATOR_EMAIL, DEMO_FAN_EMAIL]) {
      const user = await findUserByEmail(db, email);
      if (user) await markEmailVerified(db, user.id);
    }
    const demo = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DemoData) : undefined;
    return { demo, created: false };
  }
  const password = `demo-${randomBytes(9).toString('base64url')}`;
  const creator = await createUser(db, { email: DEMO_CREATOR_EMAIL, password, displayName: 'Demo Creator', roles: ['creator', 'fan'] });
  const fan = await createUser(db, { email: DEMO_FAN_EMAIL, password, displayName: 'Demo Fan', roles: ['fan'] });
  // The demo's addresses count as verified (nobody can receive mail there).
  await markEmailVerified(db, creator.id);
  await markEmailVerified(db, fan.id);
  const { site, publishableKey, secretKey } = await createSite(db, { ownerId: creator.id, name: 'Demo site', origins: DEMO_ORIGINS });
  const demo: DemoData = {
    creator: { email: creator.email, password, userId: creator.id },
    fan: { email: fan.email, password, userId: fan.id },
    site: { id: site.id, name: site.name, origins: site.origins, publishableKey, secretKey },
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
  return { demo, created: true };
}

/** The demo data as the console shows it. */
export function formatDemo(demo: DemoData, file: string): string {
  return [
    'Demo data (development only):',
    `  creator      ${demo.creator.email}  password ${demo.creator.password}`,
    `  fan          ${demo.fan.email}  password ${demo.fan.password}`,
    `  site         ${demo.site.name} (${demo.site.id}), origins ${demo.site.origins.join(', ')}`,
    `  publishable  ${demo.site.publishableKey}`,
    `  secret       ${demo.site.secretKey}`,
    `  saved in     ${file}`,
  ].join('\n');
}
