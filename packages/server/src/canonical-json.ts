/**
 * JSON text of `value` with every object's keys in sorted order (UTF-16 code units, as
 * `Array.prototype.sort`) and its `undefined` members left out, so that the same value gives the
 * same text however its objects were built: what request hashes and fingerprints are taken of.
 *
 * @remarks Its output must never change: hashes taken of it are stored (a transfer's
 * `request_hash`, an Idempotency-Key's fingerprint) and compared with those of later retries.
 * A value JSON has no text for (`undefined`, a function, a symbol) gives `missing`: left out of
 * an array's text when `missing` is undefined, as `Array.prototype.join` does.
 * Written as loops rather than `Object.entries(…).filter().sort().map()`: it runs for every
 * spend on the money writer's thread.
 */
export function canonicalJson(value: unknown, missing?: string): string | undefined {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? missing;
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) text += ',';
      const item = canonicalJson(value[i], missing);
      if (item !== undefined) text += item;
    }
    return `${text}]`;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).sort();
  let text = '{';
  let first = true;
  for (const key of keys) {
    const member = object[key];
    if (member === undefined) continue;
    text += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalJson(member, missing)}`;
    first = false;
  }
  return `${text}}`;
}
