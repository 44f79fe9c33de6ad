import { createHash } from 'node:crypto';

/** The stylesheet of the hosted pages: a centred card, the system font, light and dark. */
export const HOSTED_CSS = `:root {
  color-scheme: light dark;
  --bg: #f4f4f7;
  --card: #ffffff;
  --text: #1b1b23;
  --muted: #5a5a6e;
  --border: #d5d5df;
  --accent: #4b3fd6;
  --accent-text: #ffffff;
  --danger: #b3261e;
  --danger-bg: #fdecea;
  --notice-bg: #eaf4ea;
  --notice-border: #2e7d32;
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
  line-height: 1.5;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #121218;
    --card: #1e1e27;
    --text: #ececf3;
    --muted: #a9a9bd;
    --border: #3a3a4a;
    --accent: #9d94ff;
    --accent-text: #121218;
    --danger: #ffb4ab;
    --danger-bg: #3b1512;
    --notice-bg: #15301a;
    --notice-border: #81c784;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); }
main { max-width: 40rem; margin: 2rem auto; padding: 1.5rem; background: var(--card); border: 1px solid var(--border); border-radius: 12px; }
h1 { font-size: 1.5rem; margin-top: 0; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-top: 1px solid var(--border); padding-top: 1rem; }
h3 { font-size: 1.05rem; margin-bottom: 0.25rem; }
a { color: var(--accent); }
.field { margin: 0 0 1rem; }
label, legend { display: block; font-weight: 600; margin-bottom: 0.25rem; }
input[type='email'], input[type='password'], input[type='text'], input[type='number'], input[type='url'], select, textarea {
  width: 100%; padding: 0.5rem; font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--border); border-radius: 6px;
}
textarea { min-height: 5rem; }
input[aria-invalid='true'], textarea[aria-invalid='true'] { border-color: var(--danger); border-width: 2px; }
fieldset { border: 1px solid var(--border); border-radius: 6px; margin: 0 0 1rem; }
fieldset label { display: inline; font-weight: normal; margin-right: 1rem; }
/* A checkbox or radio and its label: one line, never split apart by wrapping. */
.choice { display: flex; align-items: baseline; gap: 0.5rem; margin: 0.25rem 0; }
.choice label { margin: 0; }
.choices { display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: 0 1rem; }
dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.25rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; }
button { font: inherit; padding: 0.5rem 1rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-text); cursor: pointer; }
button.secondary { background: transparent; color: var(--accent); }
a.button { display: inline-block; font: inherit; padding: 0.5rem 1rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-text); text-decoration: none; }
/* A guarded button waiting (pages/guard.ts): visibly off until the page has been in front for a second. */
button:disabled, button[aria-disabled='true'] { opacity: 0.5; cursor: not-allowed; }
/* The decision stays in view at the bottom of a short window (a 480×680 popup) while the fan reads. */
.decision { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; margin: 1rem 0 0.5rem; position: sticky; bottom: 0; padding: 0.5rem 0; background: var(--card); }
.guard-hint { color: var(--muted); font-size: 0.9rem; margin: 0.25rem 0 0; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.alert { border: 1px solid var(--danger); background: var(--danger-bg); padding: 0.75rem; border-radius: 6px; margin: 0 0 1rem; }
.field-error { color: var(--danger); margin: 0.25rem 0 0; }
.notice { border: 1px solid var(--notice-border); background: var(--notice-bg); padding: 0.75rem; border-radius: 6px; margin: 0 0 1rem; }
/* A heading that opens a box needs no rule above it: the box's border is the separation. */
.notice > h2:first-child { margin-top: 0; border-top: 0; padding-top: 0; }
.muted { color: var(--muted); }
code, .secret { font-family: ui-monospace, 'SF Mono', Menlo, Consolas, monospace; overflow-wrap: anywhere; }
/* Selected whole with one click, to copy. */
.copy { user-select: all; }
.secret { display: block; padding: 0.5rem; border: 1px dashed var(--border); border-radius: 6px; user-select: all; }
.snippet { font-family: ui-monospace, 'SF Mono', Menlo, Consolas, monospace; font-size: 0.8rem; white-space: pre; overflow-x: auto; }
.inline { display: inline-block; margin: 0 0.5rem 0.5rem 0; }
.row { display: flex; gap: 0.5rem; align-items: end; flex-wrap: wrap; }
.row .field { flex: 1; margin: 0; }
ul.plain { list-style: none; padding: 0; }
h4 { font-size: 1rem; margin: 1.25rem 0 0.25rem; }
h5 { font-size: 0.95rem; margin: 0 0 0.25rem; }
button.small { padding: 0.25rem 0.6rem; font-size: 0.9rem; }
button.danger { background: var(--danger); border-color: var(--danger); color: var(--card); }
.copy-button { margin-left: 0.5rem; padding: 0.25rem 0.6rem; font-size: 0.9rem; }
.copy-status { margin-left: 0.5rem; }
.warning { color: var(--danger); }
ul.origins { padding-left: 1.25rem; }
ul.origins li { margin: 0.25rem 0; }
ul.origins .inline { margin: 0 0 0 0.5rem; vertical-align: middle; }
details { margin: 0.5rem 0 1rem; }
form.replay { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; margin: 0 0 0.5rem; }
form.replay label { margin: 0; font-weight: normal; }
form.replay select { width: auto; }
summary { cursor: pointer; color: var(--accent); }
/* The delivery log: scrolls sideways on a phone rather than squeezing its columns. Positioned, so
   that a visually hidden label in a cell off to the side stays in this box, not in the page's width. */
.table-wrap { position: relative; overflow-x: auto; margin: 0.5rem 0 1rem; }
table { border-collapse: collapse; width: 100%; min-width: 36rem; font-size: 0.9rem; }
/* A table of few columns that wraps rather than scrolls (the fan's wallet history, pages/wallet.ts). */
table.compact { min-width: 0; }
td code { white-space: nowrap; overflow-wrap: normal; }
caption { text-align: left; font-weight: 600; margin-bottom: 0.25rem; overflow-wrap: anywhere; }
th, td { text-align: left; vertical-align: top; padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--border); }
td code.small { font-size: 0.75rem; }
.status { font-weight: 600; }
.status-failed { color: var(--danger); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.item { border: 1px solid var(--border); border-radius: 8px; padding: 0.75rem 1rem; margin: 0 0 1rem; }
header.top { display: flex; justify-content: space-between; align-items: center; gap: 1rem; }
/* The discover page (pages/boosts.ts): one card per boosted item. */
ul.discover { list-style: none; padding: 0; display: grid; gap: 0.75rem; }
ul.discover a { display: grid; gap: 0.25rem; border: 1px solid var(--border); border-radius: 8px; padding: 0.75rem 1rem; }
/* The creator dashboard (pages/dashboard.ts): figures, and the chart's one colour per source in both schemes. */
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: 0.75rem; margin: 0.5rem 0 1rem; }
.stats div { border: 1px solid var(--border); border-radius: 8px; padding: 0.5rem 0.75rem; }
.stats dt { color: var(--muted); font-size: 0.9rem; }
.stats dd { margin: 0; font-size: 1.2rem; font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.chart { display: block; width: 100%; height: auto; }
.chart-axis { stroke: var(--border); }
.chart-label { fill: var(--muted); font-size: 13px; }
/* On a phone the chart is drawn at half size, too small for its labels: its scale is a line of text below it. */
.chart-scale { display: none; }
@media (max-width: 40rem) {
  .chart-label { display: none; }
  .chart-scale { display: block; margin-top: 0.25rem; font-size: 0.9rem; }
}
.bar-gift, .swatch-gift { fill: var(--accent); background: var(--accent); }
.bar-unlock, .swatch-unlock { fill: var(--notice-border); background: var(--notice-border); }
.bar-order, .swatch-order { fill: var(--danger); background: var(--danger); }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 2px; margin-right: 0.3em; vertical-align: -0.05em; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 1rem; }
blockquote { margin: 0.25rem 0; padding-left: 0.75rem; border-left: 3px solid var(--border); overflow-wrap: anywhere; }
/* The narrowest phones: a long term ("Your earnings as a creator") wraps instead of pushing its value off the screen. */
@media (max-width: 26rem) {
  dl { grid-template-columns: fit-content(50%) minmax(0, 1fr); }
}
/* A popup or a phone: the card fills the window, so the page's buttons come sooner. */
@media (max-width: 40rem), (max-height: 45rem) {
  main { margin: 0 auto; padding: 1rem; border-width: 0; border-radius: 0; }
  h1 { font-size: 1.3rem; }
  h2 { margin-top: 1rem; padding-top: 0.75rem; }
  p, ul, dl { margin-block: 0.5rem; }
  .notice, .alert { padding: 0.5rem 0.75rem; margin-bottom: 0.75rem; }
}
@media (prefers-reduced-motion: no-preference) {
  button { transition: filter 120ms ease-in-out; }
  button:not(:disabled):not([aria-disabled='true']):hover { filter: brightness(1.1); }
}
@media (prefers-reduced-motion: reduce) {
  * { animation: none !important; transition: none !important; scroll-behavior: auto !important; }
}
`;

/** A short hash of {@link HOSTED_CSS}, put in the stylesheet's URL so that a long cache is safe. */
export const HOSTED_CSS_VERSION = createHash('sha256').update(HOSTED_CSS).digest('base64url').slice(0, 12);

/** Where pages link the stylesheet. */
export const HOSTED_CSS_HREF = `/hosted.css?v=${HOSTED_CSS_VERSION}`;
