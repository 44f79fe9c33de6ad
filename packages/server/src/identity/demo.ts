import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Database, SqlClient } from '../db/types.js';
import { seedDefaultRates } from '../money/rates.js';
import { createSite, findSite, rollKey } from './sites.js';
import { markEmailVerified } from './email-verification.js';
import { hashPassword } from './passwords.js';
import { findUserByEmail, insertUser, type Role } from './users.js';

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
/** The demo site's name. */
export const DEMO_SITE_NAME = 'Demo site';
/** The demo site's origins: any local port, so examples and tests on any port may use it. */
export const DEMO_ORIGINS = ['http://localhost:*', 'http://127.0.0.1:*'];

/** Where the demo data is written: `demo.json` in the data folder. */
export function demoFile(dataDir: string): string {
  return join(dataDir, 'demo.json');
}

/** An arbitrary constant: the advisory lock under which PostgreSQL processes seed the demo, one at a time. */
const DEMO_SEED_LOCK_ID = 7_246_010_017;

/** The same transaction, as a {@link Database} for helpers that open their own (they join this one). */
function joined(tx: SqlClient): Database {
  return {
    kind: tx.kind,
    query: (sql, params) => tx.query(sql, params),
    run: (sql, params) => tx.run(sql, params),
    transaction: (work) => work(tx),
    close: () => Promise.resolve(),
    description: 'the demo seed transaction',
  };
}

function readDemoFile(file: string): DemoData | undefined {
  try {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DemoData) : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `demo.json` whole or not at all (a temporary file renamed over it), mode 0600. */
function writeDemoFile(dataDir: string, demo: DemoData): void {
  mkdirSync(dataDir, { recursive: true });
  const file = demoFile(dataDir);
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}

/**
 * Seeds the demo creator, fan and site unless they exist, and writes them to `demo.json`.
 *
 * @remarks For development only: the callers refuse when `NODE_ENV=production`. The password
 * is random per installation, written to `demo.json` (mode 0600) and printed; it is not a
 * default that could be guessed on a server someone forgot to lock down.
 *
 * One transaction under a lock (`BEGIN IMMEDIATE` on SQLite, an advisory lock on PostgreSQL):
 * several processes starting at once on one empty database seed it once, the others find it
 * seeded. `also` (the demo's money, content and products) runs in the same transaction, and
 * `demo.json` is written before the commit, so a process killed part way leaves either nothing
 * (the next start seeds) or everything. A demo left half made by an earlier version (the creator
 * without the fan or the site) is finished: a new password for both accounts, the missing parts
 * made, the site's keys rolled, `demo.json` written.
 * @returns The demo data and whether this call created (or finished) it; `undefined` when the
 * demo exists whole but its `demo.json` was deleted (the password cannot be recovered).
 */
export async function seedDemo(
  db: Database,
  dataDir: string,
  also?: (tx: SqlClient, demo: DemoData) => Promise<void>,
): Promise<{ demo: DemoData | undefined; created: boolean }> {
  const file = demoFile(dataDir);
  // Hashing is slow: done before the lock, used only if the demo needs a password.
  const password = `demo-${randomBytes(9).toString('base64url')}`;
  const passwordHash = await hashPassword(password);
  return db.transaction(async (tx) => {
    // Another process may be seeding (a cold start of several): wait for it however long it takes.
    if (tx.kind === 'postgres') await tx.run('SET LOCAL lock_timeout = 0');
    if (tx.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(?)', [DEMO_SEED_LOCK_ID]);
    await seedDefaultRates(tx);
    let creator = await findUserByEmail(tx, DEMO_CREATOR_EMAIL);
    let fan = await findUserByEmail(tx, DEMO_FAN_EMAIL);
    const [siteRow] = creator
      ? await tx.query<{ id: string }>('SELECT id FROM sites WHERE owner_id = ? AND name = ? ORDER BY created_at LIMIT 1', [
          creator.id,
          DEMO_SITE_NAME,
        ])
      : [];
    const kept = readDemoFile(file);
    if (creator && fan && siteRow) {
      // Demo data seeded before addresses were verified (migration 19): the demo's are, so that
      // what needs a verified address (a payout) works in the demo as it always did.
      await markEmailVerified(tx, creator.id);
      await markEmailVerified(tx, fan.id);
      const demo = kept?.site.id === siteRow.id ? kept : undefined;
      if (demo && also) await also(tx, demo);
      return { demo, created: false };
    }
    // Nothing yet, or a seed an earlier version left half done: make or finish it.
    const users = joined(tx);
    const prepared = { passwordHash, displayName: '', roles: [] as Role[] };
    for (const existing of [creator, fan]) {
      if (existing) await tx.run('UPDATE users SET password_hash = ? WHERE id = ?', [passwordHash, existing.id]);
    }
    creator ??= await insertUser(tx, { ...prepared, email: DEMO_CREATOR_EMAIL, displayName: 'Demo Creator', roles: ['creator', 'fan'] });
    fan ??= await insertUser(tx, { ...prepared, email: DEMO_FAN_EMAIL, displayName: 'Demo Fan', roles: ['fan'] });
    // The demo's addresses count as verified (nobody can receive mail there).
    await markEmailVerified(tx, creator.id);
    await markEmailVerified(tx, fan.id);
    let site: DemoData['site'];
    if (siteRow) {
      const found = await findSite(tx, siteRow.id);
      site = {
        id: siteRow.id,
        name: DEMO_SITE_NAME,
        origins: found?.origins ?? DEMO_ORIGINS,
        publishableKey: await rollKey(users, siteRow.id, 'publishable'),
        secretKey: await rollKey(users, siteRow.id, 'secret'),
      };
    } else {
      const made = await createSite(users, { ownerId: creator.id, name: DEMO_SITE_NAME, origins: DEMO_ORIGINS });
      site = {
        id: made.site.id,
        name: made.site.name,
        origins: made.site.origins,
        publishableKey: made.publishableKey,
        secretKey: made.secretKey,
      };
    }
    const demo: DemoData = {
      creator: { email: creator.email, password, userId: creator.id },
      fan: { email: fan.email, password, userId: fan.id },
      site,
    };
    if (also) await also(tx, demo);
    // Before the commit: a crash after it cannot leave a demo whose password nobody knows.
    writeDemoFile(dataDir, demo);
    return { demo, created: true };
  });
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
