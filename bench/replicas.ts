/**
 * @file Many models at once: B = 1, 10, 100, 1000 replicates of the 398-row Auto MPG regression
 * (mpg ~ displacement, standardized, SGD), 1000 epochs, on WebGPU (all replicates in the same
 * dispatches) and on the CPU backend (one after another), in ms per replicate-epoch. The GPU side
 * should grow far slower than linearly in B. Then the other end: a 3-rate sweep on 2^18 rows, WebGPU
 * only, with each replicate one workgroup (the tiny plan) and spread over the fused plan's
 * workgroups, next to one model alone. Writes bench/results/<date>-<adapter>-replicas.{json,md}.
 *
 * Run: npm run build && node dist/bench/replicas.js [--quick] [--results <dir>]
 */
import { readFileSync } from 'node:fs';
import { writeAtomic } from '../cli/atomic.js';
import { Graph } from '../engine/graph.js';
import { sgd } from '../optim/sgd.js';
import { CpuBackend } from '../runtime/cpu.js';
import { requestBackend } from '../runtime/device.js';
import { type CompileOptions, compile } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import { parseTable, selectColumns } from '../regression/data.js';
import { scaling, standardize } from '../regression/features.js';
import { synthetic } from '../regression/synthetic.js';
import { rowsOf } from '../regression/bootstrap.js';
import { fmt, table, writeResults } from './lib.js';

const quick = process.argv.includes('--quick');
const file = 'examples/data/auto-mpg.csv';
const sel = selectColumns(parseTable(file, readFileSync(file, 'utf8')), ['mpg'], ['displacement']);
const X = standardize(sel.X, scaling(sel.X, sel.features, 'x'));
const Y = standardize(sel.Y, scaling(sel.Y, sel.targets, 'y'));
const n = X.length;

type Extra = Pick<CompileOptions, 'plan' | 'sweep'>;

/** Trains B replicates of the regression of Y on X (bootstrap resamples unless `extra` says otherwise), ms per replicate-epoch. */
async function time(backend: Backend, B: number, epochs: number, data = { X, Y }, extra: Extra = { plan: 'auto' }): Promise<{ ms: number; perReplicateEpoch: number; epochs: number; plan: string }> {
  const rows = data.X.length;
  const d = data.X[0]!.length;
  const g = new Graph();
  const x = g.input('X', [rows, d]);
  const y = g.input('Y', [rows, 1]);
  const W = g.param('W', [1, d]);
  const b = g.param('b', [1]);
  const loss = g.mean(g.squaredError(g.add(g.matmul(x, g.transpose(W)), b), y));
  const model = await compile(g, { loss, optimizer: sgd({ lr: 0.01 }), backend, replicates: B, bootstrap: B > 1 && !extra.sweep, seed: 1, ...extra });
  model.write(data);
  await model.train({ epochs: 2 }); // warm-up: the pipeline compiles on first use
  const runs: number[] = [];
  for (let r = 0; r < (quick ? 1 : 3); r++) {
    const t = performance.now();
    await model.train({ epochs });
    runs.push(performance.now() - t);
  }
  const plan = model.planName;
  model.dispose();
  const ms = runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  return { ms, perReplicateEpoch: ms / (B * epochs), epochs, plan };
}

const gpu = await requestBackend({ device: 'webgpu' });
const cpu = new CpuBackend('f32');
const rows: Record<string, number | string>[] = [];
for (const B of quick ? [1, 10] : [1, 10, 100, 1000]) {
  const g = await time(gpu, B, quick ? 50 : 1000);
  // The CPU trains replicates one after another: fewer epochs for large B keep the run short; the
  // figure is per replicate-epoch either way.
  const c = await time(cpu, B, quick ? 10 : Math.max(10, Math.round(1000 / Math.max(1, B / 10))));
  rows.push({ replicates: B, gpuMs: g.ms, gpuEpochs: g.epochs, gpuUsPerReplicateEpoch: 1000 * g.perReplicateEpoch, cpuMs: c.ms, cpuEpochs: c.epochs, cpuUsPerReplicateEpoch: 1000 * c.perReplicateEpoch, cpuOverGpu: c.perReplicateEpoch / g.perReplicateEpoch });
  console.error(`  done B=${B}`);
}
// Few models, many rows: a sweep of 3 rates. One workgroup per replicate leaves a GPU nearly idle.
const bigRows = quick ? 1 << 14 : 1 << 18;
const big = synthetic(bigRows, 4, 1, 3);
const bigData = { X: rowsOf(big.X, 4), Y: rowsOf(big.Y, 1) };
const sweep = { lr: [0.1, 0.03, 0.01] };
const bigEpochs = quick ? 5 : 50;
const few = [
  { what: '1 model', ...(await time(gpu, 1, bigEpochs, bigData, { plan: 'fused' })) },
  { what: '3 models, one workgroup each', ...(await time(gpu, 3, bigEpochs, bigData, { plan: 'tiny', sweep })) },
  { what: '3 models, each over many workgroups', ...(await time(gpu, 3, bigEpochs, bigData, { plan: 'fused', sweep })) },
];
console.error('  done the 3-rate sweep');
const oneModel = few[0]!.ms;
const md = [
  `${gpu.description} against fusegrad CPU float32; ${n} rows, mpg ~ displacement standardized, SGD, bootstrap resamples; ${new Date().toISOString().slice(0, 10)}`,
  '',
  table(
    ['replicates B', 'WebGPU: epochs, ms', 'WebGPU µs per replicate-epoch', 'CPU: epochs, ms', 'CPU µs per replicate-epoch', 'CPU / WebGPU'],
    rows.map((r) => [String(r.replicates), `${r.gpuEpochs}, ${fmt(r.gpuMs as number)}`, fmt(r.gpuUsPerReplicateEpoch as number), `${r.cpuEpochs}, ${fmt(r.cpuMs as number)}`, fmt(r.cpuUsPerReplicateEpoch as number), fmt(r.cpuOverGpu as number)]),
  ),
  '',
  'Median of 3 runs after a 2-epoch warm-up, each run one train() call (WebGPU: one submission and one read for all replicates).',
  '',
  `A sweep of 3 learning rates on ${bigRows} rows x 4 features (synthetic), WebGPU, ${bigEpochs} epochs:`,
  '',
  table(
    ['models', 'plan', 'ms per epoch', 'ms per model-epoch', 'time / one model\'s'],
    few.map((r) => [r.what, r.plan, fmt(r.ms / r.epochs), fmt(r.perReplicateEpoch), fmt(r.ms / oneModel)]),
  ),
].join('\n');
console.log(md);
if (!quick) {
  const out = writeResults('replicas', gpu.description, { date: new Date().toISOString(), adapter: gpu.description, rows, sweep: { rows: bigRows, features: 4, epochs: bigEpochs, lr: sweep.lr, runs: few } });
  writeAtomic(out.replace(/\.json$/, '.md'), `${md}\n`);
  console.log(`results: ${out} and .md`);
}
gpu.dispose();
