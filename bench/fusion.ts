/**
 * @file What fusion buys: ms per epoch of the fused plan against one kernel per node on WebGPU,
 * for n = 1e3, 1e5, 1e6 rows and d = 4, 16 features (1 target, SGD), with the GB/s achieved over
 * the bytes an epoch must read (X and Y once) next to the adapter's read bandwidth, measured in
 * the same run by a plain streaming kernel. Writes bench/results/<date>-<adapter>-fusion.json.
 *
 * Run: npm run build && node dist/bench/fusion.js [--quick] [--results <dir>]
 */
import { Graph } from '../engine/graph.js';
import { sgd } from '../optim/sgd.js';
import { requestBackend } from '../runtime/device.js';
import { compile } from '../runtime/model.js';
import type { PlanOptions } from '../runtime/program.js';
import type { WebGpuBackend } from '../runtime/webgpu.js';
import { synthetic } from '../regression/synthetic.js';
import { writeAtomic } from '../cli/atomic.js';
import { fmt, readBandwidth, table, timePerUnit, writeResults } from './lib.js';

const quick = process.argv.includes('--quick');
const sizes = quick ? [[1000, 4]] : [1e3, 1e5, 1e6].flatMap((n) => [[n, 4], [n, 16]]);
// `auto` picks the single-dispatch kernel where the problem fits one workgroup; then `fused` shows the general plan too.
const plans: NonNullable<PlanOptions['plan']>[] = ['auto', 'fused', 'per-node'];

const backend = (await requestBackend({ device: 'webgpu' })) as WebGpuBackend;
const bandwidth = await readBandwidth(backend, quick ? 4 << 20 : 64 << 20);
console.log(`adapter: ${backend.description}`);
console.log(`read bandwidth (plain streaming kernel): ${bandwidth.gbps.toFixed(2)} GB/s (${bandwidth.layout})\n`);

const rows: Record<string, unknown>[] = [];
for (const [n, d] of sizes as [number, number][]) {
  const data = synthetic(n, d, 1, 7);
  const bytes = 4 * n * (d + 1);
  const floorMs = bytes / (bandwidth.gbps * 1e6);
  const seen = new Set<string>();
  for (const plan of plans) {
    const g = new Graph();
    const X = g.input('X', [n, d]);
    const Y = g.input('Y', [n, 1]);
    const W = g.param('W', [1, d]);
    const b = g.param('b', [1]);
    const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.transpose(W)), b), Y));
    const model = await compile(g, { loss, optimizer: sgd({ lr: 1e-3 }), backend, plan });
    const name = model.planName;
    if (seen.has(name)) {
      model.dispose();
      continue;
    }
    seen.add(name);
    model.write({ X: data.X, Y: data.Y });
    const before = { ...model.stats };
    let epochs = 0;
    const t = await timePerUnit(async (e) => {
      epochs += e;
      await model.train({ epochs: e });
    }, { targetMs: quick ? 20 : 400, runs: quick ? 3 : 5 });
    const dispatches = (model.stats.dispatches - before.dispatches) / epochs;
    rows.push({ n, d, plan: name, msPerEpoch: t.median, min: t.min, max: t.max, epochsPerRun: t.units, dispatchesPerEpoch: dispatches, bytesPerEpoch: bytes, gbps: bytes / (t.median * 1e6), floorRatio: t.median / floorMs });
    model.dispose();
    console.error(`  done ${n}x${d} ${name}`);
  }
}

const header = ['n', 'd', 'plan', 'ms/epoch (median)', 'min-max', 'dispatches/epoch', 'GB/s', 'x floor'];
const body = rows.map((r) => {
  const v = r as { n: number; d: number; plan: string; msPerEpoch: number; min: number; max: number; dispatchesPerEpoch: number; gbps: number; floorRatio: number };
  return [String(v.n), String(v.d), v.plan, fmt(v.msPerEpoch, 4), `${fmt(v.min)}-${fmt(v.max)}`, fmt(v.dispatchesPerEpoch), fmt(v.gbps), fmt(v.floorRatio)];
});
console.log(table(header, body));
console.log(`\nGB/s: bytes an epoch must read (X and Y once, 4(d+1)n) / median epoch time. x floor: epoch time / (those bytes / ${bandwidth.gbps.toFixed(2)} GB/s).`);
if (!quick) {
  const file = writeResults('fusion', backend.description, { date: new Date().toISOString(), adapter: backend.description, bandwidth, rows });
  const md = [
    `${backend.description}; read bandwidth ${bandwidth.gbps.toFixed(2)} GB/s (${bandwidth.layout}); SGD, 1 target; ${new Date().toISOString().slice(0, 10)}`,
    '',
    table(header, body),
  ].join('\n');
  writeAtomic(file.replace(/\.json$/, '.md'), `${md}\n`);
  console.log(`results: ${file} and .md`);
}
backend.dispose();
