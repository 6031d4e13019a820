/**
 * @file Compile time at width: `compile()` (planning, pipelines and the driver's shader compile)
 * of a linear model with d features and of networks with one hidden layer, with the generated
 * WGSL's lines per kernel and the plan chosen, then the ms an epoch of a short run. Run it with
 * Mesa's shader cache off (MESA_SHADER_CACHE_DISABLE=true): with the cache on, a kernel compiled
 * before is a cache hit and looks fast. Writes bench/results/<date>-<adapter>-width.json and .md.
 *
 * Run: npm run build && MESA_SHADER_CACHE_DISABLE=true node dist/bench/width.js [--only 64,16h8] [--rows 100000] [--unroll 16] [--budget 512] [--results <dir>]
 */
import { writeAtomic } from '../cli/atomic.js';
import { Graph, type Tensor } from '../engine/graph.js';
import { adam } from '../optim/adam.js';
import { requestBackend } from '../runtime/device.js';
import { compile } from '../runtime/model.js';
import { synthetic } from '../regression/synthetic.js';
import { fmt, table, writeResults } from './lib.js';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
};
/** `64` a linear model of 64 features; `16h8` 16 features and a hidden layer of 8 tanh units. */
const configs = (arg('only') ?? '16,32,64,128,256,16h4,16h8,16h16').split(',');
const rowCounts = (arg('rows') ?? '200,100000').split(',').map(Number);
/** The row code's unroll limit (layout.unroll), the adapter's default unless given. */
const unroll = arg('unroll') === undefined ? undefined : Number(arg('unroll'));
/** The row code's budget of terms written out (layout.straightTerms), the adapter's default unless given. */
const budget = arg('budget') === undefined ? undefined : Number(arg('budget'));
const layout = { ...(unroll === undefined ? {} : { unroll }), ...(budget === undefined ? {} : { straightTerms: budget }) };

const backend = await requestBackend({ device: 'webgpu' });
console.log(`adapter: ${backend.description}; MESA_SHADER_CACHE_DISABLE=${process.env.MESA_SHADER_CACHE_DISABLE ?? '(unset: cache hits look fast)'}\n`);

function network(g: Graph, X: Tensor, hidden: number[]): Tensor {
  let h = X;
  hidden.forEach((units, i) => {
    const W = g.param(`W${i + 1}`, [units, h.shape[1]!]);
    h = g.tanh(g.add(g.matmul(h, W, { transB: true }), g.param(`b${i + 1}`, [units])));
  });
  const W = g.param('W', [1, h.shape[1]!]);
  return g.add(g.matmul(h, W, { transB: true }), g.param('b', [1]));
}

const rows: Record<string, unknown>[] = [];
for (const n of rowCounts) {
  for (const config of configs) {
    const [d, ...hidden] = config.split('h').map(Number) as [number, ...number[]];
    const g = new Graph();
    const X = g.input('X', [n, d]);
    const Y = g.input('Y', [n, 1]);
    const loss = g.mean(g.squaredError(network(g, X, hidden), Y));
    const start = performance.now();
    const model = await compile(g, { loss, optimizer: adam({ lr: 1e-3 }), backend, layout });
    const compileMs = performance.now() - start;
    const listing = model.explain();
    // The unroll limit the planner used: the layout's, or lower where the budget cut it.
    const cut = /row code written out up to (\d+) values/.exec(listing)?.[1];
    const rowUnroll = cut ?? String(unroll ?? 'default');
    // Lines of each distinct kernel source: explain numbers them (`  12 | ...`) and shows a repeat once.
    const kernels = [...listing.matchAll(/--- dispatch \d+: (\w+)\.wgsl[^\n]*\n(?: {4}(?:fuses|override constants|uniform)[^\n]*\n)+((?:\s*\d+ \|[^\n]*\n?)*)/g)].filter((m) => m[2]!.trim()).map((m) => `${m[1]} ${m[2]!.trim().split('\n').length}`);
    const data = synthetic(n, d, 1, 7);
    model.write({ X: data.X, Y: data.Y });
    for (const p of model.program.params) model.write({ [p.name]: Float64Array.from({ length: model.graph.nodes[p.id]!.shape.reduce((a, b) => a * b, 1) }, (_, i) => 0.01 * Math.sin(i + 1)) });
    await model.train({ epochs: 2 });
    const epochs = n > 10000 ? 10 : 200;
    const t = performance.now();
    await model.train({ epochs });
    const msPerEpoch = (performance.now() - t) / epochs;
    const row = { n, config, d, hidden, unroll: unroll ?? 'default', budget: budget ?? 'default', rowUnroll, plan: model.planName, compileMs, msPerEpoch, kernels: kernels.join(', ') };
    rows.push(row);
    console.error(`  ${n} x ${config}: ${model.planName}, compile ${fmt(compileMs)} ms, ${fmt(msPerEpoch)} ms an epoch (${row.kernels})`);
    model.dispose();
  }
}
backend.dispose();

const md = table(['rows', 'model', 'plan', 'row unroll', 'compile ms', 'ms / epoch', 'WGSL lines by kernel'], rows.map((r) => [String(r.n), String(r.config), String(r.plan), String(r.rowUnroll), fmt(r.compileMs as number), fmt(r.msPerEpoch as number), String(r.kernels)]));
console.log(md);
const file = writeResults('width', backend.description, { cacheDisabled: process.env.MESA_SHADER_CACHE_DISABLE ?? null, rows }, arg('results'));
writeAtomic(file.replace(/\.json$/, '.md'), `${md}\n`);
console.log(`\nwrote ${file}`);
