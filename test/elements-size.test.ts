// The size budgets of the web components (issue 18; issue 6 had 30 KB and 22 KB), on the built dist
// (`npm test` builds first): the whole drop-in script ≤ 25 KB and each element alone, with its
// share of everything, ≤ 20 KB (a live element of issue 15 ≤ 22 KB), minified and brotli-compressed;
// the drop-in's live file (diamonds-live.js, loaded on pages with a live tag) ≤ 25 KB too. The same measurement as
// `npm run size` (scripts/size.mjs), so that a regression fails the build. A missing dist fails
// too: never a silent skip.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { BUDGETS, kb, LIVE_ELEMENTS, measureSizes, type SizeRow } from '../scripts/size.mjs';

describe('web component bundle sizes', () => {
  let rows: SizeRow[];

  before(async () => {
    rows = await measureSizes();
  });

  it('measures the drop-in script and every element', () => {
    const names = rows.map((row) => row.name);
    assert.ok(names.includes('drop-in diamonds.js (all elements)'), names.join(', '));
    assert.ok(names.includes('drop-in diamonds-live.js (live elements)'), names.join(', '));
    assert.ok(names.includes('drop-in diamonds-discover.js (<diamond-discover>)'), names.join(', '));
    for (const element of ['provider', 'gift-button', 'wallet', 'paywall', 'checkout', 'amount', 'discover', ...LIVE_ELEMENTS]) {
      assert.ok(names.includes(`<diamond-${element}> alone`), `no figure for <diamond-${element}>: ${names.join(', ')}`);
    }
  });

  it(`keeps the drop-in script within ${kb(BUDGETS.whole)}, each element within ${kb(BUDGETS.element)}, a live one within ${kb(BUDGETS.liveElement)}`, () => {
    for (const row of rows) console.log(`# ${row.name}: ${row.brotli} B brotli (${kb(row.brotli)}), budget ${kb(row.budget)}`);
    const over = rows.filter((row) => row.brotli > row.budget);
    assert.deepEqual(
      over.map((row) => `${row.name} is ${kb(row.brotli)} (${row.brotli} B) brotli, over its ${kb(row.budget)} budget`),
      [],
      'over budget; `npm run size` shows what weighs most',
    );
  });
});
