import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { SqlClient } from '../db/types.js';
import { isApiError } from '../errors.js';
import { addGiftType, listAllGiftTypes, setGiftTypeActive } from './catalog.js';

/*
 * The gift commands of the CLI (`diamonds gifts add|list|disable|enable`), kept here so the
 * CLI only dispatches: each takes the migrated database and the arguments after the command
 * name, prints, and returns the exit code (0 done, 2 refused).
 */

/** Where the commands write: the console, or a test's collector. */
export interface CommandOutput {
  log(line: string): void;
  error(line: string): void;
}

/** Parses options, turning a wrong option into a message and exit code 2 rather than a stack trace. */
function options<Names extends string>(
  command: string,
  args: string[],
  names: readonly Names[],
  out: CommandOutput,
): Partial<Record<Names, string>> | undefined {
  try {
    const spec = Object.fromEntries(names.map((name) => [name, { type: 'string' as const }]));
    return parseArgs({ args, options: spec, strict: true, allowPositionals: false }).values as Partial<Record<Names, string>>;
  } catch (error) {
    out.error(`${command}: ${(error as Error).message} Options: ${names.map((name) => `--${name}`).join(' ')}.`);
    return undefined;
  }
}

/** `diamonds gifts list`. */
export async function giftsListCommand(db: SqlClient, out: CommandOutput = console): Promise<number> {
  const gifts = await listAllGiftTypes(db);
  const number = new Intl.NumberFormat('en-US');
  for (const gift of gifts) {
    out.log(`${gift.id.padEnd(24)} ${number.format(gift.priceDiamonds).padStart(13)}  ${gift.name}${gift.active ? '' : '  (disabled)'}`);
  }
  out.log(`${gifts.length} gift${gifts.length === 1 ? '' : 's'}.`);
  return 0;
}

/** `diamonds gifts add --id … --name … --price … --svg FILE [--animation …]`. */
export async function giftsAddCommand(db: SqlClient, args: string[], out: CommandOutput = console): Promise<number> {
  const values = options('gifts add', args, ['id', 'name', 'price', 'svg', 'animation'], out);
  if (!values) return 2;
  if (!values.svg) {
    out.error('gifts add: pass --svg with the path of the gift’s SVG art (64×64 viewBox recommended, at most 10 KiB).');
    return 2;
  }
  let svg: string;
  try {
    svg = await readFile(values.svg, 'utf8');
  } catch (error) {
    out.error(`gifts add: cannot read ${values.svg}: ${(error as Error).message}`);
    return 2;
  }
  // A price that is not plain digits is passed on as text, so the check refuses it by name.
  const price = values.price !== undefined && /^\d{1,16}$/.test(values.price) ? Number(values.price) : values.price;
  try {
    const gift = await addGiftType(db, { id: values.id, name: values.name, priceDiamonds: price, svg, animation: values.animation });
    out.log(`gifts add: added ${gift.id} (${gift.name}, ${gift.priceDiamonds} Diamonds, ${gift.animation}).`);
    return 0;
  } catch (error) {
    if (!isApiError(error)) throw error;
    out.error(`gifts add: ${error.message}`);
    return 2;
  }
}

/** `diamonds gifts disable --id …` (`active = false`) and `diamonds gifts enable --id …`. */
export async function giftsSetActiveCommand(db: SqlClient, args: string[], active: boolean, out: CommandOutput = console): Promise<number> {
  const name = active ? 'gifts enable' : 'gifts disable';
  const values = options(name, args, ['id'], out);
  if (!values) return 2;
  if (!values.id) {
    out.error(`${name}: pass --id with the gift’s id (see diamonds gifts list).`);
    return 2;
  }
  try {
    await setGiftTypeActive(db, values.id, active);
  } catch (error) {
    if (!isApiError(error)) throw error;
    out.error(`${name}: ${error.message}`);
    return 2;
  }
  out.log(`${name}: ${values.id} is ${active ? 'listed again' : 'no longer listed or sold'}.`);
  return 0;
}
