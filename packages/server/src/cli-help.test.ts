import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syncBuiltinESMExports } from 'node:module';
import util from 'node:util';
import { after, before, describe, it } from 'node:test';
import { commandNames, main } from './cli.js';

/** Runs the CLI in this process, collecting what it prints. */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...args: unknown[]) => void out.push(args.join(' '));
  console.error = (...args: unknown[]) => void err.push(args.join(' '));
  try {
    return { code: await main(argv), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** Thrown by the stand-in of `parseArgs` once it has seen a command's options. */
class Probe extends Error {}

describe('every CLI command answers --help', () => {
  let dataDir: string;
  const saved = { dir: process.env.DIAMONDS_DATA_DIR, url: process.env.DATABASE_URL };
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'diamonds-help-'));
    process.env.DIAMONDS_DATA_DIR = dataDir;
    process.env.DATABASE_URL = '';
  });
  after(() => {
    process.env.DIAMONDS_DATA_DIR = saved.dir;
    if (saved.url === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved.url;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the issue’s examples: rates --help and rates set --help', async () => {
    const group = await run(['rates', '--help']);
    assert.equal(group.code, 0, group.err);
    assert.match(group.out, /rates set/);
    assert.match(group.out, /rates list/);
    const set = await run(['rates', 'set', '--help']);
    assert.equal(set.code, 0, set.err);
    assert.match(set.out, /^Usage: diamonds rates set \[options\]/);
    for (const option of ['--currency', '--price-per-1000', '--payout-per-1000', '--effective-at'])
      assert.match(set.out, new RegExp(option));
    // A group without a command lists its commands too, as an error.
    const bare = await run(['rates']);
    assert.equal(bare.code, 2);
    assert.match(bare.err, /rates set/);
  });

  it('each command and subcommand: exit 0, its own usage, every option it parses', async () => {
    const names = commandNames();
    assert.ok(names.length > 20, names.join(', '));
    const original = util.parseArgs;
    const missing: string[] = [];
    for (const name of names) {
      const words = name.split(' ');
      for (const flag of ['--help', '-h']) {
        const help = await run([...words, flag]);
        assert.equal(help.code, 0, `${name} ${flag}: ${help.err}`);
        assert.ok(help.out.startsWith(`Usage: diamonds ${name}`), `${name} ${flag}:\n${help.out}`);
        assert.match(help.out, /--help/);
      }
      // `start` would start the platform; it takes no options of its own (settings are the environment).
      if (name === 'start') continue;
      // Which options does the command really accept? Its parseArgs call says: a stand-in
      // records them and stops the command there.
      let accepted: string[] | undefined;
      util.parseArgs = ((config: { options?: Record<string, unknown> }) => {
        accepted = Object.keys(config.options ?? {});
        throw new Probe('probe');
      }) as typeof util.parseArgs;
      syncBuiltinESMExports();
      try {
        await run([...words, 'PROBE']).catch((error: unknown) => {
          if (!(error instanceof Probe)) throw error;
        });
      } finally {
        util.parseArgs = original;
        syncBuiltinESMExports();
      }
      if (accepted === undefined) continue;
      const help = await run([...words, '--help']);
      for (const option of accepted) {
        if (!new RegExp(`--${option}\\b`).test(help.out)) missing.push(`"diamonds ${name} --help" does not name --${option}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('a group asked for help lists its commands; an unknown word is still unknown', async () => {
    for (const group of ['sites', 'gifts', 'webhooks', 'payouts', 'keys', 'ledger', 'topups']) {
      const help = await run([group, '--help']);
      assert.equal(help.code, 0, `${group}: ${help.err}`);
      assert.match(help.out, new RegExp(`Usage: diamonds ${group} <command>`));
    }
    const unknown = await run(['rates', 'frobnicate', '--help']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown command/);
  });
});
