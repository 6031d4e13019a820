/**
 * @file The compiler at width: values wider than the unroll limit are arrays filled in loops and
 * sums of more terms are loops (compile/emit.ts), so the generated code grows with the graph's
 * nodes, not with their values. Every graph of the family trains the same with every value a loop
 * (unroll 0), with loops past 1 and 3 values, and written out (the default), on the CPU's compiled
 * plan against the float64 interpreter and on both WebGPU plans against float64; wide models
 * (256 features, hidden layers of 64 and 256, two hidden layers, several targets) train on both
 * backends as the reference does, on every WebGPU plan, with minibatches and validation; the generated code's length does not grow with the width; and the index
 * algebra folds what it must.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph, type Tensor } from '../engine/graph.js';
import { add, div, loopVar, mod, mul, render } from '../engine/indices.js';
import { adam } from '../optim/adam.js';
import { sgd } from '../optim/sgd.js';
import type { Optimizer } from '../optim/optimizer.js';
import { DEFAULT_LAYOUT } from '../compile/layout.js';
import { planCompiled } from '../compile/fuse.js';
import { CpuBackend } from '../runtime/cpu.js';
import { compile, type CompileOptions } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import { synthetic } from '../regression/synthetic.js';
import { assertClose, cpu64, randoms, webgpu } from './helpers.js';
import { FAMILY, build } from './family.js';

test('indices: literals fold, a literal goes last, a row-major position split and joined is itself', () => {
  const i = loopVar('i');
  assert.is(add(2, 3), 5);
  assert.is(render(add(3, i), 'wgsl'), 'i + 3');
  assert.is(render(add(add(i, 3), 2), 'js'), 'i + 5');
  assert.is(add(add(i, 3), -3), i);
  assert.is(mul(i, 1), i);
  assert.is(mod(i, 1), 0);
  assert.is(render(add(mul(div(i, 4), 4), mod(i, 4)), 'wgsl'), 'i');
  assert.is(render(div(add(i, 2), 4), 'wgsl'), '(i + 2) / 4');
  assert.is(render(div(add(i, 2), 4), 'js'), 'Math.floor((i + 2) / 4)');
  assert.is(render(mul(add(i, 1), 3), 'wgsl'), '(i + 1) * 3');
});

for (const f of FAMILY) {
  test(`${f.name}: the CPU's compiled plan with loops (unroll 0, 1 and 3) equals the reference, Adam, shuffled minibatches and validation`, async () => {
    const options = { batchSize: 64, shuffle: true, seed: 5, validationRows: 50 };
    const lr = f.lr ?? 0.02;
    const ref = await build(f, cpu64(), 300, adam({ lr }), options);
    const want = await ref.train({ epochs: 6 });
    for (const unroll of [0, 1, 3]) {
      const model = await build(f, new CpuBackend('f64'), 300, adam({ lr }), { ...options, layout: { unroll } });
      assert.is(model.planName, 'compiled');
      const run = await model.train({ epochs: 6 });
      // The same arithmetic in the same order but for the sums' association: rounding of 2^-53.
      assertClose(run.loss, want.loss, 1e-9, `${f.name}, unroll ${unroll}: training loss`);
      assertClose(run.validLoss!, want.validLoss!, 1e-9, `${f.name}, unroll ${unroll}: validation loss`);
      for (const p of model.program.params) assertClose(await model.read(p.name), await ref.read(p.name), 1e-9, `${f.name}, unroll ${unroll}: ${p.name}`);
      model.dispose();
    }
  });

  test(`${f.name}: both WebGPU plans with every value a loop (unroll 0), and fused with loops past 1 value, equal float64`, async () => {
    const gpu = await webgpu();
    const options = { batchSize: 64, shuffle: true, seed: 5, validationRows: 50 };
    const lr = f.lr ?? 0.02;
    const ref = await build(f, cpu64(), 300, adam({ lr }), options);
    const want = await ref.train({ epochs: 5 });
    for (const [plan, unroll] of [['tiny', 0], ['fused', 0], ['fused', 1]] as const) {
      {
        const model = await build(f, gpu, 300, adam({ lr }), { ...options, plan, layout: { unroll } });
        assert.is(model.planName, plan);
        const run = await model.train({ epochs: 5 });
        // float32 sums of 64 rows over 25 Adam steps, as compile.test.ts allows.
        assertClose(run.loss, want.loss, 1e-4, `${f.name}, ${plan}, unroll ${unroll}: training loss`);
        assertClose(run.validLoss!, want.validLoss!, 1e-4, `${f.name}, ${plan}, unroll ${unroll}: validation loss`);
        for (const p of model.program.params) assertClose(await model.read(p.name), await ref.read(p.name), 1e-4, `${f.name}, ${plan}, unroll ${unroll}: ${p.name}`);
        model.dispose();
      }
    }
  });
}

/** A network: tanh hidden layers of the given widths (none: the linear model), then `targets` outputs. */
function network(g: Graph, X: Tensor, hidden: number[], targets: number): Tensor {
  let h = X;
  hidden.forEach((units, i) => {
    h = g.tanh(g.add(g.matmul(h, g.param(`W${i + 1}`, [units, h.shape[1]!]), { transB: true }), g.param(`b${i + 1}`, [units])));
  });
  return g.add(g.matmul(h, g.param('W', [targets, h.shape[1]!]), { transB: true }), g.param('b', [targets]));
}

async function wide(backend: Backend, n: number, d: number, hidden: number[], targets: number, optimizer: Optimizer, options: Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'> = {}) {
  const g = new Graph();
  const X = g.input('X', [n, d]);
  const Y = g.input('Y', [n, targets]);
  const loss = g.mean(g.squaredError(network(g, X, hidden, targets), Y));
  const model = await compile(g, { loss, optimizer, backend, ...options });
  const data = synthetic(n, d, targets, 7);
  model.write({ X: data.X, Y: data.Y });
  // Small seeded weights: tanh layers of 64 stay in their linear range, and no two units are alike.
  for (const p of model.program.params) {
    const size = model.graph.nodes[p.id]!.shape.reduce((a, b) => a * b, 1);
    model.write({ [p.name]: randoms(size, 3 + p.id).map((v) => v / Math.sqrt(size / (model.graph.nodes[p.id]!.shape[0] ?? 1))) });
  }
  const nv = options.validationRows ?? 0;
  if (nv) {
    const v = synthetic(nv, d, targets, 8);
    model.write({ X: v.X, Y: v.Y }, 'validation');
  }
  return model;
}

const WIDE: [string, number, number[], number][] = [
  ['a linear model of 256 features', 256, [], 1],
  ['a linear model of 64 features and 3 targets', 64, [], 3],
  ['a tanh hidden layer of 64 on 16 features', 16, [64], 1],
  ['two hidden layers, 16 -> 32 -> 24, 2 targets', 16, [32, 24], 2],
];

for (const [name, d, hidden, targets] of WIDE) {
  test(`${name}: the CPU's compiled plan (default unroll) equals the reference, full batch and shuffled minibatches with validation`, async () => {
    for (const options of [{}, { batchSize: 100, shuffle: true, seed: 3, validationRows: 40 }]) {
      const ref = await wide(cpu64(), 300, d, hidden, targets, adam({ lr: 0.01 }), options);
      const model = await wide(new CpuBackend('f64'), 300, d, hidden, targets, adam({ lr: 0.01 }), options);
      assert.is(model.planName, 'compiled', model.plan());
      const [run, want] = [await model.train({ epochs: 4 }), await ref.train({ epochs: 4 })];
      assertClose(run.loss, want.loss, 1e-9, `${name} ${JSON.stringify(options)}: loss`);
      if (options.validationRows) assertClose(run.validLoss!, want.validLoss!, 1e-9, `${name}: validation loss`);
      for (const p of model.program.params) assertClose(await model.read(p.name), await ref.read(p.name), 1e-9, `${name}: ${p.name}`);
      model.dispose();
    }
  });

  test(`${name}: fused on WebGPU (default unroll) equals float64, full batch and shuffled minibatches with validation`, async () => {
    const gpu = await webgpu();
    for (const [n, options] of [
      [300, { plan: 'auto' }],
      [3000, { plan: 'fused', batchSize: 1000, shuffle: true, seed: 3, validationRows: 200 }],
    ] as const) {
      const model = await wide(gpu, n, d, hidden, targets, sgd({ lr: 0.01 }), options);
      assert.not.equal(model.planName, 'per-node', `${name}: fused, not one kernel per node: ${model.plan()}`);
      const ref = await wide(cpu64(), n, d, hidden, targets, sgd({ lr: 0.01 }), options);
      const [run, want] = [await model.train({ epochs: 3 }), await ref.train({ epochs: 3 })];
      // float32 dot products of up to 256 terms and sums of 1000 rows: under 1e-4 of the scale.
      assertClose(run.loss, want.loss, 1e-4, `${name} at ${n} rows: loss`);
      if ('validationRows' in options) assertClose(run.validLoss!, want.validLoss!, 1e-4, `${name}: validation loss`);
      for (const p of model.program.params) assertClose(await model.read(p.name), await ref.read(p.name), 1e-4, `${name} at ${n} rows: ${p.name}`);
      model.dispose();
    }
  });
}

for (const [name, d, hidden, targets] of [...WIDE, ['a tanh hidden layer of 256 on 16 features', 16, [256], 1] as (typeof WIDE)[number]]) {
  test(`${name}: one kernel per node on WebGPU equals float64, full batch and shuffled minibatches (a short last batch), both with validation`, async () => {
    const gpu = await webgpu();
    for (const options of [{ validationRows: 40 }, { batchSize: 128, shuffle: true, seed: 3, validationRows: 40 }]) {
      const model = await wide(gpu, 300, d, hidden, targets, adam({ lr: 0.01 }), { ...options, plan: 'per-node' });
      assert.is(model.planName, 'per-node');
      const ref = await wide(cpu64(), 300, d, hidden, targets, adam({ lr: 0.01 }), options);
      const [run, want] = [await model.train({ epochs: 4 }), await ref.train({ epochs: 4 })];
      // float32 products of up to 256 terms and sums of 128 rows, over 12 Adam steps: under 1e-4 of the scale.
      assertClose(run.loss, want.loss, 1e-4, `${name} ${JSON.stringify(options)}: loss`);
      assertClose(run.validLoss!, want.validLoss!, 1e-4, `${name} ${JSON.stringify(options)}: validation loss`);
      for (const p of model.program.params) assertClose(await model.read(p.name), await ref.read(p.name), 1e-4, `${name} ${JSON.stringify(options)}: ${p.name}`);
      model.dispose();
    }
  });
}

test('the budget of terms written out: a hidden layer of 32 gets loops past 16 values, one of 16 stays written out, a budget of its own changes it', async () => {
  const planOf = async (hidden: number[], layout = {}) => {
    const model = await wide(new CpuBackend('f64'), 1000, 16, hidden, 1, adam());
    const plan = planCompiled(model.program, { ...DEFAULT_LAYOUT, ...layout }, 'fused');
    model.dispose();
    return { notes: plan.notes.join('\n'), wgsl: plan.train.steps[0]!.spec.holes!.ROW! };
  };
  // 16 -> 16: 16 x 16 products and 16 x 16 sums of W1's gradient, with the rest 578 terms.
  const h16 = await planOf([16]);
  assert.not.match(h16.notes, /row code written out/);
  assert.not.match(h16.wgsl, /for \(var/, 'every value written out');
  // 16 -> 32: twice that, over 1024; at 16 values a unit's 16 products are written out, the units a loop.
  const h32 = await planOf([32]);
  assert.match(h32.notes, /row code written out up to 16 values, not 32: 1\d{3} terms written out would exceed the budget of 1024 \(\d+ now\)/);
  assert.match(h32.wgsl, /for \(var/);
  // A budget of the caller's: 16 -> 16 over 512 halves twice (16 values still write out 578).
  const cut = (await planOf([16], { straightTerms: 512 })).notes;
  assert.match(cut, /row code written out up to 8 values, not 32: 578 terms/, cut);
  assert.not.match((await planOf([32], { straightTerms: Infinity })).notes, /row code written out/);
});

test('the generated code does not grow with the width: WGSL and JavaScript of linear models with 16, 256 and 1024 features', async () => {
  const lines = async (backend: Backend, d: number) => {
    const g = new Graph();
    const X = g.input('X', [100000, d]);
    const Y = g.input('Y', [100000, 1]);
    const loss = g.mean(g.squaredError(network(g, X, [], 1), Y));
    const model = await compile(g, { loss, optimizer: adam(), backend, plan: backend.kind === 'webgpu' ? 'fused' : undefined });
    const text = model.explain();
    model.dispose();
    // The numbered WGSL (`  12 | ...`), or the generated JavaScript after its heading.
    return backend.kind === 'webgpu' ? text.split('\n').filter((l) => /^\s*\d+ \|/.test(l)).length : text.slice(text.indexOf('(function')).split('\n').length;
  };
  for (const backend of [await webgpu(), new CpuBackend('f64')]) {
    const [d16, d256, d1024] = [await lines(backend, 16), await lines(backend, 256), await lines(backend, 1024)];
    // The same nodes at every width: 256 and 1024 features are the same loops with other bounds.
    assert.is(d1024, d256, `${backend.kind}: ${d256} lines at 256 features, ${d1024} at 1024`);
    // 16 features are written out, a line a value: more lines, but a bounded number.
    assert.ok(d256 <= d16, `${backend.kind}: ${d16} lines at 16 features, ${d256} at 256`);
  }
});

test.run();
