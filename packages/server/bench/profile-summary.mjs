#!/usr/bin/env node
// Summarises the CPU profiles `BENCH_CPU_PROF=<dir> npm run bench:api` leaves in <dir>: per
// thread, the functions with the most self time, and the most total (inclusive) time, cut to
// one run when the bench marked it.
//
//   node packages/server/bench/profile-summary.mjs <dir> [--run sqlite:gifts-flat] [--top 30] [--per 1234]
//
// --run   only the samples between the marks `<run>:start` and `<run>:end` (see api.bench.ts)
// --top   how many functions to list (default 30)
// --per   divide times by this count (the gifts answered in that run) to print µs per gift
// --grep  list total time of every function whose name or file matches this regular expression
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const args = process.argv.slice(2);
const dir = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (!dir) {
  console.error('usage: profile-summary.mjs <dir> [--run engine:run] [--top N] [--per N] [--grep RE]');
  process.exit(2);
}
const option = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const run = option('run');
const top = Number(option('top') ?? 30);
const per = Number(option('per') ?? 0);
const grep = option('grep') ? new RegExp(option('grep'), 'i') : undefined;

const files = readdirSync(dir);
const marks = files
  .filter((f) => f.startsWith('marks-') && f.endsWith('.json'))
  .flatMap((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
// Every [start, end] pair of the run (a run repeated in rounds has one pair per round).
let windows;
if (run) {
  const starts = marks.filter((m) => m.name === `${run}:start`);
  const ends = marks.filter((m) => m.name === `${run}:end`);
  if (starts.length === 0 || starts.length !== ends.length) {
    console.error(`no marks ${run}:start/end; marks: ${marks.map((m) => m.name).join(', ')}`);
    process.exit(2);
  }
  windows = starts.map((start, i) => [start.atMicros, ends[i].atMicros]);
}
const inWindow = (t) => !windows || windows.some(([from, to]) => t >= from && t <= to);

const root = process.cwd();
function where(frame) {
  const url = frame.url.replace(/^file:\/\//, '');
  const short = url.includes('/node_modules/')
    ? url.slice(url.lastIndexOf('/node_modules/') + 14)
    : url.startsWith('/')
      ? relative(root, url)
      : url;
  return `${frame.functionName || '(anonymous)'} ${short}${short ? `:${frame.lineNumber + 1}` : ''}`;
}

const fmt = (us) => (per > 0 ? `${(us / per).toFixed(1).padStart(8)} µs/gift` : `${(us / 1000).toFixed(1).padStart(9)} ms`);

for (const file of files.filter((f) => f.endsWith('.cpuprofile')).sort()) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  const total = new Map();
  let t = profile.startTime;
  let sampled = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    // A sample's weight is the time to the next one.
    const weight = profile.timeDeltas[i + 1] ?? 0;
    if (!inWindow(t)) continue;
    const node = byId.get(profile.samples[i]);
    const key = where(node.callFrame);
    if (node.callFrame.functionName === '(idle)') idle += weight;
    sampled += weight;
    self.set(key, (self.get(key) ?? 0) + weight);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const k = where(byId.get(id).callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + weight);
    }
  }
  console.log(`\n== ${file}${run ? ` (${run})` : ''}: ${fmt(sampled)} sampled, ${fmt(sampled - idle)} not idle`);
  const list = (map, title) => {
    console.log(`-- ${title}`);
    for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${fmt(us)}  ${((100 * us) / Math.max(1, sampled - idle)).toFixed(1).padStart(5)}%  ${key}`);
    }
  };
  list(self, 'self time');
  list(new Map([...total].filter(([k]) => !/^\((root|program|idle|garbage collector)\)/.test(k))), 'total time');
  if (grep) list(new Map([...total].filter(([k]) => grep.test(k))), `total time of /${grep.source}/`);
}
