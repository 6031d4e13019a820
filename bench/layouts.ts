/**
 * @file The per-adapter layout choices, measured: for the regression graph at the benchmark's
 * sizes, ms per epoch of each choice the compiler can make on this adapter, the two alternating in
 * rounds (A B A B) so that a machine that slows down slows both: the single-dispatch plan's serial
 * form (one invocation, no barriers) against one workgroup of lanes, the row passes reading the
 * wide inputs as vec4 against single floats, and on a CPU adapter two workgroups per thread
 * against 32. The adapter's defaults (runtime/webgpu.ts, layoutFor) come
 * from this table. Writes bench/results/<date>-<adapter>-layouts.{json,md}.
 *
 * Run: npm run build && node dist/bench/layouts.js [--quick] [--results <dir>]
 */
import { writeAtomic } from '../cli/atomic.js';
import { Graph } from '../engine/graph.js';
import { sgd } from '../optim/sgd.js';
import { requestBackend } from '../runtime/device.js';
import { compile } from '../runtime/model.js';
import type { Layout } from '../compile/layout.js';
import type { PlanOptions } from '../runtime/program.js';
import type { WebGpuBackend } from '../runtime/webgpu.js';
import { synthetic } from '../regression/synthetic.js';
import { APPLES } from '../examples/apples.js';
import { fmt, summarize, table, timePerUnit, writeResults } from './lib.js';

const quick = process.argv.includes('--quick');
const rounds = quick ? 2 : 5;

interface Case {
  size: string;
  n: number;
  d: number;
  k: number;
  X: ArrayLike<number>;
  Y: ArrayLike<number>;
  plan: NonNullable<PlanOptions['plan']>;
  choices: [string, Partial<Layout>][];
}

const apples = { X: APPLES.X.flat(), Y: APPLES.Y.flat() };
const small = (n: number, d: number): Case => ({ size: `${n}x${d}`, n, d, k: 1, ...synthetic(n, d, 1, 7), plan: 'tiny', choices: forms });
const forms: [string, Partial<Layout>][] = [
  ['serial (one invocation)', { serialMaxRows: 1 << 30 }],
  ['one workgroup of lanes', { serialMaxRows: 0 }],
];
const loads: [string, Partial<Layout>][] = [
  ['rows as vec4', { rowLoads: 'vec4' }],
  ['rows as floats', { rowLoads: 'scalar' }],
];
const big = (n: number, d: number): Case => ({ size: `${n}x${d}`, n, d, k: 1, ...synthetic(n, d, 1, 7), plan: 'fused', choices: loads });
// The row passes' workgroups on a CPU adapter: two per thread (the default) against 32.
const cores = (await import('node:os')).availableParallelism();
const groups: [string, Partial<Layout>][] = [
  [`${2 * cores} workgroups (2 per thread)`, { contiguousGroups: 2 * cores }],
  ['32 workgroups', { contiguousGroups: 32 }],
];
const spread = (n: number, d: number): Case => ({ ...big(n, d), size: `${n}x${d} (workgroups)`, choices: groups });
const cases: Case[] = quick
  ? [{ size: 'apples 5x3->2', n: 5, d: 3, k: 2, ...apples, plan: 'tiny', choices: forms }, big(100000, 16)]
  : [
      { size: 'apples 5x3->2', n: 5, d: 3, k: 2, ...apples, plan: 'tiny', choices: forms },
      small(32, 4),
      small(128, 4),
      small(1000, 4),
      small(1000, 16),
      { ...small(1000, 4), choices: loads, size: '1000x4 (lanes)' },
      big(100000, 4),
      big(100000, 16),
      big(1000000, 4),
      big(1000000, 16),
      spread(100000, 4),
      spread(100000, 16),
      spread(1000000, 4),
      spread(1000000, 16),
    ];

const backend = (await requestBackend({ device: 'webgpu' })) as WebGpuBackend;
console.log(`adapter: ${backend.description}\n`);
const rows: Record<string, unknown>[] = [];
for (const c of cases) {
  const models = [];
  for (const [, layout] of c.choices) {
    models.push(
      await (async () => {
      const g = new Graph();
      const X = g.input('X', [c.n, c.d]);
      const Y = g.input('Y', [c.n, c.k]);
      const W = g.param('W', [c.k, c.d]);
      const b = g.param('b', [c.k]);
      const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.transpose(W)), b), Y));
      const model = await compile(g, { loss, optimizer: sgd({ lr: 1e-5 }), backend, plan: c.plan, layout: { ...layout, ...(c.size.includes('lanes') ? { serialMaxRows: 0 } : {}) } });
      model.write({ X: Float64Array.from(c.X), Y: Float64Array.from(c.Y) });
      return model;
      })(),
    );
  }
  // Each choice's epochs per run from its own warm-up (one at a time), then rounds of one timed run each, in turn.
  const units: number[] = [];
  for (const m of models) units.push((await timePerUnit((e) => m.train({ epochs: e }), { targetMs: quick ? 30 : 200, runs: 1 })).units);
  const times: number[][] = models.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, m] of models.entries()) {
      const t = performance.now();
      await m.train({ epochs: units[i]! });
      times[i]!.push((performance.now() - t) / units[i]!);
    }
  }
  const ratios = times[0]!.map((t, r) => t / times[1]![r]!);
  c.choices.forEach(([name], i) => {
    const s = summarize(times[i]!);
    rows.push({ size: c.size, choice: name, msPerEpoch: s.median, min: s.min, max: s.max, vsOther: i === 0 ? summarize(ratios) : null });
  });
  for (const m of models) m.dispose();
  console.error(`  done ${c.size}`);
}

const header = ['size', 'choice', 'ms/epoch (median)', 'min-max', 'first / second, round by round (median, min-max)'];
const body = rows.map((r) => {
  const v = r as { size: string; choice: string; msPerEpoch: number; min: number; max: number; vsOther: { median: number; min: number; max: number } | null };
  return [v.size, v.choice, fmt(v.msPerEpoch, 4), `${fmt(v.min)}-${fmt(v.max)}`, v.vsOther ? `${fmt(v.vsOther.median)} (${fmt(v.vsOther.min)}-${fmt(v.vsOther.max)})` : ''];
});
console.log(table(header, body));
if (!quick) {
  const file = writeResults('layouts', backend.description, { date: new Date().toISOString(), adapter: backend.description, rounds, rows });
  const md = [`${backend.description}; SGD; ${rounds} rounds, choices in turn; ${new Date().toISOString().slice(0, 10)}`, '', table(header, body)].join('\n');
  writeAtomic(file.replace(/\.json$/, '.md'), `${md}\n`);
  console.log(`results: ${file} and .md`);
}
backend.dispose();
