/**
 * @file Row teams (compile/team.ts): on an adapter with subgroups of one size (lavapipe: 8), a
 * wide data input's rows are shared by a subgroup's lanes. Each such plan trains as the float64
 * reference does: widths that are not a multiple of 4 or of the team's 32 values, several targets,
 * a hidden layer on a wide input,
 * full batches and shuffled minibatches with validation, replicates and data bound in chunks; a
 * graph that reads the wide input another way keeps lanes with rows of their own, and so does a
 * layout without teams.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph, type Tensor } from '../engine/graph.js';
import { adam } from '../optim/adam.js';
import { sgd } from '../optim/sgd.js';
import type { Optimizer } from '../optim/optimizer.js';
import { type CompileOptions, compile } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import type { WebGpuBackend } from '../runtime/webgpu.js';
import { synthetic } from '../regression/synthetic.js';
import { assertClose, cpu64, randoms, webgpu } from './helpers.js';

type Options = Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'>;

/** mean((f(X) Wᵀ + b - Y)²) on seeded data and starting weights; `f` transforms X first (none: X itself). */
async function linear(backend: Backend, n: number, d: number, targets: number, optimizer: Optimizer, options: Options = {}, f?: (g: Graph, X: Tensor) => Tensor) {
  const g = new Graph();
  const X = g.input('X', [n, d]);
  const Y = g.input('Y', [n, targets]);
  const h = f ? f(g, X) : X;
  const W = g.param('W', [targets, h.shape[1]!]);
  const b = g.param('b', [targets]);
  const loss = g.mean(g.squaredError(g.add(g.matmul(h, g.transpose(W)), b), Y));
  const model = await compile(g, { loss, optimizer, backend, ...options });
  const data = synthetic(n, d, targets, 7);
  model.write({ X: data.X, Y: data.Y });
  // Seeded weights, scaled by their inputs: no two units alike, tanh in its linear range.
  for (const p of model.program.params) {
    const [rows, cols = 1] = model.graph.nodes[p.id]!.shape;
    if (p.name.startsWith('W')) model.write({ [p.name]: randoms(rows! * cols, 3 + p.id).map((v) => v / Math.sqrt(cols)) });
  }
  if (options.validationRows) {
    const v = synthetic(options.validationRows, d, targets, 8);
    model.write({ X: v.X, Y: v.Y }, 'validation');
  }
  return model;
}

/** Trains on WebGPU and on the float64 reference, and compares the losses and the parameters. */
async function sameAsReference(what: string, n: number, d: number, targets: number, optimizer: () => Optimizer, options: Options, teams: boolean, f?: (g: Graph, X: Tensor) => Tensor) {
  const gpu = await webgpu();
  const model = await linear(gpu, n, d, targets, optimizer(), options, f);
  const plan = model.plan();
  assert.is(/row teams/.test(plan), teams, `${what}: ${teams ? '' : 'no '}row teams in the plan:\n${plan}`);
  assert.is(/row_team/.test(model.explain()), teams, `${what}: the row_team kernel ${teams ? 'runs' : 'does not run'}`);
  const ref = await linear(cpu64(), n, d, targets, optimizer(), options, f);
  const [run, want] = [await model.train({ epochs: 4 }), await ref.train({ epochs: 4 })];
  // float32 dot products of up to 300 terms and sums of up to 3000 rows: under 1e-4 of the scale (as width.test.ts).
  assertClose(run.loss, want.loss, 1e-4, `${what}: loss`);
  if (options.validationRows) assertClose(run.validLoss!, want.validLoss!, 1e-4, `${what}: validation loss`);
  for (const p of model.program.params) assertClose(await model.read(p.name), await ref.read(p.name), 1e-4, `${what}: ${p.name}`);
  model.dispose();
  ref.dispose();
}

test('lavapipe has subgroups of one size, so its layout has row teams', async () => {
  const gpu = (await webgpu()) as WebGpuBackend;
  assert.ok(gpu.layout.teamLanes >= 4, `teamLanes ${gpu.layout.teamLanes} on ${gpu.description}: the adapter offers no subgroups of one size`);
});

for (const [d, targets] of [
  [37, 1],
  [64, 3],
  [300, 2],
] as const) {
  test(`row teams: ${d} features, ${targets} target(s), full batch and shuffled minibatches with validation, equal float64`, async () => {
    await sameAsReference(`${d}x${targets} full batch`, 3000, d, targets, () => sgd({ lr: 0.05 }), { plan: 'fused' }, true);
    await sameAsReference(`${d}x${targets} minibatches`, 3000, d, targets, () => adam({ lr: 0.01 }), { plan: 'fused', batchSize: 700, shuffle: true, seed: 3, validationRows: 300 }, true);
  });
}

test('row teams: replicates (a pairs bootstrap, a sweep) and data bound in chunks, equal float64', async () => {
  const spread = { bigReplicas: 'fused' as const, tinyMaxWork: 1 };
  await sameAsReference('pairs bootstrap', 2000, 48, 1, () => sgd({ lr: 0.05 }), { plan: 'fused', replicates: 3, bootstrap: 'pairs', seed: 9, layout: spread }, true);
  await sameAsReference('sweep', 2000, 48, 1, () => sgd(), { plan: 'fused', sweep: { lr: [0.05, 0.01] }, layout: spread }, true);
  // 3000 rows of 100 floats in bindings of 256 KiB: two chunks, each its own dispatch of the same pipeline.
  await sameAsReference('chunks', 3000, 99, 1, () => sgd({ lr: 0.05 }), { plan: 'fused', layout: { maxBindingBytes: 1 << 18 } }, true);
});

test('row teams: a tanh hidden layer of 8 on 40 features (X W1ᵀ and its gradient on the team), full batch and minibatches with validation, equal float64', async () => {
  const hidden = (g: Graph, X: Tensor) => g.tanh(g.add(g.matmul(X, g.transpose(g.param('W1', [8, 40]))), g.param('b1', [8])));
  await sameAsReference('40h8 full batch', 2000, 40, 1, () => sgd({ lr: 0.05 }), { plan: 'fused' }, true, hidden);
  await sameAsReference('40h8 minibatches', 2000, 40, 2, () => adam({ lr: 0.01 }), { plan: 'fused', batchSize: 500, shuffle: true, seed: 4, validationRows: 200 }, true, hidden);
});

test('no row teams where the wide input is read another way, or where the layout has none', async () => {
  await sameAsReference('relu(X) Wᵀ', 2000, 40, 1, () => sgd({ lr: 0.05 }), { plan: 'fused' }, false, (g, X) => g.relu(X));
  await sameAsReference('teamLanes 0', 2000, 64, 2, () => sgd({ lr: 0.05 }), { plan: 'fused', layout: { teamLanes: 0 } }, false);
});

test.run();
